"""Merging and rebasing merge requests (GitLab's MergeService, AutoMergeService, RebaseService).

The merge service, in the order GitLab's `PUT .../merge` answers:

1. the actor may update the target branch (push or merge rights under its protection), else
   401 — GitLab's `unauthorized!`;
2. the state checks pass (open, not a draft, commits, resolved threads when required, the
   pipeline when required, approvals), else 405 Method Not Allowed;
3. the git checks pass against the target's current head (no conflicts; for fast-forward
   and semi-linear projects, a source rebased on the target), else 422 "Branch cannot be
   merged";
4. `sha`, when given, is the reviewed head, else 409 "SHA does not match HEAD of source
   branch: <head>";
5. the merge request moves from opened to locked by a conditional update: of two concurrent
   merges exactly one wins, the other answers 405 as GitLab does for a merge request that is
   no longer open;
6. gitstore writes the merge (merge commit, semi-linear merge commit, or fast-forward; with a
   squash commit when asked or forced by the project's `squash_option`), moving the target by
   compare-and-swap against the head checked in (3): a target that moved meanwhile fails the
   merge (422) rather than merging something nobody checked;
7. the merge request is marked merged, the push is recorded for the target (CI, webhooks and
   other merge requests react to it), issues it closes are closed, and the source branch is
   removed when asked.

The git work (6) runs outside any database transaction; the locked state is what keeps a
second merge out meanwhile, and a failure puts the merge request back to opened with
`merge_error` set.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from kiln.accounts.models import User
from kiln.core.actor import Actor
from kiln.core.errors import Conflict, Forbidden, KilnError, MethodNotAllowed, Unauthorized
from kiln.core.policy import can
from kiln.gitstore import (
    GitStoreError,
    Identity,
    MergeConflict,
    NotFastForward,
    RefConflict,
)
from kiln.merge_requests import hooks, mergeability, planning
from kiln.merge_requests.approvals import check_sha
from kiln.merge_requests.errors import BranchCannotBeMerged
from kiln.merge_requests.models import MergeRequest, MergeRequestState, MergeStatus
from kiln.merge_requests.policies import can_read_merge_requests
from kiln.repositories import protection
from kiln.repositories.access import RefChange
from kiln.repositories.files import committer_of
from kiln.repositories.services import record_push
from kiln.repositories.storage import repo_path, store

log = logging.getLogger(__name__)

MERGE_FAILED = "An error occurred while merging"
TARGET_MOVED = "The target branch was updated while merging. Please try again."
REBASE_FAILED = "Rebase failed: Rebase locally, resolve all conflicts, then push the branch."
REBASE_LOCKED = (
    "Failed to enqueue the rebase operation, possibly due to a long-lived transaction. "
    "Try again later."
)


# --- who may merge ------------------------------------------------------------------------


def can_merge(actor: Actor, mr: MergeRequest) -> bool:
    """GitLab's `can_be_merged_by?`: the actor may update the target branch."""
    project = mr.project
    if actor.user is None or project.archived or not actor.user.is_active:
        return False
    if not can_read_merge_requests(actor, project):
        return False
    return protection.can_push_to_branch(
        actor, project, mr.target_branch
    ) or protection.can_merge_to_branch(actor, project, mr.target_branch)


def squash_on_merge(mr: MergeRequest) -> bool:
    """GitLab's `squash_on_merge?`: the project's "always"/"never" win over the MR's choice."""
    option = mr.project.squash_option
    if option == "always":
        return True
    if option == "never":
        return False
    return mr.squash


# --- messages -----------------------------------------------------------------------------


def _reference(mr: MergeRequest) -> str:
    return f"{mr.project.full_path}!{mr.iid}"


def _closing_line(actor: Actor, mr: MergeRequest) -> str:
    try:
        issues = planning.closing_issues(actor, mr)
    except Exception:  # the closing issues are a courtesy in the message, never a blocker
        log.exception("could not list the issues a merge request closes")
        return ""
    if not issues:
        return ""
    refs = ", ".join(f"#{issue.iid}" for issue in issues)
    return f"Closes {refs}"


_PLACEHOLDERS = ("source_branch", "target_branch", "title", "issues", "description",
                 "reference", "url", "approved_by", "merged_by")  # fmt: skip


def _template(template: str, values: dict[str, str]) -> str:
    text = template
    for name in _PLACEHOLDERS:
        text = text.replace(f"%{{{name}}}", values.get(name, ""))
    return text


def default_merge_commit_message(actor: Actor, mr: MergeRequest) -> str:
    """GitLab's default merge commit message (or the project's `merge_commit_template`)."""
    closing = _closing_line(actor, mr)
    user = actor.user
    values = {
        "source_branch": mr.source_branch,
        "target_branch": mr.target_branch,
        "title": mr.title,
        "issues": closing,
        "description": mr.description,
        "reference": _reference(mr),
        "merged_by": f"{user.name} <{user.email}>" if user is not None else "",
    }
    if mr.project.merge_commit_template:
        return _template(mr.project.merge_commit_template, values)
    parts = [f"Merge branch '{mr.source_branch}' into '{mr.target_branch}'", mr.title]
    if closing:
        parts.append(closing)
    parts.append(f"See merge request {_reference(mr)}")
    return "\n\n".join(parts)


def default_squash_commit_message(mr: MergeRequest) -> str:
    if mr.project.squash_commit_template:
        values = {
            "source_branch": mr.source_branch,
            "target_branch": mr.target_branch,
            "title": mr.title,
            "description": mr.description,
            "reference": _reference(mr),
        }
        return _template(mr.project.squash_commit_template, values)
    return mr.title


def _identity_of(user: User | None, fallback: Identity) -> Identity:
    if user is None:
        return fallback
    return committer_of(Actor(user=user))


# --- the merge service --------------------------------------------------------------------


@dataclass(frozen=True)
class MergeOptions:
    merge_commit_message: str | None = None
    squash_commit_message: str | None = None
    squash: bool | None = None
    should_remove_source_branch: bool | None = None
    sha: str | None = None


def _fresh(mr: MergeRequest) -> MergeRequest:
    return MergeRequest.objects.select_related("project", "project__namespace", "author").get(
        pk=mr.pk
    )


def _target_head(mr: MergeRequest) -> str | None:
    branch = store().find_branch(relative_path=repo_path(mr.project), name=mr.target_branch)
    return branch.commit.id if branch is not None else None


def _git_check(mr: MergeRequest, target_head: str) -> None:
    """Step 3: conflicts and, for ff and semi-linear projects, a rebased source (422)."""
    path = repo_path(mr.project)
    if mr.project.merge_method in ("ff", "rebase_merge") and not store().is_ancestor(
        relative_path=path, ancestor=target_head, descendant=mr.diff_head_sha
    ):
        raise BranchCannotBeMerged()
    if mergeability.conflicts(mr, target_head=target_head):
        MergeRequest.objects.filter(pk=mr.pk, diff_head_sha=mr.diff_head_sha).update(
            merge_status=MergeStatus.CANNOT_BE_MERGED
        )
        raise BranchCannotBeMerged()


def merge_merge_request(
    *,
    actor: Actor,
    mr: MergeRequest,
    options: MergeOptions | None = None,
    merge_when_pipeline_succeeds: bool = False,
) -> MergeRequest:
    """PUT /projects/:id/merge_requests/:iid/merge. See the module docstring for the steps."""
    options = options or MergeOptions()
    mr = _fresh(mr)
    if not can_merge(actor, mr):
        raise Unauthorized()
    if merge_when_pipeline_succeeds:
        pipeline = hooks.head_pipeline(mr.project, mr.diff_head_sha, mr.source_branch)
        if pipeline is not None and pipeline.status in hooks.ACTIVE_STATUSES:
            return _enable_auto_merge(actor, mr, options)
    if not mergeability.state_check(mr).ok:
        raise MethodNotAllowed()
    target_head = _target_head(mr)
    if target_head is None or not mr.diff_head_sha:
        raise BranchCannotBeMerged()
    _git_check(mr, target_head)
    check_sha(mr, options.sha)
    if options.squash and not mr.squash:
        # GitLab's `merge_request.update(squash: params[:squash]) if params[:squash]`.
        MergeRequest.objects.filter(pk=mr.pk).update(squash=True)
        mr.squash = True
    return _merge_now(actor, mr, options, target_head)


def _claim(mr: MergeRequest) -> None:
    """Step 5: opened -> locked, for exactly one caller (405 for the others)."""
    with transaction.atomic():
        claimed = MergeRequest.objects.filter(
            pk=mr.pk, state=MergeRequestState.OPENED, diff_head_sha=mr.diff_head_sha
        ).update(state=MergeRequestState.LOCKED, merge_error=None)
    if not claimed:
        raise MethodNotAllowed()


def _unclaim(mr: MergeRequest, error: str) -> None:
    with transaction.atomic():
        MergeRequest.objects.filter(pk=mr.pk, state=MergeRequestState.LOCKED).update(
            state=MergeRequestState.OPENED, merge_error=error
        )


@dataclass(frozen=True)
class _GitResult:
    new_head: str
    merge_commit_sha: str | None
    squash_commit_sha: str | None


def _write_merge(
    actor: Actor, mr: MergeRequest, options: MergeOptions, target_head: str
) -> _GitResult:
    """Step 6. Raises gitstore errors; moves nothing unless it succeeds."""
    path = repo_path(mr.project)
    gitstore = store()
    me = committer_of(actor)
    squash = squash_on_merge(mr)
    merge_message = options.merge_commit_message or default_merge_commit_message(actor, mr)
    squash_message = options.squash_commit_message or default_squash_commit_message(mr)
    head = mr.diff_head_sha
    if mr.project.merge_method == "ff":
        result = gitstore.merge(
            relative_path=path,
            source=head,
            target=mr.target_branch,
            message=squash_message,
            author=_identity_of(mr.author, me),
            committer=me,
            squash=squash,
            fast_forward_only=True,
            expected_target_oid=target_head,
        )
        return _GitResult(
            new_head=result.commit.id,
            merge_commit_sha=None,
            squash_commit_sha=result.commit.id if squash else None,
        )
    squash_sha: str | None = None
    source = head
    expected = target_head
    if squash:
        # gitstore writes a squash commit onto the target only; the merge commit methods
        # want it merged with a merge commit (as GitLab's history shows both), so the
        # target is put back and the squash commit merged. Each step is a compare-and-swap.
        squashed = gitstore.merge(
            relative_path=path,
            source=head,
            target=mr.target_branch,
            message=squash_message,
            author=_identity_of(mr.author, me),
            committer=me,
            squash=True,
            expected_target_oid=target_head,
        )
        squash_sha = squashed.commit.id
        try:
            gitstore.update_ref(
                relative_path=path,
                ref=f"refs/heads/{mr.target_branch}",
                new_oid=target_head,
                old_oid=squash_sha,
            )
        except GitStoreError:
            # Someone pushed on top of the squash commit already: it stays as the merge.
            return _GitResult(
                new_head=squash_sha, merge_commit_sha=None, squash_commit_sha=squash_sha
            )
        source = squash_sha
    merged = gitstore.merge(
        relative_path=path,
        source=source,
        target=mr.target_branch,
        message=merge_message,
        author=me,
        committer=me,
        expected_target_oid=expected,
    )
    return _GitResult(
        new_head=merged.commit.id,
        merge_commit_sha=merged.commit.id,
        squash_commit_sha=squash_sha,
    )


def _merge_now(
    actor: Actor, mr: MergeRequest, options: MergeOptions, target_head: str
) -> MergeRequest:
    _claim(mr)
    try:
        result = _write_merge(actor, mr, options, target_head)
    except RefConflict:
        _unclaim(mr, TARGET_MOVED)
        raise BranchCannotBeMerged() from None
    except (MergeConflict, NotFastForward):
        _unclaim(mr, MERGE_FAILED)
        raise BranchCannotBeMerged() from None
    except Exception:
        log.exception("merge failed", extra={"merge_request": mr.pk})
        _unclaim(mr, MERGE_FAILED)
        raise BranchCannotBeMerged() from None
    remove_source = (
        options.should_remove_source_branch
        if options.should_remove_source_branch is not None
        else bool(mr.force_remove_source_branch)
    )
    now = timezone.now()
    with transaction.atomic():
        MergeRequest.objects.filter(pk=mr.pk).update(
            state=MergeRequestState.MERGED,
            merged_at=now,
            merged_by=actor.user,
            merge_user=actor.user,
            merge_commit_sha=result.merge_commit_sha,
            squash_commit_sha=result.squash_commit_sha,
            should_remove_source_branch=options.should_remove_source_branch,
            merge_when_pipeline_succeeds=False,
            merge_error=None,
            updated_at=now,
        )
        mr = _fresh(mr)
        planning.system_note(actor, mr, "merged", "merged")
        planning.record_state_event(actor, mr, "merged")
        planning.record_event(actor, mr, "merged")
        hooks.notify_after_commit(mr, "merge", actor)
    record_push(
        actor=actor,
        project=mr.project,
        changes=[
            RefChange(old=target_head, new=result.new_head, ref=f"refs/heads/{mr.target_branch}")
        ],
        protocol="web",
    )
    try:
        planning.close_issues_mentioned(actor, mr)
    except KilnError:
        log.exception("closing the issues of a merge request failed")
    if remove_source:
        _remove_source_branch(actor, mr)
    return _fresh(mr)


def _remove_source_branch(actor: Actor, mr: MergeRequest) -> None:
    """Delete the source branch if it still points at the merged head and the actor may."""
    from kiln.repositories.branches import delete_branch

    path = repo_path(mr.project)
    branch = store().find_branch(relative_path=path, name=mr.source_branch)
    if branch is None or branch.commit.id != mr.diff_head_sha:
        return
    if mr.source_branch == mr.project.default_branch:
        return
    try:
        delete_branch(actor=actor, project=mr.project, name=mr.source_branch)
    except KilnError as exc:
        log.info("source branch kept after merge", extra={"reason": exc.reason})


# --- merge when the pipeline succeeds -----------------------------------------------------


def _enable_auto_merge(actor: Actor, mr: MergeRequest, options: MergeOptions) -> MergeRequest:
    """Set (or set again, with new options) the automatic merge. Setting it again exactly as
    it is changes nothing: no `updated_at`, no `update` event."""
    if not mergeability.state_check(mr, skip_ci=True).ok:
        raise MethodNotAllowed()
    check_sha(mr, options.sha)
    with transaction.atomic():
        locked = (
            MergeRequest.objects.select_for_update()
            .filter(pk=mr.pk, state=MergeRequestState.OPENED)
            .first()
        )
        if locked is None:
            raise MethodNotAllowed()
        values: dict[str, Any] = {
            "merge_when_pipeline_succeeds": True,
            "merge_user_id": actor.user.pk if actor.user is not None else None,
            "should_remove_source_branch": options.should_remove_source_branch,
            "merge_commit_message": options.merge_commit_message,
            "squash_commit_message": options.squash_commit_message,
            "squash": options.squash if options.squash is not None else locked.squash,
        }
        if all(getattr(locked, name) == value for name, value in values.items()):
            return _fresh(mr)
        MergeRequest.objects.filter(pk=mr.pk).update(**values, updated_at=timezone.now())
        if not locked.merge_when_pipeline_succeeds:
            planning.system_note(
                actor,
                mr,
                f"enabled an automatic merge when the pipeline for {mr.diff_head_sha} succeeds",
                "merge",
            )
            hooks.notify_after_commit(mr, "merge_when_pipeline_succeeds", actor)
        hooks.notify_after_commit(mr, "update", actor, {"merge_when_pipeline_succeeds": True})
    return _fresh(mr)


def cancel_auto_merge(*, actor: Actor, mr: MergeRequest) -> MergeRequest:
    """POST .../cancel_merge_when_pipeline_succeeds: 401 unless the actor may merge or wrote
    it; 406 when no automatic merge is set (or the merge request is closed)."""
    mr = _fresh(mr)
    is_author = actor.user is not None and mr.author_id == actor.user.pk
    if not (can_merge(actor, mr) or is_author):
        raise Unauthorized()
    if mr.is_merged:
        return mr
    if not mr.merge_when_pipeline_succeeds or not mr.is_open:
        raise NotAcceptable("Can't cancel the automatic merge")
    with transaction.atomic():
        MergeRequest.objects.filter(pk=mr.pk).update(
            merge_when_pipeline_succeeds=False,
            merge_user=None,
            should_remove_source_branch=None,
            updated_at=timezone.now(),
        )
        planning.system_note(actor, mr, "canceled the automatic merge", "merge")
    return _fresh(mr)


def abort_auto_merge(mr: MergeRequest, reason: str) -> None:
    """Turn an automatic merge off, saying why (a push, a failed merge)."""
    with transaction.atomic():
        updated = MergeRequest.objects.filter(pk=mr.pk, merge_when_pipeline_succeeds=True).update(
            merge_when_pipeline_succeeds=False, updated_at=timezone.now()
        )
        if updated:
            planning.system_note(None, mr, f"aborted the automatic merge because {reason}", "merge")


class NotAcceptable(KilnError):
    status = 406
    reason = "not_acceptable"


def pipeline_succeeded(*, project_id: int, sha: str, ref: str) -> list[int]:
    """CI's hook: a pipeline for `sha` on branch `ref` succeeded. Merges the merge requests
    set to merge when it succeeds (as the user who set it). Returns the ids merged."""
    merged: list[int] = []
    candidates = MergeRequest.objects.select_related("project", "merge_user").filter(
        project_id=project_id,
        state=MergeRequestState.OPENED,
        merge_when_pipeline_succeeds=True,
        diff_head_sha=sha,
        source_branch=ref,
    )
    for mr in candidates:
        user = mr.merge_user
        if user is None or not user.is_active:
            abort_auto_merge(mr, "the user who set it can no longer merge")
            continue
        actor = Actor(user=user)
        options = MergeOptions(
            merge_commit_message=mr.merge_commit_message,
            squash_commit_message=mr.squash_commit_message,
            squash=mr.squash,
            should_remove_source_branch=mr.should_remove_source_branch,
        )
        try:
            merge_merge_request(actor=actor, mr=mr, options=options)
        except KilnError as exc:
            abort_auto_merge(mr, f"the merge failed ({exc.message or exc.reason})")
            continue
        merged.append(mr.pk)
    return merged


# --- rebase -------------------------------------------------------------------------------


def rebase_merge_request(*, actor: Actor, mr: MergeRequest, skip_ci: bool = False) -> bool:
    """PUT .../rebase: checks as GitLab's RebaseService#validate (403 with its message), then
    rebases in the background. Returns `rebase_in_progress` as it stood when enqueued.

    `skip_ci` is accepted; pipelines follow their own rules for web pushes.
    """
    mr = _fresh(mr)
    project = mr.project
    if not can(actor, "read_merge_request", mr):
        raise Forbidden()
    if not protection.can_push_to_branch(actor, project, mr.source_branch) or not can(
        actor, "push_code", project
    ):
        raise Forbidden("Cannot push to source branch")
    branch = store().find_branch(relative_path=repo_path(project), name=mr.source_branch)
    if branch is None:
        raise Forbidden("Source branch does not exist")
    if not protection.allows_force_push(project, mr.source_branch):
        raise Forbidden("Source branch is protected from force push")
    with transaction.atomic():
        claimed = MergeRequest.objects.filter(
            pk=mr.pk, rebase_in_progress=False, state=MergeRequestState.OPENED
        ).update(rebase_in_progress=True, merge_error=None)
        if not claimed:
            raise Conflict(REBASE_LOCKED)
        user_id = actor.user_id
        mr_id = mr.pk

        def enqueue() -> None:
            from kiln.merge_requests.tasks import rebase_merge_request_task

            try:
                rebase_merge_request_task.enqueue(mr_id, user_id)
            except Exception:
                log.exception("could not schedule a rebase")
                MergeRequest.objects.filter(pk=mr_id).update(
                    rebase_in_progress=False, merge_error=REBASE_FAILED
                )

        transaction.on_commit(enqueue)
    return True


def run_rebase(mr_id: int, user_id: int | None) -> None:
    """The background half of a rebase: replay the source on the target, force-update the
    source by compare-and-swap, record the push (which refreshes the diff)."""
    mr = MergeRequest.objects.select_related("project", "project__namespace").filter(pk=mr_id)
    found = mr.first()
    if found is None:
        return
    user = User.objects.filter(pk=user_id).first() if user_id else None
    actor = Actor(user=user) if user is not None else Actor()
    error: str | None = None
    try:
        path = repo_path(found.project)
        gitstore = store()
        source = gitstore.find_branch(relative_path=path, name=found.source_branch)
        target = gitstore.find_branch(relative_path=path, name=found.target_branch)
        if source is None or target is None or user is None:
            error = REBASE_FAILED
        else:
            result = gitstore.rebase(
                relative_path=path,
                branch=found.source_branch,
                onto=target.commit.id,
                committer=committer_of(actor),
                expected_old_oid=source.commit.id,
            )
            if result.changed:
                record_push(
                    actor=actor,
                    project=found.project,
                    changes=[
                        RefChange(
                            old=source.commit.id,
                            new=result.head.id,
                            ref=f"refs/heads/{found.source_branch}",
                        )
                    ],
                    protocol="web",
                )
    except (MergeConflict, RefConflict, GitStoreError):
        error = REBASE_FAILED
    finally:
        MergeRequest.objects.filter(pk=mr_id).update(rebase_in_progress=False, merge_error=error)
