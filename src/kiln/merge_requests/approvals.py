"""Approvals: approve, unapprove, the project's approval settings, and resets on push.

As GitLab's ApprovalService and RemoveApprovalService (with the settings of its
`/projects/:id/approvals`): Developers may approve a merge request once; the author only
when `merge_requests_author_approval` allows it; `approvals_before_merge` approvals are
needed before a merge; approvals are dropped when new commits arrive if
`reset_approvals_on_push` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from kiln.core.actor import Actor
from kiln.core.errors import Conflict, Forbidden, InvalidParameter, NotFound, Unauthorized
from kiln.core.policy import can
from kiln.merge_requests import hooks, planning
from kiln.merge_requests.models import (
    MergeRequest,
    MergeRequestApproval,
    MergeRequestReviewer,
    MergeRequestSettings,
    ReviewState,
)
from kiln.projects.models import Project

MAX_APPROVALS_REQUIRED = 100


def settings_for(project: Project) -> MergeRequestSettings:
    """The project's settings (defaults when it has no row yet; nothing is written)."""
    cached = getattr(project, "_mr_settings", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    found = MergeRequestSettings.objects.filter(project=project).first()
    settings = found or MergeRequestSettings(project=project)
    project._mr_settings = settings  # type: ignore[attr-defined]
    return settings


SETTING_FIELDS = (
    "approvals_before_merge",
    "reset_approvals_on_push",
    "merge_requests_author_approval",
    "merge_requests_disable_committers_approval",
    "disable_overriding_approvers_per_merge_request",
    "require_password_to_approve",
    "selective_code_owner_removals",
)


def update_settings(
    *, actor: Actor, project: Project, changes: dict[str, Any]
) -> MergeRequestSettings:
    """POST /projects/:id/approvals. Needs `admin_project` (403)."""
    if not can(actor, "admin_project", project):
        raise Forbidden()
    required = changes.get("approvals_before_merge")
    if required is not None and not 0 <= int(required) <= MAX_APPROVALS_REQUIRED:
        raise InvalidParameter("approvals_before_merge does not have a valid value")
    with transaction.atomic():
        row, _ = MergeRequestSettings.objects.select_for_update().get_or_create(project=project)
        for name in SETTING_FIELDS:
            if changes.get(name) is not None:
                setattr(row, name, changes[name])
        row.save()
    project._mr_settings = row  # type: ignore[attr-defined]
    return row


def approved_by(mr: MergeRequest, user_id: int | None) -> bool:
    if user_id is None:
        return False
    return MergeRequestApproval.objects.filter(merge_request=mr, user_id=user_id).exists()


def can_approve(actor: Actor, mr: MergeRequest) -> bool:
    """GitLab's `eligible_for_approval_by?`: may approve and has not approved yet."""
    if actor.user is None or not mr.is_open:
        return False
    if not can(actor, "approve_merge_request", mr):
        return False
    if (
        mr.author_id == actor.user.pk
        and not settings_for(mr.project).merge_requests_author_approval
    ):
        return False
    return not approved_by(mr, actor.user.pk)


def check_sha(mr: MergeRequest, sha: str | None) -> None:
    """GitLab's `check_sha_param!`: 409 when `sha` is not the reviewed head."""
    if sha and sha != mr.diff_head_sha:
        raise Conflict(f"SHA does not match HEAD of source branch: {mr.diff_head_sha}")


def approve_merge_request(*, actor: Actor, mr: MergeRequest, sha: str | None = None) -> None:
    """POST .../approve: 403 without `approve_merge_request`, 409 on a stale `sha`, 401 when
    the actor may not approve this one (already approved, or its author)."""
    if not can(actor, "approve_merge_request", mr):
        raise Forbidden()
    check_sha(mr, sha)
    if not can_approve(actor, mr):
        raise Unauthorized()
    assert actor.user is not None
    with transaction.atomic():
        try:
            with transaction.atomic():
                MergeRequestApproval.objects.create(
                    merge_request=mr, user=actor.user, sha=mr.diff_head_sha
                )
        except IntegrityError:
            raise Unauthorized() from None
        MergeRequestReviewer.objects.filter(merge_request=mr, user=actor.user).update(
            state=ReviewState.APPROVED
        )
        planning.system_note(actor, mr, "approved this merge request", "approved")
        planning.record_event(actor, mr, "approved")
        hooks.notify_after_commit(mr, "approved", actor)
        hooks.notify_after_commit(mr, "approval", actor)
    mr._approvals_count = None  # type: ignore[attr-defined]


def unapprove_merge_request(*, actor: Actor, mr: MergeRequest) -> None:
    """POST .../unapprove: 403 without `approve_merge_request`, 404 when not approved."""
    if not can(actor, "approve_merge_request", mr):
        raise Forbidden()
    assert actor.user is not None
    with transaction.atomic():
        deleted, _ = MergeRequestApproval.objects.filter(merge_request=mr, user=actor.user).delete()
        if not deleted:
            raise NotFound()
        MergeRequestReviewer.objects.filter(merge_request=mr, user=actor.user).update(
            state=ReviewState.UNAPPROVED
        )
        planning.system_note(actor, mr, "unapproved this merge request", "unapproved")
        hooks.notify_after_commit(mr, "unapproved", actor)
        hooks.notify_after_commit(mr, "unapproval", actor)
    mr._approvals_count = None  # type: ignore[attr-defined]


def reset_approvals(*, mr: MergeRequest) -> int:
    """Drop every approval (new commits arrived); the caller checked the project setting."""
    deleted, _ = MergeRequestApproval.objects.filter(merge_request=mr).delete()
    if deleted:
        MergeRequestReviewer.objects.filter(merge_request=mr, state=ReviewState.APPROVED).update(
            state=ReviewState.UNAPPROVED
        )
    mr._approvals_count = None  # type: ignore[attr-defined]
    return int(deleted)


@dataclass(frozen=True)
class ApprovalView:
    """What `/approvals` shows for one viewer."""

    required: int
    approvals: list[MergeRequestApproval]
    user_has_approved: bool
    user_can_approve: bool

    @property
    def approved(self) -> bool:
        return len(self.approvals) >= self.required

    @property
    def left(self) -> int:
        return max(self.required - len(self.approvals), 0)


def approval_view(actor: Actor, mr: MergeRequest) -> ApprovalView:
    approvals = list(
        MergeRequestApproval.objects.filter(merge_request=mr).select_related("user").order_by("id")
    )
    user_id = actor.user_id
    return ApprovalView(
        required=settings_for(mr.project).approvals_before_merge,
        approvals=approvals,
        user_has_approved=any(a.user_id == user_id for a in approvals),
        user_can_approve=can_approve(actor, mr),
    )
