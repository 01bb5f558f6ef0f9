"""GFM extended autolinks (`www.example.com`, `https://...`, `user@example.com`).

The URL and address grammar is mdit-py-plugins' port of GitHub's rules (`match_http`,
`match_www`, `match_any_email`); the inline rules around it are Kiln's own because the
plugin's rules copy the rest of the paragraph and regex-search all pending text at every
`:` and `@`, which is quadratic: 100 KB of `http:http:...` took 40 s. Here every look is
bounded: the protocol is read off the end of the pending text, and matching sees at most
`URL_WINDOW` characters (a longer URL is linked up to that length).
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from mdit_py_plugins.gfm_autolink._match import (
    check_prev,
    match_any_email,
    match_http,
    match_www,
)

URL_WINDOW = 4096
_PROTOCOLS = ("https", "http", "mailto", "xmpp")
# RFC 5321 caps the local part at 64 characters; anything longer is not looked back over.
_LOCAL_PART_MAX = 64
_LOCAL_PART_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+-_")


def _push_link(state: StateInline, url: str, label: str) -> bool:
    href = state.md.normalizeLink(url)
    if not state.md.validateLink(href):
        return False
    token = state.push("link_open", "a", 1)
    token.attrs = {"href": href}
    token.markup = "autolink"
    token.info = "auto"
    token = state.push("text", "", 0)
    token.content = state.md.normalizeLinkText(label)
    token = state.push("link_close", "a", -1)
    token.markup = "autolink"
    token.info = "auto"
    return True


def _preceded_ok(state: StateInline, start: int) -> bool:
    return start <= 0 or check_prev(state.src[start - 1])


def _www(state: StateInline, silent: bool) -> bool:
    src, pos = state.src, state.pos
    # Silent mode (link label scanning) never matches, as in the plugin: see its #160.
    if silent or state.linkLevel > 0 or not src.startswith("www.", pos):
        return False
    if not _preceded_ok(state, pos):
        return False
    found = match_www(src[pos : min(state.posMax, pos + URL_WINDOW)])
    if found is None:
        return False
    url, length = found
    if not _push_link(state, url, src[pos : pos + length]):
        return False
    state.pos = pos + length
    return True


def _protocol(state: StateInline, silent: bool) -> bool:
    src, pos = state.src, state.pos
    if silent or state.linkLevel > 0 or src[pos] != ":":
        return False
    protocol = next((p for p in _PROTOCOLS if state.pending.endswith(p)), None)
    if protocol is None:
        return False
    start = pos - len(protocol)
    if src[start:pos] != protocol or not _preceded_ok(state, start):
        return False
    text = src[start : min(state.posMax, pos + URL_WINDOW)]
    if protocol in ("mailto", "xmpp"):
        found = match_any_email(text, len(protocol) + 1, protocol)
    else:
        found = match_http(text)
    if found is None:
        return False
    url, length = found
    pending = state.pending
    state.pending = pending[: -len(protocol)]
    if not _push_link(state, url, text[:length]):
        state.pending = pending
        return False
    state.pos = start + length
    return True


def _email(state: StateInline, silent: bool) -> bool:
    src, pos = state.src, state.pos
    if silent or state.linkLevel > 0 or src[pos] != "@":
        return False
    tail = state.pending[-(_LOCAL_PART_MAX + 1) :]
    local_length = 0
    for char in reversed(tail):
        if char not in _LOCAL_PART_CHARS:
            break
        local_length += 1
    if local_length == 0 or local_length > _LOCAL_PART_MAX:
        return False
    start = pos - local_length
    if src[start:pos] != tail[-local_length:] or not _preceded_ok(state, start):
        return False
    text = src[start : min(state.posMax, pos + URL_WINDOW)]
    found = match_any_email(text, 0, None)
    if found is None:
        return False
    url, length = found
    pending = state.pending
    state.pending = pending[:-local_length]
    if not _push_link(state, url, text[:length]):
        state.pending = pending
        return False
    state.pos = start + length
    return True


def autolink_plugin(md: MarkdownIt) -> None:
    # `www.` starts at a `w`, which must stop the text rule (`:` and `@` already do).
    md.inline.add_terminator_char("w")
    md.inline.ruler.push("gfm_autolink_www", _www)
    md.inline.ruler.push("gfm_autolink_protocol", _protocol)
    md.inline.ruler.push("gfm_autolink_email", _email)
