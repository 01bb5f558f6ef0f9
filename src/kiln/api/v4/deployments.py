"""API v4: deployments, as GitLab's `lib/api/deployments.rb`, and resource groups, as its
`lib/api/ci/resource_groups.rb`. The rules are in kiln.ci.deployments and
kiln.ci.resource_groups; every endpoint needs a signed-in caller."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict

from kiln.api.v4.auth import require_user
from kiln.api.v4.pagination import paginated
from kiln.api.v4.params import Params, PathStr
from kiln.api.v4.presenters.deployments import (
    deployment_entities,
    job_basic_entities,
    resource_group_entity,
)
from kiln.ci import deployments as services
from kiln.ci import environments, resource_groups
from kiln.ci.models import Deployment
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, MissingParameter

router = Router(tags=["deployments"])

_BASE = "/projects/{id}/deployments"
_ONE = _BASE + "/{int:deployment_id}"


def _one(request: HttpRequest, deployment: Deployment) -> dict[str, Any]:
    return deployment_entities([deployment], request)[0]


DeploymentStatusParam = Literal[
    "created", "running", "success", "failed", "canceled", "skipped", "blocked"
]
ProcessMode = Literal["unordered", "oldest_first", "newest_first", "newest_ready_first"]


class ListQuery(Schema):
    order_by: Literal["id", "iid", "created_at", "updated_at", "ref", "finished_at"] = "id"
    sort: Literal["asc", "desc"] = "asc"
    updated_after: dt.datetime | None = None
    updated_before: dt.datetime | None = None
    environment: str | None = None
    status: DeploymentStatusParam | None = None


@router.get(_BASE)
def list_deployments(
    request: HttpRequest, response: HttpResponse, id: PathStr, query: Query[ListQuery]
) -> list[dict[str, Any]]:
    actor = require_user(request)
    project = environments.get_deploy_project_for(actor, id)
    found = services.list_deployments(
        project,
        order_by=query.order_by,
        sort=query.sort,
        updated_after=query.updated_after,
        updated_before=query.updated_before,
        environment=query.environment,
        status=query.status,
    ).select_related("environment", "user")
    return paginated(request, response, found, lambda page: deployment_entities(page, request))


@router.get(_ONE)
def get_deployment(request: HttpRequest, id: PathStr, deployment_id: int) -> dict[str, Any]:
    actor = require_user(request)
    project = environments.get_deploy_project_for(actor, id)
    return _one(request, services.get_deployment(project, deployment_id))


class CreateParams(Schema):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    environment: str | None = None
    sha: str | None = None
    ref: str | None = None
    tag: bool | None = None
    status: Literal["running", "success", "failed", "canceled"] | None = None


@router.post(_BASE, response={201: dict[str, Any]})
def create_deployment(
    request: HttpRequest, id: PathStr, payload: Annotated[CreateParams, Params(...)]
) -> Status[dict[str, Any]]:
    actor = require_user(request)
    project = environments.get_deploy_project_for(actor, id)
    missing = [
        name
        for name in ("environment", "sha", "ref", "tag", "status")
        if getattr(payload, name) in (None, "")
    ]
    if missing:
        raise MissingParameter(*missing)
    assert payload.environment is not None
    assert payload.sha is not None
    assert payload.ref is not None
    assert payload.status is not None
    deployment = services.create_deployment(
        actor=actor,
        project=project,
        environment=payload.environment,
        sha=payload.sha,
        ref=payload.ref,
        tag=bool(payload.tag),
        status=payload.status,
    )
    return Status(201, _one(request, services.get_deployment(project, deployment.pk)))


class UpdateParams(Schema):
    status: Literal["running", "success", "failed", "canceled"] | None = None


@router.put(_ONE)
def update_deployment(
    request: HttpRequest,
    id: PathStr,
    deployment_id: int,
    payload: Annotated[UpdateParams, Params(...)],
) -> dict[str, Any]:
    actor = require_user(request)
    project = environments.get_deploy_project_for(actor, id)
    deployment = services.get_deployment(project, deployment_id)
    if payload.status is None:
        raise MissingParameter("status")
    deployment = services.update_deployment(
        actor=actor, deployment=deployment, status=payload.status
    )
    return _one(request, services.get_deployment(project, deployment.pk))


# --- resource groups ----------------------------------------------------------------------------

_GROUPS = "/projects/{id}/resource_groups"
_GROUP = _GROUPS + "/{key}"


def _group_project(actor: Actor, id: str) -> Any:
    return environments.get_deploy_project_for(actor, id)


@router.get(_GROUPS, tags=["resource_groups"])
def list_resource_groups(
    request: HttpRequest, response: HttpResponse, id: PathStr
) -> list[dict[str, Any]]:
    actor = require_user(request)
    project = _group_project(actor, id)
    found = resource_groups.list_groups(actor=actor, project=project)
    return paginated(
        request, response, found, lambda page: [resource_group_entity(g) for g in page]
    )


@router.get(_GROUP, tags=["resource_groups"])
def get_resource_group(request: HttpRequest, id: PathStr, key: PathStr) -> dict[str, Any]:
    actor = require_user(request)
    project = _group_project(actor, id)
    return resource_group_entity(resource_groups.get_group(actor=actor, project=project, key=key))


@router.get(_GROUP + "/upcoming_jobs", tags=["resource_groups"])
def upcoming_jobs(
    request: HttpRequest, response: HttpResponse, id: PathStr, key: PathStr
) -> list[dict[str, Any]]:
    actor = require_user(request)
    project = _group_project(actor, id)
    group = resource_groups.get_group(actor=actor, project=project, key=key)
    found = resource_groups.upcoming_jobs(group).select_related(
        "project__namespace", "pipeline__project__namespace", "user", "runner"
    )
    return paginated(request, response, found, lambda page: job_basic_entities(page, request))


@router.get(_GROUP + "/current_job", tags=["resource_groups"])
def current_job(request: HttpRequest, id: PathStr, key: PathStr) -> Any:
    actor = require_user(request)
    project = _group_project(actor, id)
    group = resource_groups.get_group(actor=actor, project=project, key=key)
    holder = resource_groups.current_job(group)
    return job_basic_entities([holder], request)[0] if holder is not None else None


class GroupParams(Schema):
    process_mode: ProcessMode | None = None


@router.put(_GROUP, tags=["resource_groups"])
def update_resource_group(
    request: HttpRequest, id: PathStr, key: PathStr, payload: Annotated[GroupParams, Params(...)]
) -> dict[str, Any]:
    actor = require_user(request)
    project = _group_project(actor, id)
    group = resource_groups.get_group(actor=actor, project=project, key=key)
    if not environments.can_write(actor, project):
        raise Forbidden()
    group = resource_groups.update_group(
        actor=actor, group=group, process_mode=payload.process_mode
    )
    return resource_group_entity(group)
