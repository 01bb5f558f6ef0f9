"""What notifications plug into the packages below at start-up: the issue and merge request
listeners, the note listener, the pipeline listener of CI, the moved-project listener, the
daily due-date run of the worker's periodic scheduler, and the namespace hook for deleted
groups."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from kiln.ci.models import Pipeline
from kiln.ci.observers import register_pipeline_listener
from kiln.ci.periodic import Periodic, register_periodic
from kiln.core.actor import Actor
from kiln.issues.models import Issue
from kiln.issues.observers import register_issue_listener
from kiln.merge_requests.hooks import register_merge_request_listener
from kiln.merge_requests.models import MergeRequest
from kiln.namespaces.hooks import register_before_namespace_destroy
from kiln.notes import noteables
from kiln.notes.models import Note
from kiln.notes.services import register_note_listener
from kiln.notifications.events import Event
from kiln.notifications.pipelines import notification_status
from kiln.notifications.services import delete_settings_of_namespaces
from kiln.notifications.tasks import (
    notify_after_commit,
    send_issue_due_notifications,
    send_notification,
)
from kiln.projects.models import Project
from kiln.projects.observers import register_project_moved_listener

log = logging.getLogger(__name__)

# Listener actions that mail someone (the others, like "update", do not).
_ISSUE_ACTIONS = {"open", "close", "reopen", "reassign", "mention"}
_MR_ACTIONS = {
    "open": "open",
    "close": "close",
    "reopen": "reopen",
    "merge": "merge",
    "reassign": "reassign",
    "review_request": "review_request",
    "mention": "mention",
    "approved": "approve",
    "unapproved": "unapprove",
    "merge_when_pipeline_succeeds": "merge_when_pipeline_succeeds",
}


def _ids(values: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in (values or ()) if v is not None)


def _event(
    target_type: str, target_id: int, action: str, actor: Actor | None, changes: dict[str, Any]
) -> Event:
    if action == "mention":
        previous: tuple[int, ...] = ()
        current = _ids(changes.get("user_ids"))
    else:
        previous, current = _ids(changes.get("previous")), _ids(changes.get("current"))
    return Event(
        action=action,
        target_type=target_type,
        target_id=target_id,
        actor_id=actor.user_id if actor is not None else None,
        previous_ids=previous,
        current_ids=current,
    )


def _send(event: Event) -> None:
    # Listeners run after the change committed: queue the task at once.
    try:
        send_notification.enqueue(event.as_dict())
    except Exception:
        log.exception("could not queue a notification", extra={"action": event.action})


def on_issue(issue: Issue, action: str, actor: Actor, changes: dict[str, Any]) -> None:
    if action == "move" and changes.get("new_issue_id") is not None:
        _send(
            Event(
                action="move",
                target_type="Issue",
                target_id=issue.pk,
                actor_id=actor.user_id,
                extra={"new_issue_id": int(changes["new_issue_id"])},
            )
        )
        return
    if action not in _ISSUE_ACTIONS:
        return
    _send(_event("Issue", issue.pk, action, actor, changes))


def _pushed_commits(mr: MergeRequest) -> list[dict[str, str]]:
    versions = list(mr.diffs.order_by("-id")[:2])
    if not versions:
        return []
    before = {c.get("id") for c in versions[1].commits} if len(versions) > 1 else set()
    return [
        {
            "short_id": str(c.get("id", ""))[:8],
            "title": str(c.get("message", "")).split("\n", 1)[0],
        }
        for c in versions[0].commits
        if c.get("id") not in before
    ]


def on_merge_request(
    mr: MergeRequest, action: str, actor: Actor | None, changes: dict[str, Any]
) -> None:
    if action == "update" and "oldrev" in changes:
        event = _event("MergeRequest", mr.pk, "push", actor, {})
        commits = _pushed_commits(mr)
        if commits:
            _send(
                Event(
                    action=event.action,
                    target_type=event.target_type,
                    target_id=event.target_id,
                    actor_id=event.actor_id,
                    extra={"commits": commits[:100]},
                )
            )
        return
    if action not in _MR_ACTIONS:
        return
    _send(_event("MergeRequest", mr.pk, _MR_ACTIONS[action], actor, changes))


def on_note(actor: Actor, note: Note, noteable: Any) -> None:
    """New comments (not system notes) on issues, merge requests and commits, after
    commit."""
    if note.system:
        return
    nt = noteables.type_of(noteable)
    if nt.name == "Commit" and note.commit_id:
        target_id, sha = note.project_id, note.commit_id
    elif nt.name in ("Issue", "MergeRequest") and note.noteable_id is not None:
        target_id, sha = note.noteable_id, ""
    else:
        return
    notify_after_commit(
        Event(
            action="note",
            target_type=nt.name,
            target_id=target_id,
            actor_id=actor.user_id,
            note_id=note.pk,
            target_sha=sha,
        )
    )


def on_pipeline_status(pipeline: Pipeline, status: str) -> None:
    """A pipeline reached `status` (after commit): queue its email, if one is due."""
    which = notification_status(pipeline, status)
    if which is not None:
        _send(Event(action=which, target_type="Pipeline", target_id=pipeline.pk, actor_id=None))


def on_project_moved(project: Project, old_full_path: str, actor: Actor) -> None:
    """A project was transferred or got a new path (after commit): email its maintainers."""
    _send(
        Event(
            action="moved",
            target_type="Project",
            target_id=project.pk,
            actor_id=actor.user_id,
            extra={"old_path": old_full_path},
        )
    )


register_issue_listener(on_issue)
register_merge_request_listener(on_merge_request)
register_note_listener(on_note)
register_pipeline_listener(on_pipeline_status)
register_project_moved_listener(on_project_moved)
# Hourly; the task itself runs once a day (see `send_issue_due_notifications`).
register_periodic(
    Periodic("notifications.issue_due", dt.timedelta(hours=1), send_issue_due_notifications.enqueue)
)
register_before_namespace_destroy(delete_settings_of_namespaces)
