"""Recording activity events. `record_event` is called by the issue, note and merge request
services inside their transaction; `record_pushes` is the push listener (after commit)."""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from kiln.core.actor import Actor
from kiln.events.models import Event, EventAction
from kiln.projects.models import Project
from kiln.repositories.models import Push

log = logging.getLogger(__name__)

BLANK_SHA = "0" * 40


def record_event(
    *,
    actor: Actor | None,
    project: Project | None,
    action: str,
    target_type: str = "",
    target_id: int | None = None,
    target_iid: int | None = None,
    target_title: str = "",
    subject_type: str = "",
    subject_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    """One activity event. `subject_*` names what decides who sees it (defaults to the
    target): a note's noteable, e.g. ("Issue", 12), so a note on a confidential issue is as
    hidden as the issue."""
    if action not in EventAction.values:
        raise ValueError(f"unknown event action {action!r}")
    return Event.objects.create(
        project=project,
        author=actor.user if actor is not None else None,
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_iid=target_iid,
        target_title=target_title[:255],
        subject_type=subject_type or target_type,
        subject_id=subject_id if subject_type else target_id,
        data=data,
        created_at=timezone.now(),
    )


def _push_data(push: Push) -> dict[str, Any]:
    if push.before == BLANK_SHA:
        action = "created"
    elif push.after == BLANK_SHA:
        action = "removed"
    else:
        action = "pushed"
    commits = push.commits or []
    title = str(commits[0].get("title", "")) if commits else ""
    return {
        "commit_count": push.commit_count,
        "action": action,
        "ref_type": "tag" if push.is_tag else "branch",
        "commit_from": None if push.before == BLANK_SHA else push.before,
        "commit_to": None if push.after == BLANK_SHA else push.after,
        "ref": push.ref_name,
        "commit_title": title,
        "ref_count": None,
    }


def record_pushes(pushes: list[Push]) -> None:
    """Push listener: one "pushed" event per updated ref."""
    rows = []
    for push in pushes:
        if push.author_id is None:
            continue
        rows.append(
            Event(
                project_id=push.project_id,
                author_id=push.author_id,
                action=EventAction.PUSHED,
                subject_type="Push",
                data=_push_data(push),
                created_at=push.created_at,
            )
        )
    if rows:
        Event.objects.bulk_create(rows)
