"""API v4: environments, as GitLab's `lib/api/environments.rb`. The rules are in
kiln.ci.environments; every endpoint needs a signed-in caller (GitLab's `authenticate!`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict

from kiln.api.v4.auth import require_user
from kiln.api.v4.pagination import paginated
from kiln.api.v4.params import Params, PathStr, merged_params
from kiln.api.v4.presenters.deployments import environment_entities
from kiln.api.v4.presenters.projects import project_entity
from kiln.ci import environments as services
from kiln.ci.models import Environment
from kiln.core.actor import Actor
from kiln.core.errors import BadRequest, InvalidParameter, MissingParameter
from kiln.projects.models import Project

router = Router(tags=["environments"])

_BASE = "/projects/{id}/environments"
_ONE = _BASE + "/{int:environment_id}"

Tier = Literal["production", "staging", "testing", "development", "other"]


def _present(
    request: HttpRequest, actor: Actor, project: Project, environment: Environment
) -> dict[str, Any]:
    basic = project_entity(project, request, actor, simple=True)
    return environment_entities([environment], request, project=basic)[0]


class ListQuery(Schema):
    name: str | None = None
    search: str | None = None
    states: Literal["available", "stopping", "stopped"] | None = None


@router.get(_BASE)
def list_environments(
    request: HttpRequest, response: HttpResponse, id: PathStr, query: Query[ListQuery]
) -> list[dict[str, Any]]:
    actor = require_user(request)
    project = services.get_deploy_project_for(actor, id)
    if query.name is not None and query.search is not None:
        raise InvalidParameter("name, search cannot be used together")
    if query.search and len(query.search) < services.MIN_SEARCH_LENGTH:
        raise BadRequest(f"Search query is less than {services.MIN_SEARCH_LENGTH} characters")
    found = services.list_environments(
        project, name=query.name, search=query.search, states=query.states
    )
    basic = project_entity(project, request, actor, simple=True)
    return paginated(
        request,
        response,
        found,
        lambda page: environment_entities(page, request, project=basic),
    )


@router.get(_ONE)
def get_environment(request: HttpRequest, id: PathStr, environment_id: int) -> dict[str, Any]:
    actor = require_user(request)
    project = services.get_deploy_project_for(actor, id)
    environment = services.get_environment(project, environment_id)
    return environment_entities(
        [environment],
        request,
        project=None,
        last_deployment=services.last_deployment(environment),
        with_last_deployment=True,
    )[0]


class CreateParams(Schema):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    name: str | None = None
    external_url: str | None = None
    tier: Tier | None = None


def _refuse_slug(request: HttpRequest) -> None:
    if "slug" in merged_params(request):
        raise InvalidParameter("slug is automatically generated and cannot be changed")


@router.post(_BASE, response={201: dict[str, Any]})
def create_environment(
    request: HttpRequest, id: PathStr, payload: Annotated[CreateParams, Params(...)]
) -> Status[dict[str, Any]]:
    actor = require_user(request)
    project = services.get_deploy_project_for(actor, id)
    if not payload.name:
        raise MissingParameter("name")
    _refuse_slug(request)
    environment = services.create_environment(
        actor=actor,
        project=project,
        name=payload.name,
        external_url=payload.external_url,
        tier=payload.tier,
    )
    return Status(201, _present(request, actor, project, environment))


class UpdateParams(Schema):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    external_url: str | None = None
    tier: Tier | None = None


@router.put(_ONE)
def update_environment(
    request: HttpRequest,
    id: PathStr,
    environment_id: int,
    payload: Annotated[UpdateParams, Params(...)],
) -> dict[str, Any]:
    actor = require_user(request)
    project = services.get_deploy_project_for(actor, id)
    environment = services.get_environment(project, environment_id)
    _refuse_slug(request)
    environment = services.update_environment(
        actor=actor,
        environment=environment,
        external_url=payload.external_url,
        tier=payload.tier,
    )
    return _present(request, actor, project, environment)


@router.delete(_ONE)
def delete_environment(request: HttpRequest, id: PathStr, environment_id: int) -> HttpResponse:
    actor = require_user(request)
    project = services.get_deploy_project_for(actor, id)
    environment = services.get_environment(project, environment_id)
    services.delete_environment(actor=actor, environment=environment)
    return HttpResponse(status=204)


class StopParams(Schema):
    force: bool = False


@router.post(_ONE + "/stop", response={200: dict[str, Any]})
def stop_environment(
    request: HttpRequest,
    id: PathStr,
    environment_id: int,
    payload: Annotated[StopParams, Params(...)],
) -> Status[dict[str, Any]]:
    actor = require_user(request)
    project = services.get_deploy_project_for(actor, id)
    environment = services.get_environment(project, environment_id)
    environment = services.stop_environment(
        actor=actor, environment=environment, force=payload.force
    )
    return Status(200, _present(request, actor, project, environment))
