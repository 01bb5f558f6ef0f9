"""Commits built without a work tree: GitLab's "commit with actions" (web editor, API).

The order is: validate every argument, read the branch, apply the actions to an in-memory
tree (`TreeEditor`), write blobs, tree and commit objects, and only then move the branch by
compare-and-swap. If anything fails before the swap, the branch is untouched and the objects
written are unreachable garbage that maintenance prunes.
"""

from __future__ import annotations

from collections.abc import Sequence

import pygit2
from pygit2.enums import FileMode, ReferenceFilter

from kiln.gitstore.errors import (
    CommitActionError,
    InvalidArgument,
    RefConflict,
    RevisionNotFound,
)
from kiln.gitstore.local.convert import to_commit
from kiln.gitstore.local.core import LocalCore, check_message
from kiln.gitstore.local.treeedit import FileEntry, TreeEditor
from kiln.gitstore.paths import validate_repo_path
from kiln.gitstore.refs import is_abbreviated_oid, validate_branch_name, validate_oid
from kiln.gitstore.types import Commit, CommitAction, CommitActionKind, Identity

__all__ = ["WriteOps"]

# GitLab's wording for the same failures, so users see familiar messages.
_EXISTS = "A file with this name already exists"
_MISSING = "A file with this name doesn't exist"
_DIRECTORY_EXISTS = "A directory with this name already exists"
_CHANGED = "You are attempting to update a file that has changed since you started editing it."


def _blocked(path: str) -> CommitActionError:
    return CommitActionError(
        f"Cannot write '{path}': a parent in the path is a file, a symlink or a submodule."
    )


class WriteOps(LocalCore):
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
        validate_branch_name(branch)
        if start_branch is not None:
            validate_branch_name(start_branch)
        if start_sha is not None and not is_abbreviated_oid(start_sha):
            raise InvalidArgument("start_sha must be a commit id.")
        if start_branch is not None and start_sha is not None:
            raise InvalidArgument("Give start_branch or start_sha, not both.")
        expected = None if expected_old_oid is None else validate_oid(expected_old_oid)
        check_message(message)
        if not actions:
            raise CommitActionError("No actions were given.")
        git_dir = self._git_dir(relative_path)
        with self._open(relative_path) as repo:
            current = self._branch_oid(repo, branch)
            if expected is not None and expected != current:
                raise RefConflict("The branch was changed by someone else; reload and retry.")
            base = self._commit_base(repo, branch, current, start_branch, start_sha, force)
            editor = TreeEditor(repo, None if base is None else base.tree)
            for action in actions:
                self._apply(repo, editor, action)
            commit = self._write_commit(
                repo,
                tree=editor.write(),
                parents=[] if base is None else [base.id],
                author=author,
                committer=committer or author,
                message=message,
            )
            self._update_refs(git_dir, [(f"refs/heads/{branch}", str(commit.id), current)])
            return to_commit(commit)

    def _commit_base(
        self,
        repo: pygit2.Repository,
        branch: str,
        current: str | None,
        start_branch: str | None,
        start_sha: str | None,
        force: bool,
    ) -> pygit2.Commit | None:
        """The parent of the new commit, with GitLab's rules for start points."""
        other_start = start_sha is not None or (start_branch not in (None, branch))
        if current is not None and not other_start:
            return self._commit(repo, current)
        if current is not None and not force:
            raise CommitActionError(
                f"A branch called '{branch}' already exists. "
                "Switch to that branch in order to make changes."
            )
        if start_sha is not None:
            return self._commit(repo, start_sha)
        if start_branch is not None and start_branch != branch:
            start = self._branch_oid(repo, start_branch)
            if start is None:
                raise RevisionNotFound(f"Start branch '{start_branch}' was not found.")
            return self._commit(repo, start)
        if any(True for _ in repo.references.iterator(ReferenceFilter.BRANCHES)):
            raise CommitActionError(
                f"Branch '{branch}' does not exist; give a start branch or commit."
            )
        return None  # the first commit of an empty repository

    def _apply(self, repo: pygit2.Repository, editor: TreeEditor, action: CommitAction) -> None:
        try:
            kind = CommitActionKind(action.action)
        except ValueError:
            raise InvalidArgument(f"Unknown commit action {action.action!r}.") from None
        path = validate_repo_path(action.file_path)
        if kind is CommitActionKind.CREATE:
            self._check_free(editor, path)
            mode: int = FileMode.BLOB_EXECUTABLE if action.execute_filemode else FileMode.BLOB
            editor.put(path, FileEntry(repo.create_blob(action.content or b""), mode))
        elif kind is CommitActionKind.UPDATE:
            entry = self._existing(repo, editor, path, action)
            mode = self._new_mode(entry, action.execute_filemode, path)
            editor.put(path, FileEntry(repo.create_blob(action.content or b""), mode))
        elif kind is CommitActionKind.DELETE:
            self._existing(repo, editor, path, action)
            editor.remove(path)
        elif kind is CommitActionKind.MOVE:
            if action.previous_path is None:
                raise CommitActionError("A move needs the previous path.")
            previous = validate_repo_path(action.previous_path)
            entry = self._existing(repo, editor, previous, action)
            mode = self._new_mode(entry, action.execute_filemode, previous)
            oid = entry.oid if action.content is None else repo.create_blob(action.content)
            editor.remove(previous)
            self._check_free(editor, path)
            editor.put(path, FileEntry(oid, mode))
        else:  # CHMOD
            if action.execute_filemode is None:
                raise InvalidArgument("chmod needs execute_filemode.")
            entry = self._existing(repo, editor, path, action)
            mode = self._new_mode(entry, action.execute_filemode, path)
            editor.put(path, FileEntry(entry.oid, mode))

    @staticmethod
    def _check_free(editor: TreeEditor, path: str) -> None:
        found = editor.lookup(path)
        if found == "blocked":
            raise _blocked(path)
        if found == "tree":
            raise CommitActionError(_DIRECTORY_EXISTS)
        if found is not None:
            raise CommitActionError(_EXISTS)

    def _existing(
        self, repo: pygit2.Repository, editor: TreeEditor, path: str, action: CommitAction
    ) -> FileEntry:
        found = editor.lookup(path)
        if not isinstance(found, FileEntry):
            raise CommitActionError(_MISSING)
        if found.mode == FileMode.COMMIT:
            raise CommitActionError(f"'{path}' is a submodule and cannot be edited.")
        if action.last_commit_id is not None:
            # "Changed since" is judged on content: the file at last_commit_id must be the
            # file on the branch now (GitLab compares the last commit touching the path;
            # comparing blobs accepts the same edits without a history walk).
            then = self._commit(repo, action.last_commit_id)
            try:
                previous = then.tree[path]
            except KeyError:
                raise CommitActionError(_CHANGED) from None
            if previous.id != found.oid:
                raise CommitActionError(_CHANGED)
        return found

    @staticmethod
    def _new_mode(entry: FileEntry, execute_filemode: bool | None, path: str) -> int:
        if execute_filemode is None:
            return entry.mode
        if not entry.is_regular_file:
            raise CommitActionError(f"Cannot change the mode of '{path}': not a regular file.")
        return FileMode.BLOB_EXECUTABLE if execute_filemode else FileMode.BLOB
