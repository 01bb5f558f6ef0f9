"""Following diff notes across pushes (GitLab's `Gitlab::Diff::PositionTracer`).

A diff note is pinned to a line of one diff version: its `position` names the version's
refs (base, start, head), the file and the line (`new_line` for an added or unchanged line,
`old_line` for a removed or unchanged one). After a push writes a new version, a note whose
line the push did not touch moves to the same line in the new version; a note whose line
changed stays where it was and reads as outdated (its head is no longer the merge request's).

Pure line arithmetic over unified diffs, plus one `git diff` per file that carries notes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kiln.gitstore import GitStoreError
from kiln.merge_requests.models import MergeRequest, MergeRequestDiff
from kiln.repositories.storage import repo_path, store

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True)
class Hunk:
    old_start: int
    old_count: int
    new_start: int
    new_count: int
    lines: tuple[str, ...]


def parse_hunks(diff: str) -> list[Hunk]:
    """The hunks of one file's patch (as gitstore gives it: from the first `@@` on)."""
    hunks: list[Hunk] = []
    header: re.Match[str] | None = None
    body: list[str] = []
    for line in diff.split("\n"):
        match = _HUNK.match(line)
        if match is not None:
            if header is not None:
                hunks.append(_hunk(header, body))
            header, body = match, []
        elif header is not None and line[:1] in (" ", "+", "-"):
            body.append(line)
    if header is not None:
        hunks.append(_hunk(header, body))
    return hunks


def _hunk(header: re.Match[str], body: list[str]) -> Hunk:
    old_count = int(header.group(2)) if header.group(2) is not None else 1
    new_count = int(header.group(4)) if header.group(4) is not None else 1
    return Hunk(
        old_start=int(header.group(1)),
        old_count=old_count,
        new_start=int(header.group(3)),
        new_count=new_count,
        lines=tuple(body),
    )


def _walk(hunk: Hunk) -> Iterator[tuple[str, int | None, int | None]]:
    """(kind, old line, new line) for each line of a hunk."""
    old, new = hunk.old_start, hunk.new_start
    for line in hunk.lines:
        kind = line[:1]
        if kind == " ":
            yield kind, old, new
            old, new = old + 1, new + 1
        elif kind == "-":
            yield kind, old, None
            old += 1
        else:
            yield kind, None, new
            new += 1


def old_to_new(hunks: list[Hunk], line: int) -> int | None:
    """Where line `line` of the old file is in the new one; None when the diff changed it."""
    offset = 0
    for hunk in hunks:
        first_old = hunk.old_start if hunk.old_count else hunk.old_start + 1
        if line < first_old:
            return line + offset
        if hunk.old_count and line < hunk.old_start + hunk.old_count:
            for kind, old, new in _walk(hunk):
                if old == line:
                    return new if kind == " " else None
            return None
        offset += hunk.new_count - hunk.old_count
    return line + offset


def new_to_old(hunks: list[Hunk], line: int) -> tuple[str, int | None]:
    """For line `line` of the new file: ("+", None) when the diff added it, else (" ", its
    line in the old file)."""
    offset = 0
    for hunk in hunks:
        first_new = hunk.new_start if hunk.new_count else hunk.new_start + 1
        if line < first_new:
            return " ", line - offset
        if hunk.new_count and line < hunk.new_start + hunk.new_count:
            for kind, old, new in _walk(hunk):
                if new == line:
                    return kind, old
            return "+", None
        offset += hunk.new_count - hunk.old_count
    return " ", line - offset


def removed_in(hunks: list[Hunk], line: int) -> bool:
    """Whether the diff removes line `line` of the old file."""
    return any(kind == "-" and old == line for hunk in hunks for kind, old, _ in _walk(hunk))


def _file_patch(version: MergeRequestDiff, path: str) -> str | None:
    row = (
        version.files.filter(new_path=path).only("diff").first()
        or version.files.filter(old_path=path).only("diff").first()
    )
    return row.diff if row is not None else None


def trace(
    mr: MergeRequest, position: dict[str, Any], version: MergeRequestDiff
) -> dict[str, Any] | None:
    """The note's position in `version`, or None when the push changed its line."""
    if position.get("position_type", "text") != "text":
        return None
    old_head = str(position.get("head_sha") or "")
    if not old_head or old_head == version.head_commit_sha:
        return None
    new_path = str(position.get("new_path") or position.get("old_path") or "")
    old_path = str(position.get("old_path") or new_path)
    new_line, old_line = position.get("new_line"), position.get("old_line")
    moved: dict[str, Any] = {
        **position,
        "base_sha": version.base_commit_sha,
        "start_sha": version.start_commit_sha,
        "head_sha": version.head_commit_sha,
    }
    patch = _file_patch(version, new_path)
    mr_hunks = parse_hunks(patch) if patch else []
    if isinstance(new_line, int):
        try:
            pushed = store().diff(
                relative_path=repo_path(mr.project),
                from_revision=old_head,
                to_revision=version.head_commit_sha,
                paths=[new_path],
            )
        except GitStoreError:
            return None
        if pushed and (pushed[0].binary or pushed[0].too_large or pushed[0].deleted_file):
            return None
        traced = old_to_new(parse_hunks(pushed[0].diff), new_line) if pushed else new_line
        if traced is None:
            return None
        kind, old = new_to_old(mr_hunks, traced)
        moved["new_line"] = traced
        moved["old_line"] = old if kind == " " else None
        return moved
    if isinstance(old_line, int):
        # A removed line lives in the base: it stays only while the base and the removal do.
        if position.get("base_sha") != version.base_commit_sha or not removed_in(
            mr_hunks, old_line
        ):
            return None
        moved["old_path"] = old_path
        return moved
    return None
