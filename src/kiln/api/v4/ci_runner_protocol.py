"""The runner-facing API, as GitLab's `lib/api/ci/runner.rb`: what gitlab-runner (and
`kiln runner`) call.

Runners authenticate with their token in the body (`token`); job calls with the job's token
(`JOB-TOKEN` header or `token` parameter), valid only while the job runs — otherwise 403 with
the job's status in `Job-Status`, which tells the runner to stop.

`POST /jobs/request` answers at once: 201 with a job, or 204 with `X-GitLab-Last-Update`.
That value moves only when a job may have become available to the runner (or its settings
changed), so a runner that sends it back as `last_update` costs two indexed reads and no
search; nothing waits on a thread, and the runner's own poll interval paces it.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from ninja import Query, Router, Schema

from kiln.api.v4.params import merged_params
from kiln.api.v4.presenters.ci import job_request_payload, registration_entity
from kiln.ci import artifacts as artifact_service
from kiln.ci import jobs as job_service
from kiln.ci import runners as runner_service
from kiln.ci.jobtokens import JobTokenActor, running_job_for_token
from kiln.ci.models import Job, Runner
from kiln.ci.queue import assign_next_job, queue_version
from kiln.ci.variables import runner_variables
from kiln.core.errors import Forbidden, MissingParameter, NotFound, Unauthorized
from kiln.core.policy import can
from kiln.core.urls import base_url

router = Router(tags=["runner protocol"])
log = logging.getLogger(__name__)


def _ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "")


def _runner_token(params: dict[str, Any]) -> str:
    token = params.get("token")
    if token in (None, ""):
        raise MissingParameter("token")
    return str(token)


def _runner(params: dict[str, Any]) -> Runner:
    runner = runner_service.find_runner_by_token(_runner_token(params))
    if runner is None:
        raise Forbidden()
    return runner


def _job_token(request: HttpRequest) -> str:
    return str(request.headers.get("Job-Token") or request.GET.get("token") or "")


def _forbidden(exc: job_service.JobForbidden) -> JsonResponse:
    response = JsonResponse(exc.body(), status=403)
    if exc.job_status:
        response["Job-Status"] = exc.job_status
    return response


def _no_content(last_update: str) -> HttpResponse:
    response = HttpResponse(status=204)
    response["X-GitLab-Last-Update"] = last_update
    return response


# --- runners -----------------------------------------------------------------------------------


@router.post("/runners")
def register_runner(request: HttpRequest) -> JsonResponse:
    """Legacy registration with a registration token: 201 with the runner's token, or 403."""
    params = merged_params(request)
    token = _runner_token(params)
    registered = runner_service.register_runner(
        registration_token=token, attrs=params, ip_address=_ip(request)
    )
    if registered is None:
        raise Forbidden()
    return JsonResponse(registration_entity(registered.runner, registered.token), status=201)


@router.delete("/runners")
def unregister_runner(request: HttpRequest) -> HttpResponse:
    runner = _runner(merged_params(request))
    runner_service.unregister_runner(runner)
    return HttpResponse(status=204)


@router.post("/runners/verify")
def verify_runner(request: HttpRequest) -> JsonResponse:
    params = merged_params(request)
    runner = _runner(params)
    runner_service.heartbeat(runner, ip_address=_ip(request), system_id=params.get("system_id"))
    body = registration_entity(runner, _runner_token(params))
    return JsonResponse(body, status=200)


@router.post("/runners/reset_authentication_token")
def reset_runner_token(request: HttpRequest) -> JsonResponse:
    runner = _runner(merged_params(request))
    token = runner_service.reset_runner_token(runner)
    return JsonResponse({"token": token, "token_expires_at": None}, status=201)


class _RunnerListQuery(Schema):
    scope: str | None = None
    type: str | None = None
    status: str | None = None
    paused: bool | None = None
    tag_list: str | None = None


@router.get("/runners")
def list_runners(
    request: HttpRequest, response: HttpResponse, query: Query[_RunnerListQuery]
) -> list[dict[str, Any]]:
    # GET /runners shares its path with the protocol's POST and DELETE, so it is routed here;
    # the endpoint itself lives with the other runner administration endpoints.
    from kiln.api.v4 import runners_admin

    return runners_admin.list_owned(request, response, query)


# --- jobs --------------------------------------------------------------------------------------


@router.post("/jobs/request")
def request_job(request: HttpRequest) -> HttpResponse:
    params = merged_params(request)
    runner = _runner(params)
    runner_service.heartbeat(
        runner, info=params.get("info"), ip_address=_ip(request), system_id=params.get("system_id")
    )
    version = queue_version(runner)
    if not runner.active:
        return _no_content(version)
    if params.get("last_update") == version:
        return _no_content(version)
    assignment = assign_next_job(runner)
    if assignment is None:
        return _no_content(version)
    job = assignment.job
    try:
        variables = runner_variables(job, token=assignment.token, base_url=base_url(request))
        payload = job_request_payload(job, assignment.token, variables, request)
    except Exception:
        # The job was handed out but cannot be described: fail it (GitLab's scheduler
        # failure) rather than leave it running with no runner working on it.
        log.exception("could not build a job payload", extra={"job_id": job.pk})
        job_service.finish_job(job, state="failed", failure_reason="scheduler_failure")
        return _no_content(version)
    return JsonResponse(payload, status=201)


@router.put("/jobs/{int:job_id}")
def update_job(request: HttpRequest, job_id: int) -> HttpResponse:
    params = merged_params(request)
    token = str(params.get("token") or request.headers.get("Job-Token") or "")
    try:
        job = job_service.authenticate_job(job_id, token)
    except job_service.JobForbidden as exc:
        return _forbidden(exc)
    raw_output = params.get("output")
    output: dict[str, Any] = raw_output if isinstance(raw_output, dict) else {}
    exit_code = params.get("exit_code")
    bytesize = output.get("bytesize")
    status = job_service.update_job_state(
        job,
        state=str(params.get("state") or ""),
        failure_reason=params.get("failure_reason") or None,
        exit_code=int(exit_code)
        if isinstance(exit_code, int | str) and str(exit_code).lstrip("-").isdigit()
        else None,
        checksum=output.get("checksum") or params.get("checksum") or None,
        bytesize=int(bytesize) if isinstance(bytesize, int) else None,
    )
    response = HttpResponse(str(status), status=status, content_type="text/plain")
    if status in (202, 412):
        response["X-GitLab-Trace-Update-Interval"] = "1"
    return response


@router.patch("/jobs/{int:job_id}/trace")
def patch_trace(request: HttpRequest, job_id: int) -> HttpResponse:
    try:
        job = job_service.authenticate_job(job_id, _job_token(request))
    except job_service.JobForbidden as exc:
        return _forbidden(exc)
    content_range = request.headers.get("Content-Range")
    if content_range is None:
        return JsonResponse({"message": "400 Missing header Content-Range"}, status=400)
    start = job_service.parse_content_range(content_range)
    result = job_service.append_trace(job, start=start, data=request.body)
    if result.status == 416:
        response = JsonResponse({"message": "416 Range Not Satisfiable"}, status=416)
        response["Range"] = f"0-{result.size}"
        return response
    if result.status == 403:
        response = JsonResponse({"message": "403 Forbidden"}, status=403)
        response["Job-Status"] = result.job_status
        return response
    accepted = HttpResponse(status=202)
    accepted["Job-Status"] = result.job_status
    accepted["Range"] = f"0-{result.size}"
    accepted["X-GitLab-Trace-Update-Interval"] = str(job_service.TRACE_UPDATE_INTERVAL)
    return accepted


@router.post("/jobs/{int:job_id}/artifacts")
def upload_artifacts(request: HttpRequest, job_id: int) -> HttpResponse:
    try:
        job = job_service.authenticate_job(job_id, _job_token(request))
    except job_service.JobForbidden as exc:
        return _forbidden(exc)
    chunked = not str(request.META.get("CONTENT_LENGTH") or "").isdigit()
    stream: Any = request.META["wsgi.input"] if chunked else request
    received = artifact_service.receive_upload(
        request.META, stream, cap=artifact_service.max_artifact_bytes(job)
    )
    artifact_service.store_artifact(
        job,
        received,
        artifact_type=request.GET.get("artifact_type") or "archive",
        artifact_format=request.GET.get("artifact_format") or "zip",
        expire_in=request.GET.get("expire_in"),
    )
    return JsonResponse("201", status=201, safe=False)


@router.get("/jobs/{int:job_id}/artifacts")
def download_artifacts(request: HttpRequest, job_id: int) -> FileResponse:
    """The archive of a job, for the runner of a job that depends on it (its running token)."""
    running = running_job_for_token(_job_token(request))
    if running is None or running.user is None:
        raise Unauthorized()
    job = Job.objects.select_related("project__namespace").filter(pk=job_id).first()
    if job is None:
        raise NotFound()
    actor = JobTokenActor(
        user=running.user,
        scopes=frozenset({"read_repository"}),
        job_id=running.pk,
        project_ids=frozenset({running.project_id}),
    )
    if not actor.allows_project(job.project_id) or not can(actor, "read_job_artifacts", job):
        raise Forbidden()
    archive = artifact_service.archive_of(job)
    if archive is None:
        raise NotFound()
    try:
        handle = artifact_service.artifact_path(archive).open("rb")
    except OSError:
        raise NotFound() from None
    return FileResponse(handle, as_attachment=True, filename=archive.filename)
