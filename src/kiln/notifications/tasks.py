"""Background side: one task per event builds the recipients (checking access now, not when
the event happened) and sends one email to each through Django's email backend."""

from __future__ import annotations

import logging
from typing import Any

from django.core.mail import get_connection
from django.db import transaction
from django_tasks import task

from kiln.accounts.models import User
from kiln.notifications import emails, recipients
from kiln.notifications.events import Event

log = logging.getLogger(__name__)


def deliver(event: Event) -> int:
    """Send the event's emails now; returns how many were sent."""
    ctx = recipients.context_for(event)
    if ctx is None:
        return 0
    chosen = recipients.build(ctx)
    if not chosen:
        return 0
    actor = User.objects.filter(pk=event.actor_id).first() if event.actor_id else None
    messages = [emails.build_message(ctx, recipient, actor) for recipient in chosen]
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
