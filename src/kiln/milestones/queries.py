"""Reads of milestones. Callers pass a project or group the actor may already read and
check `can_read_milestones` (the API does); these add GitLab's MilestonesFinder filters."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from kiln.core.errors import NotFound
from kiln.milestones.models import Milestone
from kiln.namespaces.models import Namespace
from kiln.projects.models import Project

Parent = Project | Namespace


def group_and_ancestor_ids(namespace: Namespace) -> list[int]:
    if not namespace.is_group:
        return []
    return [int(i) for i in namespace.traversal_ids.split("/") if i] or [namespace.pk]


def available_milestones_q(project: Project) -> Q:
    """Milestones an issuable of `project` may be given: its own and its groups'."""
    q = Q(project_id=project.pk)
    groups = group_and_ancestor_ids(project.namespace)
    if groups:
        q |= Q(group_id__in=groups)
    return q


@dataclass
class MilestoneFilters:
    state: str = "all"
    iids: list[int] = field(default_factory=list)
    title: str | None = None
    search: str | None = None
    include_ancestors: bool = False
    updated_before: dt.datetime | None = None
    updated_after: dt.datetime | None = None


def list_milestones(parent: Parent, filters: MilestoneFilters | None = None) -> QuerySet[Milestone]:
    f = filters or MilestoneFilters()
    if isinstance(parent, Project):
        q = Q(project_id=parent.pk)
        if f.include_ancestors:
            groups = group_and_ancestor_ids(parent.namespace)
            if groups:
                q |= Q(group_id__in=groups)
    elif f.include_ancestors:
        q = Q(group_id__in=group_and_ancestor_ids(parent))
    else:
        q = Q(group_id=parent.pk)
    qs = Milestone.objects.filter(q)
    if f.state in ("active", "closed"):
        qs = qs.filter(state=f.state)
    if f.iids:
        qs = qs.filter(iid__in=f.iids)
    if f.title is not None:
        qs = qs.filter(title=f.title)
    if f.search:
        qs = qs.filter(Q(title__icontains=f.search) | Q(description__icontains=f.search))
    if f.updated_before is not None:
        qs = qs.filter(updated_at__lt=f.updated_before)
    if f.updated_after is not None:
        qs = qs.filter(updated_at__gt=f.updated_after)
    # GitLab's MilestonesFinder orders by due date, then title (nulls last), then id.
    return qs.order_by("due_date", "title", "id")


def get_milestone(parent: Parent, milestone_id: int | str) -> Milestone:
    """A milestone of `parent` by its global id ("404 Not found" otherwise, as GitLab's
    `parent.milestones.find`)."""
    text = str(milestone_id)
    if not text.isdigit() or len(text) > 18:
        raise NotFound()
    qs = Milestone.objects.filter(pk=int(text))
    qs = (
        qs.filter(project_id=parent.pk)
        if isinstance(parent, Project)
        else qs.filter(group_id=parent.pk)
    )
    milestone = qs.first()
    if milestone is None:
        raise NotFound()
    return milestone


def find_milestone_for(project: Project, title_or_id: str | int) -> Milestone | None:
    """A milestone `project` may use by title (or id for an int), for `/milestone %x` and
    the `milestone` parameter."""
    qs = Milestone.objects.filter(available_milestones_q(project))
    if isinstance(title_or_id, int):
        return qs.filter(pk=title_or_id).first()
    return qs.filter(title=title_or_id).order_by("group_id", "id").first()


def milestone_available(project: Project, milestone_id: int) -> Milestone | None:
    return Milestone.objects.filter(available_milestones_q(project), pk=milestone_id).first()


def milestones_by_title(project: Project, titles: Sequence[str]) -> dict[str, Milestone]:
    rows = Milestone.objects.filter(available_milestones_q(project), title__in=list(titles))
    return {m.title: m for m in rows.order_by("-id")}
