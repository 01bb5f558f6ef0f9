"""What notifications plug into the packages below at start-up: the issue and merge request
listeners, the note listener, and the namespace hook for deleted groups."""

from __future__ import annotations

import logging
from typing import Any

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
from kiln.notifications.services import delete_settings_of_namespaces
from kiln.notifications.tasks import notify_after_commit, send_notification

log = logging.getLogger(__name__)

# Listener actions that mail someone (the others, like "update", do not).
_ISSUE_ACTIONS = {"open", "close", "reopen", "reassign", "mention"}
_MR_ACTIONS = {"open", "close", "reopen", "merge", "reassign", "review_request", "mention"}


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
    _send(_event("MergeRequest", mr.pk, action, actor, changes))


def on_note(actor: Actor, note: Note, noteable: Any) -> None:
    """New comments (not system notes) on issues and merge requests, after commit."""
    if note.system or note.noteable_id is None:
        return
    nt = noteables.type_of(noteable)
    if nt.name not in ("Issue", "MergeRequest"):
        return
    notify_after_commit(
        Event(
            action="note",
            target_type=nt.name,
            target_id=note.noteable_id,
            actor_id=actor.user_id,
            note_id=note.pk,
        )
    )


register_issue_listener(on_issue)
register_merge_request_listener(on_merge_request)
register_note_listener(on_note)
register_before_namespace_destroy(delete_settings_of_namespaces)
