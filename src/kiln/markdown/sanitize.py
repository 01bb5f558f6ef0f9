"""The last step of every render: an nh3 allow-list over the whole HTML, then link decoration.

Two kinds of markup reach this point in one string: what Kiln's renderer wrote, and raw
HTML the author typed (which Markdown passes through). Both go through the same explicit
allow-list of tags, attributes and URL schemes. On top of it, attributes that carry trust
(class, id, style, data-*, rel, target, ...) survive only when their value starts with the
render's secret mark, which only the renderer can write (`markup.attrs_html`). So an
author may use `<kbd>`, `<details>` or `<img src>`, but cannot fake a reference link, a
heading id (DOM clobbering), an emoji or a task checkbox, and gets no style at all.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

import nh3

from kiln.markdown.context import RenderEnv

# What an author may write in raw HTML (GitLab's set: the html-pipeline defaults plus span,
# details/summary, abbr, figure and the text-level marks GitLab's editor supports).
USER_TAGS = frozenset(
    {
        *("h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "div", "span", "wbr"),
        *("b", "i", "u", "strong", "em", "s", "strike", "del", "ins", "mark", "small"),
        *("sub", "sup", "kbd", "samp", "var", "code", "tt", "pre", "q", "cite", "dfn"),
        *("abbr", "bdo", "time", "ruby", "rt", "rp", "a", "img", "blockquote"),
        *("ul", "ol", "li", "dl", "dt", "dd", "details", "summary", "figure", "figcaption"),
        *("table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td"),
    }
)
# Elements only the renderer emits. They are harmless if an author types them: without
# marked attributes they are empty shells (and every <input> is forced to a disabled
# checkbox below).
GENERATED_TAGS = frozenset({"input", "section", "gl-emoji", "audio", "video"})

USER_ATTRIBUTES: dict[str, frozenset[str]] = {
    "*": frozenset({"title", "dir", "lang"}),
    "a": frozenset({"href"}),
    "img": frozenset({"src", "alt", "width", "height"}),
    "audio": frozenset({"src"}),
    "video": frozenset({"src"}),
    "ol": frozenset({"start"}),
    "td": frozenset({"align", "colspan", "rowspan"}),
    "th": frozenset({"align", "colspan", "rowspan"}),
    "time": frozenset({"datetime"}),
    "details": frozenset({"open"}),
    "input": frozenset({"checked"}),
}
GENERATED_ATTRIBUTES: dict[str, frozenset[str]] = {
    "*": frozenset({"class", "id", "style", "aria-hidden", "aria-label"}),
    "a": frozenset({"rel", "target"}),
    "img": frozenset({"loading", "decoding"}),
    "input": frozenset({"type", "disabled"}),
    "audio": frozenset({"controls", "preload"}),
    "video": frozenset({"controls", "preload", "width"}),
}
# nh3 sets these on every <input>, whoever wrote it.
FORCED_ATTRIBUTES = {"input": {"type": "checkbox", "disabled": ""}}

URL_SCHEMES = frozenset({"http", "https", "mailto"})

_CLASS_TOKEN = re.compile(r"[A-Za-z0-9_-]+\Z")
_ID = re.compile(r"[\w-]+\Z")
# The one CSS value Kiln writes: a colour, for colour chips and label badges.
CSS_COLOR = (
    r"(?:#(?:[0-9A-Fa-f]{3,4}|[0-9A-Fa-f]{6}|[0-9A-Fa-f]{8})"
    r"|(?:rgb|hsl)a?\(\s*[0-9.]+%?\s*(?:,\s*[0-9.]+%?\s*){2,3}\))"
)
_STYLE = re.compile(rf"background-color:\s*{CSS_COLOR};?\Z", re.IGNORECASE)
REL_EXTERNAL = "nofollow noreferrer noopener"
_REL_TOKENS = frozenset(REL_EXTERNAL.split())


def _allowed(table: dict[str, frozenset[str]], tag: str, attr: str) -> bool:
    return attr in table.get(tag, ()) or attr in table["*"]


def _check_generated(attr: str, value: str) -> str | None:
    """Validate a value the renderer wrote; resolver-supplied values pass through here too."""
    if attr == "class":
        tokens = [token for token in value.split() if _CLASS_TOKEN.match(token)]
        return " ".join(tokens) or None
    if attr == "id":
        return value if _ID.match(value) else None
    if attr == "style":
        return value if _STYLE.match(value.strip()) else None
    if attr == "rel":
        return value if value and set(value.split()) <= _REL_TOKENS else None
    if attr == "target":
        return value if value == "_blank" else None
    if attr == "aria-hidden":
        return value if value == "true" else None
    return value


def _attribute_filter(mark: str) -> Callable[[str, str, str], str | None]:
    def attribute_filter(tag: str, attr: str, value: str) -> str | None:
        trusted = value.startswith(mark)
        if trusted:
            value = value[len(mark) :]
        if _allowed(USER_ATTRIBUTES, tag, attr):
            return value
        if FORCED_ATTRIBUTES.get(tag, {}).get(attr) == value:
            return value
        if not trusted:
            return None
        return _check_generated(attr, value)

    return attribute_filter


def _url_rewriter(env: RenderEnv) -> Callable[[str], str | None] | None:
    context = env.context
    if context.base_url is None and context.uploads_url is None:
        return None

    def rewrite(url: str) -> str | None:
        if url.startswith(("#", "?")):
            return url
        if context.uploads_url and url.startswith("/uploads/"):
            return context.uploads_url.rstrip("/") + url[len("/uploads") :]
        if context.base_url and not url.startswith("/"):
            return urljoin(context.base_url, url)
        return url

    return rewrite


_ALL_TAGS = set(USER_TAGS | GENERATED_TAGS)
_ALL_ATTRIBUTES = {
    tag: set(USER_ATTRIBUTES.get(tag, frozenset()) | GENERATED_ATTRIBUTES.get(tag, frozenset()))
    for tag in {*USER_ATTRIBUTES, *GENERATED_ATTRIBUTES}
}


def sanitize(rendered: str, env: RenderEnv) -> str:
    """Clean rendered HTML (see the module docstring) and decorate external links."""
    cleaned = nh3.clean(
        rendered,
        tags=_ALL_TAGS,
        clean_content_tags={"script", "style"},
        attributes=_ALL_ATTRIBUTES,
        attribute_filter=_attribute_filter(env.mark),
        strip_comments=True,
        link_rel=None,
        generic_attribute_prefixes={"data-"},
        set_tag_attribute_values=FORCED_ATTRIBUTES,
        url_schemes=set(URL_SCHEMES),
        url_relative=_url_rewriter(env),
    )
    # The mark is never output; should markup ever land in a text-only context, its
    # attributes must not show (or reveal) it either.
    return decorate_links(cleaned, env).replace(env.mark, "")


# nh3's serializer always double-quotes attribute values and escapes `"`, `<` and `>`
# inside them, so on its output a start tag is exactly `<a` + attributes + `>`.
_A_TAG = re.compile(r"<a(\s[^>]*)?>")
_HREF = re.compile(r'\shref="([^"]*)"')
_REL_OR_TARGET = re.compile(r'\s(?:rel|target)="[^"]*"')


def _is_external(href: str, own_host: str | None) -> bool:
    parts = urlsplit(html.unescape(href))
    if parts.scheme.lower() not in ("http", "https", "") or not parts.netloc:
        return False
    return own_host is None or parts.hostname != own_host


def decorate_links(cleaned: str, env: RenderEnv) -> str:
    """Give links to other hosts GitLab's `rel` and `target` (after sanitizing, so a
    `rel` typed by the author never survives)."""
    external_url = env.context.external_url
    own_host = urlsplit(external_url).hostname if external_url else None

    def decorate(match: re.Match[str]) -> str:
        attrs = match.group(1) or ""
        href = _HREF.search(attrs)
        if href is None or not _is_external(href.group(1), own_host):
            return match.group(0)
        attrs = _REL_OR_TARGET.sub("", attrs)
        return f'<a{attrs} rel="{REL_EXTERNAL}" target="_blank">'

    return _A_TAG.sub(decorate, cleaned)
