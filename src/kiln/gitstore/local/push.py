"""Looking at a push while git's pre-receive hook holds it, and at what a push added.

During pre-receive the pushed objects live in a quarantine directory git created inside the
repository (`objects/tmp_objdir-incoming-*`); the hook hands its directories over and only
those exact places are accepted, so a hook's word can never point git at another directory.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pygit2
import pygit2.enums

from kiln.gitstore.errors import GitCommandError, InvalidArgument
from kiln.gitstore.local.convert import as_commit, to_commit
from kiln.gitstore.local.core import LocalCore
from kiln.gitstore.refs import ZERO_OID, validate_oid, validate_ref_name
from kiln.gitstore.types import Commit, PushInspection

__all__ = ["PushOps"]

_QUARANTINE_PREFIX = "tmp_objdir-incoming-"
# Up to this many new commits are walked in process; beyond, git counts them.
_WALK_MAX = 2000


def _inside(path: str, root: Path, git_dir: Path) -> Path:
    # git may hand relative paths to the hook; they are relative to the repository.
    resolved = Path(os.path.realpath(git_dir / path))
    if resolved != root and root not in resolved.parents:
        raise InvalidArgument("The quarantine directory is not inside the repository.")
    return resolved


def quarantine_env(git_dir: Path, git_env: Mapping[str, str]) -> dict[str, str]:
    """The hook's object directories, each checked to lie inside this repository."""
    objects = Path(os.path.realpath(git_dir / "objects"))
    env: dict[str, str] = {}
    if directory := git_env.get("GIT_OBJECT_DIRECTORY"):
        resolved = _inside(directory, objects, git_dir)
        if not resolved.name.startswith(_QUARANTINE_PREFIX) or resolved.parent != objects:
            raise InvalidArgument("The object directory is not a push quarantine.")
        env["GIT_OBJECT_DIRECTORY"] = str(resolved)
    if alternates := git_env.get("GIT_ALTERNATE_OBJECT_DIRECTORIES"):
        checked = [str(_inside(p, objects, git_dir)) for p in alternates.split(os.pathsep) if p]
        env["GIT_ALTERNATE_OBJECT_DIRECTORIES"] = os.pathsep.join(checked)
    if quarantine := git_env.get("GIT_QUARANTINE_PATH"):
        env["GIT_QUARANTINE_PATH"] = str(_inside(quarantine, objects, git_dir))
    return env


class PushOps(LocalCore):
    def _run_env(
        self, git_dir: Path, args: Sequence[str], env: Mapping[str, str], stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            self.git.argv(git_dir, args),
            input=stdin,
            capture_output=True,
            env={**self.git.env, **env},
            timeout=self.git.timeout,
            check=False,
        )

    def inspect_push(
        self,
        *,
        relative_path: str,
        changes: Sequence[tuple[str, str, str]],
        git_env: Mapping[str, str] | None = None,
        max_blob_bytes: int = 0,
    ) -> PushInspection:
        git_dir = self._git_dir(relative_path)
        env = quarantine_env(git_dir, git_env or {})
        forced: list[str] = []
        for old, new, ref in changes:
            validate_ref_name(ref)
            old = validate_oid(old, allow_zero=True)
            new = validate_oid(new, allow_zero=True)
            if ZERO_OID in (old, new):
                continue
            result = self._run_env(
                git_dir, ["merge-base", "--is-ancestor", "--end-of-options", old, new], env
            )
            if result.returncode == 1:
                forced.append(ref)
            elif result.returncode != 0:
                raise GitCommandError(
                    "git failed",
                    command=["merge-base"],
                    stderr=result.stderr.decode(errors="replace"),
                )
        oversized: tuple[tuple[str, int], ...] = ()
        if max_blob_bytes > 0:
            tips = [validate_oid(new, allow_zero=True) for _, new, _ in changes]
            oversized = self._oversized_blobs(
                git_dir, env, [tip for tip in tips if tip != ZERO_OID], max_blob_bytes
            )
        return PushInspection(forced_refs=tuple(forced), oversized_files=oversized)

    def _oversized_blobs(
        self, git_dir: Path, env: Mapping[str, str], tips: Sequence[str], limit: int
    ) -> tuple[tuple[str, int], ...]:
        """Blobs reachable from the pushed tips but from no existing ref (the files this push
        brings), larger than `limit` bytes, with a path each was pushed at."""
        if not tips:
            return ()
        # The tips are validated object ids, never options; refs do not move until pre-receive
        # accepts, so `--all` is what the repository already had.
        listed = self._run_env(git_dir, ["rev-list", "--objects", *tips, "--not", "--all"], env)
        if listed.returncode != 0:
            raise GitCommandError(
                "git failed", command=["rev-list"], stderr=listed.stderr.decode(errors="replace")
            )
        checked = self._run_env(
            git_dir,
            ["cat-file", "--batch-check=%(objecttype) %(objectsize) %(rest)"],
            env,
            stdin=listed.stdout,
        )
        if checked.returncode != 0:
            raise GitCommandError(
                "git failed", command=["cat-file"], stderr=checked.stderr.decode(errors="replace")
            )
        found: dict[str, int] = {}
        for line in checked.stdout.decode("utf-8", "replace").splitlines():
            kind, _, rest = line.partition(" ")
            size_text, _, path = rest.partition(" ")
            if kind == "blob" and size_text.isdigit() and int(size_text) > limit:
                found.setdefault(path, int(size_text))
        return tuple(sorted(found.items()))

    def new_commits(
        self, *, relative_path: str, new: str, old: str | None, limit: int = 20
    ) -> tuple[int, tuple[Commit, ...]]:
        """How many commits a push added to a ref, and the newest `limit` of them.

        For an update: `old..new`. For a new ref: what no other branch or tag had already.
        """
        validate_oid(new)
        git_dir = self._git_dir(relative_path)
        exclusions: list[str] = []
        if old is not None:
            validate_oid(old)
            exclusions = [old]
        else:
            with self._open(relative_path) as repo:
                for name in repo.references:
                    if not name.startswith(("refs/heads/", "refs/tags/")):
                        continue
                    target = repo.references[name].resolve().peel(None).id
                    if str(target) != new:
                        exclusions.append(str(target))
        # Most pushes add a few commits: walk them in process (no git to start); a push of a
        # long history is counted by git, which is faster there.
        with self._open(relative_path) as repo:
            walker = repo.walk(new, pygit2.enums.SortMode.TIME)
            for oid in exclusions:
                with contextlib.suppress(KeyError, ValueError, pygit2.GitError):
                    walker.hide(oid)
            found = list(itertools.islice(walker, _WALK_MAX + 1))
            if len(found) <= _WALK_MAX:
                newest = [to_commit(commit) for commit in found[: int(limit)]]
                return len(found), tuple(newest)
        spec = "\n".join([new, *(f"^{oid}" for oid in exclusions)]).encode() + b"\n"
        count = self.git.run(git_dir, ["rev-list", "--count", "--stdin"], stdin=spec)
        total = int(count.stdout.decode().strip() or 0)
        listed = self.git.run(
            git_dir, ["rev-list", f"--max-count={int(limit)}", "--stdin"], stdin=spec
        )
        ids = listed.stdout.decode().split()
        commits: list[Commit] = []
        with self._open(relative_path) as repo:
            for oid in ids:
                commit = as_commit(repo.get(oid))
                if commit is not None:
                    commits.append(to_commit(commit))
        return total, tuple(commits)
