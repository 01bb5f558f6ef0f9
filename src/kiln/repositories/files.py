"""Commits made through the API and the UI: file create/update/delete, commits with actions,
cherry-picks and reverts.

Every write here follows the same steps, in GitLab's order and with GitLab's messages:

1. The actor may push code to the project (`push_code`, else 403) and to the target branch
   (protected branch rules, else "You are not allowed to push into this branch").
2. Names and paths are validated before the store sees them (gitstore's validators); a
   refused value is a 400 and nothing is written.
3. The change passes the same `git_access` rules a push over git would (`check_changes` with
   `Protocol.WEB`, GitLab's pre-receive for web writes); a refusal is a 400 with its message.
4. The store writes the objects and moves the branch by compare-and-swap against the value
   checked in step 1-3, so a concurrent push makes this write fail instead of being lost.
5. `record_push` records the push and makes `empty_repo` and `default_branch` follow git.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kiln.accounts.models import User
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, KilnError, PlainBadRequest
from kiln.core.policy import can
from kiln.gitstore import (
    ZERO_OID,
    Commit,
    CommitAction,
    CommitActionError,
    CommitActionKind,
    GitStoreError,
    Identity,
    InvalidArgument,
    MergeConflict,
    NoChanges,
    RefConflict,
    RevisionNotFound,
    validate_branch_name,
    validate_repo_path,
)
from kiln.projects.models import Project
from kiln.repositories import access, protection, queries
from kiln.repositories.access import GitAccessDenied, Protocol, PushFacts, RefChange
from kiln.repositories.services import record_push
from kiln.repositories.storage import store

# The rules of `check_changes` look at whether a ref is created, updated or deleted, never at
# the new id itself, which a web write only knows once its objects are written. This stands
# for "some new commit" in the check made before writing.
PENDING_OID = "1" * 40
_COMMIT_ID_RE = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")


class BranchPushDenied(Forbidden):
    """GitLab's `authorize_push_to_branch!`: 403 "You are not allowed to push into this branch"."""

    reason = "branch_push_denied"
    MESSAGE = "You are not allowed to push into this branch"

    def __init__(self) -> None:
        super().__init__(self.MESSAGE)


class ChangeFailed(KilnError):
    """A cherry-pick or revert that cannot apply: 400 with GitLab's `error_code`."""

    status = 400
    reason = "change_failed"

    def __init__(self, message: str, *, error_code: str | None, dry_run: bool = False) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.dry_run = dry_run

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "error_code": self.error_code}
        if self.dry_run:
            body["dry_run"] = "error"
        return body


@dataclass(frozen=True)
class FileAction:
    """One action of a commit, as the API gives it (content already decoded to bytes)."""

    action: str
    file_path: str
    content: bytes | None = None
    previous_path: str | None = None
    execute_filemode: bool | None = None
    last_commit_id: str | None = None


def decode_content(content: str, encoding: str | None) -> bytes:
    """File content as GitLab takes it: text (UTF-8) or base64."""
    if encoding == "base64":
        try:
            return base64.b64decode(content, validate=False)
        except (binascii.Error, ValueError):
            raise PlainBadRequest("The content is not valid base64") from None
    return content.encode("utf-8", "surrogatepass")


# --- who writes ---------------------------------------------------------------------------


def _email_of(user: User) -> str:
    return user.commit_email or user.email or f"{user.username}@users.noreply.kiln"


def committer_of(actor: Actor) -> Identity:
    user = actor.user
    if user is None:
        raise Forbidden()
    return Identity(name=user.name or user.username, email=_email_of(user))


def author_of(actor: Actor, *, name: str | None, email: str | None) -> Identity:
    """The author GitLab records: the given name and email, each defaulting to the user's."""
    committer = committer_of(actor)
    return Identity(name=name or committer.name, email=email or committer.email)


# --- permissions --------------------------------------------------------------------------


def require_push(actor: Actor, project: Project) -> None:
    """GitLab's `authorize_push_project`: 403 unless the actor may push code here."""
    if not can(actor, "push_code", project):
        raise Forbidden()


def require_push_to_branch(actor: Actor, project: Project, branch: str) -> None:
    """GitLab's `authorize_push_to_branch!` (push_code, then the protected branch rules)."""
    require_push(actor, project)
    if not protection.can_push_to_branch(actor, project, branch):
        raise BranchPushDenied()


def check_web_push(
    actor: Actor, project: Project, changes: list[RefChange], *, forced: Sequence[str] = ()
) -> None:
    """The pre-receive rules for a web write; a refusal is GitLab's 400 with the rule's text."""
    try:
        access.check_changes(
            actor,
            project,
            changes,
            PushFacts(forced_refs=frozenset(forced)),
            protocol=Protocol.WEB,
        )
    except GitAccessDenied as exc:
        raise PlainBadRequest(exc.message) from None


def branch_name_for_write(branch: str) -> str:
    try:
        return validate_branch_name(branch)
    except InvalidArgument:
        raise PlainBadRequest("Branch name is invalid") from None


# --- commits with actions -----------------------------------------------------------------


def _action_path(path: str | None) -> str:
    """A path of a commit action, refused with Gitaly's messages."""
    if not path:
        raise PlainBadRequest("You must provide a file path")
    try:
        return validate_repo_path(path)
    except InvalidArgument:
        if ".." in path.split("/"):
            raise PlainBadRequest("Path cannot include directory traversal") from None
        raise PlainBadRequest(f"invalid path: '{path}'") from None


def _file_has_changed(project: Project, start: str, path: str, commit_id: str | None) -> bool:
    """GitLab's `file_has_changed?`: the last commit touching `path` differs between the
    branch and `commit_id` (no answer on either side means "not changed")."""
    if not commit_id:
        return False
    on_branch = queries.last_commit_for_path(project, start, path)
    if on_branch is None:
        return False
    then = queries.last_commit_for_path(project, commit_id, path)
    if then is None:
        return False
    return on_branch != then


def _commit_error(exc: GitStoreError, branch: str) -> KilnError:
    if isinstance(exc, RefConflict):
        return PlainBadRequest(
            f"Could not update refs/heads/{branch}. Please refresh and try again."
        )
    if isinstance(exc, RevisionNotFound):
        return PlainBadRequest("You can only create or edit files when you are on a branch")
    return PlainBadRequest(exc.message)


def create_commit(
    *,
    actor: Actor,
    project: Project,
    branch: str,
    message: str,
    actions: Sequence[FileAction],
    start_branch: str | None = None,
    start_sha: str | None = None,
    author_name: str | None = None,
    author_email: str | None = None,
    force: bool = False,
    changed_message: str | None = None,
) -> Commit:
    """Commit `actions` onto `branch` (GitLab's Files::MultiService behind POST /commits).

    Authorizes (push to the branch), validates with GitLab's messages, writes, records.
    `changed_message` replaces GitLab's per-path "file has changed" message (the single-file
    endpoints have their own wording).
    """
    require_push_to_branch(actor, project, branch)
    branch_name_for_write(branch)
    if start_sha is not None:
        if not _COMMIT_ID_RE.fullmatch(start_sha):
            raise PlainBadRequest(f"Invalid start_sha '{start_sha}'")
        if queries.find_commit(project, start_sha) is None:
            raise PlainBadRequest(f"Cannot find start_sha '{start_sha}'")
    elif start_branch is None:
        start_branch = branch
    path = queries.repository(project)
    gitstore = store()
    empty = gitstore.is_empty(relative_path=path)
    if start_branch is not None and not empty and not queries.branch_exists(project, start_branch):
        raise PlainBadRequest("You can only create or edit files when you are on a branch")
    different = start_sha is not None or start_branch != branch
    current_branch = None if empty else gitstore.find_branch(relative_path=path, name=branch)
    current = current_branch.commit.id if current_branch is not None else None
    if not empty and different and current is not None and not force:
        raise PlainBadRequest(
            f"A branch called '{branch}' already exists. "
            "Switch to that branch in order to make changes"
        )
    if not actions:
        raise PlainBadRequest("actions is required")
    start = start_sha or start_branch or branch
    converted: list[CommitAction] = []
    for item in actions:
        try:
            kind = CommitActionKind(item.action)
        except ValueError:
            raise PlainBadRequest(f"Unknown action '{item.action}'") from None
        file_path = _action_path(item.file_path)
        previous = _action_path(item.previous_path) if item.previous_path is not None else None
        if kind in (CommitActionKind.UPDATE, CommitActionKind.MOVE, CommitActionKind.DELETE):
            checked = previous or file_path
            if not empty and _file_has_changed(project, start, checked, item.last_commit_id):
                raise PlainBadRequest(
                    changed_message
                    or f"The file has changed since you started editing it: {checked}"
                )
        converted.append(
            CommitAction(
                action=kind,
                file_path=file_path,
                content=item.content,
                previous_path=previous,
                execute_filemode=item.execute_filemode,
            )
        )
    ref = f"refs/heads/{branch}"
    forced = [ref] if force and current is not None and different else []
    check_web_push(
        actor,
        project,
        [RefChange(old=current or ZERO_OID, new=PENDING_OID, ref=ref)],
        forced=forced,
    )
    try:
        commit = gitstore.create_commit(
            relative_path=path,
            branch=branch,
            actions=converted,
            author=author_of(actor, name=author_name, email=author_email),
            committer=committer_of(actor),
            message=message,
            start_branch=None if empty or start_sha is not None else start_branch,
            start_sha=start_sha,
            expected_old_oid=current,
            force=force,
        )
    except GitStoreError as exc:
        raise _commit_error(exc, branch) from None
    record_push(
        actor=actor,
        project=project,
        changes=[RefChange(old=current or ZERO_OID, new=commit.id, ref=ref)],
        protocol="web",
    )
    return commit


# --- single files (GitLab's Files::CreateService, UpdateService, DeleteService) -------------


@contextlib.contextmanager
def _as_files_service() -> Any:
    """The files endpoints answer a branch refusal with 400, not the commits API's 403."""
    try:
        yield
    except BranchPushDenied:
        raise PlainBadRequest(BranchPushDenied.MESSAGE) from None


def _single(
    *,
    actor: Actor,
    project: Project,
    action: FileAction,
    branch: str,
    commit_message: str,
    start_branch: str | None,
    author_name: str | None,
    author_email: str | None,
    changed_message: str | None = None,
) -> Commit:
    require_push(actor, project)
    with _as_files_service():
        return create_commit(
            actor=actor,
            project=project,
            branch=branch,
            message=commit_message,
            actions=[action],
            start_branch=start_branch or branch,
            author_name=author_name,
            author_email=author_email,
            changed_message=changed_message,
        )


def create_file(
    *,
    actor: Actor,
    project: Project,
    file_path: str,
    branch: str,
    content: bytes,
    commit_message: str,
    start_branch: str | None = None,
    author_name: str | None = None,
    author_email: str | None = None,
    execute_filemode: bool | None = None,
) -> Commit:
    """POST /repository/files/:file_path. The caller checked `file_path` (`file_path_param`)."""
    return _single(
        actor=actor,
        project=project,
        action=FileAction(
            action="create",
            file_path=file_path,
            content=content,
            execute_filemode=execute_filemode,
        ),
        branch=branch,
        commit_message=commit_message,
        start_branch=start_branch,
        author_name=author_name,
        author_email=author_email,
    )


def update_file(
    *,
    actor: Actor,
    project: Project,
    file_path: str,
    branch: str,
    content: bytes,
    commit_message: str,
    start_branch: str | None = None,
    author_name: str | None = None,
    author_email: str | None = None,
    execute_filemode: bool | None = None,
    last_commit_id: str | None = None,
) -> Commit:
    """PUT /repository/files/:file_path, refused when `last_commit_id` is stale."""
    return _single(
        actor=actor,
        project=project,
        action=FileAction(
            action="update",
            file_path=file_path,
            content=content,
            execute_filemode=execute_filemode,
            last_commit_id=last_commit_id,
        ),
        branch=branch,
        commit_message=commit_message,
        start_branch=start_branch,
        author_name=author_name,
        author_email=author_email,
        changed_message=(
            "You are attempting to update a file that has changed since you started editing it."
        ),
    )


def delete_file(
    *,
    actor: Actor,
    project: Project,
    file_path: str,
    branch: str,
    commit_message: str,
    start_branch: str | None = None,
    author_name: str | None = None,
    author_email: str | None = None,
    last_commit_id: str | None = None,
) -> Commit:
    """DELETE /repository/files/:file_path."""
    return _single(
        actor=actor,
        project=project,
        action=FileAction(action="delete", file_path=file_path, last_commit_id=last_commit_id),
        branch=branch,
        commit_message=commit_message,
        start_branch=start_branch,
        author_name=author_name,
        author_email=author_email,
        changed_message="You are attempting to delete a file that has been previously updated.",
    )


def add_readme(
    *, actor: Actor, project: Project, content: bytes = b"", message: str = "Add README.md"
) -> Commit:
    """The first commit of an empty repository: `README.md` on the default branch.

    GitLab does this before creating a branch in an empty repository (empty file, "Add
    README.md") and for `initialize_with_readme` at project creation.
    """
    return create_commit(
        actor=actor,
        project=project,
        branch=project.default_branch,
        message=message,
        actions=[FileAction(action="create", file_path="README.md", content=content)],
    )


# --- cherry-pick and revert ---------------------------------------------------------------

_PICK_FAILED = {
    "cherry_pick": "Commit cherry-pick failed",
    "revert": "Commit revert failed",
}
_PICK_DETAIL = (
    "Can't perform this action automatically. It may have already been done, or a more "
    "recent commit may have updated some of this content. Please perform this action locally."
)


def _pick(
    *,
    actor: Actor,
    project: Project,
    commit: Commit,
    branch: str,
    kind: str,
    dry_run: bool,
    message: str | None,
) -> Commit | None:
    require_push_to_branch(actor, project, branch)
    head = queries.find_branch(project, branch)
    ref = f"refs/heads/{branch}"
    check_web_push(actor, project, [RefChange(old=head.commit.id, new=PENDING_OID, ref=ref)])
    gitstore = store()
    path = queries.repository(project)
    target = branch
    if dry_run:
        # The store has no dry run: pick onto a throwaway branch at the same commit, then
        # drop it. Nothing is recorded and the real branch never moves.
        target = f"kiln-dry-run-{uuid.uuid4().hex}"
        gitstore.create_branch(relative_path=path, name=target, revision=head.commit.id)
    operation = gitstore.cherry_pick if kind == "cherry_pick" else gitstore.revert
    try:
        new = operation(
            relative_path=path,
            commit=commit.id,
            branch=target,
            committer=committer_of(actor),
            message=message,
            expected_old_oid=head.commit.id,
        )
    except (MergeConflict, NoChanges) as exc:
        code = "conflict" if isinstance(exc, MergeConflict) else "empty"
        raise ChangeFailed(
            f"{_PICK_FAILED[kind]}: {_PICK_DETAIL}", error_code=code, dry_run=dry_run
        ) from None
    except RefConflict:
        raise PlainBadRequest(f"Could not update {ref}. Please refresh and try again.") from None
    except (CommitActionError, InvalidArgument) as exc:
        raise PlainBadRequest(exc.message) from None
    finally:
        if dry_run:
            with contextlib.suppress(GitStoreError):
                gitstore.delete_branch(relative_path=path, name=target)
    if dry_run:
        return None
    record_push(
        actor=actor,
        project=project,
        changes=[RefChange(old=head.commit.id, new=new.id, ref=ref)],
        protocol="web",
    )
    return new


def cherry_pick(
    *,
    actor: Actor,
    project: Project,
    commit: Commit,
    branch: str,
    dry_run: bool = False,
    message: str | None = None,
) -> Commit | None:
    """POST /repository/commits/:sha/cherry_pick; None for a successful dry run."""
    return _pick(
        actor=actor,
        project=project,
        commit=commit,
        branch=branch,
        kind="cherry_pick",
        dry_run=dry_run,
        message=message,
    )


def revert(
    *, actor: Actor, project: Project, commit: Commit, branch: str, dry_run: bool = False
) -> Commit | None:
    """POST /repository/commits/:sha/revert; None for a successful dry run."""
    return _pick(
        actor=actor,
        project=project,
        commit=commit,
        branch=branch,
        kind="revert",
        dry_run=dry_run,
        message=None,
    )
