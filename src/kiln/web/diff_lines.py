"""A file's patch as lines, highlighted, and as the rows of a diff table (inline or side by
side): the fast path under `kiln.web.diff_html`.

Each side of a patch is highlighted by Pygments in one pass (the old side: context and removed
lines; the new side: context and added lines, with the file's lexer), so a construct spanning
lines inside a hunk is coloured right; one that began before the hunk may not be. A patch
never changes, so the result is kept per process, keyed by the path's name and the patch's
digest (`_PARSED`, bounded by bytes), and so are the tables made from it (`RENDERED`, by
`kiln.web.diff_html`). Rows are string formatting, not template tags: a page of 5,000 lines
would otherwise spend most of its time in the template engine.

Line anchors are GitLab's line codes (`sha1(path)_old_new`).
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import itertools
import posixpath
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.utils.html import escape
from pygments import highlight  # type: ignore[import-untyped]
from pygments.formatters import HtmlFormatter  # type: ignore[import-untyped]
from pygments.lexers import get_lexer_for_filename  # type: ignore[import-untyped]
from pygments.lexers._mapping import LEXERS  # type: ignore[import-untyped]
from pygments.util import ClassNotFound  # type: ignore[import-untyped]

# A side longer than this is shown escaped, not highlighted (Pygments: ~1 MB/s at best).
HIGHLIGHT_MAX_CHARS = 256 * 1024
CACHE_MAX_BYTES = 48 * 1024 * 1024

MATCH, CONTEXT, OLD, NEW, NO_NEWLINE = "match", "context", "old", "new", "nonewline"
_SIGN = {CONTEXT: " ", OLD: "-", NEW: "+"}
_FORMATTER = HtmlFormatter(nowrap=True)


class DiffFileLike(Protocol):
    """gitstore's `DiffFile` or a stored `MergeRequestDiffFile`: the fields used here."""

    @property
    def old_path(self) -> str: ...

    @property
    def new_path(self) -> str: ...

    @property
    def a_mode(self) -> str: ...

    @property
    def b_mode(self) -> str: ...

    @property
    def new_file(self) -> bool: ...

    @property
    def renamed_file(self) -> bool: ...

    @property
    def deleted_file(self) -> bool: ...

    @property
    def binary(self) -> bool: ...

    @property
    def too_large(self) -> bool: ...

    @property
    def diff(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Line:
    type: str  # MATCH (a hunk header), CONTEXT, OLD, NEW or NO_NEWLINE
    old: int  # 0: not on that side
    new: int
    html: str  # the content, escaped (and highlighted)


@dataclass(frozen=True, slots=True)
class Parsed:
    lines: tuple[Line, ...]
    additions: int
    deletions: int


# --- parsing and highlighting -----------------------------------------------------------------


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@functools.cache
def _special_names() -> re.Pattern[str]:
    """File name patterns of Pygments' lexers that are not plain `*.ext` (Makefile, *.html.j2,
    CMakeLists.txt...), as one expression."""
    patterns = [
        pattern
        for _, _, _, filenames, _ in LEXERS.values()
        for pattern in filenames
        if not (pattern.startswith("*.") and not any(c in pattern[2:] for c in "*?[]."))
    ]
    return re.compile("|".join(fnmatch.translate(p) for p in patterns))


def _lexer(name: str) -> Any:
    """The lexer for a file name, or None (plain text and unknown types). Pygments looks a
    name up against every lexer's patterns (milliseconds); a name only a `*.ext` pattern can
    match is looked up by its extension, so a diff of many files costs one lookup a type."""
    dot = name.rfind(".")
    if dot > 0 and not _special_names().match(name):
        return _lexer_named("file" + name[dot:])
    return _lexer_named(name)


@functools.lru_cache(maxsize=1024)
def _lexer_named(name: str) -> Any:
    try:
        lexer = get_lexer_for_filename(name, stripnl=False, ensurenl=True)
    except ClassNotFound:
        return None
    return None if lexer.name == "Text only" else lexer


def _highlight(lexer: Any, texts: list[str]) -> list[str]:
    """Each text's HTML, highlighted as consecutive lines of one file; escaped only when the
    lexer is None, the side is too long, or Pygments' output does not line up (a lone `\\r`
    is a line break to Pygments, not to git)."""
    source = "\n".join(texts)
    if lexer is not None and texts and len(source) <= HIGHLIGHT_MAX_CHARS:
        out: list[str] = highlight(source + "\n", lexer, _FORMATTER).split("\n")
        if len(out) == len(texts) + 1:
            return list(out[:-1])
    return [_escape(t) for t in texts]


def parse_patch(patch: str) -> list[tuple[str, int, int, str]]:
    """A patch (from its first `@@` on) as (type, old, new, text), numbers 0 when absent."""
    out: list[tuple[str, int, int, str]] = []
    old = new = 0
    raws = patch.split("\n")
    if patch.endswith("\n"):
        raws.pop()
    for raw in raws:
        tag = raw[:1]
        if tag == "@":
            head = raw.split(" ", 3)
            if len(head) < 3 or head[0] != "@@" or head[1][:1] != "-":
                continue
            try:
                old = int(head[1][1:].partition(",")[0])
                new = int(head[2][1:].partition(",")[0])
            except ValueError:
                continue
            out.append((MATCH, 0, 0, raw))
        elif not out:
            continue  # anything before the first hunk
        elif tag == "+":
            out.append((NEW, 0, new, raw[1:]))
            new += 1
        elif tag == "-":
            out.append((OLD, old, 0, raw[1:]))
            old += 1
        elif tag == "\\":
            out.append((NO_NEWLINE, 0, 0, raw))
        else:
            out.append((CONTEXT, old, new, raw[1:]))
            old += 1
            new += 1
    return out


def _parse(path: str, patch: str, *, highlighted: bool) -> Parsed:
    rows = parse_patch(patch)
    lexer = _lexer(posixpath.basename(path)) if highlighted else None
    old_side = [r[3] for r in rows if r[0] is CONTEXT or r[0] is OLD]
    new_side = [r[3] for r in rows if r[0] is CONTEXT or r[0] is NEW]
    old_html = iter(_highlight(lexer, old_side))
    new_html = iter(_highlight(lexer, new_side))
    lines = []
    additions = deletions = 0
    for kind, old, new, text in rows:
        if kind is CONTEXT:
            next(old_html)
            html = next(new_html)
        elif kind is NEW:
            html = next(new_html)
            additions += 1
        elif kind is OLD:
            html = next(old_html)
            deletions += 1
        else:
            html = _escape(text)
        lines.append(Line(kind, old, new, html))
    return Parsed(tuple(lines), additions, deletions)


class _Cache:
    """The most recently used entries of this process, up to `max_bytes` (as estimated by
    the caller). Entries are immutable: a patch, and so what is made of it, never changes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value: Any, size: int) -> None:
        if size > self.max_bytes // 8:
            return  # one huge entry must not evict everything else
        with self._lock:
            if key in self._items:
                return
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


# Parsed and highlighted patches, and the tables rendered from them (without notes).
_PARSED = _Cache(CACHE_MAX_BYTES)
RENDERED = _Cache(CACHE_MAX_BYTES)


def clear_caches() -> None:
    _PARSED.clear()
    RENDERED.clear()


def patch_key(path: str, patch: str) -> tuple[str, bytes]:
    digest = hashlib.blake2b(patch.encode("utf-8", "surrogatepass"), digest_size=20).digest()
    return posixpath.basename(path), digest


def parsed(
    path: str, patch: str, key: tuple[str, bytes] | None = None, *, highlight: bool = True
) -> tuple[Parsed, str]:
    """The patch's lines, highlighted for `path`'s file type (cached per process), and how
    they were had: "cached", "highlighted" now, or "plain" (only escaped, not cached: when
    not cached and not `highlight`, so that a page can bound its time in Pygments)."""
    if not patch:
        return Parsed((), 0, 0), "cached"
    key = key or patch_key(path, patch)
    found: Parsed | None = _PARSED.get(key)
    if found is not None:
        return found, "cached"
    if not highlight:
        return _parse(path, patch, highlighted=False), "plain"
    found = _parse(path, patch, highlighted=True)
    _PARSED.put(key, found, sum(len(line.html) + 120 for line in found.lines))
    return found, "highlighted"


def path_hash(path: str) -> str:
    """GitLab's file hash: the anchor of a file, and the first part of its line codes."""
    return hashlib.sha1(path.encode(), usedforsecurity=False).hexdigest()


def line_code(path: str, old: int | None, new: int | None) -> str:
    """GitLab's line code: the path's SHA-1, then the old and new line numbers."""
    return f"{path_hash(path)}_{old or 0}_{new or 0}"


def has_line(f: DiffFileLike, old: int | None, new: int | None) -> bool:
    """Whether the file's patch shows that line (a comment may only be made on one)."""
    for kind, o, n, _ in parse_patch(f.diff or ""):
        if kind in _SIGN and o == (old or 0) and n == (new or 0):
            return True
    return False


# --- rows -------------------------------------------------------------------------------------


def table(
    p: Parsed,
    *,
    index: int,
    path: str,
    file_hash: str,
    view: str,
    label: str,
    notes: Mapping[str, str],
) -> str:
    """The file's table. Every value is escaped here (`label`, the path for the comment links'
    names, already is; highlighted HTML comes from Pygments, which escapes)."""
    if not p.lines:
        return ""
    rows = (_parallel if view == "parallel" else _inline)(p.lines, file_hash, label, notes)
    kind = "parallel" if view == "parallel" else "inline"
    cols = (
        '<col class="num"><col class="half"><col class="num"><col class="half">'
        if kind == "parallel"
        else '<col class="num"><col class="num"><col>'
    )
    caption = "Changes of " + escape(path) + (", side by side" if kind == "parallel" else "")
    return (
        f'<div class="diff-wrap" id="diff-body-{index}">'
        f'<table class="diff diff-{kind} highlight" data-file="{index}">'
        f'<caption class="visually-hidden">{caption}</caption><colgroup>{cols}</colgroup>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _comment(code: str, old: int, new: int, path: str) -> str:
    if not path:
        return ""
    what = f"line {new}" if new else f"old line {old}"
    return (
        f'<a class="diff-comment" href="?line={code}#{code}" data-diff-comment'
        f' aria-label="Comment on {what} of {path}">+</a>'
    )


def _inline(
    lines: Sequence[Line], file_hash: str, path: str, notes: Mapping[str, str]
) -> list[str]:
    out: list[str] = []
    append = out.append
    for line in lines:
        kind = line.type
        if kind is MATCH or kind is NO_NEWLINE:
            append(
                f'<tr class="diff-match"><td class="num">&hellip;</td><td class="num">&hellip;</td>'
                f'<td class="line">{line.html}</td></tr>'
            )
            continue
        old, new = line.old, line.new
        code = f"{file_hash}_{old}_{new}"
        o = f'<a href="#{code}">{old}</a>' if old else ""
        n = f'<a href="#{code}">{new}</a>' if new else ""
        append(
            f'<tr class="{kind}" id="{code}"><td class="num">{o}</td><td class="num">{n}</td>'
            f'<td class="line">{_comment(code, old, new, path)}'
            f'<span class="sign">{_SIGN[kind]}</span>{line.html}</td></tr>'
        )
        if notes and code in notes:
            append(
                f'<tr class="diff-notes-row"><td colspan="3" data-side="both">'
                f"{notes[code]}</td></tr>"
            )
    return out


def _pairs(lines: Sequence[Line]) -> list[tuple[Line | None, Line | None]]:
    """Rows of the side-by-side view: removed lines beside the added lines they became."""
    rows: list[tuple[Line | None, Line | None]] = []
    olds: list[Line] = []
    news: list[Line] = []
    for line in lines:
        if line.type is OLD:
            if news:
                rows.extend(itertools.zip_longest(olds, news))
                olds.clear()
                news.clear()
            olds.append(line)
        elif line.type is NEW:
            news.append(line)
        else:
            if olds or news:
                rows.extend(itertools.zip_longest(olds, news))
                olds.clear()
                news.clear()
            rows.append((line, line))
    rows.extend(itertools.zip_longest(olds, news))
    return rows


_EMPTY_SIDE = '<td class="num empty"></td><td class="line empty"></td>'


def _side(line: Line | None, code: str, path: str, number: int) -> str:
    if line is None:
        return _EMPTY_SIDE
    kind = line.type
    return (
        f'<td class="num {kind}" id="{code}"><a href="#{code}">{number}</a></td>'
        f'<td class="line {kind}">{_comment(code, line.old, line.new, path)}'
        f'<span class="sign">{_SIGN[kind]}</span>{line.html}</td>'
    )


def _parallel(
    lines: Sequence[Line], file_hash: str, path: str, notes: Mapping[str, str]
) -> list[str]:
    out: list[str] = []
    append = out.append
    for left, right in _pairs(lines):
        if left is not None and left is right:
            kind = left.type
            if kind is MATCH or kind is NO_NEWLINE:
                append(f'<tr class="diff-match"><td colspan="4">{left.html}</td></tr>')
                continue
            code = f"{file_hash}_{left.old}_{left.new}"
            append(
                f'<tr class="context" id="{code}">'
                f'<td class="num context"><a href="#{code}">{left.old}</a></td>'
                f'<td class="line context"><span class="sign"> </span>{left.html}</td>'
                f'<td class="num context"><a href="#{code}">{left.new}</a></td>'
                f'<td class="line context">{_comment(code, left.old, left.new, path)}'
                f'<span class="sign"> </span>{left.html}</td></tr>'
            )
            if notes and code in notes:
                append(
                    f'<tr class="diff-notes-row"><td colspan="4" data-side="both">'
                    f"{notes[code]}</td></tr>"
                )
            continue
        lcode = f"{file_hash}_{left.old}_0" if left is not None else ""
        rcode = f"{file_hash}_0_{right.new}" if right is not None else ""
        append(
            f"<tr>{_side(left, lcode, path, left.old if left else 0)}"
            f"{_side(right, rcode, path, right.new if right else 0)}</tr>"
        )
        if notes and (lcode in notes or rcode in notes):
            append(
                f'<tr class="diff-notes-row"><td colspan="2" data-side="left">'
                f'{notes.get(lcode, "")}</td><td colspan="2" data-side="right">'
                f"{notes.get(rcode, '')}</td></tr>"
            )
    return out
