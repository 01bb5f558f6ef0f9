"""Heading anchors and the `[[_TOC_]]` / `[TOC]` table of contents.

Ids follow GitLab's rules: lower case, everything but word characters, `-` and spaces
removed, spaces to `-`, runs of `-` squeezed, and `-1`, `-2`, ... for repeats. As in GitLab
the element id is prefixed `user-content-` (so a document cannot clobber the page's own ids)
while links use the bare `#slug`; the UI maps one to the other when scrolling.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererProtocol
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from kiln.markdown.context import Heading, RenderEnv, get_env
from kiln.markdown.emoji import EMOJI
from kiln.markdown.markup import element, escape, start_tag

_NOT_SLUG = re.compile(r"[^\w\- ]")
_DASHES = re.compile(r"-{2,}")
_TEXT_TOKENS = frozenset(
    {"text", "text_special", "code_inline", "math_inline", "math_inline_double", "inline_diff"}
    | {"gfm_reference"}
)
TOC_MARKERS = frozenset({"[[_TOC_]]", "[TOC]"})


def slugify(text: str) -> str:
    slug = _NOT_SLUG.sub("", text.strip().lower()).replace(" ", "-")
    return _DASHES.sub("-", slug)


def plain_text(children: Sequence[Token]) -> str:
    """The text a reader sees in inline tokens, without markup."""
    parts: list[str] = []
    for token in children:
        if token.type in _TEXT_TOKENS:
            parts.append(token.content)
        elif token.type == "emoji":
            parts.append(EMOJI[token.meta["name"]])
        elif token.type in ("softbreak", "hardbreak"):
            # A newline, as in the DOM text GitLab slugs (so `Foo\nBar` → `foobar`).
            parts.append("\n")
        elif token.type == "image" and token.children:
            parts.append(plain_text(token.children))
    return "".join(parts)


def _unique_slug(env: RenderEnv, text: str) -> str:
    slug = slugify(text)
    if not slug:
        return ""
    seen = env.slug_counts.get(slug, 0)
    env.slug_counts[slug] = seen + 1
    return f"{slug}-{seen}" if seen else slug


def _headings_rule(state: StateCore) -> None:
    env = get_env(state.env)
    tokens = state.tokens
    for index, token in enumerate(tokens):
        if token.type != "heading_open" or index + 1 >= len(tokens):
            continue
        text = plain_text(tokens[index + 1].children or [])
        slug = _unique_slug(env, text)
        token.meta = {**(token.meta or {}), "slug": slug}
        if slug:
            env.headings.append(Heading(level=int(token.tag[1]), text=text.strip(), slug=slug))


def _toc_rule(state: StateCore) -> None:
    """Replace a paragraph that holds only a TOC marker with a `toc` token.

    Only the first marker becomes a table of contents; later ones are dropped, so that
    thousands of markers cannot multiply the output by the number of headings.
    """
    tokens: list[Token] = []
    seen = False
    index = 0
    source = state.tokens
    while index < len(source):
        window = source[index : index + 3]
        if (
            len(window) == 3
            and window[0].type == "paragraph_open"
            and window[1].type == "inline"
            and window[2].type == "paragraph_close"
            and window[1].content.strip() in TOC_MARKERS
        ):
            if not seen:
                toc = Token("toc", "", 0)
                toc.block = True
                toc.map = window[0].map
                tokens.append(toc)
                seen = True
            index += 3
            continue
        tokens.append(source[index])
        index += 1
    state.tokens = tokens


def _render_heading_open(
    self: RendererProtocol, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    state = get_env(env)
    token = tokens[idx]
    slug = (token.meta or {}).get("slug", "")
    html = f"<{token.tag}>"
    if slug and state.context.heading_anchors and not state.single_line:
        attrs = [
            ("id", f"user-content-{slug}"),
            ("class", "anchor"),
            ("href", f"#{slug}"),
            ("aria-hidden", "true"),
        ]
        html += element(state, "a", attrs)
    return html


@dataclass
class _Node:
    heading: Heading | None
    parent: _Node | None = None
    children: list[_Node] = field(default_factory=list)


def _toc_tree(headings: Sequence[Heading]) -> _Node:
    # Nesting follows the order of levels, not their values: an h3 right under an h1 is
    # one level deeper, and a later h2 is its sibling (GitLab's behaviour).
    root = _Node(heading=None)
    current = root
    for heading in headings:
        parent = current
        while parent.heading is not None and parent.heading.level >= heading.level:
            parent = parent.parent or root
        node = _Node(heading=heading, parent=parent)
        parent.children.append(node)
        current = node
    return root


def _toc_list(env: RenderEnv, node: _Node, top: bool) -> str:
    items = []
    for child in node.children:
        if child.heading is None:  # only the root has no heading, and it is no child
            continue
        link = f'<a href="#{escape(child.heading.slug)}">{escape(child.heading.text)}</a>'
        nested = _toc_list(env, child, top=False) if child.children else ""
        items.append(f"<li>{link}{nested}</li>\n")
    opening = start_tag(env, "ul", [("class", "section-nav")]) if top else "<ul>"
    return f"{opening}\n{''.join(items)}</ul>\n"


def _render_toc(
    self: RendererProtocol, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    state = get_env(env)
    if not state.headings:
        return ""
    return _toc_list(state, _toc_tree(state.headings), top=True)


def headings_plugin(md: MarkdownIt) -> None:
    md.core.ruler.after("block", "toc", _toc_rule)
    md.core.ruler.after("inline", "heading_slugs", _headings_rule)
    md.add_render_rule("heading_open", _render_heading_open)
    md.add_render_rule("toc", _render_toc)
