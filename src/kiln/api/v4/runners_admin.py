"""API v4: runner administration, as GitLab's `lib/api/ci/runners.rb` and `POST /user/runners`.

(`GET /runners` shares its path with the runner protocol's `POST`/`DELETE /runners`, so
kiln.api.v4.ci_runner_protocol routes it to `list_owned` here.)
"""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict

from kiln.api.v4.auth import require_admin, require_user
from kiln.api.v4.pagination import paginated
from kiln.api.v4.params import CommaList, Params, PathStr
from kiln.api.v4.presenters.ci import (
    job_entities,
    registration_entity,
    runner_details,
    runner_entities,
)
from kiln.ci import policies, queries
from kiln.ci import runners as services
from kiln.ci.models import Runner, RunnerNamespace, RunnerProject
from kiln.core.errors import Forbidden, MissingParameter
from kiln.namespaces.queries import get_group_for
from kiln.projects.queries import get_project_for

router = Router(tags=["runners"])


def _tags(value: str | None) -> list[str]:
    return [t.strip() for t in (value or "").split(",") if t.strip()]


def list_owned(request: HttpRequest, response: HttpResponse, query: Any) -> list[dict[str, Any]]:
    actor = require_user(request)
    status = query.status or (
        query.scope if query.scope not in (None, "specific", "shared") else None
    )
    found = queries.list_owned_runners(
        actor, type=query.type, status=status, paused=query.paused, tag_list=_tags(query.tag_list)
    )
    return paginated(request, response, found, runner_entities)


class RunnerListQuery(Schema):
    scope: str | None = None
    type: str | None = None
    status: str | None = None
    paused: bool | None = None
    tag_list: str | None = None


@router.get("/runners/all")
def list_all(
    request: HttpRequest, response: HttpResponse, query: Query[RunnerListQuery]
) -> list[dict[str, Any]]:
    require_admin(request)
    status = query.status or (
        query.scope if query.scope not in (None, "specific", "shared") else None
    )
    kind = query.type
    if query.scope == "shared":
        kind = "instance_type"
    found = queries.list_all_runners(
        type=kind, status=status, paused=query.paused, tag_list=_tags(query.tag_list)
    )
    if query.scope == "specific":
        found = found.exclude(runner_type="instance_type")
    return paginated(request, response, found, runner_entities)


def _details(request: HttpRequest, runner: Runner) -> dict[str, Any]:
    actor = require_user(request)
    projects = [
        link.project
        for link in RunnerProject.objects.filter(runner=runner).select_related("project__namespace")
    ]
    groups = [
        link.namespace
        for link in RunnerNamespace.objects.filter(runner=runner).select_related("namespace")
    ]
    if not actor.is_admin:
        projects = [p for p in projects if policies.can_admin_ci(actor, p)]
        groups = [g for g in groups if policies.can_admin_group_ci(actor, g)]
    return runner_details(
        runner,
        request,
        can_update=policies.can_admin_runner(actor, runner),
        projects=projects,
        groups=groups,
    )


@router.get("/runners/{int:runner_id}")
def get_runner(request: HttpRequest, runner_id: int) -> dict[str, Any]:
    actor = require_user(request)
    return _details(request, queries.get_runner_for(actor, runner_id))


class RunnerUpdateParams(Schema):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    description: str | None = None
    active: bool | None = None
    paused: bool | None = None
    tag_list: CommaList | None = None
    run_untagged: bool | None = None
    locked: bool | None = None
    access_level: str | None = None
    maximum_timeout: int | None = None
    maintenance_note: str | None = None


@router.put("/runners/{int:runner_id}")
def update_runner(
    request: HttpRequest, runner_id: int, payload: Annotated[RunnerUpdateParams, Params(...)]
) -> dict[str, Any]:
    actor = require_user(request)
    runner = queries.get_runner_for(actor, runner_id)
    changes = payload.dict(exclude_unset=True)
    services.update_runner(actor=actor, runner=runner, changes=changes)
    return _details(request, runner)


@router.delete("/runners/{int:runner_id}")
def delete_runner(request: HttpRequest, runner_id: int) -> HttpResponse:
    actor = require_user(request)
    runner = queries.get_runner_for(actor, runner_id)
    services.delete_runner(actor=actor, runner=runner)
    return HttpResponse(status=204)


class RunnerJobsQuery(Schema):
    status: str | None = None
    order_by: str = "id"
    sort: str = "desc"


@router.get("/runners/{int:runner_id}/jobs")
def runner_jobs(
    request: HttpRequest, response: HttpResponse, runner_id: int, query: Query[RunnerJobsQuery]
) -> list[dict[str, Any]]:
    actor = require_user(request)
    runner = queries.get_runner_for(actor, runner_id)
    if not policies.can_admin_runner(actor, runner):
        raise Forbidden()
    found = queries.runner_jobs(runner, status=query.status, sort=query.sort)
    return paginated(request, response, found, lambda page: job_entities(page, request))


@router.post("/runners/reset_registration_token", response={201: dict[str, Any]})
def reset_instance_registration_token(request: HttpRequest) -> Status[dict[str, Any]]:
    actor = require_user(request)
    token = services.reset_registration_token(actor=actor)
    return Status(201, {"token": token, "token_expires_at": None})


# --- projects and groups ------------------------------------------------------------------------


class ProjectRunnersQuery(Schema):
    scope: str | None = None
    type: str | None = None
    status: str | None = None
    paused: bool | None = None
    tag_list: str | None = None


@router.get("/projects/{id}/runners")
def project_runners(
    request: HttpRequest, response: HttpResponse, id: PathStr, query: Query[ProjectRunnersQuery]
) -> list[dict[str, Any]]:
    actor = require_user(request)
    project = get_project_for(actor, id)
    if not policies.can_admin_ci(actor, project):
        raise Forbidden()
    found = queries.list_project_runners(
        project,
        scope=query.scope,
        type=query.type,
        status=query.status,
        paused=query.paused,
        tag_list=_tags(query.tag_list),
    )
    return paginated(request, response, found, runner_entities)


class AssignParams(Schema):
    runner_id: int | None = None


@router.post("/projects/{id}/runners", response={201: dict[str, Any]})
def assign_runner(
    request: HttpRequest, id: PathStr, payload: Annotated[AssignParams, Params(...)]
) -> Status[dict[str, Any]]:
    actor = require_user(request)
    if payload.runner_id is None:
        raise MissingParameter("runner_id")
    project = get_project_for(actor, id)
    runner = queries.get_runner_for(actor, payload.runner_id)
    services.assign_runner(actor=actor, runner=runner, project=project)
    return Status(201, runner_entities([runner])[0])


@router.delete("/projects/{id}/runners/{int:runner_id}")
def unassign_runner(request: HttpRequest, id: PathStr, runner_id: int) -> HttpResponse:
    actor = require_user(request)
    project = get_project_for(actor, id)
    runner = queries.get_runner_for(actor, runner_id)
    services.unassign_runner(actor=actor, runner=runner, project=project)
    return HttpResponse(status=204)


@router.post("/projects/{id}/runners/reset_registration_token", response={201: dict[str, Any]})
def reset_project_registration_token(request: HttpRequest, id: PathStr) -> Status[dict[str, Any]]:
    actor = require_user(request)
    project = get_project_for(actor, id)
    token = services.reset_registration_token(actor=actor, project=project)
    return Status(201, {"token": token, "token_expires_at": None})


@router.get("/groups/{id}/runners")
def group_runners(
    request: HttpRequest, response: HttpResponse, id: PathStr, query: Query[ProjectRunnersQuery]
) -> list[dict[str, Any]]:
    actor = require_user(request)
    group = get_group_for(actor, id)
    if not policies.can_admin_group_ci(actor, group):
        raise Forbidden()
    found = queries.list_all_runners(
        type=query.type, status=query.status, paused=query.paused, tag_list=_tags(query.tag_list)
    )
    ancestors = [int(i) for i in group.traversal_ids.split("/") if i]
    found = found.filter(runner_namespaces__namespace_id__in=ancestors).distinct()
    return paginated(request, response, found, runner_entities)


@router.post("/groups/{id}/runners/reset_registration_token", response={201: dict[str, Any]})
def reset_group_registration_token(request: HttpRequest, id: PathStr) -> Status[dict[str, Any]]:
    actor = require_user(request)
    group = get_group_for(actor, id)
    token = services.reset_registration_token(actor=actor, group=group)
    return Status(201, {"token": token, "token_expires_at": None})


# --- POST /user/runners -------------------------------------------------------------------------


class CreateRunnerParams(Schema):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    runner_type: str | None = None
    group_id: int | None = None
    project_id: int | None = None
    description: str | None = None
    maintenance_note: str | None = None
    paused: bool | None = None
    locked: bool | None = None
    run_untagged: bool | None = None
    tag_list: CommaList | None = None
    access_level: str | None = None
    maximum_timeout: int | None = None


@router.post("/user/runners", response={201: dict[str, Any]})
def create_runner(
    request: HttpRequest, payload: Annotated[CreateRunnerParams, Params(...)]
) -> Status[dict[str, Any]]:
    actor = require_user(request)
    if not payload.runner_type:
        raise MissingParameter("runner_type")
    project = get_project_for(actor, payload.project_id) if payload.project_id else None
    group = get_group_for(actor, payload.group_id) if payload.group_id else None
    attrs = payload.dict(exclude_unset=True, exclude={"runner_type", "group_id", "project_id"})
    registered = services.create_runner(
        actor=actor, runner_type=payload.runner_type, project=project, group=group, attrs=attrs
    )
    return Status(201, registration_entity(registered.runner, registered.token))
