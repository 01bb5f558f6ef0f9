"""Moving an issue to another project (GitLab's `Issues::MoveService`)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from kiln.core.actor import Actor
from kiln.core.errors import PlainBadRequest
from kiln.core.policy import can
from kiln.events.models import EventAction
from kiln.events.services import record_event
from kiln.issues import iids, observers
from kiln.issues.models import Issue, IssueAssignee, IssueState
from kiln.issues.policies import can_set_metadata, issues_available
from kiln.issues.services import (
    issue_reference,
    mark_closed,
    render_description,
    valid_assignees,
)
from kiln.milestones.queries import find_milestone_for
from kiln.notes.models import AwardEmoji, Note
from kiln.notes.services import create_system_note
from kiln.projects.models import Project


def move_issue(*, actor: Actor, issue: Issue, to_project: Project) -> Issue:
    """Move an issue to another project (GitLab's MoveService): a copy with the labels and
    milestone of the same titles there, its notes and awards; the original is closed and
    points at the copy. 400 with GitLab's messages when not allowed."""
    if to_project.pk == issue.project_id:
        raise PlainBadRequest("Cannot move issue to project it originates from!")
    if issue.moved_to_id is not None:
        raise PlainBadRequest("Cannot move issue which already has been moved!")
    if not (
        can(actor, "admin_issue", issue)
        and can_set_metadata(actor, to_project)
        and issues_available(actor, to_project)
    ):
        raise PlainBadRequest("Cannot move issue due to insufficient permissions!")
    source_project = issue.project
    with transaction.atomic():
        now = timezone.now()
        new = Issue(
            project=to_project,
            author=issue.author,
            title=issue.title,
            description=issue.description,
            confidential=issue.confidential,
            discussion_locked=issue.discussion_locked,
            due_date=issue.due_date,
            time_estimate=issue.time_estimate,
            total_time_spent=issue.total_time_spent,
            created_at=issue.created_at,
            updated_at=now,
        )
        if issue.milestone is not None:
            new.milestone = find_milestone_for(to_project, issue.milestone.title)
        render_description(new)
        new.iid = iids.allocate_iid(to_project, "issues")
        new.save()
        titles = [lb.title for lb in issue.labels.all()]
        if titles:
            from kiln.labels.queries import find_labels_for

            new.labels.set(find_labels_for(to_project, titles))
        assignees = list(
            IssueAssignee.objects.filter(issue=issue).values_list("user_id", flat=True)
        )
        keep = valid_assignees(to_project, assignees)
        IssueAssignee.objects.bulk_create([IssueAssignee(issue=new, user_id=u) for u in keep])
        for note in Note.objects.filter(noteable_type="Issue", noteable_id=issue.pk).order_by("id"):
            note.pk = None
            note.project = to_project
            note.noteable_id = new.pk
            note.save()
        for award in AwardEmoji.objects.filter(awardable_type="Issue", awardable_id=issue.pk):
            AwardEmoji.objects.create(
                awardable_type="Issue", awardable_id=new.pk, user_id=award.user_id, name=award.name
            )
        create_system_note(
            actor=actor,
            noteable=new,
            action="moved",
            body=f"moved from {issue_reference(issue, to_project)}",
        )
        create_system_note(
            actor=actor,
            noteable=issue,
            action="moved",
            body=f"moved to {issue_reference(new, source_project)}",
        )
        if issue.state == IssueState.OPENED:
            mark_closed(actor, issue, now)
        issue.moved_to = new
        issue.updated_at = now
        issue.save()
        observers.notify_after_commit(issue, "move", actor, {"new_issue_id": new.pk})
        record_event(
            actor=actor,
            project=to_project,
            action=EventAction.CREATED,
            target_type="Issue",
            target_id=new.pk,
            target_iid=new.iid,
            target_title=new.title,
        )
    return new
