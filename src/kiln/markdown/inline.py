"""GitLab's inline extensions: math, inline diffs, colour chips, images and media.

- math: `` $`a^2`$ `` (GitLab's original syntax; `$a^2$` comes from the dollarmath plugin)
  becomes `<code class="code math js-render-math" data-math-style="inline">` for the
  browser to typeset;
- inline diff: `{+ added +}`, `{- removed -}` (or with square brackets);
- colour chips: a code span holding only a colour (`#F00`, `rgb(0,255,0)`, ...) gets a
  swatch after it;
- images link to themselves (GitLab's `no-attachment-icon` wrapper) and lazy-load, and an
  image whose target is audio or video becomes a player plus a download link.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererProtocol
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from kiln.markdown.context import RenderEnv, get_env
from kiln.markdown.headings import plain_text
from kiln.markdown.markup import element, escape, start_tag
from kiln.markdown.sanitize import CSS_COLOR

_BACKTICKS = re.compile(r"`+")
# The length bound keeps a line full of unclosed `{+` linear rather than quadratic.
_DIFF_TEXT = r"[^`\n]{1,500}?"
_INLINE_DIFF = re.compile(
    rf"\{{\+(?P<a1>{_DIFF_TEXT})\+\}}|\{{-(?P<d1>{_DIFF_TEXT})-\}}"
    rf"|\[\+(?P<a2>{_DIFF_TEXT})\+\]|\[-(?P<d2>{_DIFF_TEXT})-\]"
)
_COLOR = re.compile(CSS_COLOR, re.IGNORECASE)
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".webm", ".ogv"})
AUDIO_EXTENSIONS = frozenset({".mp3", ".oga", ".ogg", ".spx", ".wav"})


def _dollar_code_math(state: StateInline, silent: bool) -> bool:
    """`` $`...`$ ``: a code span fenced by dollars."""
    src, pos = state.src, state.pos
    if src[pos] != "$" or not src.startswith("`", pos + 1):
        return False
    run = _BACKTICKS.match(src, pos + 1)
    if run is None:  # cannot happen: src[pos + 1] is a backtick
        return False
    ticks = run.group(0)
    # Per paragraph: from where a closing run of each length is known to be missing.
    # Searching again from a later opening cannot succeed, which keeps a paragraph full of
    # unclosed `` $` `` linear instead of quadratic.
    owner, unclosed = state.env.get("kiln_unclosed_math", (None, {}))
    if owner is not state:
        unclosed = {}
        state.env["kiln_unclosed_math"] = (state, unclosed)
    if unclosed.get(len(ticks), state.posMax + 1) <= pos:
        return False
    search = run.end()
    while True:
        close = src.find(ticks + "$", search, state.posMax)
        if close < 0:
            unclosed[len(ticks)] = pos
            return False
        if src[close - 1] != "`" or close == run.end():
            break
        search = close + 1
    if not silent:
        content = src[run.end() : close].replace("\n", " ")
        if content.startswith(" ") and content.endswith(" ") and content.strip():
            content = content[1:-1]
        token = state.push("math_inline", "math", 0)
        token.content = content
        token.markup = "$" + ticks
    state.pos = close + len(ticks) + 1
    return True


def _inline_diff(state: StateInline, silent: bool) -> bool:
    src, pos = state.src, state.pos
    if src[pos] not in "{[":
        return False
    match = _INLINE_DIFF.match(src, pos, state.posMax)
    # `[- text -](url)` is a link, not a deletion.
    if match is None or src.startswith(("(", "["), match.end()):
        return False
    if not silent:
        token = state.push("inline_diff", "span", 0)
        added = match.group("a1") or match.group("a2")
        token.content = (added or match.group("d1") or match.group("d2") or "").strip()
        token.meta = {"kind": "addition" if added else "deletion"}
    state.pos = match.end()
    return True


def _render_math_inline(
    self: RendererProtocol, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    # `$$...$$` inside a paragraph is display math, typeset in place.
    style = "display" if tokens[idx].type == "math_inline_double" else "inline"
    attrs = [("class", "code math js-render-math"), ("data-math-style", style)]
    return element(get_env(env), "code", attrs, escape(tokens[idx].content))


def _render_inline_diff(
    self: RendererProtocol, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    classes = f"idiff left right {token.meta['kind']}"
    return element(get_env(env), "span", [("class", classes)], escape(token.content))


def _render_code_inline(
    self: RendererProtocol, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    content = tokens[idx].content
    inner = escape(content)
    if _COLOR.fullmatch(content):
        state = get_env(env)
        swatch = element(state, "span", [("style", f"background-color: {content};")])
        inner += element(state, "span", [("class", "gfm-color_chip")], swatch)
    return f"<code>{inner}</code>"


def _mark_images_in_links(state: StateCore) -> None:
    """Flag images that are already inside a link, which get no link of their own."""
    for block in state.tokens:
        depth = 0
        for token in block.children or ():
            if token.type == "link_open":
                depth += 1
            elif token.type == "link_close":
                depth -= 1
            elif token.type == "image" and depth > 0:
                token.meta = {**(token.meta or {}), "in_link": True}


def _media_html(env: RenderEnv, kind: str, src: str, title: str) -> str:
    attrs = [("src", src), ("controls", "true"), ("data-title", title)]
    if kind == "video":
        attrs += [("width", "400"), ("preload", "metadata")]
    player = element(env, kind, attrs)
    download = element(
        env,
        "a",
        [
            ("href", src),
            ("target", "_blank"),
            ("rel", "noopener noreferrer"),
            ("title", f"Download '{title}'"),
        ],
        escape(title),
    )
    container = f"media-container {kind}-container"
    return element(env, "span", [("class", container)], player + download)


def _render_image(
    self: RendererProtocol, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    state = get_env(env)
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = plain_text(token.children or [])
    title = str(token.attrGet("title") or "")
    extension = posixpath.splitext(urlsplit(src).path)[1].lower()
    if extension in VIDEO_EXTENSIONS or extension in AUDIO_EXTENSIONS:
        kind = "video" if extension in VIDEO_EXTENSIONS else "audio"
        return _media_html(state, kind, src, title or alt)
    attrs = [("src", src), ("alt", alt)]
    if title:
        attrs.append(("title", title))
    attrs += [("loading", "lazy"), ("decoding", "async")]
    image = start_tag(state, "img", attrs)
    if (token.meta or {}).get("in_link"):
        return image
    wrapper = [
        ("class", "no-attachment-icon"),
        ("href", src),
        ("target", "_blank"),
        ("rel", "noopener noreferrer"),
    ]
    return element(state, "a", wrapper, image)


def inline_plugin(md: MarkdownIt) -> None:
    md.inline.ruler.before("math_inline", "math_inline_code", _dollar_code_math)
    md.inline.ruler.before("link", "inline_diff", _inline_diff)
    md.core.ruler.after("inline", "images_in_links", _mark_images_in_links)
    md.add_render_rule("math_inline", _render_math_inline)
    md.add_render_rule("math_inline_double", _render_math_inline)
    md.add_render_rule("inline_diff", _render_inline_diff)
    md.add_render_rule("code_inline", _render_code_inline)
    md.add_render_rule("image", _render_image)
