"""History walks with the git CLI: log, counts, stats, ancestry, containing refs, blame and
contributors.

git walks history (it uses the commit-graph and changed-path Bloom filters that maintenance
writes; libgit2 does not); pygit2 then turns the ids git printed into `Commit` values, so a
commit looks the same whichever way it was found. git only ever sees full ids as revisions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pygit2

from kiln.gitstore.errors import InvalidArgument, PathNotFound, RevisionNotFound
from kiln.gitstore.local.cli import CHUNK_SIZE, stop
from kiln.gitstore.local.convert import as_commit, decode, to_commit
from kiln.gitstore.local.core import EMPTY_TREE_ID, LocalCore
from kiln.gitstore.paths import validate_repo_path
from kiln.gitstore.types import BlameRange, Commit, CommitStats, ContainingRefs, Contributor

__all__ = ["HistoryOps"]

# At most this many entries of one directory are looked up one by one after the walk.
_LAST_COMMIT_FALLBACKS = 50

_NUMSTAT_RE = re.compile(rb"(\d+|-)\t(\d+|-)\t")


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # "@<seconds>" is parsed exactly by git; a formatted date would go through approxidate.
    return f"@{int(moment.timestamp())}"


def _numstat_totals(output: bytes) -> tuple[int, int]:
    additions = deletions = 0
    for match in _NUMSTAT_RE.finditer(output):
        # Binary files show "-": they add no lines, as in GitLab's stats.
        if match.group(1) != b"-":
            additions += int(match.group(1))
        if match.group(2) != b"-":
            deletions += int(match.group(2))
    return additions, deletions


@dataclass
class _Tally:
    name: str
    email: str
    commits: int = 0
    additions: int = 0
    deletions: int = 0


class HistoryOps(LocalCore):
    def _walk_args(
        self,
        repo: pygit2.Repository,
        *,
        revision: str | None,
        all_refs: bool,
        path: str | None,
        since: datetime | None,
        until: datetime | None,
        first_parent: bool,
    ) -> list[str] | None:
        """rev-list arguments for a walk, or None when there is nothing to walk."""
        args = []
        if first_parent:
            args.append("--first-parent")
        if since is not None:
            args.append(f"--since={_timestamp(since)}")
        if until is not None:
            args.append(f"--until={_timestamp(until)}")
        if all_refs:
            args += ["--all", "--end-of-options"]
        else:
            commit = self._default_commit(repo, revision)
            if commit is None:
                return None
            args += ["--end-of-options", str(commit.id)]
        if path:
            args += ["--", validate_repo_path(path)]
        return args

    def log(
        self,
        *,
        relative_path: str,
        revision: str | None = None,
        all_refs: bool = False,
        path: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        skip: int = 0,
        limit: int | None = 100,
        first_parent: bool = False,
    ) -> tuple[Commit, ...]:
        if skip < 0 or (limit is not None and limit < 0):
            raise InvalidArgument("skip and limit cannot be negative.")
        if limit == 0:
            return ()
        git_dir = self._git_dir(relative_path)
        with self._open(relative_path) as repo:
            walk = self._walk_args(
                repo,
                revision=revision,
                all_refs=all_refs,
                path=path,
                since=since,
                until=until,
                first_parent=first_parent,
            )
            if walk is None:
                return ()
            paging = [f"--skip={skip}"]
            if limit is not None:
                paging.append(f"--max-count={limit}")
            output = self.git.run(git_dir, ["rev-list", *paging, *walk]).stdout
            commits = []
            for line in output.split():
                commit = as_commit(repo.get(line.decode()))
                if commit is not None:
                    commits.append(to_commit(commit))
            return tuple(commits)

    def count_commits(
        self,
        *,
        relative_path: str,
        revision: str | None = None,
        all_refs: bool = False,
        path: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        first_parent: bool = False,
    ) -> int:
        git_dir = self._git_dir(relative_path)
        with self._open(relative_path) as repo:
            walk = self._walk_args(
                repo,
                revision=revision,
                all_refs=all_refs,
                path=path,
                since=since,
                until=until,
                first_parent=first_parent,
            )
        if walk is None:
            return 0
        return int(self.git.run(git_dir, ["rev-list", "--count", *walk]).stdout.strip() or 0)

    def get_commit_stats(self, *, relative_path: str, revision: str) -> CommitStats:
        git_dir = self._git_dir(relative_path)
        with self._open(relative_path) as repo:
            # Plain values out before the repository is freed at the end of the block.
            commit = to_commit(self._commit(repo, revision))
        parent = commit.parent_ids[0] if commit.parent_ids else EMPTY_TREE_ID
        output = self.git.run(
            git_dir,
            ["diff", "--numstat", "-z", "-M", "--end-of-options", parent, commit.id],
        ).stdout
        additions, deletions = _numstat_totals(output)
        return CommitStats(additions=additions, deletions=deletions, total=additions + deletions)

    def merge_base(self, *, relative_path: str, revisions: Sequence[str]) -> str | None:
        if isinstance(revisions, str) or len(revisions) < 2:
            raise InvalidArgument("A merge base needs at least two revisions.")
        git_dir = self._git_dir(relative_path)
        with self._open(relative_path) as repo:
            ids = [str(self._commit(repo, revision).id) for revision in revisions]
        result = self.git.run(git_dir, ["merge-base", "--end-of-options", *ids], ok=(0, 1))
        return result.stdout.decode().strip() or None

    def is_ancestor(self, *, relative_path: str, ancestor: str, descendant: str) -> bool:
        git_dir = self._git_dir(relative_path)
        with self._open(relative_path) as repo:
            old = str(self._commit(repo, ancestor).id)
            new = str(self._commit(repo, descendant).id)
        return self._is_ancestor(git_dir, old, new)

    def count_divergence(
        self, *, relative_path: str, from_revision: str, to_revision: str
    ) -> tuple[int, int]:
        git_dir = self._git_dir(relative_path)
        with self._open(relative_path) as repo:
            old = str(self._commit(repo, from_revision).id)
            new = str(self._commit(repo, to_revision).id)
        output = self.git.run(
            git_dir, ["rev-list", "--left-right", "--count", "--end-of-options", f"{old}...{new}"]
        ).stdout.split()
        return int(output[0]), int(output[1])

    def last_commits_for_tree(
        self, *, relative_path: str, revision: str, path: str = ""
    ) -> dict[str, Commit]:
        if path:
            validate_repo_path(path)
        git_dir = self._git_dir(relative_path)
        with self._open(relative_path) as repo:
            commit = self._commit(repo, revision)
            tree = commit.tree
            if path:
                try:
                    entry = tree[path]
                except KeyError:
                    raise PathNotFound("Tree not found.") from None
                if not isinstance(entry, pygit2.Tree):
                    raise PathNotFound("Tree not found.")
                tree = entry
            wanted = {decode(entry.raw_name or b"") for entry in tree}
            found = self._walk_last_commits(git_dir, str(commit.id), path, wanted)
            # Entries no plain commit changed (only a merge did): ask git for each, a few.
            for name in sorted(wanted - found.keys())[:_LAST_COMMIT_FALLBACKS]:
                entry_path = f"{path}/{name}" if path else name
                output = self.git.run(
                    git_dir,
                    [
                        "log",
                        "-1",
                        "--format=%H",
                        "--end-of-options",
                        str(commit.id),
                        "--",
                        entry_path,
                    ],
                ).stdout.strip()
                if output:
                    found[name] = output.decode()
            commits: dict[str, Commit] = {}
            result: dict[str, Commit] = {}
            for name, oid in found.items():
                if oid not in commits:
                    pygit2_commit = as_commit(repo.get(oid))
                    if pygit2_commit is None:
                        continue
                    commits[oid] = to_commit(pygit2_commit)
                result[name] = commits[oid]
            return result

    def _walk_last_commits(
        self, git_dir: Path, commit_id: str, path: str, wanted: set[str]
    ) -> dict[str, str]:
        """One `git log --name-only` walk, stopped as soon as every wanted name was seen."""
        found: dict[str, str] = {}
        if not wanted:
            return found
        prefix = f"{path}/" if path else ""
        args = ["log", "--format=%x01%H", "--name-only", "--no-renames", "-z"]
        args += ["--end-of-options", commit_id]
        if path:
            args += ["--", path]
        proc = self.git.popen(git_dir, args)
        assert proc.stdout is not None
        current = ""
        rest = b""
        try:
            while len(found) < len(wanted):
                chunk = proc.stdout.read(CHUNK_SIZE)
                if not chunk:
                    break
                tokens = (rest + chunk).split(b"\0")
                rest = tokens.pop()
                for token in tokens:
                    token = token.lstrip(b"\n")
                    if token.startswith(b"\x01"):
                        current = token[1:].decode()
                        continue
                    name = decode(token)
                    if not token or not name.startswith(prefix):
                        continue
                    top = name[len(prefix) :].split("/", 1)[0]
                    if top in wanted and top not in found:
                        found[top] = current
        finally:
            stop(proc)
        return found

    def refs_containing(
        self, *, relative_path: str, commit: str, limit: int | None = None
    ) -> ContainingRefs:
        git_dir = self._git_dir(relative_path)
        with self._open(relative_path) as repo:
            oid = str(self._commit(repo, commit).id)
        output = self.git.run(
            git_dir,
            [
                "for-each-ref",
                f"--contains={oid}",
                "--format=%(refname)",
                "--sort=refname",
                "refs/heads/",
                "refs/tags/",
            ],
        ).stdout
        branches: list[str] = []
        tags: list[str] = []
        for raw in output.splitlines():
            name = decode(raw)
            if name.startswith("refs/heads/"):
                branches.append(name[len("refs/heads/") :])
            elif name.startswith("refs/tags/"):
                tags.append(name[len("refs/tags/") :])
        if limit is not None:
            branches, tags = branches[:limit], tags[:limit]
        return ContainingRefs(branches=tuple(branches), tags=tuple(tags))

    def blame(
        self,
        *,
        relative_path: str,
        revision: str,
        path: str,
        range_start: int | None = None,
        range_end: int | None = None,
    ) -> tuple[BlameRange, ...]:
        validate_repo_path(path)
        args = ["blame", "--porcelain"]
        if range_start is not None or range_end is not None:
            start = range_start or 1
            if start < 1 or (range_end is not None and range_end < start):
                raise InvalidArgument("The line range is invalid.")
            args.append(f"-L{start},{range_end if range_end is not None else ''}")
        git_dir = self._git_dir(relative_path)
        with self._open(relative_path) as repo:
            commit = self._commit(repo, revision)
            try:
                entry = commit.tree[path]
            except KeyError:
                raise PathNotFound("File not found.") from None
            if entry.type_str != "blob":
                raise PathNotFound("File not found.")
            # git blame does not take --end-of-options (2.39); the revision is a full id and
            # the path comes after "--", so neither can be read as an option.
            result = self.git.run(git_dir, [*args, str(commit.id), "--", path], ok=range(256))
            if result.returncode != 0:
                if "has only" in result.stderr_text:
                    raise InvalidArgument("The line range is outside the file.")
                raise RevisionNotFound("The file cannot be blamed at this revision.")
            return self._blame_ranges(repo, result.stdout)

    @staticmethod
    def _blame_ranges(repo: pygit2.Repository, output: bytes) -> tuple[BlameRange, ...]:
        commits: dict[str, Commit] = {}
        ranges: list[tuple[str, int, list[str]]] = []
        lines = output.split(b"\n")
        index = 0
        while index < len(lines):
            header = lines[index].split(b" ")
            index += 1
            if len(header) < 3:
                continue
            commit_id, final_line = header[0].decode(), int(header[2])
            # Metadata lines follow only the first time a commit appears; the line itself
            # is the next one starting with a tab.
            while index < len(lines) and not lines[index].startswith(b"\t"):
                index += 1
            text = decode(lines[index][1:]) if index < len(lines) else ""
            index += 1
            if commit_id not in commits:
                found = as_commit(repo.get(commit_id))
                if found is None:
                    continue
                commits[commit_id] = to_commit(found)
            previous = ranges[-1] if ranges else None
            if (
                previous is not None
                and previous[0] == commit_id
                and previous[1] + len(previous[2]) == final_line
            ):
                previous[2].append(text)
            else:
                ranges.append((commit_id, final_line, [text]))
        return tuple(
            BlameRange(commit=commits[commit_id], start_line=start, lines=tuple(texts))
            for commit_id, start, texts in ranges
        )

    def contributors(
        self, *, relative_path: str, revision: str | None = None
    ) -> tuple[Contributor, ...]:
        git_dir = self._git_dir(relative_path)
        with self._open(relative_path) as repo:
            found = self._default_commit(repo, revision)
            commit_id = None if found is None else str(found.id)
        if commit_id is None:
            return ()
        output = self.git.run(
            git_dir,
            [
                "log",
                "--numstat",
                "--no-renames",
                "--format=%x00%an%x00%ae",
                "--end-of-options",
                commit_id,
            ],
        ).stdout
        tallies: dict[str, _Tally] = {}
        current: _Tally | None = None
        for line in output.split(b"\n"):
            if line.startswith(b"\0"):
                _, name, email = [*line.split(b"\0"), b"", b""][:3]
                key = decode(email).casefold()
                # Newest first: the first name seen for an email is its most recent one.
                current = tallies.setdefault(key, _Tally(decode(name), decode(email)))
                current.commits += 1
            elif current is not None and (match := _NUMSTAT_RE.match(line + b"\t")):
                if match.group(1) != b"-":
                    current.additions += int(match.group(1))
                if match.group(2) != b"-":
                    current.deletions += int(match.group(2))
        contributors = [
            Contributor(
                name=tally.name,
                email=tally.email,
                commits=tally.commits,
                additions=tally.additions,
                deletions=tally.deletions,
            )
            for tally in tallies.values()
        ]
        return tuple(sorted(contributors, key=lambda c: (-c.commits, c.email.casefold())))
