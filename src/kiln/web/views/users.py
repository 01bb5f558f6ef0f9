"""A user's profile page (`/<username>`): name, avatar, bio and links (unless the profile is
private), their personal projects and recent activity, as far as the visitor may see them."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from kiln.core.policy import can
from kiln.events.queries import EventFilters, list_user_events_for
from kiln.namespaces.queries import find_namespace_by_path
from kiln.projects.queries import ProjectFilters, list_user_projects_for
from kiln.web.context import actor_for
from kiln.web.views.dashboard import event_rows, starred_ids

RECENT_EVENTS = 20
PROJECTS_SHOWN = 20


def safe_link(url: str) -> str:
    """A profile's website as a link target: only http(s) URLs (never `javascript:`)."""
    text = url.strip()
    if text.lower().startswith(("https://", "http://")) and " " not in text:
        return text
    return ""


def profile(request: HttpRequest, username: str) -> HttpResponse:
    namespace = find_namespace_by_path(username)
    person = namespace.owner if namespace is not None else None
    actor = actor_for(request)
    if person is None or not can(actor, "read_user", person):
        raise Http404(username)
    details = can(actor, "read_user_profile", person)
    context = {
        "person": person,
        "details": details,
        "website": safe_link(person.website_url) if details else "",
        "projects": [],
        "events": [],
        "starred": set(),
    }
    if details:
        projects = list(
            list_user_projects_for(
                actor, person.pk, ProjectFilters(order_by="last_activity_at", sort="desc")
            )[: PROJECTS_SHOWN + 1]
        )
        events = list(
            list_user_events_for(actor, person.pk, EventFilters()).select_related(
                "project__namespace"
            )[:RECENT_EVENTS]
        )
        context.update(
            projects=projects[:PROJECTS_SHOWN],
            more_projects=len(projects) > PROJECTS_SHOWN,
            events=event_rows(events),
            starred=starred_ids(request, projects),
        )
    return render(request, "web/users/profile.html", context)
