"""API v4: project and group labels (GitLab's `lib/api/labels.rb`, `group_labels.rb`,
`subscriptions.rb` for labels). Every route needs a signed-in caller (GitLab's
`authenticate!`); managing labels needs planning rights (403)."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict

from kiln.api.v4.auth import require_user
from kiln.api.v4.pagination import paginated
from kiln.api.v4.params import Params, PathStr
from kiln.api.v4.presenters.labels import label_entities, label_entity
from kiln.core.actor import Actor
from kiln.core.errors import InvalidParameter, MissingParameter
from kiln.labels import queries, services
from kiln.labels.models import Label
from kiln.namespaces.models import Namespace
from kiln.namespaces.queries import get_group_for
from kiln.projects.models import Project
from kiln.projects.queries import get_project_for

router = Router(tags=["labels"])


class _Params(Schema):
    model_config = ConfigDict(coerce_numbers_to_str=True)


class ProjectLabelsQuery(_Params):
    with_counts: bool = False
    include_ancestor_groups: bool = True
    search: str | None = None
    archived: bool | None = None


class GroupLabelsQuery(ProjectLabelsQuery):
    include_descendant_groups: bool = False
    only_group_labels: bool = True


class LabelGetQuery(_Params):
    include_ancestor_groups: bool = True


class LabelCreateParams(_Params):
    name: str
    color: str
    description: str | None = None
    priority: int | None = None
    archived: bool | None = None


class LabelUpdateParams(_Params):
    new_name: str | None = None
    color: str | None = None
    description: str | None = None
    priority: int | None = None
    archived: bool | None = None


class LegacyLabelUpdateParams(LabelUpdateParams):
    label_id: int | None = None
    name: str | None = None


class LegacyLabelDeleteParams(_Params):
    label_id: int | None = None
    name: str | None = None


PROJECT_UPDATE_ONE_OF = ("new_name", "color", "description", "priority", "archived")
GROUP_UPDATE_ONE_OF = ("new_name", "color", "description", "archived")


def _project(actor: Actor, id: str) -> Project:
    return get_project_for(actor, id)


def _list(
    request: HttpRequest,
    response: HttpResponse,
    actor: Actor,
    parent: Project | Namespace,
    qs: Any,
    with_counts: bool,
) -> list[dict[str, Any]]:
    return paginated(
        request,
        response,
        qs,
        lambda page: label_entities(page, actor, parent, with_counts=with_counts),
    )


def _update(
    actor: Actor,
    label: Label,
    payload: LabelUpdateParams,
    project: Project | None,
    one_of: tuple[str, ...],
) -> Label:
    sent = payload.model_fields_set & set(one_of)
    if not sent:
        raise InvalidParameter(
            f"{', '.join(one_of)} are missing, at least one parameter must be provided"
        )
    changes: dict[str, Any] = {}
    if "new_name" in sent:
        changes["new_title"] = payload.new_name
    if "color" in sent and payload.color is not None:
        changes["color"] = payload.color
    if "description" in sent:
        changes["description"] = payload.description
    if "archived" in sent:
        changes["archived"] = payload.archived
    if project is not None and "priority" in sent:
        changes["priority"] = payload.priority
    return services.update_label(actor=actor, label=label, project=project, **changes)


# --- project labels -------------------------------------------------------------------------


@router.get("/projects/{id}/labels")
def list_project_labels(
    request: HttpRequest, response: HttpResponse, id: PathStr, query: Query[ProjectLabelsQuery]
) -> list[dict[str, Any]]:
    actor = require_user(request)
    project = _project(actor, id)
    qs = queries.list_labels(
        project,
        include_ancestor_groups=query.include_ancestor_groups,
        search=query.search,
        archived=query.archived,
    )
    return _list(request, response, actor, project, qs, query.with_counts)


@router.get("/projects/{id}/labels/{label_id}")
def get_project_label(
    request: HttpRequest, id: PathStr, label_id: PathStr, query: Query[LabelGetQuery]
) -> dict[str, Any]:
    actor = require_user(request)
    project = _project(actor, id)
    label = queries.find_label(
        project, label_id, include_ancestor_groups=query.include_ancestor_groups
    )
    return label_entity(label, actor, project, with_counts=False)


@router.post("/projects/{id}/labels", response={201: dict[str, Any]})
def create_project_label(
    request: HttpRequest, id: PathStr, payload: Annotated[LabelCreateParams, Params(...)]
) -> Status[dict[str, Any]]:
    actor = require_user(request)
    project = _project(actor, id)
    label = services.create_label(
        actor=actor,
        parent=project,
        title=payload.name,
        color=payload.color,
        description=payload.description,
        priority=payload.priority,
        archived=bool(payload.archived),
    )
    return Status(201, label_entity(label, actor, project))


@router.put("/projects/{id}/labels")
def update_project_label_legacy(
    request: HttpRequest, id: PathStr, payload: Annotated[LegacyLabelUpdateParams, Params(...)]
) -> dict[str, Any]:
    actor = require_user(request)
    project = _project(actor, id)
    ref = payload.label_id if payload.label_id is not None else payload.name
    if ref is None:
        raise MissingParameter("label_id, name")
    label = queries.find_label(project, ref, include_ancestor_groups=False)
    label = _update(actor, label, payload, project, PROJECT_UPDATE_ONE_OF)
    return label_entity(label, actor, project)


@router.put("/projects/{id}/labels/{label_id}")
def update_project_label(
    request: HttpRequest,
    id: PathStr,
    label_id: PathStr,
    payload: Annotated[LabelUpdateParams, Params(...)],
) -> dict[str, Any]:
    actor = require_user(request)
    project = _project(actor, id)
    label = queries.find_label(project, label_id, include_ancestor_groups=False)
    label = _update(actor, label, payload, project, PROJECT_UPDATE_ONE_OF)
    return label_entity(label, actor, project)


@router.delete("/projects/{id}/labels")
def delete_project_label_legacy(
    request: HttpRequest, id: PathStr, payload: Annotated[LegacyLabelDeleteParams, Params(...)]
) -> HttpResponse:
    actor = require_user(request)
    project = _project(actor, id)
    ref = payload.label_id if payload.label_id is not None else payload.name
    if ref is None:
        raise MissingParameter("label_id, name")
    services.delete_label(
        actor=actor, label=queries.find_label(project, ref, include_ancestor_groups=False)
    )
    return HttpResponse(status=204)


@router.delete("/projects/{id}/labels/{label_id}")
def delete_project_label(request: HttpRequest, id: PathStr, label_id: PathStr) -> HttpResponse:
    actor = require_user(request)
    project = _project(actor, id)
    label = queries.find_label(project, label_id, include_ancestor_groups=False)
    services.delete_label(actor=actor, label=label)
    return HttpResponse(status=204)


@router.put("/projects/{id}/labels/{label_id}/promote")
def promote_project_label(request: HttpRequest, id: PathStr, label_id: PathStr) -> dict[str, Any]:
    actor = require_user(request)
    project = _project(actor, id)
    label = queries.find_label(project, label_id, include_ancestor_groups=False)
    group_label = services.promote_label(actor=actor, project=project, label=label)
    return label_entity(group_label, actor, project.namespace)


@router.post("/projects/{id}/labels/{label_id}/subscribe", response={201: dict[str, Any]})
def subscribe_project_label(request: HttpRequest, id: PathStr, label_id: PathStr) -> Any:
    actor = require_user(request)
    project = _project(actor, id)
    label = queries.find_label(project, label_id)
    if not services.subscribe_label(actor=actor, label=label, project=project):
        return HttpResponse(status=304)
    return Status(201, label_entity(label, actor, project))


@router.post("/projects/{id}/labels/{label_id}/unsubscribe", response={201: dict[str, Any]})
def unsubscribe_project_label(request: HttpRequest, id: PathStr, label_id: PathStr) -> Any:
    actor = require_user(request)
    project = _project(actor, id)
    label = queries.find_label(project, label_id)
    if not services.unsubscribe_label(actor=actor, label=label, project=project):
        return HttpResponse(status=304)
    return Status(201, label_entity(label, actor, project))


# --- group labels ---------------------------------------------------------------------------


@router.get("/groups/{id}/labels")
def list_group_labels(
    request: HttpRequest, response: HttpResponse, id: PathStr, query: Query[GroupLabelsQuery]
) -> list[dict[str, Any]]:
    actor = require_user(request)
    group = get_group_for(actor, id)
    qs = queries.list_labels(
        group,
        include_ancestor_groups=query.include_ancestor_groups,
        include_descendant_groups=query.include_descendant_groups,
        search=query.search,
        archived=query.archived,
    )
    return _list(request, response, actor, group, qs, query.with_counts)


@router.get("/groups/{id}/labels/{label_id}")
def get_group_label(
    request: HttpRequest, id: PathStr, label_id: PathStr, query: Query[LabelGetQuery]
) -> dict[str, Any]:
    actor = require_user(request)
    group = get_group_for(actor, id)
    label = queries.find_label(
        group, label_id, include_ancestor_groups=query.include_ancestor_groups
    )
    return label_entity(label, actor, group, with_counts=False)


@router.post("/groups/{id}/labels", response={201: dict[str, Any]})
def create_group_label(
    request: HttpRequest, id: PathStr, payload: Annotated[LabelCreateParams, Params(...)]
) -> Status[dict[str, Any]]:
    actor = require_user(request)
    group = get_group_for(actor, id)
    label = services.create_label(
        actor=actor,
        parent=group,
        title=payload.name,
        color=payload.color,
        description=payload.description,
        archived=bool(payload.archived),
    )
    return Status(201, label_entity(label, actor, group))


@router.put("/groups/{id}/labels/{label_id}")
def update_group_label(
    request: HttpRequest,
    id: PathStr,
    label_id: PathStr,
    payload: Annotated[LabelUpdateParams, Params(...)],
) -> dict[str, Any]:
    actor = require_user(request)
    group = get_group_for(actor, id)
    label = queries.find_label(group, label_id, include_ancestor_groups=False)
    label = _update(actor, label, payload, None, GROUP_UPDATE_ONE_OF)
    return label_entity(label, actor, group)


@router.delete("/groups/{id}/labels/{label_id}")
def delete_group_label(request: HttpRequest, id: PathStr, label_id: PathStr) -> HttpResponse:
    actor = require_user(request)
    group = get_group_for(actor, id)
    label = queries.find_label(group, label_id, include_ancestor_groups=False)
    services.delete_label(actor=actor, label=label)
    return HttpResponse(status=204)


@router.post("/groups/{id}/labels/{label_id}/subscribe", response={201: dict[str, Any]})
def subscribe_group_label(request: HttpRequest, id: PathStr, label_id: PathStr) -> Any:
    actor = require_user(request)
    group = get_group_for(actor, id)
    label = queries.find_label(group, label_id)
    if not services.subscribe_label(actor=actor, label=label):
        return HttpResponse(status=304)
    return Status(201, label_entity(label, actor, group))


@router.post("/groups/{id}/labels/{label_id}/unsubscribe", response={201: dict[str, Any]})
def unsubscribe_group_label(request: HttpRequest, id: PathStr, label_id: PathStr) -> Any:
    actor = require_user(request)
    group = get_group_for(actor, id)
    label = queries.find_label(group, label_id)
    if not services.unsubscribe_label(actor=actor, label=label):
        return HttpResponse(status=304)
    return Status(201, label_entity(label, actor, group))
