"""Merge request quick actions: /approve /unapprove /merge /draft /ready /rebase
/assign_reviewer /unassign_reviewer /target_branch, as GitLab interprets them.

Each command decides in `execute` and writes nothing itself: metadata goes into
`ctx.updates` (applied by the merge request's update service), and the actions that are
services of their own (approve, merge, rebase) run from `ctx.after` — merge and rebase once
the note's transaction has committed, since they move refs outside any transaction.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from kiln.accounts.models import User
from kiln.core.errors import KilnError
from kiln.core.policy import can
from kiln.merge_requests import approvals, merging
from kiln.merge_requests.models import MergeRequest, MergeRequestReviewer, is_draft_title
from kiln.notes.quick_actions import QuickAction, QuickActionContext, register

log = logging.getLogger(__name__)

MR = frozenset({"MergeRequest"})


def _mr(ctx: QuickActionContext) -> MergeRequest | None:
    return ctx.noteable if isinstance(ctx.noteable, MergeRequest) else None


def _can_update(ctx: QuickActionContext) -> bool:
    mr = _mr(ctx)
    if mr is None:
        return can(ctx.actor, "create_merge_request", ctx.project)
    return bool(can(ctx.actor, "update_merge_request", mr))


def _can_admin(ctx: QuickActionContext) -> bool:
    mr = _mr(ctx)
    if mr is None:
        return can(ctx.actor, "create_merge_request", ctx.project)
    return bool(can(ctx.actor, "admin_merge_request", mr))


def _users(ctx: QuickActionContext, arg: str) -> list[int]:
    names = [token.lstrip("@") for token in arg.replace(",", " ").split() if token.strip()]
    ids: list[int] = []
    for name in names:
        if name.lower() == "me" and ctx.actor.user is not None:
            ids.append(ctx.actor.user.pk)
            continue
        found = User.objects.filter(username__iexact=name).values_list("pk", flat=True).first()
        if found is not None:
            ids.append(found)
    return ids


# --- approvals ----------------------------------------------------------------------------


def _approve_available(ctx: QuickActionContext) -> bool:
    mr = _mr(ctx)
    return mr is not None and approvals.can_approve(ctx.actor, mr)


def _approve(ctx: QuickActionContext, arg: str) -> None:
    mr = _mr(ctx)
    assert mr is not None
    ctx.after.append(lambda: approvals.approve_merge_request(actor=ctx.actor, mr=mr))
    ctx.messages.append("Approved the current merge request.")


def _unapprove_available(ctx: QuickActionContext) -> bool:
    mr = _mr(ctx)
    return (
        mr is not None
        and mr.is_open
        and approvals.approved_by(mr, ctx.actor.user_id)
        and can(ctx.actor, "approve_merge_request", mr)
    )


def _unapprove(ctx: QuickActionContext, arg: str) -> None:
    mr = _mr(ctx)
    assert mr is not None
    ctx.after.append(lambda: approvals.unapprove_merge_request(actor=ctx.actor, mr=mr))
    ctx.messages.append("Unapproved the current merge request.")


# --- merge and rebase ---------------------------------------------------------------------


def _after_commit(ctx: QuickActionContext, work: Any, what: str) -> None:
    def run() -> None:
        try:
            work()
        except KilnError as exc:
            log.info("quick action %s did not apply", what, extra={"reason": exc.reason})

    ctx.after.append(lambda: transaction.on_commit(run))


def _merge_available(ctx: QuickActionContext) -> bool:
    mr = _mr(ctx)
    return mr is not None and mr.is_open and merging.can_merge(ctx.actor, mr)


def _merge(ctx: QuickActionContext, arg: str) -> None:
    mr = _mr(ctx)
    assert mr is not None
    actor = ctx.actor
    _after_commit(
        ctx,
        lambda: merging.merge_merge_request(actor=actor, mr=mr, merge_when_pipeline_succeeds=True),
        "merge",
    )
    ctx.messages.append("Merged this merge request.")


def _rebase_available(ctx: QuickActionContext) -> bool:
    mr = _mr(ctx)
    return mr is not None and mr.is_open and can(ctx.actor, "push_code", ctx.project)


def _rebase(ctx: QuickActionContext, arg: str) -> None:
    mr = _mr(ctx)
    assert mr is not None
    actor = ctx.actor
    _after_commit(ctx, lambda: merging.rebase_merge_request(actor=actor, mr=mr), "rebase")
    ctx.messages.append("Scheduled a rebase of branch.")


# --- draft --------------------------------------------------------------------------------


def _draft_available(ctx: QuickActionContext) -> bool:
    mr = _mr(ctx)
    return _can_update(ctx) and (mr is None or mr.is_open)


def _draft(ctx: QuickActionContext, arg: str) -> None:
    ctx.updates["wip_event"] = "draft"
    ctx.messages.append("Marked this merge request as a draft.")


def _ready_available(ctx: QuickActionContext) -> bool:
    mr = _mr(ctx)
    return _can_update(ctx) and (mr is None or (mr.is_open and is_draft_title(mr.title)))


def _ready(ctx: QuickActionContext, arg: str) -> None:
    ctx.updates["wip_event"] = "ready"
    ctx.messages.append("Marked this merge request as ready.")


# --- reviewers and target branch ----------------------------------------------------------


def _assign_reviewer(ctx: QuickActionContext, arg: str) -> None:
    ids = _users(ctx, arg)
    if ids:
        ctx.updates.setdefault("add_reviewer_ids", []).extend(ids)
        ctx.messages.append("Assigned reviewers.")


def _unassign_reviewer(ctx: QuickActionContext, arg: str) -> None:
    mr = _mr(ctx)
    ids = _users(ctx, arg)
    if not arg.strip() and mr is not None:
        ids = list(
            MergeRequestReviewer.objects.filter(merge_request=mr).values_list("user_id", flat=True)
        )
    if ids:
        ctx.updates.setdefault("remove_reviewer_ids", []).extend(ids)
        ctx.messages.append("Removed reviewers.")


def _target_branch(ctx: QuickActionContext, arg: str) -> None:
    name = arg.strip().split(" ", 1)[0] if arg.strip() else ""
    if name:
        ctx.updates["target_branch"] = name
        ctx.messages.append(f"Set target branch to {name}.")


def register_commands() -> None:
    for action in (
        QuickAction(
            name="approve",
            types=MR,
            execute=_approve,
            available=_approve_available,
            explanation="Approve the current merge request.",
        ),
        QuickAction(
            name="unapprove",
            types=MR,
            execute=_unapprove,
            available=_unapprove_available,
            explanation="Unapprove the current merge request.",
        ),
        QuickAction(
            name="merge",
            types=MR,
            execute=_merge,
            available=_merge_available,
            explanation="Merge automatically (when the pipeline succeeds).",
        ),
        QuickAction(
            name="rebase",
            types=MR,
            execute=_rebase,
            available=_rebase_available,
            explanation="Rebase source branch on the target branch.",
        ),
        QuickAction(
            name="draft",
            types=MR,
            execute=_draft,
            available=_draft_available,
            explanation="Set the draft status.",
        ),
        QuickAction(
            name="ready",
            types=MR,
            execute=_ready,
            available=_ready_available,
            explanation="Set the ready status.",
        ),
        QuickAction(
            name="assign_reviewer",
            aliases=("reviewer", "request_review"),
            types=MR,
            execute=_assign_reviewer,
            available=_can_admin,
            params="@user1 @user2",
            explanation="Assign reviewers.",
        ),
        QuickAction(
            name="unassign_reviewer",
            aliases=("remove_reviewer",),
            types=MR,
            execute=_unassign_reviewer,
            available=_can_admin,
            params="@user1 @user2",
            explanation="Remove reviewers.",
        ),
        QuickAction(
            name="target_branch",
            types=MR,
            execute=_target_branch,
            available=_can_update,
            params="<Local branch name>",
            explanation="Set target branch.",
        ),
    ):
        register(action)
