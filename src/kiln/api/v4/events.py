"""API v4: activity events (GitLab's `lib/api/events.rb`): the caller's own (`/events`, or
every visible event of their projects with `scope=all`), a user's, a project's."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema

from kiln.accounts.models import User
from kiln.api.v4.auth import actor_of, require_user
from kiln.api.v4.pagination import paginated
from kiln.api.v4.params import PathStr
from kiln.api.v4.presenters.events import event_entities
from kiln.core.errors import NotFound
from kiln.core.policy import can
from kiln.events import queries
from kiln.projects.queries import get_project_for

router = Router(tags=["events"])

Action = Literal[
    "created",
    "updated",
    "closed",
    "reopened",
    "pushed",
    "commented",
    "merged",
    "joined",
    "left",
    "destroyed",
    "expired",
    "approved",
]
TargetType = Literal[
    "issue",
    "milestone",
    "merge_request",
    "note",
    "project",
    "snippet",
    "user",
    "wiki",
    "design",
    "epic",
]


class EventQuery(Schema):
    action: Action | None = None
    target_type: TargetType | None = None
    before: dt.date | None = None
    after: dt.date | None = None
    sort: Literal["asc", "desc"] = "desc"
    scope: Literal["all"] | None = None


def _filters(query: EventQuery) -> queries.EventFilters:
    return queries.EventFilters(
        action=query.action,
        target_type=query.target_type,
        before=query.before,
        after=query.after,
        sort=query.sort,
    )


@router.get("/events")
def list_events(
    request: HttpRequest, response: HttpResponse, query: Query[EventQuery]
) -> list[dict[str, Any]]:
    actor = require_user(request)
    qs = queries.list_events_for(actor, _filters(query), scope_all=query.scope == "all")
    return paginated(request, response, qs, lambda page: event_entities(page, request))


@router.get("/users/{user_id}/events")
def list_user_events(
    request: HttpRequest, response: HttpResponse, user_id: PathStr, query: Query[EventQuery]
) -> list[dict[str, Any]]:
    actor = actor_of(request)
    qs_users = User.objects.all()
    user = (
        qs_users.filter(pk=int(user_id)).first()
        if user_id.isdigit() and len(user_id) < 19
        else None
    )
    user = user or qs_users.filter(username__iexact=user_id).first()
    if user is None or not can(actor, "read_user", user):
        raise NotFound("User")
    if user.private_profile and not actor.is_admin and actor.user_id != user.pk:
        # GitLab: a private profile shows no activity to others.
        return paginated(
            request,
            response,
            queries.list_user_events_for(actor, user.pk, _filters(query)).none(),
            lambda page: [],
        )
    qs = queries.list_user_events_for(actor, user.pk, _filters(query))
    return paginated(request, response, qs, lambda page: event_entities(page, request))


@router.get("/projects/{id}/events")
def list_project_events(
    request: HttpRequest, response: HttpResponse, id: PathStr, query: Query[EventQuery]
) -> list[dict[str, Any]]:
    actor = actor_of(request)
    project = get_project_for(actor, id)
    qs = queries.list_project_events_for(actor, project, _filters(query))
    return paginated(request, response, qs, lambda page: event_entities(page, request))
