"""The configured markdown-it parsers: one for documents, one for single-line titles.

Both are built once and shared by all threads: markdown-it keeps no state between calls
(each render's state lives in its own `env`, see `context.RenderEnv`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from mdit_py_plugins.deflist import deflist_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin

from kiln.markdown.autolink import autolink_plugin
from kiln.markdown.blocks import blocks_plugin
from kiln.markdown.code import code_plugin
from kiln.markdown.context import get_env
from kiln.markdown.emoji import emoji_plugin
from kiln.markdown.footnotes import footnotes_plugin
from kiln.markdown.headings import headings_plugin
from kiln.markdown.inline import inline_plugin
from kiln.markdown.markup import URL_ATTRIBUTES
from kiln.markdown.reference_rule import reference_plugin
from kiln.markdown.tasks import tasks_plugin

# Elements whose content an HTML parser reads as raw text up to the closing tag (or the end
# of input). Left as tags, they would turn the rest of the document, including the markup
# Kiln generates, into visible source. Like GFM's tagfilter, their `<` is escaped so they
# show as text. <script> and <style> are not here: the sanitizer removes them with content.
_RAW_TEXT_TAG = re.compile(
    r"<(?=/?(?:title|textarea|xmp|iframe|noembed|noframes|plaintext|noscript)[\s/>])",
    re.IGNORECASE,
)
_ALIGN = {"text-align:left": "left", "text-align:center": "center", "text-align:right": "right"}


class KilnRenderer(RendererHTML):
    """markdown-it's HTML renderer, with the attributes it writes marked as trusted."""

    def renderToken(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        token = tokens[idx]
        if not token.attrs:
            return super().renderToken(tokens, idx, options, env)
        mark = get_env(env).mark
        original = token.attrs
        attrs = dict(original)
        # Table alignment as GitLab writes it (`align`), so no style attribute is needed.
        style = attrs.pop("style", None)
        if style is not None and str(style) in _ALIGN:
            attrs["align"] = _ALIGN[str(style)]
        token.attrs = {
            name: value if name in URL_ATTRIBUTES else f"{mark}{value}"
            for name, value in attrs.items()
        }
        try:
            return super().renderToken(tokens, idx, options, env)
        finally:
            token.attrs = original

    def html_block(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return _RAW_TEXT_TAG.sub("&lt;", tokens[idx].content)

    def html_inline(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return _RAW_TEXT_TAG.sub("&lt;", tokens[idx].content)


def _intraword_underscores(state: StateInline, silent: bool) -> bool:
    """Keep `a_b` in one piece of text.

    An underscore run between two alphanumerics can neither open nor close emphasis
    (CommonMark's flanking rules), but markdown-it would still cut the pending text there,
    and rules that look back over it (e-mail autolinks: `first_last@example.com`) would see
    only `last`. Taking the run as plain text changes no output and keeps words whole.
    """
    src, pos = state.src, state.pos
    if src[pos] != "_" or pos == 0 or not src[pos - 1].isalnum():
        return False
    end = pos
    while end < state.posMax and src[end] == "_":
        end += 1
    if end >= state.posMax or not src[end].isalnum():
        return False
    if not silent:
        state.pending += src[pos:end]
    state.pos = end
    return True


def _base(*, html: bool) -> MarkdownIt:
    md = MarkdownIt(
        "commonmark",
        {"html": html, "linkify": False, "typographer": False, "breaks": False},
        renderer_cls=KilnRenderer,
    )
    md.enable(["table", "strikethrough"])
    md.inline.ruler.before("emphasis", "intraword_underscores", _intraword_underscores)
    # GitLab writes strikethrough as <del>, markdown-it as <s>.
    md.add_render_rule("s_open", lambda *_: "<del>")
    md.add_render_rule("s_close", lambda *_: "</del>")
    md.use(autolink_plugin)
    # GitLab's dollar math: no space inside the dollars and no digit outside them, so that
    # "costs $5 and $10" stays text.
    md.use(
        dollarmath_plugin,
        allow_labels=False,
        allow_space=False,
        allow_digits=False,
        allow_blank_lines=False,
        double_inline=True,
    )
    md.use(inline_plugin)
    md.use(emoji_plugin)
    md.use(reference_plugin)
    md.use(code_plugin)
    return md


@cache
def document_parser() -> MarkdownIt:
    """Full GitLab Flavored Markdown, raw HTML allowed (the sanitizer filters it)."""
    md = _base(html=True)
    md.use(blocks_plugin)
    md.use(footnotes_plugin)
    md.use(deflist_plugin)
    md.use(tasks_plugin)
    md.use(headings_plugin)
    return md


@cache
def title_parser() -> MarkdownIt:
    """Titles: inline Markdown only, raw HTML shown as text (GitLab's `title_html`)."""
    md = _base(html=False)
    md.disable(
        [
            "link",
            "image",
            "linkify",
            "gfm_autolink_www",
            "gfm_autolink_protocol",
            "gfm_autolink_email",
            "autolink",
        ],
        ignoreInvalid=True,
    )
    return md
