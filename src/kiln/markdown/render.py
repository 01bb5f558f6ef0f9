"""The public rendering functions: Markdown in, sanitized HTML out.

    parse (markdown-it + GitLab rules) → resolve references in one batch → render → sanitize

`RENDERER_VERSION` changes whenever the HTML for some input changes; callers that cache
rendered HTML key it by this number. Reference resolution depends on the viewer, so HTML
rendered with a resolver is only reusable for viewers who see the same references.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from markdown_it.token import Token

from kiln.markdown.context import RenderContext, RenderEnv
from kiln.markdown.headings import plain_text
from kiln.markdown.parser import document_parser, title_parser
from kiln.markdown.references import ReferenceResolver, ResolvedReference
from kiln.markdown.sanitize import sanitize

RENDERER_VERSION = 1

_FIRST_LINE_LIMIT = 255


def _resolve(env: RenderEnv, resolver: ReferenceResolver | None) -> None:
    if resolver is None or not env.references:
        return
    requested = tuple(env.references)
    answer = resolver.resolve(requested)
    # Only what was asked for, and only well-formed answers, can become a link.
    env.resolved = {
        reference: resolved
        for reference in requested
        if isinstance(resolved := answer.get(reference), ResolvedReference)
    }


def render(
    text: str, *, resolver: ReferenceResolver | None = None, context: RenderContext | None = None
) -> str:
    """Render GitLab Flavored Markdown to safe HTML.

    resolver: turns references the viewer may see into links; without one every reference
        stays plain text.
    context: where the text lives (project, base URL for relative links); see RenderContext.
    """
    md = document_parser()
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    env_state = RenderEnv(context=context or RenderContext(), footnote_suffix=digest[:8])
    env = {"kiln": env_state}
    tokens = md.parse(text, env)
    _resolve(env_state, resolver)
    # No trailing newline: after a raw `<a>` left open, the HTML parser would reopen the
    # link for it (HTML's "active formatting elements") and emit an extra empty link.
    html = md.renderer.render(tokens, md.options, env).rstrip()
    return sanitize(html, env_state)


def render_title(
    text: str, *, resolver: ReferenceResolver | None = None, context: RenderContext | None = None
) -> str:
    """Render a title (issue, merge request, milestone) as one line of inline HTML.

    Like GitLab's `title_html`: code spans, emphasis, emoji and references render; raw
    HTML, links and images stay text; line breaks become spaces.
    """
    md = title_parser()
    env_state = RenderEnv(context=context or RenderContext(), single_line=True)
    env = {"kiln": env_state}
    one_line = " ".join(text.splitlines()).strip()
    tokens = md.parseInline(one_line, env)
    _resolve(env_state, resolver)
    html = md.renderer.render(tokens, md.options, env)
    return sanitize(html, env_state)


_TAG = re.compile(r"<[^>]*>")


def _text_of(tokens: Sequence[Token]) -> str:
    lines: list[str] = []
    for token in tokens:
        if token.type == "inline":
            lines.append(plain_text(token.children or []))
        elif token.type in ("fence", "code_block", "math_block"):
            lines.append(token.content.rstrip("\n"))
        elif token.type == "html_block":
            lines.append(_TAG.sub("", token.content).strip())
    return "\n".join(line for line in lines if line.strip())


def render_plain_text(text: str) -> str:
    """The words of a Markdown text without markup, one block per line, for e-mail
    subjects, search snippets and notifications. This is text, not HTML: escape it
    before putting it into a page."""
    md = document_parser()
    env = {"kiln": RenderEnv(context=RenderContext())}
    return _text_of(md.parse(text, env))


def first_line(text: str, *, limit: int = _FIRST_LINE_LIMIT) -> str:
    """The first non-empty line of `render_plain_text`, cut to `limit` characters."""
    plain = render_plain_text(text)
    line = next((line.strip() for line in plain.splitlines() if line.strip()), "")
    if len(line) <= limit:
        return line
    return line[: limit - 1].rstrip() + "…"
