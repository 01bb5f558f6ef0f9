"""Resource milestone events: the history of milestones set on and removed from an issuable.
Issues and merge requests call `record_milestone_change` inside their transaction."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from kiln.core.actor import Actor
from kiln.milestones.models import Milestone, ResourceMilestoneEvent


def record_milestone_change(
    *,
    actor: Actor,
    issuable_type: str,
    issuable_id: int,
    old: Milestone | None,
    new: Milestone | None,
) -> ResourceMilestoneEvent | None:
    """An `add` event for the new milestone, or a `remove` event when it was cleared."""
    if (old.pk if old else None) == (new.pk if new else None):
        return None
    milestone = new or old
    return ResourceMilestoneEvent.objects.create(
        issuable_type=issuable_type,
        issuable_id=issuable_id,
        user=actor.user,
        milestone=milestone,
        action="add" if new is not None else "remove",
        state=milestone.state if milestone else "active",
        created_at=timezone.now(),
    )


def list_milestone_events(issuable_type: str, issuable_id: int) -> QuerySet[ResourceMilestoneEvent]:
    return (
        ResourceMilestoneEvent.objects.filter(issuable_type=issuable_type, issuable_id=issuable_id)
        .select_related("user", "milestone")
        .order_by("id")
    )
