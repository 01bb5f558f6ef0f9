"""Reads of activity events, restricted to what the viewer may see.

An event is visible when its project is, and when the rule registered for its subject type
allows it: packages register `fn(actor) -> Q` over Event (issues hide events about
confidential issues from those who cannot read them; pushes need code access). A subject
type without a rule follows the project.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from kiln.core.access import AccessLevel, Visibility
from kiln.core.actor import Actor
from kiln.events.models import Event
from kiln.projects.models import Project
from kiln.projects.queries import member_projects_q, visible_projects_q

SubjectRule = Callable[[Actor], Q]
_RULES: dict[str, SubjectRule] = {}

# GitLab's `target_type` filter values -> stored target types.
TARGET_TYPES: dict[str, tuple[str, ...]] = {
    "issue": ("Issue",),
    "milestone": ("Milestone",),
    "merge_request": ("MergeRequest",),
    "note": ("Note", "DiscussionNote", "DiffNote"),
    "project": ("Project",),
    "snippet": ("Snippet",),
    "user": ("User",),
    "wiki": ("WikiPage::Meta",),
    "design": ("DesignManagement::Design",),
    "epic": ("Epic",),
}


def register_subject_visibility(subject_type: str, rule: SubjectRule) -> None:
    _RULES[subject_type] = rule


def code_readable_projects_q(actor: Actor) -> Q:
    """Projects whose code the actor may read (GitLab's `download_code`), as a Q on Project."""
    if actor.is_admin:
        return ~Q(repository_access_level="disabled")
    open_code = Q(repository_access_level="enabled") & Q(visibility_level__gte=Visibility.INTERNAL)
    if actor.user is None or actor.user.external:
        open_code = Q(repository_access_level="enabled") & Q(visibility_level=Visibility.PUBLIC)
    members = member_projects_q(actor, AccessLevel.REPORTER) & ~Q(
        repository_access_level="disabled"
    )
    return (open_code & visible_projects_q(actor)) | members


def _push_rule(actor: Actor) -> Q:
    return Q(project_id__in=Project.objects.filter(code_readable_projects_q(actor)).values("pk"))


register_subject_visibility("Push", _push_rule)


def visible_events_q(actor: Actor) -> Q:
    q = Q(project_id__in=Project.objects.filter(visible_projects_q(actor)).values("pk"))
    if actor.is_admin:
        return q
    ruled = Q(pk__in=[])
    for subject_type, rule in _RULES.items():
        ruled |= Q(subject_type=subject_type) & rule(actor)
    unruled = ~Q(subject_type__in=list(_RULES))
    return q & (ruled | unruled)


@dataclass
class EventFilters:
    action: str | None = None
    target_type: str | None = None
    before: dt.date | None = None
    after: dt.date | None = None
    sort: str = "desc"


def _filtered(qs: QuerySet[Event], f: EventFilters) -> QuerySet[Event]:
    if f.action:
        qs = qs.filter(action=f.action)
    if f.target_type:
        qs = qs.filter(target_type__in=TARGET_TYPES.get(f.target_type, ()))
    if f.before is not None:
        qs = qs.filter(created_at__date__lt=f.before)
    if f.after is not None:
        qs = qs.filter(created_at__date__gt=f.after)
    order = "id" if f.sort == "asc" else "-id"
    return qs.select_related("author", "project").order_by(order)


def list_events_for(
    actor: Actor, filters: EventFilters, *, scope_all: bool = False
) -> QuerySet[Event]:
    """`GET /events`: the actor's own events, or with `scope=all` everything visible in the
    projects the actor is a member of (GitLab's authorized projects)."""
    qs = Event.objects.filter(visible_events_q(actor))
    if scope_all:
        qs = qs.filter(project_id__in=Project.objects.filter(member_projects_q(actor)).values("pk"))
    else:
        qs = qs.filter(author_id=actor.user_id)
    return _filtered(qs, filters)


def list_user_events_for(actor: Actor, user_id: int, filters: EventFilters) -> QuerySet[Event]:
    """`GET /users/:id/events`: what the user did, as far as the actor may see it."""
    qs = Event.objects.filter(visible_events_q(actor), author_id=user_id)
    return _filtered(qs, filters)


def list_project_events_for(
    actor: Actor, project: Project, filters: EventFilters
) -> QuerySet[Event]:
    """`GET /projects/:id/events` (the caller checked the actor may read the project)."""
    qs = Event.objects.filter(visible_events_q(actor), project_id=project.pk)
    return _filtered(qs, filters)
