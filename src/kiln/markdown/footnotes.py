"""Footnotes (`[^1]` ... `[^1]: text`) in GitLab's markup.

Parsing is mdit-py-plugins' footnote plugin; only the HTML differs. Ids are
`fn-<label>-<suffix>` and `fnref-<label>-<suffix>` where the suffix comes from the
document's text, so several rendered notes on one page do not share ids while the HTML of
one text stays the same from render to render (it is cached).
"""

from __future__ import annotations

from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererProtocol
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from mdit_py_plugins.footnote import footnote_plugin as mdit_footnote_plugin

from kiln.markdown.context import RenderEnv, get_env
from kiln.markdown.emoji import gl_emoji
from kiln.markdown.headings import slugify
from kiln.markdown.markup import element, start_tag


def _ident(env: RenderEnv, token: Token) -> str:
    meta = token.meta or {}
    label = slugify(str(meta.get("label") or "")) or str(meta.get("id", 0) + 1)
    return f"{label}-{env.footnote_suffix}"


def _render_ref(
    self: RendererProtocol, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    state = get_env(env)
    token = tokens[idx]
    ident = _ident(state, token)
    sub_id = token.meta.get("subId", 0)
    ref_id = f"fnref-{ident}" + (f"-{sub_id}" if sub_id > 0 else "")
    link = element(
        state,
        "a",
        [("href", f"#fn-{ident}"), ("id", ref_id), ("data-footnote-ref", "")],
        str(token.meta["id"] + 1),
    )
    return element(state, "sup", [("class", "footnote-ref")], link)


def _render_block_open(
    self: RendererProtocol, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    attrs = [("data-footnotes", ""), ("class", "footnotes")]
    return start_tag(get_env(env), "section", attrs) + "\n<ol>\n"


def _render_block_close(
    self: RendererProtocol, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return "</ol>\n</section>\n"


def _render_open(
    self: RendererProtocol, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    state = get_env(env)
    return start_tag(state, "li", [("id", f"fn-{_ident(state, tokens[idx])}")]) + "\n"


def _render_close(
    self: RendererProtocol, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return "</li>\n"


def _render_anchor(
    self: RendererProtocol, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    state = get_env(env)
    token = tokens[idx]
    ident = _ident(state, token)
    sub_id = token.meta.get("subId", 0)
    ref_id = f"fnref-{ident}" + (f"-{sub_id}" if sub_id > 0 else "")
    attrs = [
        ("href", f"#{ref_id}"),
        ("data-footnote-backref", ""),
        ("aria-label", "Back to content"),
        ("class", "footnote-backref"),
    ]
    return " " + element(state, "a", attrs, gl_emoji(state, "leftwards_arrow_with_hook"))


def footnotes_plugin(md: MarkdownIt) -> None:
    md.use(mdit_footnote_plugin, inline=False)
    md.add_render_rule("footnote_ref", _render_ref)
    md.add_render_rule("footnote_block_open", _render_block_open)
    md.add_render_rule("footnote_block_close", _render_block_close)
    md.add_render_rule("footnote_open", _render_open)
    md.add_render_rule("footnote_close", _render_close)
    md.add_render_rule("footnote_anchor", _render_anchor)
