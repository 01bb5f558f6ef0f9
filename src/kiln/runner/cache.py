"""The job cache, kept on this machine under `cache_dir` as ZIP archives.

One archive per project and key: `<cache_dir>/project-<id>/<key>.zip`, the key made safe as a
file name (anything outside `[A-Za-z0-9._-]` percent-encoded, so `../x` or `a/b` can never
name another file). GitLab resolves `cache:key:files` on the server; when a server leaves it
to the runner (`key: {files: [...], prefix: ...}`), the key is the SHA-256 of those files'
contents in the build, as GitLab's is a digest of them.

`policy` decides the direction (`pull`, `push`, `pull-push`), `when` whether a failed job
saves; archives are written to a temporary file and renamed, so a concurrent job reads
either the old cache or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from kiln.runner.artifacts import (
    ArchiveError,
    ExtractLimits,
    collect,
    extract_zip,
    normalize_pattern,
    write_zip,
)
from kiln.runner.job import Cache

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def safe_key(key: str) -> str:
    key = key.strip() or "default"
    encoded = _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group(0).encode()), key)
    if set(encoded) == {"."}:
        encoded = encoded.replace(".", "%2E")
    return encoded[:200]


def files_key(project_dir: Path, files: Iterable[str], prefix: str = "") -> str:
    """The key of `key:files`: a digest of those files as the job's checkout has them."""
    digest = hashlib.sha256()
    root_real = os.path.realpath(project_dir)
    found = False
    for name in files:
        rel = normalize_pattern(name)
        if not rel or rel == ".":
            continue
        path = os.path.realpath(project_dir / rel)
        if not path.startswith(root_real + os.sep) or not os.path.isfile(path):
            continue
        found = True
        digest.update(rel.encode() + b"\x00")
        with open(path, "rb") as handle:
            while chunk := handle.read(1024 * 1024):
                digest.update(chunk)
    key = digest.hexdigest() if found else "default"
    return f"{prefix}-{key}" if prefix else key


def cache_key(cache: Cache, project_dir: Path) -> str:
    if cache.key_files:
        return files_key(project_dir, cache.key_files, cache.key_prefix)
    return cache.key or "default"


class LocalCache:
    def __init__(self, root: Path, *, limits: ExtractLimits, max_size: int) -> None:
        self.root = root
        self.limits = limits
        self.max_size = max_size

    def archive_path(self, project_id: int, key: str) -> Path:
        return self.root / f"project-{int(project_id)}" / f"{safe_key(key)}.zip"

    def restore(
        self,
        cache: Cache,
        *,
        project_id: int,
        project_dir: Path,
        owner: tuple[int, int] | None,
        say: Callable[[str], None],
        warn: Callable[[str], None],
    ) -> bool:
        """Extract the first archive found among the key and its fallback keys."""
        key = cache_key(cache, project_dir)
        for candidate in (key, *cache.fallback_keys):
            path = self.archive_path(project_id, candidate)
            say(f"Checking cache for {candidate}...")
            if not path.is_file():
                continue
            try:
                extract_zip(path, project_dir, limits=self.limits, owner=owner)
            except ArchiveError as exc:
                warn(f"Failed to extract cache {candidate}: {exc}")
                return False
            say(f"Successfully extracted cache {candidate}")
            return True
        warn(f"{safe_key(key)}.zip: file does not exist")
        warn("Failed to extract cache")
        return False

    def save(
        self,
        cache: Cache,
        *,
        project_id: int,
        project_dir: Path,
        untracked: list[str],
        say: Callable[[str], None],
        warn: Callable[[str], None],
    ) -> bool:
        key = cache_key(cache, project_dir)
        say(f"Creating cache {key}...")
        entries = collect(project_dir, paths=cache.paths, untracked=untracked, warn=warn)
        for pattern in cache.paths:
            say(f"{pattern}: found matching files and directories")
        if not entries:
            warn("No files to cache")
            return False
        destination = self.archive_path(project_id, key)
        destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".cache-", suffix=".zip", dir=destination.parent)
        os.close(fd)
        try:
            write_zip(project_dir, entries, Path(tmp), max_size=self.max_size, warn=warn)
            os.replace(tmp, destination)
        except (ArchiveError, OSError) as exc:
            Path(tmp).unlink(missing_ok=True)
            warn(f"Failed to create cache {key}: {exc}")
            return False
        say(f"Created cache {key}")
        return True
