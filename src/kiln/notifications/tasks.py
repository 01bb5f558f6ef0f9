"""Background side: one task per event builds the recipients (checking access now, not when
the event happened) and sends one email to each through Django's email backend; and the
daily run that emails about issues due tomorrow."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from kiln.accounts.models import User
from kiln.ci.periodic import claim_run
from kiln.issues.models import Issue, IssueState
from kiln.notifications import emails, pipelines, projects, recipients
from kiln.notifications.events import Event

log = logging.getLogger(__name__)

ISSUE_DUE_RUN = "notifications.issue_due.day"


def _messages(event: Event) -> list[EmailMessage]:
    if event.target_type == "Pipeline":
        return pipelines.pipeline_messages(event)
    if event.target_type == "Project":
        return projects.moved_project_messages(event)
    ctx = recipients.context_for(event)
    if ctx is None:
        return []
    chosen = recipients.build(ctx)
    if not chosen:
        return []
    # Nobody acted on an issue coming due: its author signs the email (as on GitLab).
    sender_id = event.actor_id
    if sender_id is None and event.action == "due":
        sender_id = getattr(ctx.target, "author_id", None)
    actor = User.objects.filter(pk=sender_id).first() if sender_id else None
    return [emails.build_message(ctx, recipient, actor) for recipient in chosen]


def deliver(event: Event) -> int:
    """Send the event's emails now; returns how many were sent."""
    messages = _messages(event)
    if not messages:
        return 0
    with get_connection() as connection:
        sent = connection.send_messages(messages)
    return int(sent or 0)


@task()
def send_notification(event: dict[str, Any]) -> int:
    return deliver(Event.from_dict(event))


def notify_after_commit(event: Event) -> None:
    """Queue the event's emails once the current transaction commits. A failure to queue is
    logged, never raised into the change that caused it."""
    data = event.as_dict()

    def enqueue() -> None:
        try:
            send_notification.enqueue(data)
        except Exception:
            log.exception(
                "could not queue a notification",
                extra={"action": data["action"], "target": data["target_id"]},
            )

    transaction.on_commit(enqueue)


def _claim_day(now: dt.datetime) -> bool:
    """Whether this run is the first of the day (its claim moves to the next midnight), so
    the hourly schedule emails once a day."""
    midnight = dt.datetime.combine(
        timezone.localdate(now) + dt.timedelta(days=1),
        dt.time.min,
        tzinfo=timezone.get_current_timezone(),
    )
    return claim_run(ISSUE_DUE_RUN, now, midnight)


@task()
def send_issue_due_notifications() -> int:
    """Once a day: one `due` email task per open issue due tomorrow (GitLab's
    IssueDueSchedulerWorker). Returns how many issues were queued."""
    now = timezone.now()
    if not _claim_day(now):
        return 0
    tomorrow = timezone.localdate(now) + dt.timedelta(days=1)
    issue_ids = list(
        Issue.objects.filter(state=IssueState.OPENED, due_date=tomorrow)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for issue_id in issue_ids:
        event = Event(action="due", target_type="Issue", target_id=issue_id, actor_id=None)
        try:
            send_notification.enqueue(event.as_dict())
        except Exception:
            log.exception("could not queue a due date notification", extra={"target": issue_id})
    return len(issue_ids)
