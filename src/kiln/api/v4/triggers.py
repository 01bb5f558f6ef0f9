"""API v4: pipeline trigger tokens and triggering pipelines with them, as GitLab's
`lib/api/ci/triggers.rb`. The rules are in kiln.ci.triggers."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from pydantic import ConfigDict

from kiln.api.v4.auth import require_user
from kiln.api.v4.form_params import form_hash
from kiln.api.v4.pagination import paginated
from kiln.api.v4.params import Params, PathStr, merged_params
from kiln.api.v4.presenters.ci import pipeline_entity, trigger_entity
from kiln.ci import queries
from kiln.ci import triggers as services
from kiln.ci.inputs import pipeline_inputs
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, MissingParameter, NotFound
from kiln.projects.models import Project
from kiln.projects.queries import find_project

router = Router(tags=["triggers"])

_BASE = "/projects/{id}/triggers"
_ONE = _BASE + "/{int:trigger_id}"


def _project(actor: Actor, id: str) -> Project:
    return queries.get_ci_project_for(actor, id)


@router.get(_BASE)
def list_triggers(request: HttpRequest, response: HttpResponse, id: PathStr) -> Any:
    actor = require_user(request)
    found = services.list_triggers(actor=actor, project=_project(actor, id))
    return paginated(
        request, response, found, lambda page: [trigger_entity(t, request) for t in page]
    )


@router.get(_ONE)
def get_trigger(request: HttpRequest, id: PathStr, trigger_id: int) -> dict[str, Any]:
    actor = require_user(request)
    trigger = services.get_trigger(actor=actor, project=_project(actor, id), trigger_id=trigger_id)
    return trigger_entity(trigger, request)


class TriggerParams(Schema):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    description: str | None = None
    expires_at: dt.date | None = None


@router.post(_BASE, response={201: dict[str, Any]})
def create_trigger(
    request: HttpRequest, id: PathStr, payload: Annotated[TriggerParams, Params(...)]
) -> Status[dict[str, Any]]:
    actor = require_user(request)
    if payload.description is None:
        raise MissingParameter("description")
    expires = (
        dt.datetime.combine(payload.expires_at, dt.time(), tzinfo=dt.UTC)
        if payload.expires_at is not None
        else None
    )
    trigger, token = services.create_trigger(
        actor=actor,
        project=_project(actor, id),
        description=payload.description,
        expires_at=expires,
    )
    return Status(201, trigger_entity(trigger, request, token=token))


@router.put(_ONE)
def update_trigger(
    request: HttpRequest,
    id: PathStr,
    trigger_id: int,
    payload: Annotated[TriggerParams, Params(...)],
) -> dict[str, Any]:
    actor = require_user(request)
    trigger = services.get_trigger(actor=actor, project=_project(actor, id), trigger_id=trigger_id)
    trigger = services.update_trigger(actor=actor, trigger=trigger, description=payload.description)
    return trigger_entity(trigger, request)


@router.delete(_ONE)
def delete_trigger(request: HttpRequest, id: PathStr, trigger_id: int) -> HttpResponse:
    actor = require_user(request)
    trigger = services.get_trigger(actor=actor, project=_project(actor, id), trigger_id=trigger_id)
    services.delete_trigger(actor=actor, trigger=trigger)
    return HttpResponse(status=204)


# --- triggering ---------------------------------------------------------------------------------


def _trigger(request: HttpRequest, id: str, ref: str | None) -> Status[dict[str, Any]]:
    if request.headers.get("X-Gitlab-Event") == "Pipeline Hook":
        raise Forbidden()
    params = merged_params(request)
    ref = ref or params.get("ref")
    token = params.get("token")
    missing = [name for name, value in (("ref", ref), ("token", token)) if not value]
    if missing:
        raise MissingParameter(*missing)
    project = find_project(id)
    if project is None:
        raise NotFound()
    pipeline = services.trigger_pipeline(
        project=project,
        token=str(token),
        ref=str(ref),
        variables=form_hash(params, "variables"),
        inputs=pipeline_inputs(form_hash(params, "inputs")),
    )
    return Status(201, pipeline_entity(pipeline, request))


@router.post("/projects/{id}/trigger/pipeline", response={201: dict[str, Any]})
def trigger_pipeline(request: HttpRequest, id: PathStr) -> Status[dict[str, Any]]:
    return _trigger(request, id, None)


@router.post("/projects/{id}/ref/{ref}/trigger/pipeline", response={201: dict[str, Any]})
def trigger_pipeline_for_ref(request: HttpRequest, id: PathStr, ref: PathStr) -> Any:
    return _trigger(request, id, ref)
