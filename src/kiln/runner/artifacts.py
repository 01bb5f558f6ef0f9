"""Artifact and cache archives: collecting files from a build, writing them, extracting safely.

Collecting (`collect`) reads a directory a job controlled until a moment ago, from the runner's
side, so it trusts nothing in it: it never follows a symbolic link (links are stored as links,
and only when they point inside the build directory), reads only regular files (opened with
O_NOFOLLOW, so a FIFO or a swapped-in link cannot block or redirect it), and skips every path
that would leave the build directory (`../x`, `/etc/passwd`, a link to elsewhere).

Extracting (`extract_zip`) takes an archive from the server (another job's artifacts) or from
the cache and writes only inside the target: it refuses entries with `..`, absolute or
Windows paths, links whose target leaves the target, special files, and zip bombs (too many
entries, too many bytes in total, or an entry compressed beyond a ratio), checking declared
sizes before writing anything and actual sizes while writing. Parent directories are created
one component at a time so a link already in the build (a repository may contain one) cannot
carry a write outside.

Patterns are GitLab's `artifacts:paths`/`exclude` globs: `*`, `?`, `[...]`, `{a,b}` and `**`
for any number of directories; a matched directory brings everything under it.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import stat
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1024 * 1024
SMALL_ENTRY = 1024 * 1024  # below this, a high compression ratio is no threat


class ArchiveError(Exception):
    """The archive cannot be made or is refused; the message says why, for the job log."""


class UnsafeArchive(ArchiveError):
    """The archive tries to write outside its target, or to exhaust the disk."""


class ArchiveTooLarge(ArchiveError):
    pass


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the build directory, '/'-separated
    kind: str  # "file", "dir" or "symlink"
    size: int = 0
    target: str = ""  # for symlinks
    mode: int = 0o644
    mtime: float = 0.0


# -- glob patterns ---------------------------------------------------------------------------


def _translate_segment(segment: str) -> str:
    out = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = segment.find("]", i + 2 if segment[i + 1 : i + 2] in ("!", "^") else i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = segment[i + 1 : end]
                if body[:1] in ("!", "^"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\").replace("/", "") + "]")
                i = end
        elif char == "{":
            end = segment.find("}", i)
            if end == -1:
                out.append(re.escape(char))
            else:
                options = segment[i + 1 : end].split(",")
                out.append("(?:" + "|".join(_translate_segment(o) for o in options) + ")")
                i = end
        elif char == "\\" and i + 1 < len(segment):
            i += 1
            out.append(re.escape(segment[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def normalize_pattern(pattern: str) -> str | None:
    """The pattern relative to the build directory, or None when it points outside it."""
    text = pattern.strip()
    if not text or text.startswith("/") or "\x00" in text:
        return None
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return None
    return "/".join(parts) if parts else "."


def compile_pattern(pattern: str) -> re.Pattern[str]:
    segments = pattern.split("/")
    regex = ""
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            regex += ".*" if last else "(?:[^/]+/)*"
        else:
            regex += _translate_segment(segment) + ("" if last else "/")
    return re.compile(regex)


def _literal_base(pattern: str) -> str:
    """The leading segments without glob characters: where the walk can start."""
    base = []
    for segment in pattern.split("/"):
        if any(c in segment for c in "*?[{\\"):
            break
        base.append(segment)
    return "/".join(base)


# -- collecting ------------------------------------------------------------------------------


def _inside(root_real: str, path: str) -> bool:
    return path == root_real or path.startswith(root_real + os.sep)


def _entry(root: Path, root_real: str, rel: str, warn: Callable[[str], None]) -> Entry | None:
    full = root / rel
    try:
        info = os.lstat(full)
    except OSError:
        return None
    if stat.S_ISLNK(info.st_mode):
        target = os.readlink(full)
        lexical = os.path.normpath(os.path.join(os.path.dirname(rel), target))
        real = os.path.realpath(full)
        if os.path.isabs(target) or lexical.startswith("..") or not _inside(root_real, real):
            warn(f"{rel}: symbolic link to a path outside the project directory (skipped)")
            return None
        return Entry(rel, "symlink", target=target, mode=0o777, mtime=info.st_mtime)
    if stat.S_ISDIR(info.st_mode):
        return Entry(rel, "dir", mode=stat.S_IMODE(info.st_mode), mtime=info.st_mtime)
    if stat.S_ISREG(info.st_mode):
        return Entry(
            rel, "file", size=info.st_size, mode=stat.S_IMODE(info.st_mode), mtime=info.st_mtime
        )
    warn(f"{rel}: not a regular file, directory or link (skipped)")
    return None


def _walk(root: Path, rel: str) -> Iterator[str]:
    """Every path under `rel` (not `rel` itself), never following links."""
    stack = [rel]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(root / current if current != "." else root) as scan:
                children = sorted(scan, key=lambda e: e.name)
        except OSError:
            continue
        for child in children:
            child_rel = child.name if current == "." else f"{current}/{child.name}"
            yield child_rel
            if child.is_dir(follow_symlinks=False):
                stack.append(child_rel)


def _excluded(rel: str, excludes: list[re.Pattern[str]]) -> bool:
    parts = rel.split("/")
    for depth in range(len(parts), 0, -1):
        prefix = "/".join(parts[:depth])
        if any(p.fullmatch(prefix) for p in excludes):
            return True
    return False


def collect(
    root: Path,
    *,
    paths: Iterable[str],
    exclude: Iterable[str] = (),
    untracked: Iterable[str] = (),
    warn: Callable[[str], None] = lambda message: None,
) -> list[Entry]:
    """The entries `paths` (globs) and `untracked` (relative file names) name under `root`."""
    root_real = os.path.realpath(root)
    excludes = []
    for pattern in exclude:
        normalized = normalize_pattern(pattern)
        if normalized is not None:
            excludes.append(compile_pattern(normalized))
    chosen: dict[str, Entry] = {}

    def add(rel: str, *, recursive: bool) -> None:
        if rel in chosen or _excluded(rel, excludes):
            return
        entry = _entry(root, root_real, rel, warn)
        if entry is None:
            return
        chosen[rel] = entry
        if entry.kind == "dir" and recursive:
            for child in _walk(root, rel):
                if child not in chosen and not _excluded(child, excludes):
                    child_entry = _entry(root, root_real, child, warn)
                    if child_entry is not None:
                        chosen[child] = child_entry

    for raw in paths:
        normalized_raw = normalize_pattern(raw)
        if normalized_raw is None:
            warn(f"{raw}: not in the project directory (skipped)")
            continue
        pattern = normalized_raw
        base = _literal_base(pattern)
        if base and not _inside(root_real, os.path.realpath(root / base)):
            warn(f"{raw}: not in the project directory (skipped)")
            continue
        if base == pattern:
            if os.path.lexists(root / pattern):
                if pattern == ".":
                    for child in _walk(root, "."):
                        add(child, recursive=False)
                else:
                    add(pattern, recursive=True)
            else:
                warn(f"{raw}: no matching files")
            continue
        regex = compile_pattern(pattern)
        found = 0
        start = base or "."
        if not os.path.isdir(root / start) or os.path.islink(root / start):
            warn(f"{raw}: no matching files")
            continue
        for rel in _walk(root, start):
            if regex.fullmatch(rel):
                found += 1
                add(rel, recursive=True)
        if not found:
            warn(f"{raw}: no matching files")
    for rel in untracked:
        normalized = normalize_pattern(rel)
        if normalized and normalized != ".":
            add(normalized, recursive=False)
    # A file's parent directories come with it, so the archive extracts with its layout.
    for rel in list(chosen):
        parent = os.path.dirname(rel)
        while parent and parent not in chosen:
            entry = _entry(root, root_real, parent, warn)
            if entry is None or entry.kind != "dir":
                break
            chosen[parent] = entry
            parent = os.path.dirname(parent)
    return [chosen[key] for key in sorted(chosen)]


# -- writing ---------------------------------------------------------------------------------


def _open_regular(path: Path) -> int:
    """A read descriptor on a regular file, never through a link, never blocking on a FIFO."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path}: not a regular file")
    return fd


def _zip_time(mtime: float) -> tuple[int, int, int, int, int, int]:
    moment = time.localtime(max(mtime, 315532800.0))  # the ZIP format starts in 1980
    return (
        moment.tm_year,
        moment.tm_mon,
        moment.tm_mday,
        moment.tm_hour,
        moment.tm_min,
        moment.tm_sec,
    )


def write_zip(
    root: Path,
    entries: list[Entry],
    destination: Path,
    *,
    max_size: int,
    warn: Callable[[str], None] = lambda message: None,
) -> int:
    """Write `entries` to a ZIP at `destination`; returns the archive's size.

    Raises ArchiveTooLarge when the files add up to more than `max_size` (checked before
    and while reading, since the job may have left files that keep growing).
    """
    declared = sum(e.size for e in entries if e.kind == "file")
    if max_size and declared > max_size:
        raise ArchiveTooLarge(f"the files add up to {declared} bytes, over the limit of {max_size}")
    total = 0
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED, strict_timestamps=False) as zf:
        for entry in entries:
            if entry.kind == "dir":
                info = zipfile.ZipInfo(entry.path + "/", _zip_time(entry.mtime))
                info.external_attr = ((stat.S_IFDIR | (entry.mode & 0o777)) << 16) | 0x10
                info.create_system = 3
                zf.writestr(info, b"")
            elif entry.kind == "symlink":
                info = zipfile.ZipInfo(entry.path, _zip_time(entry.mtime))
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                info.create_system = 3
                zf.writestr(info, entry.target.encode())
            else:
                try:
                    fd = _open_regular(root / entry.path)
                except OSError as exc:
                    warn(f"{entry.path}: cannot be read ({exc.strerror or exc}); skipped")
                    continue
                with os.fdopen(fd, "rb") as source:
                    info = zipfile.ZipInfo(entry.path, _zip_time(entry.mtime))
                    info.external_attr = (stat.S_IFREG | (entry.mode & 0o777)) << 16
                    info.create_system = 3
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.file_size = entry.size
                    with zf.open(info, "w", force_zip64=entry.size > 0x7FFFFFFF) as sink:
                        while chunk := source.read(CHUNK):
                            total += len(chunk)
                            if max_size and total > max_size:
                                raise ArchiveTooLarge(
                                    f"the files add up to more than the limit of {max_size} bytes"
                                )
                            sink.write(chunk)
    return destination.stat().st_size


def write_gzip(root: Path, entries: list[Entry], destination: Path, *, max_size: int) -> int:
    """gitlab-runner's `gzip` artifact format (reports): one gzip member per file, named."""
    total = 0
    with destination.open("wb") as out:
        for entry in entries:
            if entry.kind != "file":
                continue
            fd = _open_regular(root / entry.path)
            with (
                os.fdopen(fd, "rb") as source,
                gzip.GzipFile(
                    filename=entry.path, mode="wb", fileobj=out, mtime=int(entry.mtime)
                ) as member,
            ):
                while chunk := source.read(CHUNK):
                    total += len(chunk)
                    if max_size and total > max_size:
                        raise ArchiveTooLarge(f"the report is larger than {max_size} bytes")
                    member.write(chunk)
    return destination.stat().st_size


def write_raw(root: Path, entries: list[Entry], destination: Path, *, max_size: int) -> int:
    """The `raw` format: exactly one file, as it is."""
    files = [e for e in entries if e.kind == "file"]
    if len(files) != 1:
        raise ArchiveError(f"the raw format needs exactly one file, found {len(files)}")
    fd = _open_regular(root / files[0].path)
    total = 0
    with os.fdopen(fd, "rb") as source, destination.open("wb") as out:
        while chunk := source.read(CHUNK):
            total += len(chunk)
            if max_size and total > max_size:
                raise ArchiveTooLarge(f"the file is larger than {max_size} bytes")
            out.write(chunk)
    return total


# -- extracting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExtractLimits:
    max_size: int = 1024 * 1024 * 1024
    max_ratio: int = 200
    max_entries: int = 100_000


def _entry_kind(info: zipfile.ZipInfo) -> str:
    mode = info.external_attr >> 16
    # Many writers (Python's zipfile among them) store permission bits without a file type.
    if info.create_system == 3 and stat.S_IFMT(mode):
        if stat.S_ISLNK(mode):
            return "symlink"
        if stat.S_ISDIR(mode):
            return "dir"
        if stat.S_ISREG(mode):
            return "file"
        return "special"
    return "dir" if info.filename.endswith("/") else "file"


def _safe_name(name: str) -> str:
    """The entry's path as '/'-joined parts, or UnsafeArchive."""
    if "\x00" in name:
        raise UnsafeArchive(f"{name!r}: a NUL byte in the name")
    if "\\" in name:
        raise UnsafeArchive(f"{name!r}: a backslash in the name")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise UnsafeArchive(f"{name!r}: an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnsafeArchive(f"{name!r}: a path that leaves the target directory")
    return "/".join(parts)


def _check_link_target(rel: str, target: str) -> None:
    if not target or "\x00" in target:
        raise UnsafeArchive(f"{rel}: an empty or invalid link target")
    if target.startswith("/") or re.match(r"^[A-Za-z]:", target):
        raise UnsafeArchive(f"{rel}: a link to an absolute path ({target})")
    lexical = os.path.normpath(os.path.join(os.path.dirname(rel), target))
    if lexical == ".." or lexical.startswith("../"):
        raise UnsafeArchive(f"{rel}: a link that leaves the target directory ({target})")


def _ensure_directory(target_real: str, rel_dir: str, owner: tuple[int, int] | None = None) -> str:
    """Create `rel_dir` under the target one component at a time; its real path.

    An existing component that is a link is accepted only if it resolves inside the target;
    an existing file in the way is refused.
    """
    current = target_real
    for part in [p for p in rel_dir.split("/") if p]:
        candidate = os.path.join(current, part)
        if os.path.islink(candidate):
            resolved = os.path.realpath(candidate)
            if not _inside(target_real, resolved) or not os.path.isdir(resolved):
                raise UnsafeArchive(f"{rel_dir}: goes through a link that leaves the target")
            current = resolved
            continue
        if os.path.lexists(candidate):
            if not os.path.isdir(candidate):
                raise UnsafeArchive(f"{rel_dir}: a file is in the way")
        else:
            os.mkdir(candidate, 0o755)
            if owner is not None:
                os.lchown(candidate, *owner)
        current = candidate
    return current


def _remove_existing(path: str) -> None:
    if os.path.islink(path) or (os.path.lexists(path) and not os.path.isdir(path)):
        os.unlink(path)
    elif os.path.isdir(path):
        raise UnsafeArchive(f"{path}: a directory is in the way")


def extract_zip(
    archive: Path,
    target: Path,
    *,
    limits: ExtractLimits = ExtractLimits(),
    owner: tuple[int, int] | None = None,
) -> list[str]:
    """Extract `archive` into `target` (which must exist); returns the paths written.

    Everything that can be checked from the central directory is checked before anything
    is written; actual sizes are enforced while writing (declared sizes may lie). `owner`
    (uid, gid) is given to everything created, so a job running as another user than the
    runner owns what the runner extracted for it.
    """
    target_real = os.path.realpath(target)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(f"not a readable ZIP archive: {exc}") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_entries:
            raise UnsafeArchive(f"{len(infos)} entries, over the limit of {limits.max_entries}")
        plan: list[tuple[zipfile.ZipInfo, str, str, str]] = []
        declared = 0
        for info in infos:
            rel = _safe_name(info.filename)
            kind = _entry_kind(info)
            if kind == "special":
                raise UnsafeArchive(f"{info.filename!r}: a device, FIFO or socket")
            if not rel:
                continue
            link_target = ""
            if kind == "symlink":
                if info.file_size > 4096:
                    raise UnsafeArchive(f"{rel}: a link target longer than 4096 bytes")
                link_target = zf.read(info).decode("utf-8", "surrogateescape")
                _check_link_target(rel, link_target)
            elif kind == "file":
                declared += info.file_size
                if declared > limits.max_size:
                    raise UnsafeArchive(f"the archive expands to more than {limits.max_size} bytes")
                ratio = info.file_size / max(info.compress_size, 1)
                if info.file_size > SMALL_ENTRY and ratio > limits.max_ratio:
                    raise UnsafeArchive(
                        f"{rel}: compressed {int(ratio)}:1, over the limit of "
                        f"{limits.max_ratio}:1 (a zip bomb?)"
                    )
            plan.append((info, rel, kind, link_target))
        written: list[str] = []
        total = 0
        for info, rel, kind, link_target in plan:
            if kind == "dir":
                _ensure_directory(target_real, rel, owner)
                continue
            parent_real = _ensure_directory(target_real, os.path.dirname(rel), owner)
            destination = os.path.join(parent_real, os.path.basename(rel))
            _remove_existing(destination)
            if kind == "symlink":
                os.symlink(link_target, destination)
                if not _inside(target_real, os.path.realpath(destination)):
                    os.unlink(destination)
                    raise UnsafeArchive(f"{rel}: a link that leaves the target directory")
                if owner is not None:
                    os.lchown(destination, *owner)
                written.append(rel)
                continue
            mode = ((info.external_attr >> 16) & 0o777) if info.create_system == 3 else 0
            fd = os.open(
                destination,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                (mode or 0o644) | 0o600,
            )
            if owner is not None:
                os.fchown(fd, *owner)
            size = 0
            try:
                with os.fdopen(fd, "wb") as sink, zf.open(info) as source:
                    while chunk := source.read(CHUNK):
                        size += len(chunk)
                        total += len(chunk)
                        if size > info.file_size or total > limits.max_size:
                            raise UnsafeArchive(f"{rel}: more data than the archive declares")
                        sink.write(chunk)
            except (UnsafeArchive, zipfile.BadZipFile, OSError, EOFError) as exc:
                with contextlib.suppress(OSError):
                    os.unlink(destination)
                if isinstance(exc, UnsafeArchive):
                    raise
                raise ArchiveError(f"{rel}: {exc}") from exc
            written.append(rel)
    return written
