"""GitLab references (`@user`, `#12`, `group/project!3`, `~"a label"`, `%v1.0`, commit SHAs).

What is here: the reference types, the `ReferenceResolver` protocol the caller implements,
and the scanner that finds references in a piece of plain text. The markdown-it rule that
runs the scanner over the parsed document, and the rendering of a resolved reference, are
in `reference_rule.py`.

Resolution is the caller's job and is batched: a render calls `resolve` once, with every
reference of the document, so a page costs a bounded number of queries. A reference the
resolver leaves out (missing, or invisible to the viewer) is rendered as the plain text the
author typed: never a link, never a hint of the target's title.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol


class ReferenceType(enum.StrEnum):
    USER = "user"  # `@name`: a user or a group (GitLab resolves both from one namespace)
    ISSUE = "issue"
    MERGE_REQUEST = "merge_request"
    LABEL = "label"
    MILESTONE = "milestone"
    COMMIT = "commit"
    COMMIT_RANGE = "commit_range"


@dataclass(frozen=True, kw_only=True)
class Reference:
    """One parsed reference, as the resolver receives it.

    type: what it points at.
    identifier: the iid (`"12"`), user or group path, label or milestone name or id, commit
        SHA prefix, or for a range the two SHAs as written (`"abc1234...def5678"`, `..`
        includes the first commit, `...` does not, as in GitLab).
    project: full path of the project the reference points into, already made absolute
        from the render context (`#12` → the context project; `proj#12` → the context
        project's namespace + `/proj`). None when the context has no project, and always
        for users.
    by_id: labels and milestones written by number (`~12`, `%3`) rather than by name.
    raw: the text as the author wrote it (shown when the resolver gives no display text).
    """

    type: ReferenceType
    identifier: str
    project: str | None = None
    by_id: bool = False
    raw: str = field(default="", compare=False)


@dataclass(frozen=True, kw_only=True)
class ResolvedReference:
    """What a reference the viewer may see renders as.

    url: the link target (http(s) or a path; anything else is dropped by the sanitizer).
    title: tooltip text (GitLab shows the issue title, the user's name, ...).
    text: display text; None shows what the author wrote (for a label written by name,
        the name).
    css_classes: classes of the link; empty gives GitLab's `gfm gfm-<type>`.
    data: extra `data-*` attributes (keys with or without the `data-` prefix), e.g.
        `{"project": "7", "iid": "12"}` for the UI's hover cards.
    state: for issues and merge requests, `opened`, `closed`, `merged` or `locked`;
        `closed` and `merged` are shown after the text, as GitLab does.
    color: a label's background colour (`#rrggbb`).
    """

    url: str
    title: str = ""
    text: str | None = None
    css_classes: tuple[str, ...] = ()
    data: Mapping[str, str] = field(default_factory=dict)
    state: str | None = None
    color: str | None = None


class ReferenceResolver(Protocol):
    """Resolves references for one viewer; the caller builds one per request.

    `resolve` receives every distinct reference of a document in one call. It returns an
    entry only for each reference whose target exists and which the viewer may see;
    everything else stays plain text. Implementations group by `type` and `project` to
    make one query per kind, not one per reference.
    """

    def resolve(
        self, references: Collection[Reference]
    ) -> Mapping[Reference, ResolvedReference]: ...


# A path segment of a namespace or project, as GitLab allows them.
_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9_.\-]*"
_PATH = rf"{_SEGMENT}(?:/{_SEGMENT})*"
_SIGILS = "#!~%@"
# Where a prefixed reference may start: not in the middle of a word, path or e-mail.
_PREFIXED = re.compile(
    rf"(?<![\w/.\-@~])(?:(?P<path>{_PATH})(?=[{_SIGILS}]))?(?P<sigil>[{_SIGILS}])"
)
_NUMBER = re.compile(r"\d+(?!\w|\.\w)")
_QUOTED = re.compile(r'"([^"\r\n]+)"')
_LABEL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-?&.]*")
_MILESTONE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-.]*")
_USERNAME = re.compile(_PATH)
_SHA = r"[0-9a-fA-F]{7,40}"
_COMMIT = re.compile(rf"(?P<sha>{_SHA})(?:(?P<dots>\.\.\.?)(?P<sha2>{_SHA}))?(?!\w|\.\w)")
_BARE_COMMIT = re.compile(rf"(?<![\w@/.\-]){_COMMIT.pattern}")
# Trailing punctuation ends a sentence rather than a name: `see ~bug.` is `~bug`.
_TRAILING = ".-?&"


@dataclass(frozen=True)
class Match:
    """A reference found in text: `text[start:end]` is `reference.raw`."""

    start: int
    end: int
    reference: Reference


def absolute_project(written: str | None, context_project: str | None) -> str | None:
    """Make a written project path absolute the way GitLab does."""
    if written is None:
        return context_project
    if "/" in written or context_project is None or "/" not in context_project:
        return written
    namespace = context_project.rsplit("/", 1)[0]
    return f"{namespace}/{written}"


def _name(pattern: re.Pattern[str], text: str, pos: int) -> tuple[str, int] | None:
    match = pattern.match(text, pos)
    if match is None:
        return None
    name = match.group(0).rstrip(_TRAILING)
    return (name, pos + len(name)) if name else None


def _body(
    sigil: str, has_path: bool, text: str, pos: int
) -> tuple[ReferenceType, str, bool, int] | None:
    """Parse what follows a sigil: (type, identifier, by_id, end) or None."""
    if sigil in "#!":
        number = _NUMBER.match(text, pos)
        if number is None:
            return None
        kind = ReferenceType.ISSUE if sigil == "#" else ReferenceType.MERGE_REQUEST
        return kind, number.group(0), False, number.end()
    if sigil in "~%":
        kind = ReferenceType.LABEL if sigil == "~" else ReferenceType.MILESTONE
        quoted = _QUOTED.match(text, pos)
        if quoted is not None:
            return kind, quoted.group(1), False, quoted.end()
        number = _NUMBER.match(text, pos)
        if number is not None:
            return kind, number.group(0), True, number.end()
        name = _name(_LABEL_NAME if sigil == "~" else _MILESTONE_NAME, text, pos)
        return (kind, name[0], False, name[1]) if name else None
    # `@`: a commit after a project path, a user or group on its own.
    if has_path:
        commit = _COMMIT.match(text, pos)
        if commit is None:
            return None
        if commit.group("sha2"):
            return ReferenceType.COMMIT_RANGE, commit.group(0), False, commit.end()
        return ReferenceType.COMMIT, commit.group(0), False, commit.end()
    user = _name(_USERNAME, text, pos)
    return (ReferenceType.USER, user[0], False, user[1]) if user else None


def _prefixed(text: str, context_project: str | None) -> Iterator[Match]:
    pos = 0
    while (match := _PREFIXED.search(text, pos)) is not None:
        path, sigil = match.group("path"), match.group("sigil")
        body = _body(sigil, path is not None, text, match.end())
        if body is None:
            pos = match.start() + 1
            continue
        kind, identifier, by_id, end = body
        project = None if kind is ReferenceType.USER else absolute_project(path, context_project)
        raw = text[match.start() : end]
        reference = Reference(
            type=kind, identifier=identifier, project=project, by_id=by_id, raw=raw
        )
        yield Match(match.start(), end, reference)
        pos = end


def _bare_commits(text: str, context_project: str | None) -> Iterator[Match]:
    for match in _BARE_COMMIT.finditer(text):
        kind = ReferenceType.COMMIT_RANGE if match.group("sha2") else ReferenceType.COMMIT
        reference = Reference(
            type=kind, identifier=match.group(0), project=context_project, raw=match.group(0)
        )
        yield Match(match.start(), match.end(), reference)


def scan(text: str, *, context_project: str | None = None, prev_char: str = "") -> list[Match]:
    """Find references in plain text, in order and without overlaps.

    prev_char: the character just before `text` in the document, if any (a reference
        cannot start in the middle of a word that began in a previous text run).
    """
    found = sorted(
        [*_prefixed(text, context_project), *_bare_commits(text, context_project)],
        key=lambda m: (m.start, -m.end),
    )
    result: list[Match] = []
    position = 0
    for match in found:
        if match.start < position:
            continue
        if match.start == 0 and prev_char and (prev_char.isalnum() or prev_char in "_/.-@"):
            continue
        result.append(match)
        position = match.end
    return result
