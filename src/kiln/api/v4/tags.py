"""API v4: tags and protected tags, as GitLab's `lib/api/tags.rb` and
`lib/api/protected_tags.rb`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status

from kiln.api.v4.auth import SIGNED_IN, actor_of
from kiln.api.v4.pagination import paginated
from kiln.api.v4.params import Params, PathStr
from kiln.api.v4.presenters.repository import (
    protected_tag_entities,
    protected_tag_entity,
    tag_entity,
)
from kiln.api.v4.repository import ApiParams, not_blank, paginate_list
from kiln.repositories import branches as services
from kiln.repositories import queries

router = Router(tags=["tags"])


class TagListQuery(ApiParams):
    search: str | None = None
    order_by: Literal["name", "updated", "version"] = "updated"
    sort: Literal["asc", "desc"] = "desc"


@router.get("/projects/{id}/repository/tags")
def list_tags(
    request: HttpRequest, response: HttpResponse, id: PathStr, query: Query[TagListQuery]
) -> list[dict[str, Any]]:
    project = queries.get_code_project_for(actor_of(request), id)
    found = queries.list_tags(
        project, search=query.search, order_by=query.order_by, sort=query.sort
    )
    page = paginate_list(request, response, found)
    protected = queries.protected_tag_names(project, [t.name for t in page])
    return [tag_entity(t, project, request, protected=t.name in protected) for t in page]


@router.get("/projects/{id}/repository/tags/{tag_name}")
def get_tag(request: HttpRequest, id: PathStr, tag_name: PathStr) -> dict[str, Any]:
    project = queries.get_code_project_for(actor_of(request), id)
    tag = queries.find_tag(project, tag_name)
    protected = bool(queries.protected_tag_names(project, [tag.name]))
    return tag_entity(tag, project, request, protected=protected)


class TagCreateParams(ApiParams):
    tag_name: str
    ref: str
    message: str | None = None


@router.post("/projects/{id}/repository/tags", auth=SIGNED_IN, response={201: dict[str, Any]})
def create_tag(
    request: HttpRequest, id: PathStr, payload: Annotated[TagCreateParams, Params(...)]
) -> Status[dict[str, Any]]:
    actor = actor_of(request)
    project = queries.get_code_project_for(actor, id)
    tag = services.create_tag(
        actor=actor,
        project=project,
        name=payload.tag_name,
        ref=payload.ref,
        message=payload.message,
    )
    protected = bool(queries.protected_tag_names(project, [tag.name]))
    return Status(201, tag_entity(tag, project, request, protected=protected))


@router.delete("/projects/{id}/repository/tags/{tag_name}", auth=SIGNED_IN)
def delete_tag(request: HttpRequest, id: PathStr, tag_name: PathStr) -> HttpResponse:
    actor = actor_of(request)
    project = queries.get_code_project_for(actor, id)
    services.delete_tag(actor=actor, project=project, name=tag_name)
    return HttpResponse(status=204)


# --- protected tags -----------------------------------------------------------------------


@router.get("/projects/{id}/protected_tags")
def list_protected_tags(
    request: HttpRequest, response: HttpResponse, id: PathStr
) -> list[dict[str, Any]]:
    project = queries.get_code_project_for(actor_of(request), id)
    return paginated(
        request, response, queries.list_protected_tags(project), protected_tag_entities
    )


@router.get("/projects/{id}/protected_tags/{name}")
def get_protected_tag(request: HttpRequest, id: PathStr, name: PathStr) -> dict[str, Any]:
    project = queries.get_code_project_for(actor_of(request), id)
    return protected_tag_entity(queries.get_protected_tag(project, name))


class ProtectedTagParams(ApiParams):
    name: str
    create_access_level: Literal[0, 30, 40, 60] = 40


@router.post("/projects/{id}/protected_tags", auth=SIGNED_IN, response={201: dict[str, Any]})
def create_protected_tag(
    request: HttpRequest, id: PathStr, payload: Annotated[ProtectedTagParams, Params(...)]
) -> Status[dict[str, Any]]:
    not_blank(payload.name, "name")
    actor = actor_of(request)
    project = queries.get_code_project_for(actor, id)
    rule = services.create_protected_tag(
        actor=actor,
        project=project,
        name=payload.name,
        create_access_level=payload.create_access_level,
    )
    return Status(201, protected_tag_entity(rule))


@router.delete("/projects/{id}/protected_tags/{name}", auth=SIGNED_IN)
def delete_protected_tag(request: HttpRequest, id: PathStr, name: PathStr) -> HttpResponse:
    actor = actor_of(request)
    project = queries.get_code_project_for(actor, id)
    rule = queries.get_protected_tag(project, name)
    services.delete_protected_tag(actor=actor, project=project, rule=rule)
    return HttpResponse(status=204)
