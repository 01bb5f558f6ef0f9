"""`GitStore`: the one interface through which Kiln reads and writes git repositories.

Callers name a repository by its storage path (`hashed_relative_path(key)`) and pass every
argument by keyword; they get plain frozen dataclasses back (`kiln.gitstore.types`) and
`kiln.gitstore.errors` when something is refused. Revisions are object ids (4-40 hex),
``HEAD`` or ref names (``main``, ``v1.0``, ``refs/heads/main``); nothing else is parsed.

The store does not authorize anyone: callers decide who may read or write before calling.
A remote implementation (over gRPC, sharded by repository) must pass the same contract
tests as `LocalGitStore`.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime

from kiln.gitstore.types import (
    ArchiveFormat,
    BlameRange,
    Blob,
    Branch,
    Commit,
    CommitAction,
    CommitStats,
    Comparison,
    ContainingRefs,
    Contributor,
    DiffFile,
    Identity,
    LanguageShare,
    MaintenanceResult,
    MergeResult,
    PushInspection,
    RebaseResult,
    Tag,
    TreeEntry,
)

__all__ = ["GitStore"]


class GitStore(abc.ABC):
    """Storage of bare git repositories. Every method is safe to call from any thread."""

    # -- repositories ---------------------------------------------------------------------

    @abc.abstractmethod
    def create_repository(self, *, relative_path: str, default_branch: str = "main") -> None:
        """Create an empty bare repository whose HEAD names ``default_branch``.

        Raises `RepositoryExists` if there is one at ``relative_path`` already.
        """

    @abc.abstractmethod
    def remove_repository(self, *, relative_path: str) -> None:
        """Delete a repository; it disappears atomically before its files are removed."""

    @abc.abstractmethod
    def repository_exists(self, *, relative_path: str) -> bool: ...

    @abc.abstractmethod
    def fork_repository(self, *, source_relative_path: str, relative_path: str) -> None:
        """Copy the branches, tags and HEAD of a repository into a new one.

        Objects are shared (hard links) when possible but never through alternates, so
        removing either repository afterwards leaves the other intact.
        """

    @abc.abstractmethod
    def is_empty(self, *, relative_path: str) -> bool:
        """True when the repository has no branch (GitLab's ``empty_repo``)."""

    @abc.abstractmethod
    def maintenance(self, *, relative_path: str, full: bool = False) -> MaintenanceResult:
        """Keep reads fast: pack refs, repack with bitmaps, write the commit-graph.

        Incremental (geometric) by default; ``full`` rewrites every pack and expires
        unreachable objects older than the grace period.
        """

    @abc.abstractmethod
    def optimize(self, *, relative_path: str) -> MaintenanceResult | None:
        """What a push schedules: `maintenance` only when the repository needs it (many loose
        objects, packs or loose refs; no bitmap or commit-graph yet), as Gitaly's heuristical
        housekeeping does; None when nothing was due."""

    @abc.abstractmethod
    def fsck(self, *, relative_path: str) -> tuple[str, ...]:
        """Problems `git fsck` finds (missing or corrupt objects); empty when healthy."""

    # -- refs -----------------------------------------------------------------------------

    @abc.abstractmethod
    def list_branches(self, *, relative_path: str) -> tuple[Branch, ...]:
        """Every branch, sorted by name."""

    @abc.abstractmethod
    def find_branch(self, *, relative_path: str, name: str) -> Branch | None: ...

    @abc.abstractmethod
    def create_branch(self, *, relative_path: str, name: str, revision: str) -> Branch:
        """Create branch ``name`` at ``revision``; `RefConflict` if it exists already."""

    @abc.abstractmethod
    def delete_branch(
        self, *, relative_path: str, name: str, expected_oid: str | None = None
    ) -> None:
        """Delete a branch; with ``expected_oid``, only if it still points there."""

    @abc.abstractmethod
    def list_tags(self, *, relative_path: str) -> tuple[Tag, ...]:
        """Every tag, sorted by name."""

    @abc.abstractmethod
    def find_tag(self, *, relative_path: str, name: str) -> Tag | None: ...

    @abc.abstractmethod
    def create_tag(
        self,
        *,
        relative_path: str,
        name: str,
        revision: str,
        message: str | None = None,
        tagger: Identity | None = None,
    ) -> Tag:
        """Create a tag at the commit ``revision`` names.

        With a ``message`` the tag is annotated (``tagger`` is then required); without, it
        is lightweight. `RefConflict` if the tag exists already.
        """

    @abc.abstractmethod
    def delete_tag(
        self, *, relative_path: str, name: str, expected_oid: str | None = None
    ) -> None: ...

    @abc.abstractmethod
    def resolve_revision(self, *, relative_path: str, revision: str) -> str | None:
        """The commit id ``revision`` names, or None if it names no commit.

        Ref names are tried before abbreviated ids, in git's order (``refs/<r>``, tags,
        branches, remotes), so a tag shadows a branch of the same name, as in git.
        """

    @abc.abstractmethod
    def update_ref(
        self, *, relative_path: str, ref: str, new_oid: str, old_oid: str | None
    ) -> None:
        """Atomically set the full ref ``ref`` to ``new_oid`` if it is at ``old_oid``.

        ``old_oid`` None means the ref must not exist. Raises `RefConflict` when the ref
        moved, `RevisionNotFound` when ``new_oid`` is missing (or not a commit, for a
        branch).
        """

    @abc.abstractmethod
    def delete_ref(self, *, relative_path: str, ref: str, old_oid: str) -> None:
        """Atomically delete the full ref ``ref`` if it is at ``old_oid``."""

    @abc.abstractmethod
    def set_head(self, *, relative_path: str, branch: str) -> None:
        """Make ``branch`` the default branch (it need not exist yet, as when empty)."""

    @abc.abstractmethod
    def get_default_branch(self, *, relative_path: str) -> str | None:
        """The branch HEAD names if it exists, else a fallback branch, else None."""

    # -- objects ----------------------------------------------------------------------------

    @abc.abstractmethod
    def get_commit(self, *, relative_path: str, revision: str) -> Commit:
        """The commit ``revision`` names; `RevisionNotFound` otherwise."""

    @abc.abstractmethod
    def list_tree(
        self, *, relative_path: str, revision: str, path: str = "", recursive: bool = False
    ) -> tuple[TreeEntry, ...]:
        """Entries of the directory ``path`` ("" is the root) at ``revision``, in git order.

        Recursive listings include the directories themselves, each before its content.
        """

    @abc.abstractmethod
    def get_blob(self, *, relative_path: str, oid: str, max_size: int | None = None) -> Blob:
        """A blob by id; at most ``max_size`` bytes of data are read."""

    @abc.abstractmethod
    def get_blob_at(
        self, *, relative_path: str, revision: str, path: str, max_size: int | None = None
    ) -> Blob:
        """The file at ``path`` in ``revision``; symlinks are returned, never followed."""

    # -- history --------------------------------------------------------------------------

    @abc.abstractmethod
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
        """Commits reachable from ``revision`` (default: HEAD) or from every ref, newest first.

        An unknown revision raises `RevisionNotFound`; an empty repository has no commits.
        """

    @abc.abstractmethod
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
    ) -> int: ...

    @abc.abstractmethod
    def get_commit_stats(self, *, relative_path: str, revision: str) -> CommitStats:
        """Lines added and removed by a commit against its first parent."""

    @abc.abstractmethod
    def commit_diff(
        self,
        *,
        relative_path: str,
        revision: str,
        paths: Sequence[str] = (),
        max_patch_bytes: int | None = None,
    ) -> tuple[DiffFile, ...]:
        """The changes of a commit against its first parent (the empty tree for a root)."""

    @abc.abstractmethod
    def diff(
        self,
        *,
        relative_path: str,
        from_revision: str,
        to_revision: str,
        paths: Sequence[str] = (),
        max_patch_bytes: int | None = None,
    ) -> tuple[DiffFile, ...]:
        """The changes between two commits, with rename detection."""

    @abc.abstractmethod
    def compare(
        self,
        *,
        relative_path: str,
        from_revision: str,
        to_revision: str,
        straight: bool = False,
        max_patch_bytes: int | None = None,
    ) -> Comparison:
        """GitLab's compare: ``straight`` diffs ``from..to``; otherwise ``from...to``."""

    @abc.abstractmethod
    def merge_base(self, *, relative_path: str, revisions: Sequence[str]) -> str | None: ...

    @abc.abstractmethod
    def is_ancestor(self, *, relative_path: str, ancestor: str, descendant: str) -> bool:
        """Whether ``ancestor`` is reachable from ``descendant`` (a commit is its own)."""

    @abc.abstractmethod
    def count_divergence(
        self, *, relative_path: str, from_revision: str, to_revision: str
    ) -> tuple[int, int]:
        """``(behind, ahead)``: commits reachable only from ``from`` and only from ``to``."""

    @abc.abstractmethod
    def last_commits_for_tree(
        self, *, relative_path: str, revision: str, path: str = ""
    ) -> dict[str, Commit]:
        """For each entry of the directory ``path`` at ``revision``, keyed by its name, the
        newest commit reachable from ``revision`` that changed it (GitLab's
        ListLastCommitsForTree), found in one history walk that stops once all are known."""

    @abc.abstractmethod
    def refs_containing(
        self, *, relative_path: str, commit: str, limit: int | None = None
    ) -> ContainingRefs:
        """Branches and tags whose history contains ``commit``, sorted by name."""

    @abc.abstractmethod
    def blame(
        self,
        *,
        relative_path: str,
        revision: str,
        path: str,
        range_start: int | None = None,
        range_end: int | None = None,
    ) -> tuple[BlameRange, ...]:
        """Who last changed each line, grouped into ranges of consecutive lines."""

    @abc.abstractmethod
    def archive(
        self,
        *,
        relative_path: str,
        revision: str,
        format: ArchiveFormat,
        prefix: str = "",
        path: str | None = None,
    ) -> Iterator[bytes]:
        """Stream an archive of ``revision`` (optionally only ``path``) in constant memory.

        Arguments are checked when this is called; the returned iterator only streams.
        Closing it early stops the git processes.
        """

    @abc.abstractmethod
    def contributors(
        self, *, relative_path: str, revision: str | None = None
    ) -> tuple[Contributor, ...]:
        """Authors of the history of ``revision`` (default: HEAD), grouped by email."""

    @abc.abstractmethod
    def languages(
        self, *, relative_path: str, revision: str | None = None
    ) -> tuple[LanguageShare, ...]:
        """Share of bytes per programming language, largest first, summing to 100."""

    # -- pushes ---------------------------------------------------------------------------

    @abc.abstractmethod
    def inspect_push(
        self,
        *,
        relative_path: str,
        changes: Sequence[tuple[str, str, str]],
        git_env: Mapping[str, str] | None = None,
        max_blob_bytes: int = 0,
    ) -> PushInspection:
        """Facts about a push held by pre-receive: which of ``(old, new, ref)`` are forced,
        and (when ``max_blob_bytes`` > 0) which files new to the repository are larger.

        ``git_env`` carries the hook's quarantine directories (``GIT_OBJECT_DIRECTORY``,
        ``GIT_ALTERNATE_OBJECT_DIRECTORIES``, ``GIT_QUARANTINE_PATH``); each must lie inside
        this repository's object directory, else `InvalidArgument`.
        """

    @abc.abstractmethod
    def ref_targets(self, *, relative_path: str, refs: Sequence[str]) -> dict[str, str | None]:
        """What each full ref name points at right now (the object id, not peeled; a symbolic
        ref is followed), or None when the ref does not exist."""

    @abc.abstractmethod
    def new_commits(
        self, *, relative_path: str, new: str, old: str | None, limit: int = 20
    ) -> tuple[int, tuple[Commit, ...]]:
        """How many commits a push added (``old..new``; for a new ref, what no other branch or
        tag had), and the newest ``limit`` of them, newest first."""

    # -- writes ---------------------------------------------------------------------------

    @abc.abstractmethod
    def create_commit(
        self,
        *,
        relative_path: str,
        branch: str,
        actions: Sequence[CommitAction],
        author: Identity,
        message: str,
        committer: Identity | None = None,
        start_branch: str | None = None,
        start_sha: str | None = None,
        expected_old_oid: str | None = None,
        force: bool = False,
    ) -> Commit:
        """Apply ``actions`` to a tree and commit it onto ``branch`` without a work tree.

        The parent is ``branch`` when it exists; a new branch starts at ``start_branch`` or
        ``start_sha`` (or is a root commit in an empty repository). Naming a different start
        for an existing branch needs ``force``, which rewrites the branch. The branch is
        updated by compare-and-swap against ``expected_old_oid`` when given, else against
        the value read. Raises `CommitActionError` for an action that does not apply.
        """

    @abc.abstractmethod
    def merge(
        self,
        *,
        relative_path: str,
        source: str,
        target: str,
        message: str,
        author: Identity,
        committer: Identity | None = None,
        squash: bool = False,
        fast_forward_only: bool = False,
        expected_target_oid: str | None = None,
    ) -> MergeResult:
        """Merge revision ``source`` into branch ``target``.

        Default: a merge commit (parents target, source), even when a fast-forward is
        possible, as GitLab's "merge commit" method. ``squash``: one commit on target with
        the merged tree. ``fast_forward_only``: move target to source, or `NotFastForward`.
        `MergeConflict` lists conflicting paths; `NoChanges` if source is already merged.
        """

    @abc.abstractmethod
    def find_conflicts(self, *, relative_path: str, source: str, target: str) -> tuple[str, ...]:
        """Paths that would conflict when merging ``source`` into ``target``; writes no ref."""

    def can_merge(self, *, relative_path: str, source: str, target: str) -> bool:
        return not self.find_conflicts(relative_path=relative_path, source=source, target=target)

    @abc.abstractmethod
    def cherry_pick(
        self,
        *,
        relative_path: str,
        commit: str,
        branch: str,
        committer: Identity,
        message: str | None = None,
        expected_old_oid: str | None = None,
    ) -> Commit:
        """Apply the changes of ``commit`` (against its first parent) on top of ``branch``.

        Keeps the original author. `MergeConflict` on conflicts, `NoChanges` when the
        changes are already there.
        """

    @abc.abstractmethod
    def revert(
        self,
        *,
        relative_path: str,
        commit: str,
        branch: str,
        committer: Identity,
        message: str | None = None,
        expected_old_oid: str | None = None,
    ) -> Commit:
        """Commit the inverse of ``commit`` (against its first parent) on ``branch``."""

    @abc.abstractmethod
    def rebase(
        self,
        *,
        relative_path: str,
        branch: str,
        onto: str,
        committer: Identity,
        expected_old_oid: str | None = None,
    ) -> RebaseResult:
        """Replay the commits of ``branch`` missing from ``onto`` on top of ``onto``.

        Merge commits are dropped and commits already upstream are skipped, as
        ``git rebase`` does; the branch moves by compare-and-swap.
        """
