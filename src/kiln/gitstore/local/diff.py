"""Diffs and compare, from one `git diff --raw -z --patch` run per request.

A diff between two commit ids never changes, so each process keeps the most recent ones
(`_DiffCache`, bounded by the bytes of their patches): a merge request's changes read by
everyone who opens it cost one git run, as GitLab's stored merge request diffs do.

The raw section (NUL-separated, so paths are exact bytes, never C-quoted) gives paths,
modes, ids and status; the patch section gives the hunks, in the same order. git prints one
patch per raw entry, except for a type change (file <-> symlink), which it prints as a
deletion followed by an addition; both halves are joined into one `DiffFile`.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kiln.gitstore.errors import GitCommandError, InvalidArgument
from kiln.gitstore.local.convert import decode, to_commit
from kiln.gitstore.local.core import EMPTY_TREE_ID, LocalCore
from kiln.gitstore.paths import validate_repo_path
from kiln.gitstore.types import Comparison, DiffFile

__all__ = ["DiffOps", "parse_raw_patch"]

_PATCH_START_RE = re.compile(rb"^diff --git ", re.MULTILINE)
_HUNK_RE = re.compile(rb"^@@ ", re.MULTILINE)
_BINARY_RE = re.compile(rb"^Binary files .* differ$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class _RawEntry:
    old_mode: str
    new_mode: str
    old_id: str
    new_id: str
    status: str
    old_path: str
    new_path: str


def _mode(raw: bytes) -> str:
    return "0" if raw.strip(b"0") == b"" else raw.decode()


def _parse_raw(output: bytes) -> tuple[list[_RawEntry], int]:
    """Raw entries, and the offset where the patch section starts."""
    entries: list[_RawEntry] = []
    pos = 0
    while pos < len(output) and output[pos : pos + 1] == b":":
        end = output.index(b"\0", pos)
        old_mode, new_mode, old_id, new_id, status = output[pos + 1 : end].split(b" ")
        pos = end + 1
        paths = []
        # Renames and copies carry the source and the destination path.
        for _ in range(2 if status[:1] in (b"R", b"C") else 1):
            end = output.index(b"\0", pos)
            paths.append(decode(output[pos:end]))
            pos = end + 1
        entries.append(
            _RawEntry(
                old_mode=_mode(old_mode),
                new_mode=_mode(new_mode),
                old_id=old_id.decode(),
                new_id=new_id.decode(),
                status=status[:1].decode(),
                old_path=paths[0],
                new_path=paths[-1],
            )
        )
    if output[pos : pos + 1] == b"\0":  # -z ends the raw section with an empty record
        pos += 1
    return entries, pos


def _split_patches(patch: bytes) -> list[bytes]:
    starts = [match.start() for match in _PATCH_START_RE.finditer(patch)]
    if not starts:
        return []
    return [patch[start:end] for start, end in zip(starts, [*starts[1:], len(patch)], strict=True)]


def _hunks(section: bytes) -> tuple[bytes, bool]:
    """The text GitLab shows (from the first ``@@`` on) and whether the file is binary."""
    hunk = _HUNK_RE.search(section)
    if hunk is not None:
        return section[hunk.start() :], False
    binary = _BINARY_RE.search(section)
    if binary is not None:
        return section[binary.start() : binary.end()] + b"\n", True
    return b"", False


def parse_raw_patch(output: bytes, *, max_patch_bytes: int | None = None) -> list[DiffFile]:
    entries, patch_start = _parse_raw(output)
    sections = _split_patches(output[patch_start:])
    expected = sum(2 if entry.status == "T" else 1 for entry in entries)
    if len(sections) != expected:
        raise GitCommandError(
            "git diff output could not be parsed",
            stderr=f"{len(entries)} raw entries, {len(sections)} patches",
        )
    files = []
    position = 0
    for entry in entries:
        count = 2 if entry.status == "T" else 1
        parts = [_hunks(section) for section in sections[position : position + count]]
        position += count
        text = b"".join(part for part, _ in parts)
        binary = any(is_binary for _, is_binary in parts)
        too_large = max_patch_bytes is not None and len(text) > max_patch_bytes
        files.append(
            DiffFile(
                old_path=entry.old_path,
                new_path=entry.new_path,
                old_id=entry.old_id,
                new_id=entry.new_id,
                a_mode=entry.old_mode,
                b_mode=entry.new_mode,
                new_file=entry.status == "A",
                renamed_file=entry.status == "R",
                deleted_file=entry.status == "D",
                binary=binary,
                too_large=too_large,
                diff="" if too_large else decode(text),
            )
        )
    return files


_DiffKey = tuple[str, str, str, tuple[str, ...], int | None]


class _DiffCache:
    """The most recently used diffs of this process, up to `max_bytes` of patch text."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[_DiffKey, tuple[tuple[DiffFile, ...], int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: _DiffKey) -> tuple[DiffFile, ...] | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            return found[0]

    def put(self, key: _DiffKey, files: tuple[DiffFile, ...]) -> None:
        size = sum(len(f.diff) + len(f.old_path) + len(f.new_path) + 200 for f in files)
        if size > self.max_bytes // 4:
            return  # one huge diff must not evict everything else
        with self._lock:
            if key in self._items:
                return
            self._items[key] = (files, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


_CACHE = _DiffCache(max_bytes=64 * 1024 * 1024)
_FULL_ID_RE = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


class DiffOps(LocalCore):
    def _diff(
        self,
        git_dir: Path,
        old: str,
        new: str,
        paths: Sequence[str],
        max_patch_bytes: int | None,
    ) -> tuple[DiffFile, ...]:
        if isinstance(paths, str):
            raise InvalidArgument("paths must be a sequence of paths.")
        if max_patch_bytes is not None and max_patch_bytes < 0:
            raise InvalidArgument("max_patch_bytes cannot be negative.")
        cacheable = bool(_FULL_ID_RE.fullmatch(old) and _FULL_ID_RE.fullmatch(new))
        key: _DiffKey = (str(git_dir), old, new, tuple(paths), max_patch_bytes)
        if cacheable and (cached := _CACHE.get(key)) is not None:
            return cached
        args = [
            "diff",
            "--raw",
            "-z",
            "--patch",
            "-M",
            "--full-index",
            "--abbrev=40",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--submodule=short",
            "--end-of-options",
            old,
            new,
        ]
        if paths:
            args += ["--", *(validate_repo_path(path) for path in paths)]
        output = self.git.run(git_dir, args).stdout
        files = tuple(parse_raw_patch(output, max_patch_bytes=max_patch_bytes))
        if cacheable:
            _CACHE.put(key, files)
        return files

    def commit_diff(
        self,
        *,
        relative_path: str,
        revision: str,
        paths: Sequence[str] = (),
        max_patch_bytes: int | None = None,
    ) -> tuple[DiffFile, ...]:
        git_dir = self._git_dir(relative_path)
        with self._open(relative_path) as repo:
            commit = to_commit(self._commit(repo, revision))
        parent = commit.parent_ids[0] if commit.parent_ids else EMPTY_TREE_ID
        return self._diff(git_dir, parent, commit.id, paths, max_patch_bytes)

    def diff(
        self,
        *,
        relative_path: str,
        from_revision: str,
        to_revision: str,
        paths: Sequence[str] = (),
        max_patch_bytes: int | None = None,
    ) -> tuple[DiffFile, ...]:
        git_dir = self._git_dir(relative_path)
        with self._open(relative_path) as repo:
            old = str(self._commit(repo, from_revision).id)
            new = str(self._commit(repo, to_revision).id)
        return self._diff(git_dir, old, new, paths, max_patch_bytes)

    def compare(
        self,
        *,
        relative_path: str,
        from_revision: str,
        to_revision: str,
        straight: bool = False,
        max_patch_bytes: int | None = None,
    ) -> Comparison:
        git_dir = self._git_dir(relative_path)
        with self._open(relative_path) as repo:
            old = str(self._commit(repo, from_revision).id)
            new = str(self._commit(repo, to_revision).id)
            if straight:
                base: str | None = old
            else:
                found = self.git.run(
                    git_dir, ["merge-base", "--end-of-options", old, new], ok=(0, 1)
                )
                base = found.stdout.decode().strip() or None
            listed = self.git.run(
                git_dir, ["rev-list", "--reverse", "--end-of-options", new, f"^{old}"]
            ).stdout
            commits = []
            for line in listed.split():
                found_commit = self._find_commit(repo, line.decode())
                if found_commit is not None:
                    commits.append(found_commit)
            return Comparison(
                from_id=old,
                to_id=new,
                base_id=base,
                commits=tuple(to_commit(commit) for commit in commits),
                diffs=self._diff(git_dir, base or EMPTY_TREE_ID, new, (), max_patch_bytes),
            )
