"""Issue and note webhooks, with GitLab's payloads (`Gitlab::DataBuilder::Issuable`, `Note`).

Payloads are built once the transaction commits, from the committed rows, and handed to
kiln.webhooks; a confidential issue (and any note on one, and internal notes) goes to the
confidential hook scopes only, as GitLab does.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction

from kiln.core.actor import Actor
from kiln.core.urls import base_url
from kiln.issues.models import Issue, IssueAssignee
from kiln.notes.models import Note
from kiln.projects.models import Project

log = logging.getLogger(__name__)

_STATE_IDS = {"opened": 1, "closed": 2}


def _ts(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _label_attrs(issue: Issue) -> list[dict[str, Any]]:
    return [
        {
            "id": label.pk,
            "title": label.title,
            "color": label.color,
            "project_id": label.project_id,
            "created_at": _ts(label.created_at),
            "updated_at": _ts(label.updated_at),
            "template": False,
            "description": label.description or None,
            "type": "ProjectLabel" if label.project_id else "GroupLabel",
            "group_id": label.group_id,
        }
        for label in issue.labels.order_by("title")
    ]


def issue_hook_attrs(issue: Issue) -> dict[str, Any]:
    """GitLab's `Issue#hook_attrs`."""
    assignee_ids = list(
        IssueAssignee.objects.filter(issue=issue).order_by("id").values_list("user_id", flat=True)
    )
    url = f"{base_url()}/{issue.project.full_path}/-/issues/{issue.iid}"
    return {
        "author_id": issue.author_id,
        "closed_at": _ts(issue.closed_at),
        "confidential": issue.confidential,
        "created_at": _ts(issue.created_at),
        "description": issue.description,
        "discussion_locked": issue.discussion_locked,
        "due_date": issue.due_date.isoformat() if issue.due_date else None,
        "id": issue.pk,
        "iid": issue.iid,
        "last_edited_at": _ts(issue.last_edited_at),
        "last_edited_by_id": issue.last_edited_by_id,
        "milestone_id": issue.milestone_id,
        "moved_to_id": issue.moved_to_id,
        "duplicated_to_id": issue.duplicated_to_id,
        "project_id": issue.project_id,
        "relative_position": None,
        "state_id": _STATE_IDS.get(issue.state, 1),
        "time_estimate": issue.time_estimate,
        "title": issue.title,
        "updated_at": _ts(issue.updated_at),
        "updated_by_id": issue.updated_by_id,
        "type": "Issue",
        "url": url,
        "total_time_spent": issue.total_time_spent,
        "time_change": 0,
        "human_total_time_spent": None,
        "human_time_change": None,
        "human_time_estimate": None,
        "assignee_ids": assignee_ids,
        "assignee_id": assignee_ids[0] if assignee_ids else None,
        "labels": _label_attrs(issue),
        "state": issue.state,
        "severity": "unknown",
    }


def issue_payload(actor: Actor, issue: Issue, action: str) -> dict[str, Any]:
    """GitLab's issue hook payload (`object_kind: issue`)."""
    from kiln.webhooks import payloads

    attrs = issue_hook_attrs(issue)
    attrs["action"] = action
    assignees = [
        payloads.user_hook_attrs(link.user)
        for link in IssueAssignee.objects.filter(issue=issue).select_related("user").order_by("id")
    ]
    data: dict[str, Any] = {
        "object_kind": "issue",
        "event_type": "confidential_issue" if issue.confidential else "issue",
        "user": payloads.user_hook_attrs(actor.user),
        "project": payloads.project_hook_attrs(issue.project),
        "object_attributes": attrs,
        "labels": attrs["labels"],
        "changes": {},
        "repository": _repository(issue),
        "assignees": assignees,
    }
    if assignees:
        data["assignee"] = assignees[0]
    return data


def _repository(issue: Issue) -> dict[str, Any]:
    from kiln.webhooks import payloads

    return {
        "name": issue.project.name,
        "url": payloads.project_hook_attrs(issue.project)["url"],
        "description": issue.project.description or None,
        "homepage": payloads.project_web_url(issue.project),
    }


def _send(actor: Actor, issue_id: int, action: str) -> None:
    from kiln.webhooks import triggers

    issue = (
        Issue.objects.select_related("project", "project__namespace").filter(pk=issue_id).first()
    )
    if issue is None:
        return
    trigger = "confidential_issue_hooks" if issue.confidential else "issue_hooks"
    triggers.execute_project_hooks(
        project=issue.project, data=issue_payload(actor, issue, action), trigger=trigger
    )


def issue_hook(actor: Actor, issue: Issue, action: str) -> None:
    """Queue the issue hook (`open`, `close`, `reopen`, `update`) for after commit."""
    if action == "delete":
        return
    issue_id = issue.pk

    def send() -> None:
        try:
            _send(actor, issue_id, action)
        except Exception:  # a hook must never fail the write that triggered it
            log.exception("issue hook failed", extra={"issue_id": issue_id})

    transaction.on_commit(send)


def note_payload(actor: Actor, note: Note, issue: Issue) -> dict[str, Any]:
    """GitLab's note hook payload for a comment on an issue (`object_kind: note`)."""
    from kiln.webhooks import payloads

    url = f"{base_url()}/{issue.project.full_path}/-/issues/{issue.iid}#note_{note.pk}"
    confidential = note.internal or issue.confidential
    return {
        "object_kind": "note",
        "event_type": "confidential_note" if confidential else "note",
        "user": payloads.user_hook_attrs(actor.user),
        "project_id": issue.project_id,
        "project": payloads.project_hook_attrs(issue.project),
        "object_attributes": {
            "attachment": None,
            "author_id": note.author_id,
            "change_position": None,
            "commit_id": None,
            "created_at": _ts(note.created_at),
            "discussion_id": note.discussion_id,
            "id": note.pk,
            "line_code": None,
            "note": note.body,
            "noteable_id": issue.pk,
            "noteable_type": "Issue",
            "original_position": None,
            "position": None,
            "project_id": issue.project_id,
            "resolved_at": None,
            "resolved_by_id": None,
            "resolved_by_push": None,
            "st_diff": None,
            "system": note.system,
            "type": note.note_type,
            "updated_at": _ts(note.updated_at),
            "updated_by_id": note.updated_by_id,
            "description": note.body,
            "url": url,
            "action": "create",
            "internal": note.internal,
            "confidential": note.internal,
        },
        "repository": _repository(issue),
        "issue": issue_hook_attrs(issue),
    }


def note_hook(actor: Actor, note: Note, issue: Issue) -> None:
    """Queue the note hook of a comment on an issue, for after commit."""
    note_id, issue_id = note.pk, issue.pk

    def send() -> None:
        from kiln.webhooks import triggers

        try:
            saved = Note.objects.filter(pk=note_id).first()
            target = (
                Issue.objects.select_related("project", "project__namespace")
                .filter(pk=issue_id)
                .first()
            )
            if saved is None or target is None:
                return
            confidential = saved.internal or target.confidential
            trigger = "confidential_note_hooks" if confidential else "note_hooks"
            data = note_payload(actor, saved, target)
            triggers.execute_project_hooks(project=target.project, data=data, trigger=trigger)
        except Exception:  # a hook must never fail the write that triggered it
            log.exception("note hook failed", extra={"note_id": note_id})

    transaction.on_commit(send)


# -- samples for the hook test endpoint --------------------------------------------------------


def _sample_issue(project: Project, actor: Actor) -> dict[str, Any]:
    from kiln.webhooks.payloads import TestDataUnavailable

    issue = (
        Issue.objects.select_related("project", "project__namespace")
        .filter(project=project)
        .order_by("-id")
        .first()
    )
    if issue is None:
        raise TestDataUnavailable("Ensure the project has issues.")
    return issue_payload(actor, issue, "open")


def _sample_note(project: Project, actor: Actor) -> dict[str, Any]:
    from kiln.webhooks.payloads import TestDataUnavailable

    note = (
        Note.objects.filter(project=project, noteable_type="Issue", system=False)
        .order_by("-id")
        .first()
    )
    issue = None
    if note is not None and note.noteable_id is not None:
        issue = (
            Issue.objects.select_related("project", "project__namespace")
            .filter(pk=note.noteable_id)
            .first()
        )
    if note is None or issue is None:
        raise TestDataUnavailable("Ensure the project has notes.")
    return note_payload(actor, note, issue)


def register_samples() -> None:
    from kiln.webhooks.payloads import register_sample

    for trigger in ("issues_events", "confidential_issues_events"):
        register_sample(trigger, _sample_issue)
    for trigger in ("note_events", "confidential_note_events"):
        register_sample(trigger, _sample_note)
