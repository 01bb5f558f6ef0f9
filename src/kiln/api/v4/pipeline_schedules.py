"""API v4: pipeline schedules and their variables, as GitLab's
`lib/api/ci/pipeline_schedules.rb`. The rules are in kiln.ci.schedules."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict

from kiln.api.v4.auth import require_user
from kiln.api.v4.form_params import form_array
from kiln.api.v4.pagination import paginated
from kiln.api.v4.params import Params, PathStr
from kiln.api.v4.presenters.ci import (
    pipeline_entities,
    schedule_details_entity,
    schedule_entity,
    schedule_variable_entity,
)
from kiln.ci import queries
from kiln.ci import schedules as services
from kiln.ci.models import PipelineSchedule
from kiln.core.actor import Actor
from kiln.core.errors import MissingParameter

router = Router(tags=["pipeline_schedules"])

_BASE = "/projects/{id}/pipeline_schedules"
_ONE = _BASE + "/{int:schedule_id}"


def _schedule(actor: Actor, id: str, schedule_id: int) -> PipelineSchedule:
    project = queries.get_ci_project_for(actor, id)
    return services.get_schedule(actor=actor, project=project, schedule_id=schedule_id)


class ListQuery(Schema):
    scope: Literal["active", "inactive"] | None = None


@router.get(_BASE)
def list_schedules(
    request: HttpRequest, response: HttpResponse, id: PathStr, query: Query[ListQuery]
) -> list[dict[str, Any]]:
    actor = require_user(request)
    project = queries.get_ci_project_for(actor, id)
    found = services.list_schedules(actor=actor, project=project, scope=query.scope)
    return paginated(
        request, response, found, lambda page: [schedule_entity(s, request) for s in page]
    )


@router.get(_ONE)
def get_schedule(request: HttpRequest, id: PathStr, schedule_id: int) -> dict[str, Any]:
    actor = require_user(request)
    return schedule_details_entity(_schedule(actor, id, schedule_id), request)


class PipelinesQuery(Schema):
    sort: Literal["asc", "desc"] = "asc"


@router.get(_ONE + "/pipelines")
def schedule_pipelines(
    request: HttpRequest,
    response: HttpResponse,
    id: PathStr,
    schedule_id: int,
    query: Query[PipelinesQuery],
) -> list[dict[str, Any]]:
    actor = require_user(request)
    schedule = _schedule(actor, id, schedule_id)
    order = "pk" if query.sort == "asc" else "-pk"
    found = schedule.pipelines.select_related("project__namespace").order_by(order)
    return paginated(request, response, found, lambda page: pipeline_entities(page, request))


class ScheduleParams(Schema):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    description: str | None = None
    ref: str | None = None
    cron: str | None = None
    cron_timezone: str | None = None
    active: bool | None = None
    # [{name, value, _destroy}]: checked by kiln.ci.inputs (values keep their JSON types).
    inputs: Any = None


@router.post(_BASE, response={201: dict[str, Any]})
def create_schedule(
    request: HttpRequest, id: PathStr, payload: Annotated[ScheduleParams, Params(...)]
) -> Status[dict[str, Any]]:
    actor = require_user(request)
    missing = [n for n in ("description", "ref", "cron") if getattr(payload, n) is None]
    if missing:
        raise MissingParameter(*missing)
    project = queries.get_ci_project_for(actor, id)
    attrs = payload.dict(exclude_none=True)
    attrs["inputs"] = form_array(request, "inputs", payload.inputs)
    schedule = services.create_schedule(actor=actor, project=project, attrs=attrs)
    return Status(201, schedule_details_entity(schedule, request))


@router.put(_ONE)
def update_schedule(
    request: HttpRequest,
    id: PathStr,
    schedule_id: int,
    payload: Annotated[ScheduleParams, Params(...)],
) -> dict[str, Any]:
    actor = require_user(request)
    schedule = _schedule(actor, id, schedule_id)
    attrs = payload.dict(exclude_none=True)
    attrs["inputs"] = form_array(request, "inputs", payload.inputs)
    schedule = services.update_schedule(actor=actor, schedule=schedule, attrs=attrs)
    return schedule_details_entity(schedule, request)


@router.post(_ONE + "/take_ownership", response={200: dict[str, Any], 201: dict[str, Any]})
def take_ownership(request: HttpRequest, id: PathStr, schedule_id: int) -> Status[dict[str, Any]]:
    actor = require_user(request)
    schedule, changed = services.take_ownership(
        actor=actor, schedule=_schedule(actor, id, schedule_id)
    )
    return Status(201 if changed else 200, schedule_details_entity(schedule, request))


@router.delete(_ONE)
def delete_schedule(request: HttpRequest, id: PathStr, schedule_id: int) -> HttpResponse:
    actor = require_user(request)
    services.delete_schedule(actor=actor, schedule=_schedule(actor, id, schedule_id))
    return HttpResponse(status=204)


@router.post(_ONE + "/play", response={201: dict[str, Any]})
def play_schedule(request: HttpRequest, id: PathStr, schedule_id: int) -> Status[dict[str, Any]]:
    actor = require_user(request)
    services.play_schedule(actor=actor, schedule=_schedule(actor, id, schedule_id))
    return Status(201, {"message": "201 Created"})


# --- variables ----------------------------------------------------------------------------------


class VariableParams(Schema):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    key: str | None = None
    value: str | None = None
    variable_type: str | None = None


@router.post(_ONE + "/variables", response={201: dict[str, Any]})
def create_variable(
    request: HttpRequest,
    id: PathStr,
    schedule_id: int,
    payload: Annotated[VariableParams, Params(...)],
) -> Status[dict[str, Any]]:
    actor = require_user(request)
    missing = [n for n in ("key", "value") if getattr(payload, n) is None]
    if missing:
        raise MissingParameter(*missing)
    schedule = _schedule(actor, id, schedule_id)
    row = services.create_variable(
        actor=actor, schedule=schedule, attrs=payload.dict(exclude_none=True)
    )
    return Status(201, schedule_variable_entity(row))


@router.get(_ONE + "/variables/{key}")
def get_variable(request: HttpRequest, id: PathStr, schedule_id: int, key: PathStr) -> Any:
    actor = require_user(request)
    schedule = _schedule(actor, id, schedule_id)
    return schedule_variable_entity(services.get_variable(schedule, key))


@router.put(_ONE + "/variables/{key}")
def update_variable(
    request: HttpRequest,
    id: PathStr,
    schedule_id: int,
    key: PathStr,
    payload: Annotated[VariableParams, Params(...)],
) -> dict[str, Any]:
    actor = require_user(request)
    schedule = _schedule(actor, id, schedule_id)
    row = services.update_variable(
        actor=actor,
        variable=services.get_variable(schedule, key),
        attrs=payload.dict(exclude_none=True),
    )
    return schedule_variable_entity(row)


@router.delete(_ONE + "/variables/{key}", response={202: dict[str, Any]})
def delete_variable(
    request: HttpRequest, id: PathStr, schedule_id: int, key: PathStr
) -> Status[dict[str, Any]]:
    actor = require_user(request)
    schedule = _schedule(actor, id, schedule_id)
    row = services.get_variable(schedule, key)
    data = schedule_variable_entity(row)
    services.delete_variable(actor=actor, variable=row)
    return Status(202, data)
