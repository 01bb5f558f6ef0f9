"""API v4: pipelines, as GitLab's `lib/api/ci/pipelines.rb`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict

from kiln.api.v4.auth import actor_of, require_user
from kiln.api.v4.form_params import form_hash
from kiln.api.v4.pagination import paginated
from kiln.api.v4.params import Params, PathStr, merged_params
from kiln.api.v4.presenters.ci import (
    bridge_entities,
    job_entities,
    pipeline_entities,
    pipeline_entity,
    pipeline_variable_entity,
)
from kiln.ci import pipeline_actions, queries
from kiln.ci import pipelines as services
from kiln.ci.inputs import pipeline_inputs
from kiln.ci.models import JobKind, PipelineVariable
from kiln.core.errors import MissingParameter, NotFound

router = Router(tags=["pipelines"])


class PipelineListQuery(Schema):
    scope: Literal["running", "pending", "finished", "branches", "tags"] | None = None
    status: str | None = None
    source: str | None = None
    ref: str | None = None
    sha: str | None = None
    yaml_errors: bool | None = None
    username: str | None = None
    name: str | None = None
    updated_after: dt.datetime | None = None
    updated_before: dt.datetime | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    order_by: Literal["id", "status", "ref", "updated_at", "user_id"] = "id"
    sort: Literal["asc", "desc"] = "desc"


@router.get("/projects/{id}/pipelines")
def list_pipelines(
    request: HttpRequest, response: HttpResponse, id: PathStr, query: Query[PipelineListQuery]
) -> list[dict[str, Any]]:
    project = queries.get_ci_project_for(actor_of(request), id)
    filters = queries.PipelineFilters(**query.dict())
    found = queries.list_pipelines(project, filters)
    return paginated(request, response, found, lambda page: pipeline_entities(page, request))


class LatestQuery(Schema):
    ref: str | None = None


@router.get("/projects/{id}/pipelines/latest")
def latest_pipeline(request: HttpRequest, id: PathStr, query: Query[LatestQuery]) -> dict[str, Any]:
    project = queries.get_ci_project_for(actor_of(request), id)
    ref = query.ref or project.default_branch
    found = queries.list_pipelines(project, queries.PipelineFilters(ref=ref)).first()
    if found is None:
        raise NotFound()
    return pipeline_entity(found, request)


@router.get("/projects/{id}/pipelines/{int:pipeline_id}")
def get_pipeline(request: HttpRequest, id: PathStr, pipeline_id: int) -> dict[str, Any]:
    project = queries.get_ci_project_for(actor_of(request), id)
    return pipeline_entity(queries.get_pipeline_for(project, pipeline_id), request)


@router.delete("/projects/{id}/pipelines/{int:pipeline_id}")
def delete_pipeline(request: HttpRequest, id: PathStr, pipeline_id: int) -> HttpResponse:
    actor = require_user(request)
    project = queries.get_ci_project_for(actor, id)
    pipeline_actions.delete_pipeline(
        actor=actor, pipeline=queries.get_pipeline_for(project, pipeline_id)
    )
    return HttpResponse(status=204)


class PipelineJobsQuery(Schema):
    model_config = ConfigDict(populate_by_name=True)

    include_retried: bool = False


def _scope(request: HttpRequest) -> list[str]:
    return [s for s in request.GET.getlist("scope[]") + request.GET.getlist("scope") if s]


@router.get("/projects/{id}/pipelines/{int:pipeline_id}/jobs")
def pipeline_jobs(
    request: HttpRequest,
    response: HttpResponse,
    id: PathStr,
    pipeline_id: int,
    query: Query[PipelineJobsQuery],
) -> list[dict[str, Any]]:
    project = queries.get_ci_project_for(actor_of(request), id)
    pipeline = queries.get_pipeline_for(project, pipeline_id)
    found = queries.list_jobs(
        project, scope=_scope(request), pipeline=pipeline, include_retried=query.include_retried
    ).filter(kind=JobKind.BUILD)
    return paginated(request, response, found, lambda page: job_entities(page, request))


@router.get("/projects/{id}/pipelines/{int:pipeline_id}/bridges")
def pipeline_bridges(
    request: HttpRequest, response: HttpResponse, id: PathStr, pipeline_id: int
) -> list[dict[str, Any]]:
    actor = actor_of(request)
    project = queries.get_ci_project_for(actor, id)
    pipeline = queries.get_pipeline_for(project, pipeline_id)
    found = queries.list_jobs(project, scope=_scope(request), pipeline=pipeline).filter(
        kind=JobKind.BRIDGE
    )
    return paginated(request, response, found, lambda page: bridge_entities(page, request, actor))


@router.get("/projects/{id}/pipelines/{int:pipeline_id}/variables")
def pipeline_variables(request: HttpRequest, id: PathStr, pipeline_id: int) -> list[dict[str, Any]]:
    actor = actor_of(request)
    project = queries.get_ci_project_for(actor, id)
    pipeline = queries.get_pipeline_for(project, pipeline_id)
    from kiln.ci.policies import can_run_pipelines

    if not can_run_pipelines(actor, project):
        # GitLab shows pipeline variables to those who may run pipelines (Developer).
        from kiln.core.errors import Forbidden

        raise Forbidden()
    rows = PipelineVariable.objects.filter(pipeline=pipeline).order_by("pk")
    return [pipeline_variable_entity(row) for row in rows]


@router.get("/projects/{id}/pipelines/{int:pipeline_id}/test_report")
def test_report(request: HttpRequest, id: PathStr, pipeline_id: int) -> dict[str, Any]:
    from kiln.ci import test_reports

    project = queries.get_ci_project_for(actor_of(request), id)
    return test_reports.test_report(queries.get_pipeline_for(project, pipeline_id))


@router.get("/projects/{id}/pipelines/{int:pipeline_id}/test_report_summary")
def test_report_summary(request: HttpRequest, id: PathStr, pipeline_id: int) -> dict[str, Any]:
    from kiln.ci import test_reports

    project = queries.get_ci_project_for(actor_of(request), id)
    return test_reports.test_report_summary(queries.get_pipeline_for(project, pipeline_id))


@router.post("/projects/{id}/pipelines/{int:pipeline_id}/retry", response={201: dict[str, Any]})
def retry_pipeline(request: HttpRequest, id: PathStr, pipeline_id: int) -> Status[dict[str, Any]]:
    actor = require_user(request)
    project = queries.get_ci_project_for(actor, id)
    pipeline = pipeline_actions.retry_pipeline(
        actor=actor, pipeline=queries.get_pipeline_for(project, pipeline_id)
    )
    return Status(201, pipeline_entity(pipeline, request))


@router.post("/projects/{id}/pipelines/{int:pipeline_id}/cancel")
def cancel_pipeline(request: HttpRequest, id: PathStr, pipeline_id: int) -> dict[str, Any]:
    actor = require_user(request)
    project = queries.get_ci_project_for(actor, id)
    pipeline = pipeline_actions.cancel_pipeline(
        actor=actor, pipeline=queries.get_pipeline_for(project, pipeline_id)
    )
    return pipeline_entity(pipeline, request)


class VariableParam(Schema):
    key: str
    value: str = ""
    variable_type: str = "env_var"


class CreatePipelineParams(Schema):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    ref: str | None = None
    variables: list[VariableParam] | None = None
    # A hash of `spec:inputs` names to values (typed); kiln.ci.inputs checks its shape.
    inputs: Any = None


@router.post("/projects/{id}/pipeline", response={201: dict[str, Any]})
def create_pipeline(
    request: HttpRequest, id: PathStr, payload: Annotated[CreatePipelineParams, Params(...)]
) -> Status[dict[str, Any]]:
    actor = require_user(request)
    if not payload.ref:
        raise MissingParameter("ref")
    inputs = pipeline_inputs(form_hash(merged_params(request), "inputs"))
    project = queries.get_ci_project_for(actor, id)
    pipeline = services.create_pipeline(
        actor=actor,
        project=project,
        ref=payload.ref,
        variables=[v.dict() for v in payload.variables or []],
        inputs=inputs,
    )
    return Status(201, pipeline_entity(pipeline, request))
