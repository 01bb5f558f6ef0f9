"""API v4: jobs and their artifacts, as GitLab's `lib/api/ci/jobs.rb` and
`lib/api/ci/job_artifacts.rb`.

The artifact downloads and `GET /job` also accept a running job's token (`JOB-TOKEN` header
or `job_token` parameter), limited to that job's project (see kiln.api.v4.auth).
"""

from __future__ import annotations

import mimetypes
from typing import Annotated, Any

from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from ninja import Query, Router, Schema, Status

from kiln.api.v4.auth import actor_of, require_user
from kiln.api.v4.pagination import paginated
from kiln.api.v4.params import Params, PathStr
from kiln.api.v4.presenters.ci import bridge_entities, job_entities, job_entity
from kiln.ci import artifacts as artifact_service
from kiln.ci import jobs as services
from kiln.ci import queries, storage
from kiln.ci.jobtokens import JobTokenActor
from kiln.ci.models import Job, JobArtifact, JobKind
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, MissingParameter, NotFound, Unauthorized
from kiln.core.policy import can

router = Router(tags=["jobs"])


def _scope(request: HttpRequest) -> list[str]:
    return [s for s in request.GET.getlist("scope[]") + request.GET.getlist("scope") if s]


def _job(actor: Actor, id: str, job_id: int) -> Job:
    project = queries.get_ci_project_for(actor, id)
    return queries.get_job_for(project, job_id)


@router.get("/job")
def current_job(request: HttpRequest) -> dict[str, Any]:
    """The job whose token authenticates the request."""
    actor = actor_of(request)
    if not isinstance(actor, JobTokenActor):
        raise Unauthorized()
    job = Job.objects.select_related(
        "project__namespace", "pipeline__project__namespace", "user", "runner"
    ).get(pk=actor.job_id)
    return job_entity(job, request)


@router.get("/projects/{id}/jobs")
def list_jobs(request: HttpRequest, response: HttpResponse, id: PathStr) -> list[dict[str, Any]]:
    project = queries.get_ci_project_for(actor_of(request), id)
    found = queries.list_jobs(project, scope=_scope(request)).filter(kind=JobKind.BUILD)
    return paginated(request, response, found, lambda page: job_entities(page, request))


@router.get("/projects/{id}/jobs/{int:job_id}")
def get_job(request: HttpRequest, id: PathStr, job_id: int) -> dict[str, Any]:
    return job_entity(_job(actor_of(request), id, job_id), request)


@router.get("/projects/{id}/jobs/{int:job_id}/trace")
def get_trace(request: HttpRequest, id: PathStr, job_id: int) -> HttpResponse:
    actor = actor_of(request)
    job = _job(actor, id, job_id)
    if not can(actor, "read_build_trace", job):
        raise Forbidden()
    return HttpResponse(storage.read_trace(job.pk), content_type="text/plain; charset=utf-8")


@router.post("/projects/{id}/jobs/{int:job_id}/cancel", response={201: dict[str, Any]})
def cancel_job(request: HttpRequest, id: PathStr, job_id: int) -> Status[dict[str, Any]]:
    actor = require_user(request)
    job = services.cancel_job(actor=actor, job=_job(actor, id, job_id))
    return Status(201, job_entity(job, request))


@router.post("/projects/{id}/jobs/{int:job_id}/retry", response={201: dict[str, Any]})
def retry_job(request: HttpRequest, id: PathStr, job_id: int) -> Status[dict[str, Any]]:
    actor = require_user(request)
    job = services.retry_job(actor=actor, job=_job(actor, id, job_id))
    job = Job.objects.select_related(
        "project__namespace", "pipeline__project__namespace", "user", "runner"
    ).get(pk=job.pk)
    return Status(201, job_entity(job, request))


class JobVariableParam(Schema):
    key: str
    value: str = ""


class PlayParams(Schema):
    job_variables_attributes: list[JobVariableParam] | None = None


@router.post("/projects/{id}/jobs/{int:job_id}/play")
def play_job(
    request: HttpRequest, id: PathStr, job_id: int, payload: Annotated[PlayParams, Params(...)]
) -> dict[str, Any]:
    actor = require_user(request)
    variables = [v.dict() for v in payload.job_variables_attributes or []]
    job = services.play_job(actor=actor, job=_job(actor, id, job_id), variables=variables)
    if job.kind == JobKind.BRIDGE:
        return bridge_entities([job], request, actor)[0]
    return job_entity(job, request)


@router.post("/projects/{id}/jobs/{int:job_id}/erase", response={201: dict[str, Any]})
def erase_job(request: HttpRequest, id: PathStr, job_id: int) -> Status[dict[str, Any]]:
    actor = require_user(request)
    job = services.erase_job(actor=actor, job=_job(actor, id, job_id))
    return Status(201, job_entity(job, request))


# --- artifacts --------------------------------------------------------------------------------


def _readable_archive(actor: Actor, job: Job) -> JobArtifact:
    if not can(actor, "read_job_artifacts", job):
        raise Forbidden()
    archive = artifact_service.archive_of(job)
    if archive is None:
        raise NotFound()
    return archive


def _file_response(archive: JobArtifact) -> FileResponse:
    try:
        handle = artifact_service.artifact_path(archive).open("rb")
    except OSError:
        raise NotFound() from None
    return FileResponse(handle, as_attachment=True, filename=archive.filename)


def _member_response(archive: JobArtifact, path: str) -> StreamingHttpResponse:
    info, chunks = artifact_service.open_member(archive, path)
    name = info.filename.rsplit("/", 1)[-1]
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = StreamingHttpResponse(chunks, content_type=content_type)
    response["Content-Length"] = str(info.file_size)
    response["Content-Disposition"] = f'attachment; filename="{name.replace(chr(34), "")}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@router.get("/projects/{id}/jobs/{int:job_id}/artifacts")
def download_artifacts(request: HttpRequest, id: PathStr, job_id: int) -> FileResponse:
    actor = actor_of(request)
    return _file_response(_readable_archive(actor, _job(actor, id, job_id)))


@router.delete("/projects/{id}/jobs/{int:job_id}/artifacts")
def delete_artifacts(request: HttpRequest, id: PathStr, job_id: int) -> HttpResponse:
    actor = require_user(request)
    job = _job(actor, id, job_id)
    if not can(actor, "erase_build", job):
        raise Forbidden()
    paths = list(JobArtifact.objects.filter(job=job).values_list("storage_path", flat=True))
    JobArtifact.objects.filter(job=job).delete()
    for path in paths:
        storage.delete_artifact(path)
    return HttpResponse(status=204)


@router.get("/projects/{id}/jobs/{int:job_id}/artifacts/{path:artifact_path}")
def download_artifact_file(
    request: HttpRequest, id: PathStr, job_id: int, artifact_path: PathStr
) -> StreamingHttpResponse:
    actor = actor_of(request)
    archive = _readable_archive(actor, _job(actor, id, job_id))
    return _member_response(archive, artifact_path)


class RefJobQuery(Schema):
    job: str | None = None


def _ref_job(actor: Actor, id: str, ref_name: str, name: str | None) -> Job:
    if not name:
        raise MissingParameter("job")
    project = queries.get_ci_project_for(actor, id)
    job = queries.latest_successful_job(project, ref_name, name)
    if job is None:
        raise NotFound()
    return job


@router.get("/projects/{id}/jobs/artifacts/{ref_name}/download")
def download_ref_artifacts(
    request: HttpRequest, id: PathStr, ref_name: PathStr, query: Query[RefJobQuery]
) -> FileResponse:
    actor = actor_of(request)
    return _file_response(_readable_archive(actor, _ref_job(actor, id, ref_name, query.job)))


@router.get("/projects/{id}/jobs/artifacts/{ref_name}/raw/{path:artifact_path}")
def download_ref_artifact_file(
    request: HttpRequest,
    id: PathStr,
    ref_name: PathStr,
    artifact_path: PathStr,
    query: Query[RefJobQuery],
) -> StreamingHttpResponse:
    actor = actor_of(request)
    archive = _readable_archive(actor, _ref_job(actor, id, ref_name, query.job))
    return _member_response(archive, artifact_path)
