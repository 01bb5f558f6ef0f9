"""Links between issues (`relates_to`, `blocks`, `is_blocked_by`; GitLab's
`IssueLinks::CreateService` and `DestroyService`), each change noted on both issues."""

from __future__ import annotations

from django.db import transaction

from kiln.core.actor import Actor
from kiln.core.errors import Conflict, Forbidden, PlainBadRequest
from kiln.core.policy import can
from kiln.issues.models import Issue, IssueLink, IssueLinkType
from kiln.issues.services import issue_reference
from kiln.notes.services import create_system_note


def link_issues(
    *, actor: Actor, source: Issue, target: Issue, link_type: str = IssueLinkType.RELATES_TO
) -> IssueLink:
    """Relate two issues (`blocks` / `is_blocked_by` as given). Needs to be able to update
    the source issue (GitLab's `admin_issue_relation`) and read the target."""
    if not can(actor, "update_issue", source) and not can(actor, "admin_issue", source):
        raise Forbidden()
    if source.pk == target.pk:
        raise PlainBadRequest("Cannot link an issue to itself")
    if link_type not in IssueLinkType.values:
        raise PlainBadRequest("Link type is invalid")
    stored_source, stored_target, stored_type = source, target, link_type
    if link_type == IssueLinkType.IS_BLOCKED_BY:
        stored_source, stored_target, stored_type = target, source, IssueLinkType.BLOCKS
    exists = IssueLink.objects.filter(source__in=[source, target], target__in=[source, target])
    if exists.exists():
        raise Conflict("Issue(s) already assigned")
    with transaction.atomic():
        link = IssueLink.objects.create(
            source=stored_source, target=stored_target, link_type=stored_type
        )
        verb = {
            IssueLinkType.RELATES_TO: "as related to",
            IssueLinkType.BLOCKS: "as blocking",
            IssueLinkType.IS_BLOCKED_BY: "as blocked by",
        }[IssueLinkType(link_type)]
        reverse = {
            IssueLinkType.RELATES_TO: "as related to",
            IssueLinkType.BLOCKS: "as blocked by",
            IssueLinkType.IS_BLOCKED_BY: "as blocking",
        }[IssueLinkType(link_type)]
        create_system_note(
            actor=actor,
            noteable=source,
            action="relate",
            body=f"marked this issue {verb} {issue_reference(target, source.project)}",
        )
        create_system_note(
            actor=actor,
            noteable=target,
            action="relate",
            body=f"marked this issue {reverse} {issue_reference(source, target.project)}",
        )
    return link


def unlink_issues(*, actor: Actor, issue: Issue, link: IssueLink) -> IssueLink:
    if not can(actor, "update_issue", issue) and not can(actor, "admin_issue", issue):
        raise Forbidden()
    with transaction.atomic():
        other = link.target if link.source_id == issue.pk else link.source
        create_system_note(
            actor=actor,
            noteable=issue,
            action="unrelate",
            body=f"removed the relation with {issue_reference(other, issue.project)}",
        )
        create_system_note(
            actor=actor,
            noteable=other,
            action="unrelate",
            body=f"removed the relation with {issue_reference(issue, other.project)}",
        )
        link.delete()
    return link
