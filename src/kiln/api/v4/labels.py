"""API v4: project and group labels (GitLab's `lib/api/labels.rb`, `group_labels.rb`,
`subscriptions.rb` for labels). Every route needs a signed-in caller (GitLab's
`authenticate!`); managing labels needs planning rights (403)."""

from __future__ import annotations

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


# --- what project and group labels share ----------------------------------------------------


@dataclass(frozen=True)
class _Parent:
    """What differs between a project's labels and a group's: how the parent is found and
    which attributes an update may change (a group label has no priority)."""

    kind: Literal["project", "group"]
    find: Callable[[Actor, str], Project | Namespace]
    update_one_of: tuple[str, ...]


def _own_project(parent: Project | Namespace) -> Project | None:
    """The project a label's priority and a subscription belong to (none for a group's)."""
    return parent if isinstance(parent, Project) else None


def _names(name: str) -> dict[str, Any]:
    return endpoint_names(__name__, name)


def _register(parent_kind: _Parent) -> None:
    """Register the label endpoints projects and groups share under `/{kind}s/{id}/labels`."""
    kind = parent_kind.kind
    base = f"/{kind}s/{{id}}/labels"
    one = f"{base}/{{label_id}}"

    def find(request: HttpRequest, id: str) -> tuple[Actor, Project | Namespace]:
        actor = require_user(request)
        return actor, parent_kind.find(actor, id)

    @router.get(one, **_names(f"get_{kind}_label"))
    def get_label(
        request: HttpRequest, id: PathStr, label_id: PathStr, query: Query[LabelGetQuery]
    ) -> dict[str, Any]:
        actor, parent = find(request, id)
        label = queries.find_label(
            parent, label_id, include_ancestor_groups=query.include_ancestor_groups
        )
        return label_entity(label, actor, parent, with_counts=False)

    @router.post(base, response={201: dict[str, Any]}, **_names(f"create_{kind}_label"))
    def create_label(
        request: HttpRequest, id: PathStr, payload: Annotated[LabelCreateParams, Params(...)]
    ) -> Status[dict[str, Any]]:
        actor, parent = find(request, id)
        # Priorities are a project's; a group label ignores one.
        project = _own_project(parent)
        label = services.create_label(
            actor=actor,
            parent=parent,
            title=payload.name,
            color=payload.color,
            description=payload.description,
            priority=payload.priority if project is not None else None,
            archived=bool(payload.archived),
        )
        return Status(201, label_entity(label, actor, parent))

    @router.put(one, **_names(f"update_{kind}_label"))
    def update_label(
        request: HttpRequest,
        id: PathStr,
        label_id: PathStr,
        payload: Annotated[LabelUpdateParams, Params(...)],
    ) -> dict[str, Any]:
        actor, parent = find(request, id)
        label = queries.find_label(parent, label_id, include_ancestor_groups=False)
        project = _own_project(parent)
        label = _update(actor, label, payload, project, parent_kind.update_one_of)
        return label_entity(label, actor, parent)

    @router.delete(one, **_names(f"delete_{kind}_label"))
    def delete_label(request: HttpRequest, id: PathStr, label_id: PathStr) -> HttpResponse:
        actor, parent = find(request, id)
        label = queries.find_label(parent, label_id, include_ancestor_groups=False)
        services.delete_label(actor=actor, label=label)
        return HttpResponse(status=204)

    # The label named in the body, not the path (deprecated in GitLab 12.4, still served, and
    # what python-gitlab's `label.save()` and `label.delete()` call).
    def named(request: HttpRequest, id: str, label_id: int | None, name: str | None) -> Any:
        actor, parent = find(request, id)
        ref = label_id if label_id is not None else name
        if ref is None:
            raise MissingParameter("label_id, name")
        return actor, parent, queries.find_label(parent, ref, include_ancestor_groups=False)

    @router.put(base, **_names(f"update_{kind}_label_legacy"))
    def update_label_legacy(
        request: HttpRequest, id: PathStr, payload: Annotated[LegacyLabelUpdateParams, Params(...)]
    ) -> dict[str, Any]:
        actor, parent, label = named(request, id, payload.label_id, payload.name)
        project = _own_project(parent)
        label = _update(actor, label, payload, project, parent_kind.update_one_of)
        return label_entity(label, actor, parent)

    @router.delete(base, **_names(f"delete_{kind}_label_legacy"))
    def delete_label_legacy(
        request: HttpRequest, id: PathStr, payload: Annotated[LegacyLabelDeleteParams, Params(...)]
    ) -> HttpResponse:
        actor, _, label = named(request, id, payload.label_id, payload.name)
        services.delete_label(actor=actor, label=label)
        return HttpResponse(status=204)

    def subscription(
        request: HttpRequest, id: str, label_id: str, change: Callable[..., bool]
    ) -> Any:
        # 201 with the label when the subscription changed, 304 when it already was so.
        actor, parent = find(request, id)
        label = queries.find_label(parent, label_id)
        if not change(actor=actor, label=label, project=_own_project(parent)):
            return HttpResponse(status=304)
        return Status(201, label_entity(label, actor, parent))

    @router.post(
        f"{one}/subscribe", response={201: dict[str, Any]}, **_names(f"subscribe_{kind}_label")
    )
    def subscribe_label(request: HttpRequest, id: PathStr, label_id: PathStr) -> Any:
        return subscription(request, id, label_id, services.subscribe_label)

    @router.post(
        f"{one}/unsubscribe",
        response={201: dict[str, Any]},
        **_names(f"unsubscribe_{kind}_label"),
    )
    def unsubscribe_label(request: HttpRequest, id: PathStr, label_id: PathStr) -> Any:
        return subscription(request, id, label_id, services.unsubscribe_label)


_register(
    _Parent(
        kind="project",
        find=get_project_for,
        update_one_of=PROJECT_UPDATE_ONE_OF,
    )
)
_register(
    _Parent(
        kind="group",
        find=get_group_for,
        update_one_of=GROUP_UPDATE_ONE_OF,
    )
)


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


@router.put("/projects/{id}/labels/{label_id}/promote")
def promote_project_label(request: HttpRequest, id: PathStr, label_id: PathStr) -> dict[str, Any]:
    actor = require_user(request)
    project = _project(actor, id)
    label = queries.find_label(project, label_id, include_ancestor_groups=False)
    group_label = services.promote_label(actor=actor, project=project, label=label)
    return label_entity(group_label, actor, project.namespace)


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
