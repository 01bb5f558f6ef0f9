"""API v4: CI/CD variables of projects, groups and the instance, as GitLab's
`lib/api/ci/variables.rb`, `lib/api/ci/group_variables.rb` and
`lib/api/admin/ci/variables.rb`."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from pydantic import ConfigDict

from kiln.api.v4.auth import require_user
from kiln.api.v4.pagination import paginated
from kiln.api.v4.params import Params, PathStr
from kiln.api.v4.presenters.ci import variable_entity
from kiln.ci import variables as services
from kiln.ci.variables import VariableOwner
from kiln.core.actor import Actor
from kiln.core.errors import MissingParameter
from kiln.namespaces.queries import get_group_for
from kiln.projects.queries import get_project_for

router = Router(tags=["variables"])


class VariableParams(Schema):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    key: str | None = None
    value: str | None = None
    variable_type: str | None = None
    protected: bool | None = None
    masked: bool | None = None
    masked_and_hidden: bool | None = None
    raw: bool | None = None
    environment_scope: str | None = None
    description: str | None = None


def _changes(payload: VariableParams) -> dict[str, Any]:
    changes = payload.dict(exclude_none=True)
    if changes.pop("masked_and_hidden", False):
        changes["masked"] = True
        changes["hidden"] = True
    return changes


def _scope_filter(request: HttpRequest) -> str | None:
    return request.GET.get("filter[environment_scope]") or None


def _project_owner(actor: Actor, id: str) -> VariableOwner:
    return VariableOwner(project=get_project_for(actor, id))


def _group_owner(actor: Actor, id: str) -> VariableOwner:
    return VariableOwner(group=get_group_for(actor, id))


def _list(
    request: HttpRequest, response: HttpResponse, owner: VariableOwner, actor: Actor
) -> list[dict[str, Any]]:
    rows = services.list_variables(actor=actor, owner=owner)
    return paginated(request, response, rows, lambda page: [variable_entity(r) for r in page])


def _create(owner: VariableOwner, actor: Actor, payload: VariableParams) -> Status[dict[str, Any]]:
    if not payload.key:
        raise MissingParameter("key")
    if payload.value is None:
        raise MissingParameter("value")
    row = services.create_variable(
        actor=actor, owner=owner, key=payload.key, changes=_changes(payload)
    )
    return Status(201, variable_entity(row))


def _update(
    owner: VariableOwner, actor: Actor, key: str, payload: VariableParams, scope: str | None
) -> dict[str, Any]:
    row = services.get_variable(actor=actor, owner=owner, key=key, environment_scope=scope)
    # `masked_and_hidden` is a parameter of creation only, as in GitLab.
    changes = payload.dict(exclude_none=True, exclude={"key", "masked_and_hidden"})
    row = services.update_variable(actor=actor, owner=owner, row=row, changes=changes)
    return variable_entity(row)


def _delete(owner: VariableOwner, actor: Actor, key: str, scope: str | None) -> HttpResponse:
    row = services.get_variable(actor=actor, owner=owner, key=key, environment_scope=scope)
    services.delete_variable(actor=actor, owner=owner, row=row)
    return HttpResponse(status=204)


# --- projects -----------------------------------------------------------------------------------


@router.get("/projects/{id}/variables")
def list_project_variables(
    request: HttpRequest, response: HttpResponse, id: PathStr
) -> list[dict[str, Any]]:
    actor = require_user(request)
    return _list(request, response, _project_owner(actor, id), actor)


@router.get("/projects/{id}/variables/{key}")
def get_project_variable(request: HttpRequest, id: PathStr, key: PathStr) -> dict[str, Any]:
    actor = require_user(request)
    row = services.get_variable(
        actor=actor,
        owner=_project_owner(actor, id),
        key=key,
        environment_scope=_scope_filter(request),
    )
    return variable_entity(row)


@router.post("/projects/{id}/variables", response={201: dict[str, Any]})
def create_project_variable(
    request: HttpRequest, id: PathStr, payload: Annotated[VariableParams, Params(...)]
) -> Status[dict[str, Any]]:
    actor = require_user(request)
    return _create(_project_owner(actor, id), actor, payload)


@router.put("/projects/{id}/variables/{key}")
def update_project_variable(
    request: HttpRequest, id: PathStr, key: PathStr, payload: Annotated[VariableParams, Params(...)]
) -> dict[str, Any]:
    actor = require_user(request)
    return _update(_project_owner(actor, id), actor, key, payload, _scope_filter(request))


@router.delete("/projects/{id}/variables/{key}")
def delete_project_variable(request: HttpRequest, id: PathStr, key: PathStr) -> HttpResponse:
    actor = require_user(request)
    return _delete(_project_owner(actor, id), actor, key, _scope_filter(request))


# --- groups -------------------------------------------------------------------------------------


@router.get("/groups/{id}/variables")
def list_group_variables(
    request: HttpRequest, response: HttpResponse, id: PathStr
) -> list[dict[str, Any]]:
    actor = require_user(request)
    return _list(request, response, _group_owner(actor, id), actor)


@router.get("/groups/{id}/variables/{key}")
def get_group_variable(request: HttpRequest, id: PathStr, key: PathStr) -> dict[str, Any]:
    actor = require_user(request)
    row = services.get_variable(
        actor=actor,
        owner=_group_owner(actor, id),
        key=key,
        environment_scope=_scope_filter(request),
    )
    return variable_entity(row)


@router.post("/groups/{id}/variables", response={201: dict[str, Any]})
def create_group_variable(
    request: HttpRequest, id: PathStr, payload: Annotated[VariableParams, Params(...)]
) -> Status[dict[str, Any]]:
    actor = require_user(request)
    return _create(_group_owner(actor, id), actor, payload)


@router.put("/groups/{id}/variables/{key}")
def update_group_variable(
    request: HttpRequest, id: PathStr, key: PathStr, payload: Annotated[VariableParams, Params(...)]
) -> dict[str, Any]:
    actor = require_user(request)
    return _update(_group_owner(actor, id), actor, key, payload, _scope_filter(request))


@router.delete("/groups/{id}/variables/{key}")
def delete_group_variable(request: HttpRequest, id: PathStr, key: PathStr) -> HttpResponse:
    actor = require_user(request)
    return _delete(_group_owner(actor, id), actor, key, _scope_filter(request))


# --- the instance -------------------------------------------------------------------------------

_INSTANCE = VariableOwner()


@router.get("/admin/ci/variables")
def list_instance_variables(request: HttpRequest, response: HttpResponse) -> list[dict[str, Any]]:
    actor = require_user(request)
    return _list(request, response, _INSTANCE, actor)


@router.get("/admin/ci/variables/{key}")
def get_instance_variable(request: HttpRequest, key: PathStr) -> dict[str, Any]:
    actor = require_user(request)
    return variable_entity(services.get_variable(actor=actor, owner=_INSTANCE, key=key))


@router.post("/admin/ci/variables", response={201: dict[str, Any]})
def create_instance_variable(
    request: HttpRequest, payload: Annotated[VariableParams, Params(...)]
) -> Status[dict[str, Any]]:
    actor = require_user(request)
    return _create(_INSTANCE, actor, payload)


@router.put("/admin/ci/variables/{key}")
def update_instance_variable(
    request: HttpRequest, key: PathStr, payload: Annotated[VariableParams, Params(...)]
) -> dict[str, Any]:
    actor = require_user(request)
    return _update(_INSTANCE, actor, key, payload, None)


@router.delete("/admin/ci/variables/{key}")
def delete_instance_variable(request: HttpRequest, key: PathStr) -> HttpResponse:
    actor = require_user(request)
    return _delete(_INSTANCE, actor, key, None)
