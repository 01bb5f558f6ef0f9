"""Resource label events: the history of labels added to and removed from an issuable.

`record_label_changes` is called by the issue and merge request services (inside their
transaction) with the labels that changed; `list_label_events` reads them back for
`/resource_label_events`."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import QuerySet
from django.utils import timezone

from kiln.core.actor import Actor
from kiln.labels.models import Label, ResourceLabelEvent


def record_label_changes(
    *,
    actor: Actor,
    issuable_type: str,
    issuable_id: int,
    added: Sequence[Label] = (),
    removed: Sequence[Label] = (),
) -> list[ResourceLabelEvent]:
    now = timezone.now()
    rows = [
        ResourceLabelEvent(
            issuable_type=issuable_type,
            issuable_id=issuable_id,
            user=actor.user,
            label=label,
            action=action,
            created_at=now,
        )
        for action, labels in (("add", added), ("remove", removed))
        for label in labels
    ]
    return ResourceLabelEvent.objects.bulk_create(rows) if rows else []


def list_label_events(issuable_type: str, issuable_id: int) -> QuerySet[ResourceLabelEvent]:
    return (
        ResourceLabelEvent.objects.filter(issuable_type=issuable_type, issuable_id=issuable_id)
        .select_related("user", "label")
        .order_by("id")
    )
