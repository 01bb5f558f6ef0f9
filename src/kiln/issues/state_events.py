"""Resource state events: an issuable opened, closed, reopened, merged or locked.

Issues record theirs here; merge requests call `record_state_event` too (with
`issuable_type="MergeRequest"`), inside their transaction."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from kiln.core.actor import Actor
from kiln.issues.models import ResourceStateEvent


def record_state_event(
    *,
    actor: Actor | None,
    issuable_type: str,
    issuable_id: int,
    state: str,
    source_commit: str = "",
    source_merge_request_id: int | None = None,
) -> ResourceStateEvent:
    return ResourceStateEvent.objects.create(
        issuable_type=issuable_type,
        issuable_id=issuable_id,
        user=actor.user if actor is not None else None,
        state=state,
        source_commit=source_commit,
        source_merge_request_id=source_merge_request_id,
        created_at=timezone.now(),
    )


def list_state_events(issuable_type: str, issuable_id: int) -> QuerySet[ResourceStateEvent]:
    return (
        ResourceStateEvent.objects.filter(issuable_type=issuable_type, issuable_id=issuable_id)
        .select_related("user")
        .order_by("id")
    )
