"""Writing the HTML Kiln generates itself, marked as trusted for the sanitizer.

Every attribute value written here is prefixed with the render's mark (see
`RenderEnv.mark`); the sanitizer strips the mark and only then lets class, id, style and
data- attributes through. URL attributes are the exception: the sanitizer checks their
scheme before anything else, so they are never marked and are validated like user input.
"""

from __future__ import annotations

from collections.abc import Iterable

from markdown_it.common.utils import escapeHtml

from kiln.markdown.context import RenderEnv

URL_ATTRIBUTES = frozenset({"href", "src"})

Attrs = Iterable[tuple[str, str]]


def escape(text: str) -> str:
    """Escape text for an HTML text node or a double-quoted attribute value."""
    return escapeHtml(text)


def attrs_html(env: RenderEnv, attrs: Attrs) -> str:
    """Render attributes, marking every non-URL value as written by Kiln."""
    parts: list[str] = []
    for name, value in attrs:
        marked = value if name in URL_ATTRIBUTES else env.mark + value
        parts.append(f' {name}="{escape(marked)}"')
    return "".join(parts)


def start_tag(env: RenderEnv, name: str, attrs: Attrs = ()) -> str:
    return f"<{name}{attrs_html(env, attrs)}>"


def element(env: RenderEnv, name: str, attrs: Attrs = (), inner_html: str = "") -> str:
    """A whole element; `inner_html` must already be safe HTML."""
    return f"{start_tag(env, name, attrs)}{inner_html}</{name}>"
