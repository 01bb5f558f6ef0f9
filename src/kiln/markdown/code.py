"""Code blocks: fenced and indented code, display math, diagrams and front matter.

All come out in GitLab's shape: a `markdown-code-block` wrapper around
`<pre class="code highlight language-X" lang="X">`, highlighted by Pygments on the server.
Highlighting is skipped (plain escaped text) above a size cap per block and per document.
Diagram sources (mermaid, plantuml, ...) and math are emitted as text for the browser to
draw; nothing in them is ever executed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.common.utils import unescapeAll
from markdown_it.renderer import RendererProtocol
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

# Pygments ships no type information (types-Pygments is not a dependency).
from pygments import highlight  # type: ignore[import-untyped]
from pygments.formatters import HtmlFormatter  # type: ignore[import-untyped]
from pygments.lexer import Lexer  # type: ignore[import-untyped]
from pygments.lexers import get_lexer_by_name  # type: ignore[import-untyped]
from pygments.util import ClassNotFound  # type: ignore[import-untyped]

from kiln.markdown import context
from kiln.markdown.context import RenderEnv, get_env
from kiln.markdown.markup import element, escape

PLAINTEXT = "plaintext"
# Languages the browser renders as pictures; kept as source text on the server.
DIAGRAM_LANGUAGES = frozenset({"mermaid", "plantuml", "kroki", "nomnoml", "graphviz", "dot"})
_FORMATTER = HtmlFormatter(nowrap=True)


@lru_cache(maxsize=512)
def _lexer(name: str) -> Lexer | None:
    if not name or name.lower() == PLAINTEXT:
        return None
    try:
        # Keep the code's own leading/trailing blank lines: the block shows them.
        return get_lexer_by_name(name.lower(), stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


def canonical_language(name: str) -> str:
    """Pygments' main alias for a language name, or `plaintext` if unknown."""
    if name.lower() == "math" or name.lower() in DIAGRAM_LANGUAGES:
        return name.lower()
    lexer = _lexer(name)
    if lexer is None or not lexer.aliases:
        return PLAINTEXT
    return str(lexer.aliases[0])


def _highlighted(env: RenderEnv, code: str, language: str) -> str:
    lexer = _lexer(language)
    too_big = len(code) > context.HIGHLIGHT_MAX_BLOCK_CHARS or len(code) > env.highlight_budget
    if lexer is None or too_big:
        return escape(code)
    env.highlight_budget -= len(code)
    html = str(highlight(code, lexer, _FORMATTER))
    # Pygments escapes the code, so `<span class="` only ever starts one of its own tags.
    html = html.removesuffix("\n")
    return html.replace('<span class="', f'<span class="{env.mark}')


def code_block_html(
    env: RenderEnv, code: str, language: str = "", *, params: str = "", math: bool = False
) -> str:
    """The HTML of one code block; `language` is the name the author wrote, if any."""
    code = code.removesuffix("\n")
    canonical = "math" if math else canonical_language(language)
    classes = ["code", "highlight", f"language-{canonical}"]
    pre_attrs: list[tuple[str, str]] = [("lang", canonical)]
    code_attrs: list[tuple[str, str]] = []
    if math:
        classes[:0] = ["math", "js-render-math"]
        pre_attrs.append(("data-math-style", "display"))
        inner = escape(code)
    elif canonical in DIAGRAM_LANGUAGES:
        code_attrs.append(("class", f"js-render-{canonical}"))
        inner = escape(code)
    else:
        inner = _highlighted(env, code, language)
    if language and language != canonical:
        pre_attrs.append(("data-canonical-lang", language))
    if params:
        pre_attrs.append(("data-lang-params", params))
    pre = element(
        env,
        "pre",
        [("class", " ".join(classes)), *pre_attrs],
        element(env, "code", code_attrs, inner),
    )
    return element(env, "div", [("class", "markdown-code-block")], pre) + "\n"


def split_info(info: str) -> tuple[str, str]:
    """A fence's info string → (language, the rest)."""
    info = unescapeAll(info).strip()
    if not info:
        return "", ""
    language, _, params = info.partition(" ")
    return language, params.strip()


def _render_fence(
    self: RendererProtocol, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    language, params = split_info(token.info)
    math = language.lower() == "math"
    return code_block_html(get_env(env), token.content, language, params=params, math=math)


def _render_code_block(
    self: RendererProtocol, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return code_block_html(get_env(env), tokens[idx].content)


def _render_math_block(
    self: RendererProtocol, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return code_block_html(get_env(env), tokens[idx].content.strip("\n"), math=True)


def _render_front_matter(
    self: RendererProtocol, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    return code_block_html(get_env(env), token.content, token.info, params="frontmatter")


def code_plugin(md: MarkdownIt) -> None:
    md.add_render_rule("fence", _render_fence)
    md.add_render_rule("code_block", _render_code_block)
    md.add_render_rule("math_block", _render_math_block)
    md.add_render_rule("front_matter", _render_front_matter)
