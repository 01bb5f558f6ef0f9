"""The errors `kiln.gitstore` raises.

Every error carries a ``reason`` slug (stable, for logs and for mapping to an HTTP status in
one place outside this package) and a message that is fit to show to the user who caused it:
it never contains a filesystem path, a git command line or git's raw stderr. Internal
details travel separately on `GitCommandError` for logs only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar


class GitStoreError(Exception):
    """Base of every error raised by a `GitStore`."""

    reason: ClassVar[str] = "gitstore_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RepositoryNotFound(GitStoreError):
    reason = "repository_not_found"


class RepositoryExists(GitStoreError):
    reason = "repository_exists"


class RevisionNotFound(GitStoreError):
    """A revision, ref or object id does not name an object of the expected type."""

    reason = "revision_not_found"


class PathNotFound(GitStoreError):
    """A path does not exist in a tree, or is not of the kind asked for."""

    reason = "path_not_found"


class InvalidArgument(GitStoreError, ValueError):
    """An argument was refused before any git process or file was touched."""

    reason = "invalid_argument"


class InvalidRef(InvalidArgument):
    reason = "invalid_ref"


class InvalidPath(InvalidArgument):
    reason = "invalid_path"


class RefConflict(GitStoreError):
    """A compare-and-swap ref update lost: the ref was not at the expected value."""

    reason = "ref_conflict"


class MergeConflict(GitStoreError):
    """Two histories touch the same lines; ``paths`` lists the conflicting files."""

    reason = "merge_conflict"

    def __init__(self, message: str, *, paths: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.paths: tuple[str, ...] = tuple(paths)


class NotFastForward(GitStoreError):
    reason = "not_fast_forward"


class NoChanges(GitStoreError):
    """The operation would produce no change (already merged, already cherry-picked...)."""

    reason = "no_changes"


class CommitActionError(GitStoreError):
    """A commit action cannot be applied to the tree (file exists, missing, changed...)."""

    reason = "commit_action_error"


class GitCommandError(GitStoreError):
    """git failed in a way the caller cannot fix; details are for logs, not for users."""

    reason = "git_command_failed"

    def __init__(self, message: str, *, command: Sequence[str] = (), stderr: str = "") -> None:
        super().__init__(message)
        self.command: tuple[str, ...] = tuple(command)
        self.stderr = stderr
