"""API v4: project and group milestones (GitLab's `project_milestones.rb`,
`group_milestones.rb`, `milestone_responses.rb`). Every route needs a signed-in caller; the
milestone's merge requests are served by the merge request API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict

from kiln.api.v4.auth import require_user
from kiln.api.v4.naming import endpoint_names
from kiln.api.v4.pagination import paginated
from kiln.api.v4.params import Params, PathStr
from kiln.api.v4.presenters.issues import issue_entities
from kiln.api.v4.presenters.labels import milestone_entities, milestone_entity
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, InvalidParameter, NotFound
from kiln.issues import queries as issue_queries
from kiln.milestones import queries, services
from kiln.milestones.models import Milestone
from kiln.milestones.policies import can_read_milestones
from kiln.namespaces.models import Namespace
from kiln.namespaces.queries import get_group_for
from kiln.projects.models import Project
from kiln.projects.queries import get_project_for

router = Router(tags=["milestones"])

UPDATE_ONE_OF = ("title", "description", "start_date", "due_date", "state_event")


class _Params(Schema):
    model_config = ConfigDict(coerce_numbers_to_str=True)


class MilestoneListQuery(_Params):
    state: Literal["active", "closed", "all"] = "all"
    title: str | None = None
    search: str | None = None
    include_parent_milestones: bool = False
    include_ancestors: bool = False
    updated_before: dt.datetime | None = None
    updated_after: dt.datetime | None = None


class MilestoneCreateParams(_Params):
    title: str
    description: str | None = None
    due_date: str | None = None
    start_date: str | None = None


class MilestoneUpdateParams(_Params):
    title: str | None = None
    description: str | None = None
    due_date: str | None = None
    start_date: str | None = None
    state_event: Literal["close", "activate"] | None = None


def _readable_project(actor: Actor, id: str) -> Project:
    project = get_project_for(actor, id)
    if not can_read_milestones(actor, project):
        raise Forbidden()
    return project


def _filters(request: HttpRequest, query: MilestoneListQuery) -> queries.MilestoneFilters:
    iids: list[int] = []
    for value in request.GET.getlist("iids[]") + request.GET.getlist("iids"):
        for part in value.split(","):
            if part.strip():
                if not part.strip().isdigit() or len(part.strip()) > 9:
                    raise InvalidParameter("iids is invalid")
                iids.append(int(part))
    return queries.MilestoneFilters(
        state=query.state,
        iids=iids,
        title=query.title,
        search=query.search,
        include_ancestors=query.include_parent_milestones or query.include_ancestors,
        updated_before=query.updated_before,
        updated_after=query.updated_after,
    )


def _with_parents(qs: Any) -> Any:
    return qs.select_related("project", "project__namespace", "group")


def _update(actor: Actor, milestone: Milestone, payload: MilestoneUpdateParams) -> Milestone:
    sent = payload.model_fields_set & set(UPDATE_ONE_OF)
    if not sent:
        raise InvalidParameter(
            f"{', '.join(UPDATE_ONE_OF)} are missing, at least one parameter must be provided"
        )
    changes = {k: getattr(payload, k) for k in sent if k != "state_event"}
    return services.update_milestone(
        actor=actor, milestone=milestone, state_event=payload.state_event, **changes
    )


def _milestone_issues(
    request: HttpRequest,
    response: HttpResponse,
    actor: Actor,
    parent: Project | Namespace,
    milestone: Milestone,
) -> list[dict[str, Any]]:
    filters = issue_queries.IssueFilters(
        milestone=milestone.title, order_by="label_priority", sort="asc"
    )
    if isinstance(parent, Project):
        qs = issue_queries.list_project_issues_for(actor, parent, filters)
    else:
        qs = issue_queries.list_group_issues_for(actor, parent, filters)
    qs = qs.filter(milestone=milestone)
    project = parent if isinstance(parent, Project) else None
    return paginated(
        request, response, qs, lambda page: issue_entities(page, request, actor, project=project)
    )


# --- what project and group milestones share ------------------------------------------------


@dataclass(frozen=True)
class _Parent:
    """What differs between a project's milestones and a group's: how the parent is found to
    read its milestones (a project the actor may not plan in answers 403, a group 404) and to
    change them (a project's services decide; a group must be readable first)."""

    kind: Literal["project", "group"]
    readable: Callable[[Actor, str], Project | Namespace]
    writable: Callable[[Actor, str], Project | Namespace]


def _names(name: str) -> dict[str, Any]:
    return endpoint_names(__name__, name)


def _register(parent_kind: _Parent) -> None:
    """Register the milestone endpoints projects and groups share under
    `/{kind}s/{id}/milestones`."""
    kind = parent_kind.kind
    base = f"/{kind}s/{{id}}/milestones"
    one = f"{base}/{{milestone_id}}"

    @router.get(base, **_names(f"list_{kind}_milestones"))
    def list_milestones(
        request: HttpRequest,
        response: HttpResponse,
        id: PathStr,
        query: Query[MilestoneListQuery],
    ) -> list[dict[str, Any]]:
        parent = parent_kind.readable(require_user(request), id)
        qs = _with_parents(queries.list_milestones(parent, _filters(request, query)))
        return paginated(request, response, qs, lambda page: milestone_entities(page, request))

    @router.get(one, **_names(f"get_{kind}_milestone"))
    def get_milestone(request: HttpRequest, id: PathStr, milestone_id: str) -> dict[str, Any]:
        parent = parent_kind.readable(require_user(request), id)
        return milestone_entity(queries.get_milestone(parent, milestone_id), request)

    @router.post(base, response={201: dict[str, Any]}, **_names(f"create_{kind}_milestone"))
    def create_milestone(
        request: HttpRequest, id: PathStr, payload: Annotated[MilestoneCreateParams, Params(...)]
    ) -> Status[dict[str, Any]]:
        actor = require_user(request)
        milestone = services.create_milestone(
            actor=actor,
            parent=parent_kind.writable(actor, id),
            title=payload.title,
            description=payload.description,
            start_date=payload.start_date,
            due_date=payload.due_date,
        )
        return Status(201, milestone_entity(milestone, request))

    @router.put(one, **_names(f"update_{kind}_milestone"))
    def update_milestone(
        request: HttpRequest,
        id: PathStr,
        milestone_id: str,
        payload: Annotated[MilestoneUpdateParams, Params(...)],
    ) -> dict[str, Any]:
        actor = require_user(request)
        parent = parent_kind.writable(actor, id)
        milestone = _update(actor, queries.get_milestone(parent, milestone_id), payload)
        return milestone_entity(milestone, request)

    @router.delete(one, **_names(f"delete_{kind}_milestone"))
    def delete_milestone(request: HttpRequest, id: PathStr, milestone_id: str) -> HttpResponse:
        actor = require_user(request)
        parent = parent_kind.writable(actor, id)
        services.delete_milestone(
            actor=actor, milestone=queries.get_milestone(parent, milestone_id)
        )
        return HttpResponse(status=204)

    @router.get(f"{one}/issues", **_names(f"list_{kind}_milestone_issues"))
    def list_milestone_issues(
        request: HttpRequest, response: HttpResponse, id: PathStr, milestone_id: str
    ) -> list[dict[str, Any]]:
        actor = require_user(request)
        parent = parent_kind.readable(actor, id)
        milestone = queries.get_milestone(parent, milestone_id)
        return _milestone_issues(request, response, actor, parent, milestone)


def _group(actor: Actor, id: str) -> Namespace:
    group = get_group_for(actor, id)
    if not can_read_milestones(actor, group):
        raise NotFound("Group")
    return group


_register(_Parent(kind="project", readable=_readable_project, writable=get_project_for))
_register(_Parent(kind="group", readable=_group, writable=_group))


# --- project milestones ---------------------------------------------------------------------


@router.post("/projects/{id}/milestones/{milestone_id}/promote")
def promote_project_milestone(request: HttpRequest, id: PathStr, milestone_id: str) -> HttpResponse:
    actor = require_user(request)
    project = get_project_for(actor, id)
    milestone = queries.get_milestone(project, milestone_id)
    services.promote_milestone(actor=actor, project=project, milestone=milestone)
    return HttpResponse(status=200)
