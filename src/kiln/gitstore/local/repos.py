"""Repository lifecycle and upkeep: create, fork, remove, maintenance and fsck.

A repository appears and disappears atomically: it is built in a hidden sibling directory
(whose name can never match a storage path) and renamed into place; removal renames it
aside before deleting the files. A half-created or half-deleted repository is never visible.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pygit2
from pygit2.enums import ReferenceFilter, RepositoryOpenFlag

from kiln.gitstore.errors import RepositoryExists, RepositoryNotFound
from kiln.gitstore.local.core import LocalCore
from kiln.gitstore.refs import validate_branch_name
from kiln.gitstore.types import MaintenanceResult

__all__ = ["RepositoryOps"]

# Unreachable objects younger than this survive a full repack: a push or a commit being
# written right now may not be referenced yet (git gc uses two weeks too).
PRUNE_GRACE = timedelta(days=14)

# Written into every repository Kiln creates, so that an administrator running git by hand
# does not start an automatic gc that would race with Kiln's scheduled maintenance.
_REPOSITORY_CONFIG = {
    "gc.auto": "0",
    "maintenance.auto": "false",
    "receive.autogc": "false",
}


def _configure(git_dir: Path) -> None:
    repo = pygit2.Repository(str(git_dir), RepositoryOpenFlag.NO_SEARCH | RepositoryOpenFlag.BARE)
    try:
        for key, value in _REPOSITORY_CONFIG.items():
            repo.config[key] = value
    finally:
        repo.free()


# When a push makes `optimize` run maintenance (Gitaly's heuristics, simplified): a few loose
# objects, packs and refs cost reads little, while each repack rewrites the bitmap over the
# whole repository (a quarter second of CPU at 100,000 objects).
OPTIMIZE_MAX_LOOSE_OBJECTS = 256
OPTIMIZE_MAX_PACKS = 8
OPTIMIZE_MAX_LOOSE_REFS = 32


def _has_loose_refs(git_dir: Path, limit: int) -> bool:
    """More than `limit` loose ref files (stops counting there)."""
    seen = 0
    for _, _, files in os.walk(git_dir / "refs"):
        seen += len(files)
        if seen > limit:
            return True
    return False


def _count_packs(git_dir: Path) -> int:
    pack_dir = git_dir / "objects" / "pack"
    if not pack_dir.is_dir():
        return 0
    # A cruft pack (unreachable objects with their mtimes) is not counted: it is rewritten
    # only by a full repack and must not trigger geometric repacks.
    return sum(1 for pack in pack_dir.glob("*.pack") if not pack.with_suffix(".mtimes").exists())


class RepositoryOps(LocalCore):
    def create_repository(self, *, relative_path: str, default_branch: str = "main") -> None:
        validate_branch_name(default_branch)
        target = self._path(relative_path)
        if target.exists():
            raise RepositoryExists("A repository exists at this path already.")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.parent / f".tmp-{uuid.uuid4().hex}"
        try:
            self.git.run(
                None,
                [
                    "init",
                    "--bare",
                    "--quiet",
                    "--template=",  # no sample hooks, no description file
                    f"--initial-branch={default_branch}",
                    "--",
                    str(staging),
                ],
            )
            _configure(staging)
            self._move_into_place(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _move_into_place(self, staging: Path, target: Path) -> None:
        try:
            # rename() fails on an existing non-empty directory: two concurrent creates
            # cannot both win.
            staging.rename(target)
        except OSError:
            raise RepositoryExists("A repository exists at this path already.") from None

    def remove_repository(self, *, relative_path: str) -> None:
        git_dir = self._git_dir(relative_path)
        doomed = git_dir.parent / f".deleted-{uuid.uuid4().hex}"
        try:
            git_dir.rename(doomed)
        except FileNotFoundError:
            raise RepositoryNotFound("The repository does not exist.") from None
        shutil.rmtree(doomed, ignore_errors=True)

    def repository_exists(self, *, relative_path: str) -> bool:
        try:
            self._git_dir(relative_path)
        except RepositoryNotFound:
            return False
        return True

    def fork_repository(self, *, source_relative_path: str, relative_path: str) -> None:
        source = self._git_dir(source_relative_path)
        target = self._path(relative_path)
        if target.exists():
            raise RepositoryExists("A repository exists at this path already.")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.parent / f".tmp-{uuid.uuid4().hex}"
        try:
            # A path source makes the clone local: objects are hard-linked (copied across
            # filesystems; an explicit --local would fail instead), never shared through
            # alternates, so either repository can be removed later. A bare clone copies
            # branches, tags and HEAD only: no merge-request or keep-around refs leak.
            self.git.run(
                None,
                ["clone", "--bare", "--quiet", "--template=", "--", str(source), str(staging)],
            )
            # The fork must not remember where it came from (a path on this disk).
            self.git.run(staging, ["config", "--remove-section", "remote.origin"], ok=(0, 128))
            _configure(staging)
            self._move_into_place(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def is_empty(self, *, relative_path: str) -> bool:
        with self._open(relative_path) as repo:
            for _ in repo.references.iterator(ReferenceFilter.BRANCHES):
                return False
            return True

    def maintenance(self, *, relative_path: str, full: bool = False) -> MaintenanceResult:
        git_dir = self._git_dir(relative_path)
        packs_before = _count_packs(git_dir)
        loose_before = self._count_loose_objects(git_dir)
        self.git.run(git_dir, ["pack-refs", "--all"])
        expire = f"@{int(time.time() - PRUNE_GRACE.total_seconds())}"
        full_repack = full
        if full:
            # Cruft packs keep recent unreachable objects packed (not exploded into loose
            # files) until they expire; the multi-pack index carries the bitmap in both modes
            # so switching between them never leaves a stale bitmap.
            self.git.run(
                git_dir,
                [
                    "repack",
                    "-d",
                    "-q",
                    "--cruft",
                    f"--cruft-expiration={expire}",
                    "--write-midx",
                    "--write-bitmap-index",
                ],
            )
            self.git.run(git_dir, ["prune", f"--expire={expire}"])
        elif packs_before > 1 or loose_before > 0:
            # Geometric repacking merges only the small packs: cost follows what changed
            # since the last run, not the size of the repository.
            self.git.run(
                git_dir,
                ["repack", "-d", "-q", "--geometric=2", "--write-midx", "--write-bitmap-index"],
            )
        self.git.run(
            git_dir, ["commit-graph", "write", "--reachable", "--changed-paths", "--no-progress"]
        )
        return MaintenanceResult(
            full_repack=full_repack,
            packs_before=packs_before,
            packs_after=_count_packs(git_dir),
            loose_objects_before=loose_before,
        )

    def optimize(self, *, relative_path: str) -> MaintenanceResult | None:
        git_dir = self._git_dir(relative_path)
        pack_dir = git_dir / "objects" / "pack"
        packs = _count_packs(git_dir)
        due = (
            packs > OPTIMIZE_MAX_PACKS
            or (packs > 0 and not any(pack_dir.glob("*.bitmap")))
            or not (git_dir / "objects" / "info" / "commit-graph").is_file()
            or _has_loose_refs(git_dir, OPTIMIZE_MAX_LOOSE_REFS)
            or self._count_loose_objects(git_dir) >= OPTIMIZE_MAX_LOOSE_OBJECTS
        )
        if not due:
            return None
        return self.maintenance(relative_path=relative_path)

    def _count_loose_objects(self, git_dir: Path) -> int:
        output = self.git.run(git_dir, ["count-objects", "-v"]).stdout.decode()
        for line in output.splitlines():
            key, _, value = line.partition(":")
            if key == "count":
                return int(value.strip() or 0)
        return 0

    def fsck(self, *, relative_path: str) -> tuple[str, ...]:
        git_dir = self._git_dir(relative_path)
        result = self.git.run(git_dir, ["fsck", "--no-dangling", "--no-progress"], ok=range(256))
        problems = []
        for line in (result.stdout + b"\n" + result.stderr).decode("utf-8", "replace").splitlines():
            line = line.strip()
            # "notice:" lines describe an empty repository, which is healthy.
            if line and not line.startswith(("notice:", "Checking ")):
                problems.append(line)
        if result.returncode != 0 and not problems:
            problems.append(f"git fsck exited with status {result.returncode}")
        return tuple(problems)
