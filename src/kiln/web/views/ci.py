"""CI/CD pages of a project, under `/<full_path>/-/` with GitLab's paths:

- `pipelines` (list, tabs All/Finished/Branches/Tags; POST runs a pipeline), `pipelines/new`,
  `pipelines/<id>` (jobs by stage with their needs, test report summary), `.../retry|cancel`;
- `jobs` (list), `jobs/<id>` (the log: ANSI colours as CSS classes, collapsible sections,
  follow mode polling `jobs/<id>/trace.json?state=`), `jobs/<id>/raw`, `.../retry|cancel|
  play|erase`, `jobs/<id>/artifacts/download|browse|file|raw`;
- `settings/ci_cd` (general pipeline settings, variables, runners), `variables`, `runners`,
  `ci/lint`.

Reads start from `kiln.ci.queries.get_ci_project_for` and writes call the services the API
calls (`kiln.ci.pipelines`, `kiln.ci.jobs`, `kiln.ci.variables`, `kiln.ci.runners`,
`kiln.ci.lint`, `kiln.projects.services.update_project`), which enforce the access levels;
what the actor may not see or do answers 404. The buttons shown follow the same policies.

The log renderer (`render_log`, `LogState`) turns a trace into a list of operations (lines of
(classes, text) segments, section opens and closes): the page renders them as HTML, the
follow-mode JSON hands them to ci.js, which builds the DOM with `textContent`. Nothing of the
log is ever interpreted as HTML, and colours are classes only (strict CSP, no inline styles).
"""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
import re
import stat
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from kiln.ci import artifacts as artifact_service
from kiln.ci import jobs as job_services
from kiln.ci import lint as lint_service
from kiln.ci import pipelines as pipeline_services
from kiln.ci import policies, queries, storage, test_reports
from kiln.ci import runners as runner_services
from kiln.ci import statuses as st
from kiln.ci import variables as variable_services
from kiln.ci.config import PipelinePlan
from kiln.ci.models import (
    Job,
    JobArtifact,
    JobKind,
    Pipeline,
    PipelineSource,
    Runner,
    RunnerType,
    Variable,
)
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, KilnError, NotFound
from kiln.core.policy import can
from kiln.core.urls import base_url
from kiln.gitstore import GitStoreError
from kiln.projects import services as project_services
from kiln.projects.models import Project
from kiln.repositories import queries as repo_queries
from kiln.web.context import actor_for
from kiln.web.views.dashboard import paginate
from kiln.web.views.settings import checked, form_errors, int_or_none

PER_PAGE = 20

# --- helpers ----------------------------------------------------------------------------------


def _ci_project(request: HttpRequest, full_path: str) -> Project:
    """The project if the actor may read its pipelines (the API's `get_ci_project_for`)."""
    try:
        return queries.get_ci_project_for(actor_for(request), full_path)
    except (NotFound, Forbidden) as exc:
        raise Http404(full_path) from exc


def _admin_project(request: HttpRequest, full_path: str) -> Project:
    """The project if the actor may administer its CI/CD (Maintainer), else 404."""
    from kiln.web.context import project_or_404

    project = project_or_404(request, full_path)
    if not policies.can_admin_ci(actor_for(request), project):
        raise Http404(full_path)
    return project


def _base(project: Project) -> str:
    return f"/{project.full_path}"


def _redirect(url: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(url)


def duration_text(seconds: float | int | None) -> str:
    """GitLab's short durations: "42s", "3m 5s", "1h 2m 3s"; "" when unknown."""
    if seconds is None:
        return ""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def latest_pipeline_for(
    actor: Actor, project: Project, *, sha: str | None = None, ref: str | None = None
) -> Pipeline | None:
    """The newest pipeline of a commit or ref that the actor may see (None otherwise): what
    the `web/ci/_status.html` partial shows on commits, branches and merge requests."""
    if not policies.can_read_pipelines(actor, project):
        return None
    filters = queries.PipelineFilters(sha=sha or None, ref=ref or None)
    return queries.list_pipelines(project, filters).first()


def _page(
    request: HttpRequest, template: str, project: Project, nav: str, context: dict[str, Any]
) -> HttpResponse:
    full = {"project": project, "nav": nav, "base": _base(project), **context}
    return render(request, template, full)


# --- pipelines ---------------------------------------------------------------------------------

PIPELINE_TABS = (
    ("all", "All"),
    ("finished", "Finished"),
    ("branches", "Branches"),
    ("tags", "Tags"),
)


def _pipeline_row(pipeline: Pipeline) -> dict[str, Any]:
    title = str((pipeline.commit_info or {}).get("title") or "")
    return {
        "pipeline": pipeline,
        "title": title,
        "short_sha": pipeline.sha[:8],
        "duration": duration_text(pipeline.duration),
        "source": pipeline.source.replace("_", " "),
    }


@require_http_methods(["GET", "POST"])
def pipelines(request: HttpRequest, full_path: str) -> HttpResponse:
    if request.method == "POST":
        return create_pipeline(request, full_path)
    project = _ci_project(request, full_path)
    actor = actor_for(request)
    scope = request.GET.get("scope", "all")
    if scope not in dict(PIPELINE_TABS):
        scope = "all"
    filters = queries.PipelineFilters(scope=None if scope == "all" else scope)
    pager = paginate(request, queries.list_pipelines(project, filters), PER_PAGE)
    pager.items = [_pipeline_row(p) for p in pager.items]
    return _page(
        request,
        "web/ci/pipelines.html",
        project,
        "pipelines",
        {
            "pager": pager,
            "scope": scope,
            "tabs": PIPELINE_TABS,
            "can_run": policies.can_run_pipelines(actor, project),
        },
    )


def _refs(project: Project) -> tuple[list[str], list[str]]:
    if project.empty_repo:
        return [], []
    try:
        branches = [b.name for b in repo_queries.list_branches(project)]
        tags = [
            t.name
            for t in repo_queries.list_tags(project, search=None, order_by="name", sort="asc")
        ]
    except (GitStoreError, KilnError, OSError):
        return [], []
    return branches, tags


VARIABLE_ROWS = 5


def _new_pipeline(
    request: HttpRequest, project: Project, form: dict[str, Any], errors: list[str]
) -> HttpResponse:
    branches, tags = _refs(project)
    rows = list(form.get("variables", []))
    while len(rows) < VARIABLE_ROWS:
        rows.append({"key": "", "value": "", "variable_type": "env_var"})
    return _page(
        request,
        "web/ci/pipeline_new.html",
        project,
        "pipelines",
        {
            "form": form,
            "errors": errors,
            "branches": branches,
            "tags": tags,
            "variable_rows": [{"index": i, **row} for i, row in enumerate(rows)],
        },
    )


def new_pipeline(request: HttpRequest, full_path: str) -> HttpResponse:
    project = _ci_project(request, full_path)
    if not policies.can_run_pipelines(actor_for(request), project):
        raise Http404(full_path)
    ref = request.GET.get("ref") or project.default_branch or ""
    return _new_pipeline(request, project, {"ref": ref, "variables": []}, [])


def create_pipeline(request: HttpRequest, full_path: str) -> HttpResponse:
    """POST /-/pipelines: "Run pipeline" (source `web`) through the API's service."""
    project = _ci_project(request, full_path)
    actor = actor_for(request)
    if not policies.can_run_pipelines(actor, project):
        raise Http404(full_path)
    ref = request.POST.get("ref", "").strip()
    variables: list[dict[str, str]] = []
    for index in range(50):
        key = request.POST.get(f"variables[{index}][key]")
        if key is None:
            continue
        value = request.POST.get(f"variables[{index}][value]", "")
        kind = request.POST.get(f"variables[{index}][variable_type]", "env_var")
        if key.strip() or value:
            variables.append({"key": key.strip(), "value": value, "variable_type": kind})
    form = {"ref": ref, "variables": variables}
    if not ref:
        return _new_pipeline(request, project, form, ["Select a branch or tag to run."])
    try:
        pipeline = pipeline_services.create_pipeline(
            actor=actor, project=project, ref=ref, source=PipelineSource.WEB, variables=variables
        )
    except pipeline_services.PipelineError as exc:
        if exc.pipeline is not None:
            messages.error(request, exc.message)
            return _redirect(f"{_base(project)}/-/pipelines/{exc.pipeline.pk}")
        return _new_pipeline(request, project, form, form_errors(exc))
    except (NotFound, Forbidden) as exc:
        raise Http404(full_path) from exc
    except KilnError as exc:
        return _new_pipeline(request, project, form, form_errors(exc))
    return _redirect(f"{_base(project)}/-/pipelines/{pipeline.pk}")


def _job_actions(actor: Actor, job: Job) -> dict[str, bool]:
    """Which buttons to show: the service's own rules (policy and status)."""
    build = job.kind == JobKind.BUILD
    return {
        "retry": build
        and not job.retried
        and job.status in st.RETRYABLE
        and can(actor, "retry_build", job),
        "cancel": job.status in st.CANCELABLE and can(actor, "cancel_build", job),
        "play": build and job.status in (st.MANUAL, st.SCHEDULED) and can(actor, "play_job", job),
        "erase": build
        and job.status in st.COMPLETED
        and job.erased_at is None
        and can(actor, "erase_build", job),
    }


def _job_row(actor: Actor, job: Job) -> dict[str, Any]:
    needs = [str(n.get("name", "")) for n in (job.needs or []) if isinstance(n, dict)]
    return {
        "job": job,
        "needs": needs,
        "duration": duration_text(job.duration) if job.started_at else "",
        "actions": _job_actions(actor, job),
    }


def pipeline_show(request: HttpRequest, full_path: str, pipeline_id: int) -> HttpResponse:
    project = _ci_project(request, full_path)
    actor = actor_for(request)
    try:
        pipeline = queries.get_pipeline_for(project, pipeline_id)
    except NotFound as exc:
        raise Http404(str(pipeline_id)) from exc
    jobs = list(queries.list_jobs(project, pipeline=pipeline))
    stages: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for job in sorted(jobs, key=lambda j: (j.stage_idx, j.name, j.pk)):
        stages.setdefault((job.stage_idx, job.stage), []).append(_job_row(actor, job))
    stage_list = [
        {
            "name": name,
            "rows": rows,
            "status": st.composite((r["job"].status, r["job"].allow_failure) for r in rows),
        }
        for (_, name), rows in sorted(stages.items())
    ]
    summary = test_reports.test_report_summary(pipeline)
    failed_cases: list[dict[str, Any]] = []
    if summary["total"]["failed"] or summary["total"]["error"]:
        report = test_reports.test_report(pipeline)
        for suite in report["test_suites"]:
            for case in suite["test_cases"]:
                if case["status"] in ("failed", "error") and len(failed_cases) < 50:
                    failed_cases.append({"suite": suite["name"], **case})
    return _page(
        request,
        "web/ci/pipeline.html",
        project,
        "pipelines",
        {
            "pipeline": pipeline,
            "row": _pipeline_row(pipeline),
            "stages": stage_list,
            "job_count": len(jobs),
            "summary": summary if summary["test_suites"] else None,
            "failed_cases": failed_cases,
            "can_retry": pipeline.status in (st.FAILED, st.CANCELED)
            and can(actor, "retry_pipeline", pipeline),
            "can_cancel": pipeline.status in st.CANCELABLE
            and can(actor, "cancel_pipeline", pipeline),
            "yaml_errors": pipeline.yaml_errors,
        },
    )


def _pipeline_action(request: HttpRequest, full_path: str, pipeline_id: int, action: str) -> Any:
    project = _ci_project(request, full_path)
    actor = actor_for(request)
    try:
        pipeline = queries.get_pipeline_for(project, pipeline_id)
        if action == "retry":
            pipeline_services.retry_pipeline(actor=actor, pipeline=pipeline)
        else:
            pipeline_services.cancel_pipeline(actor=actor, pipeline=pipeline)
    except (NotFound, Forbidden) as exc:
        raise Http404(str(pipeline_id)) from exc
    return _redirect(f"{_base(project)}/-/pipelines/{pipeline_id}")


@require_POST
def pipeline_retry(request: HttpRequest, full_path: str, pipeline_id: int) -> HttpResponse:
    return _pipeline_action(request, full_path, pipeline_id, "retry")  # type: ignore[no-any-return]


@require_POST
def pipeline_cancel(request: HttpRequest, full_path: str, pipeline_id: int) -> HttpResponse:
    return _pipeline_action(request, full_path, pipeline_id, "cancel")  # type: ignore[no-any-return]


# --- jobs --------------------------------------------------------------------------------------

JOB_TABS = (
    ("all", "All"),
    ("pending", "Pending"),
    ("running", "Running"),
    ("finished", "Finished"),
)
_JOB_SCOPES: dict[str, Sequence[str]] = {
    "all": (),
    "pending": (st.PENDING,),
    "running": (st.RUNNING,),
    "finished": (st.SUCCESS, st.FAILED, st.CANCELED),
}


def jobs(request: HttpRequest, full_path: str) -> HttpResponse:
    project = _ci_project(request, full_path)
    actor = actor_for(request)
    scope = request.GET.get("scope", "all")
    if scope not in _JOB_SCOPES:
        scope = "all"
    found = queries.list_jobs(project, scope=_JOB_SCOPES[scope]).filter(kind=JobKind.BUILD)
    pager = paginate(request, found, PER_PAGE)
    pager.items = [_job_row(actor, job) for job in pager.items]
    return _page(
        request,
        "web/ci/jobs.html",
        project,
        "jobs",
        {"pager": pager, "scope": scope, "tabs": JOB_TABS},
    )


def _job(request: HttpRequest, full_path: str, job_id: int) -> tuple[Project, Job]:
    project = _ci_project(request, full_path)
    try:
        return project, queries.get_job_for(project, job_id)
    except NotFound as exc:
        raise Http404(str(job_id)) from exc


# The page shows at most the last LOG_PAGE_BYTES of a log (the rest: the raw log); a poll
# returns at most LOG_POLL_BYTES.
LOG_PAGE_BYTES = 1024 * 1024
LOG_POLL_BYTES = 256 * 1024


def _read_tail(job_id: int, size: int) -> tuple[int, bytes]:
    """(offset, bytes) of the last LOG_PAGE_BYTES of the log, starting at a line."""
    if size <= LOG_PAGE_BYTES:
        return 0, storage.read_trace(job_id)
    start = size - LOG_PAGE_BYTES
    try:
        with storage.trace_file(job_id).open("rb") as fh:
            fh.seek(start)
            data = fh.read(LOG_PAGE_BYTES)
    except FileNotFoundError:
        return 0, b""
    newline = data.find(b"\n")
    if 0 <= newline < len(data) - 1:
        return start + newline + 1, data[newline + 1 :]
    return start, data


def _read_from(job_id: int, offset: int) -> bytes:
    try:
        with storage.trace_file(job_id).open("rb") as fh:
            fh.seek(offset)
            return fh.read(LOG_POLL_BYTES)
    except FileNotFoundError:
        return b""


def _artifact_info(actor: Actor, job: Job) -> JobArtifact | None:
    if not can(actor, "read_job_artifacts", job):
        return None
    return artifact_service.archive_of(job)


def job_show(request: HttpRequest, full_path: str, job_id: int) -> HttpResponse:
    project, job = _job(request, full_path, job_id)
    actor = actor_for(request)
    can_read_log = can(actor, "read_build_trace", job)
    log_html: SafeString = mark_safe("")
    state = ""
    truncated = False
    size = 0
    complete = job.status in st.COMPLETED or job.status == st.MANUAL
    if can_read_log and job.kind == JobKind.BUILD:
        size = storage.trace_size(job.pk)
        offset, data = _read_tail(job.pk, size)
        truncated = offset > 0
        ops, end_state = render_log(data, LogState(offset=offset), final=complete)
        log_html = ops_to_html(ops)
        state = end_state.encode()
    archive = _artifact_info(actor, job)
    return _page(
        request,
        "web/ci/job.html",
        project,
        "jobs",
        {
            "job": job,
            "row": _job_row(actor, job),
            "pipeline": job.pipeline,
            "can_read_log": can_read_log,
            "log_html": log_html,
            "log_state": state,
            "log_truncated": truncated,
            "log_size": size,
            "follow": can_read_log and not complete and job.kind == JobKind.BUILD,
            "archive": archive,
            "artifacts_expire_at": archive.expire_at if archive else None,
            "queued": duration_text(job.queued_duration) if job.queued_at else "",
        },
    )


def job_trace(request: HttpRequest, full_path: str, job_id: int) -> JsonResponse:
    """GET /-/jobs/<id>/trace.json?state=: the log after `state` (from the page or the last
    poll) as operations for ci.js, and the job's status."""
    _, job = _job(request, full_path, job_id)
    if not can(actor_for(request), "read_build_trace", job):
        raise Http404(str(job_id))
    complete = job.status in st.COMPLETED or job.status == st.MANUAL
    state = LogState.decode(request.GET.get("state", "")) or LogState(offset=0)
    size = storage.trace_size(job.pk)
    ops: list[dict[str, Any]] = []
    reset = False
    if state.offset > size:  # the log was rewritten (a runner's trace reset)
        state, reset = LogState(offset=0), True
    if state.offset < size:
        data = _read_from(job.pk, state.offset)
        final = complete and state.offset + len(data) >= size
        ops, state = render_log(data, state, final=final)
    return JsonResponse(
        {
            "state": state.encode(),
            "ops": ops,
            "reset": reset,
            "status": job.status,
            "complete": complete and state.offset >= size,
            "size": size,
        }
    )


def job_raw(request: HttpRequest, full_path: str, job_id: int) -> HttpResponse | FileResponse:
    _, job = _job(request, full_path, job_id)
    if not can(actor_for(request), "read_build_trace", job):
        raise Http404(str(job_id))
    try:
        handle = storage.trace_file(job.pk).open("rb")
    except FileNotFoundError:
        response: HttpResponse | FileResponse = HttpResponse(
            b"", content_type="text/plain; charset=utf-8"
        )
    else:
        response = FileResponse(handle, content_type="text/plain; charset=utf-8")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Content-Disposition"] = "inline"
    return response


def _job_action(request: HttpRequest, full_path: str, job_id: int, action: str) -> HttpResponse:
    project, job = _job(request, full_path, job_id)
    actor = actor_for(request)
    target = job
    try:
        if action == "retry":
            target = job_services.retry_job(actor=actor, job=job)
        elif action == "cancel":
            job_services.cancel_job(actor=actor, job=job)
        elif action == "play":
            job_services.play_job(actor=actor, job=job)
        else:
            job_services.erase_job(actor=actor, job=job)
            messages.success(request, "Job has been erased.")
    except (NotFound, Forbidden) as exc:
        if not can(actor, "read_build", job) or exc.message in ("", "403 Forbidden"):
            raise Http404(str(job_id)) from exc
        messages.error(request, exc.message)
    except KilnError as exc:
        messages.error(request, exc.message)
    return _redirect(f"{_base(project)}/-/jobs/{target.pk}")


@require_POST
def job_retry(request: HttpRequest, full_path: str, job_id: int) -> HttpResponse:
    return _job_action(request, full_path, job_id, "retry")


@require_POST
def job_cancel(request: HttpRequest, full_path: str, job_id: int) -> HttpResponse:
    return _job_action(request, full_path, job_id, "cancel")


@require_POST
def job_play(request: HttpRequest, full_path: str, job_id: int) -> HttpResponse:
    return _job_action(request, full_path, job_id, "play")


@require_POST
def job_erase(request: HttpRequest, full_path: str, job_id: int) -> HttpResponse:
    return _job_action(request, full_path, job_id, "erase")


# --- artifacts ---------------------------------------------------------------------------------


def _archive(request: HttpRequest, full_path: str, job_id: int) -> tuple[Project, Job, JobArtifact]:
    project, job = _job(request, full_path, job_id)
    archive = _artifact_info(actor_for(request), job)
    if archive is None:
        raise Http404(str(job_id))
    return project, job, archive


def artifacts_download(request: HttpRequest, full_path: str, job_id: int) -> FileResponse:
    _, _, archive = _archive(request, full_path, job_id)
    try:
        handle = artifact_service.artifact_path(archive).open("rb")
    except OSError as exc:
        raise Http404(str(job_id)) from exc
    return FileResponse(handle, as_attachment=True, filename=archive.filename)


@dataclass
class _Entry:
    name: str
    path: str
    is_dir: bool
    size: int = 0


def _listing(archive: JobArtifact, directory: str) -> list[_Entry] | None:
    """The entries of `directory` ("" for the top) of a zip archive; None when it has none.
    Symlinks are left out, as the downloads refuse them."""
    prefix = f"{directory}/" if directory else ""
    try:
        with zipfile.ZipFile(artifact_service.artifact_path(archive)) as zf:
            infos = zf.infolist()
    except (OSError, zipfile.BadZipFile):
        return None
    dirs: dict[str, _Entry] = {}
    files: list[_Entry] = []
    found = directory == ""
    for info in infos[:100_000]:
        name = info.filename
        if not name.startswith(prefix) or name == prefix:
            if name == prefix:
                found = True
            continue
        found = True
        rest = name[len(prefix) :]
        head, sep, _ = rest.partition("/")
        if sep:
            dirs.setdefault(head, _Entry(head, prefix + head, True))
        elif not info.is_dir() and not stat.S_ISLNK(info.external_attr >> 16):
            files.append(_Entry(head, name, False, info.file_size))
    if not found:
        return None
    return sorted(dirs.values(), key=lambda e: e.name) + sorted(files, key=lambda e: e.name)


def artifacts_browse(
    request: HttpRequest, full_path: str, job_id: int, path: str = ""
) -> HttpResponse:
    project, job, archive = _archive(request, full_path, job_id)
    directory = path.strip("/")
    if any(part in ("", ".", "..") for part in directory.split("/")) and directory:
        raise Http404(path)
    entries = _listing(archive, directory)
    if entries is None:
        raise Http404(path)
    crumbs = []
    so_far = ""
    for part in directory.split("/") if directory else []:
        so_far = f"{so_far}/{part}" if so_far else part
        crumbs.append({"name": part, "path": so_far})
    return _page(
        request,
        "web/ci/artifacts.html",
        project,
        "jobs",
        {
            "job": job,
            "entries": entries,
            "directory": directory,
            "crumbs": crumbs,
            "archive": archive,
        },
    )


def artifacts_file(request: HttpRequest, full_path: str, job_id: int, path: str) -> Any:
    """One file of the archive, as an attachment (nothing of it renders in Kiln's origin)."""
    _, _, archive = _archive(request, full_path, job_id)
    try:
        info, chunks = artifact_service.open_member(archive, path)
    except NotFound as exc:
        raise Http404(path) from exc
    name = info.filename.rsplit("/", 1)[-1]
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = StreamingHttpResponse(chunks, content_type=content_type)
    response["Content-Length"] = str(info.file_size)
    safe = re.sub(r'["\\\r\n]', "", name)
    response["Content-Disposition"] = f'attachment; filename="{safe}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- CI/CD settings ----------------------------------------------------------------------------


def _variable_rows(actor: Actor, project: Project) -> list[Variable]:
    owner = variable_services.VariableOwner(project=project)
    return list(variable_services.list_variables(actor=actor, owner=owner))


def _runner_rows(actor: Actor, project: Project) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {"project": [], "group": [], "instance": []}
    for runner in queries.list_project_runners(project)[:200]:
        kind = {
            RunnerType.PROJECT: "project",
            RunnerType.GROUP: "group",
            RunnerType.INSTANCE: "instance",
        }[RunnerType(runner.runner_type)]
        found[kind].append(
            {"runner": runner, "can_admin": policies.can_admin_runner(actor, runner)}
        )
    return found


def _settings_page(
    request: HttpRequest,
    project: Project,
    *,
    errors: Iterable[str] = (),
    variable_form: dict[str, Any] | None = None,
    variable_errors: Iterable[str] = (),
    runner_errors: Iterable[str] = (),
    status: int = 200,
) -> HttpResponse:
    actor = actor_for(request)
    response = _page(
        request,
        "web/ci/settings.html",
        project,
        "settings",
        {
            "tab": "ci_cd",
            "can_admin": can(actor, "admin_project", project),
            "errors": list(errors),
            "variables": _variable_rows(actor, project),
            "variable_form": variable_form or {"environment_scope": "*", "raw": False},
            "variable_errors": list(variable_errors),
            "runner_errors": list(runner_errors),
            "runners": _runner_rows(actor, project),
            "timeout_minutes": project.build_timeout // 60,
            "external_url": base_url(request),
        },
    )
    response.status_code = status
    return response


@require_http_methods(["GET", "POST"])
def settings_ci_cd(request: HttpRequest, full_path: str) -> HttpResponse:
    project = _admin_project(request, full_path)
    if request.method == "GET":
        return _settings_page(request, project)
    post = request.POST
    minutes = int_or_none(post.get("build_timeout_minutes"))
    settings: dict[str, Any] = {
        "public_jobs": checked(post, "public_jobs"),
        "auto_cancel_pending_pipelines": "enabled"
        if checked(post, "auto_cancel_pending_pipelines")
        else "disabled",
        "ci_config_path": post.get("ci_config_path", "").strip(),
    }
    errors: list[str] = []
    if minutes is None:
        errors.append("Timeout must be a whole number of minutes")
    else:
        settings["build_timeout"] = minutes * 60
    if not errors:
        try:
            project_services.update_project(
                actor=actor_for(request), project=project, settings=settings
            )
        except (NotFound, Forbidden) as exc:
            raise Http404(full_path) from exc
        except KilnError as exc:
            errors = form_errors(exc)
    if errors:
        project.refresh_from_db()
        return _settings_page(request, project, errors=errors)
    messages.success(request, f"Pipelines settings for '{project.name}' were successfully updated.")
    return _redirect(f"{_base(project)}/-/settings/ci_cd")


def _variable_changes(post: Any) -> dict[str, Any]:
    visibility = post.get("visibility", "visible")
    changes: dict[str, Any] = {
        "variable_type": post.get("variable_type", "env_var"),
        "protected": checked(post, "protected"),
        "raw": not checked(post, "expand"),
        "environment_scope": post.get("environment_scope", "").strip() or "*",
        "description": post.get("description", ""),
    }
    if "value" in post:
        changes["value"] = post.get("value", "").replace("\r\n", "\n")
    if visibility in ("visible", "masked"):
        changes["masked"] = visibility == "masked"
    return changes


@require_POST
def variable_create(request: HttpRequest, full_path: str) -> HttpResponse:
    project = _admin_project(request, full_path)
    actor = actor_for(request)
    key = request.POST.get("key", "").strip()
    changes = _variable_changes(request.POST)
    owner = variable_services.VariableOwner(project=project)
    try:
        variable_services.create_variable(actor=actor, owner=owner, key=key, changes=changes)
    except (NotFound, Forbidden) as exc:
        raise Http404(full_path) from exc
    except KilnError as exc:
        form = {"key": key, **changes, "visibility": request.POST.get("visibility", "visible")}
        form["value"] = ""
        return _settings_page(
            request, project, variable_form=form, variable_errors=form_errors(exc), status=200
        )
    messages.success(request, f"Variable {key} was added.")
    return _redirect(f"{_base(project)}/-/settings/ci_cd#js-cicd-variables-settings")


def _variable_row(request: HttpRequest, project: Project, variable_id: int) -> Variable:
    owner = variable_services.VariableOwner(project=project)
    try:
        found = (
            variable_services.list_variables(actor=actor_for(request), owner=owner)
            .filter(pk=variable_id)
            .first()
        )
    except (NotFound, Forbidden) as exc:
        raise Http404(str(variable_id)) from exc
    if found is None:
        raise Http404(str(variable_id))
    return found


@require_http_methods(["GET", "POST"])
def variable_edit(request: HttpRequest, full_path: str, variable_id: int) -> HttpResponse:
    project = _admin_project(request, full_path)
    row = _variable_row(request, project, variable_id)
    errors: list[str] = []
    if request.method == "POST":
        owner = variable_services.VariableOwner(project=project)
        changes = _variable_changes(request.POST)
        if row.hidden and not request.POST.get("value"):
            changes.pop("value", None)
        try:
            variable_services.update_variable(
                actor=actor_for(request), owner=owner, row=row, changes=changes
            )
        except (NotFound, Forbidden) as exc:
            raise Http404(full_path) from exc
        except KilnError as exc:
            errors = form_errors(exc)
            row.refresh_from_db()
        else:
            messages.success(request, f"Variable {row.key} was updated.")
            return _redirect(f"{_base(project)}/-/settings/ci_cd#js-cicd-variables-settings")
    return _page(
        request,
        "web/ci/variable_edit.html",
        project,
        "settings",
        {"variable": row, "errors": errors},
    )


@require_POST
def variable_delete(request: HttpRequest, full_path: str, variable_id: int) -> HttpResponse:
    project = _admin_project(request, full_path)
    row = _variable_row(request, project, variable_id)
    owner = variable_services.VariableOwner(project=project)
    try:
        variable_services.delete_variable(actor=actor_for(request), owner=owner, row=row)
    except (NotFound, Forbidden) as exc:
        raise Http404(full_path) from exc
    messages.success(request, f"Variable {row.key} was deleted.")
    return _redirect(f"{_base(project)}/-/settings/ci_cd#js-cicd-variables-settings")


def register_command(request: HttpRequest, token: str) -> str:
    return f"kiln runner register --url {base_url(request)} --token {token}"


@require_POST
def runner_create(request: HttpRequest, full_path: str) -> HttpResponse:
    """POST /-/runners: a new project runner (as `POST /user/runners` with `project_type`);
    its token is shown once, with the command that registers it."""
    project = _admin_project(request, full_path)
    post = request.POST
    attrs = {
        "description": post.get("description", "").strip(),
        "tag_list": post.get("tag_list", ""),
        "run_untagged": checked(post, "run_untagged"),
        "locked": checked(post, "locked"),
        "paused": checked(post, "paused"),
        "access_level": "ref_protected" if checked(post, "protected") else "not_protected",
        "maximum_timeout": post.get("maximum_timeout", "").strip() or None,
    }
    try:
        created = runner_services.create_runner(
            actor=actor_for(request),
            runner_type=RunnerType.PROJECT,
            project=project,
            attrs=attrs,
        )
    except (NotFound, Forbidden) as exc:
        raise Http404(full_path) from exc
    except KilnError as exc:
        return _settings_page(request, project, runner_errors=form_errors(exc))
    response = _page(
        request,
        "web/ci/runner_register.html",
        project,
        "settings",
        {
            "runner": created.runner,
            "token": created.token,
            "command": register_command(request, created.token),
        },
    )
    response["Cache-Control"] = "no-store"
    return response


def _project_runner(request: HttpRequest, project: Project, runner_id: int) -> Runner:
    ids = [r.pk for r in queries.list_project_runners(project).filter(pk=runner_id)]
    if not ids:
        raise Http404(str(runner_id))
    return Runner.objects.get(pk=ids[0])


@require_POST
def runner_action(request: HttpRequest, full_path: str, runner_id: int, action: str) -> Any:
    project = _admin_project(request, full_path)
    runner = _project_runner(request, project, runner_id)
    actor = actor_for(request)
    try:
        if action == "delete":
            runner_services.delete_runner(actor=actor, runner=runner)
            messages.success(request, "Runner was deleted.")
        else:
            runner_services.update_runner(
                actor=actor, runner=runner, changes={"paused": action == "pause"}
            )
    except (NotFound, Forbidden) as exc:
        raise Http404(str(runner_id)) from exc
    except KilnError as exc:
        messages.error(request, exc.message)
    return _redirect(f"{_base(project)}/-/settings/ci_cd#js-runners-settings")


@require_POST
def toggle_shared_runners(request: HttpRequest, full_path: str) -> HttpResponse:
    project = _admin_project(request, full_path)
    try:
        project_services.update_project(
            actor=actor_for(request),
            project=project,
            settings={"shared_runners_enabled": not project.shared_runners_enabled},
        )
    except (NotFound, Forbidden) as exc:
        raise Http404(full_path) from exc
    except KilnError as exc:
        messages.error(request, exc.message)
    return _redirect(f"{_base(project)}/-/settings/ci_cd#js-runners-settings")


# --- CI lint -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def ci_lint(request: HttpRequest, full_path: str) -> HttpResponse:
    """The CI Lint page: the same lint service and the same check (may run pipelines) as
    `POST /projects/:id/ci/lint`."""
    from kiln.web.context import project_or_404

    project = project_or_404(request, full_path)
    actor = actor_for(request)
    if not policies.can_run_pipelines(actor, project):
        raise Http404(full_path)
    content = request.POST.get("content", "") if request.method == "POST" else ""
    ref = (request.POST.get("dry_run_ref") or "").strip() or None
    result: dict[str, Any] | None = None
    if request.method == "POST":
        outcome = lint_service.lint(
            actor=actor, project=project, content=content.replace("\r\n", "\n"), ref=ref
        )
        plan = outcome.result if isinstance(outcome.result, PipelinePlan) else None
        result = {
            "valid": outcome.valid,
            "errors": list(outcome.errors),
            "warnings": list(outcome.warnings),
            "jobs": [
                {
                    "name": job.name,
                    "stage": job.stage,
                    "when": job.when,
                    "allow_failure": job.allow_failure,
                    "tags": list(job.tags),
                    "needs": [n.job for n in job.needs] if job.needs is not None else None,
                    "script": "\n".join([*job.before_script, *job.script, *job.after_script]),
                }
                for job in (plan.jobs if plan is not None else ())
            ],
        }
    return _page(
        request,
        "web/ci/lint.html",
        project,
        "pipelines",
        {"content": content, "ref": ref or "", "result": result},
    )


# --- the log renderer --------------------------------------------------------------------------

_COLOURS = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
_SECTION_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
_SECTION = re.compile(
    r"section_(start|end):(\d{1,20}):([A-Za-z0-9_.\-]{1,100})(\[[^\]\r\n]{0,200}\])?\r\x1b\[0K"
)
_ESCAPE = re.compile(
    r"\x1b\[([0-9;:?<>=]{0,64})([ -/]{0,4})([@-~])"  # CSI
    r"|\x1b\][^\x07\x1b]{0,4096}(?:\x07|\x1b\\)?"  # OSC (titles, hyperlinks): dropped
    r"|\x1b[PX^_][^\x1b]{0,4096}(?:\x1b\\)?"  # DCS, SOS, PM, APC: dropped
    r"|\x1b[ -~]?"  # other escapes, a lone ESC
    r"|\r"
    r"|[\x00-\x08\x0b-\x1f\x7f]"
)
MAX_SECTION_DEPTH = 16


@dataclass
class Style:
    fg: str = ""
    bg: str = ""
    bold: bool = False
    italic: bool = False
    underline: bool = False

    def classes(self) -> str:
        names = []
        if self.fg:
            names.append(f"term-fg-{self.fg}")
        if self.bg:
            names.append(f"term-bg-{self.bg}")
        if self.bold:
            names.append("term-bold")
        if self.italic:
            names.append("term-italic")
        if self.underline:
            names.append("term-underline")
        return " ".join(names)

    def apply(self, params: str) -> None:
        """SGR parameters (`1;31`): colours become names (`red`, `l-red` for bright)."""
        codes = [int(p) if p.isdigit() and len(p) < 4 else -1 for p in re.split("[;:]", params)]
        index = 0
        while index < len(codes) and index < 32:
            code = codes[index]
            index += 1
            if code == 0 or params == "":
                self.fg, self.bg, self.bold, self.italic, self.underline = (
                    "",
                    "",
                    False,
                    False,
                    False,
                )
            elif code == 1:
                self.bold = True
            elif code == 3:
                self.italic = True
            elif code == 4:
                self.underline = True
            elif code == 22:
                self.bold = False
            elif code == 23:
                self.italic = False
            elif code == 24:
                self.underline = False
            elif 30 <= code <= 37:
                self.fg = _COLOURS[code - 30]
            elif code == 39:
                self.fg = ""
            elif 40 <= code <= 47:
                self.bg = _COLOURS[code - 40]
            elif code == 49:
                self.bg = ""
            elif 90 <= code <= 97:
                self.fg = f"l-{_COLOURS[code - 90]}"
            elif 100 <= code <= 107:
                self.bg = f"l-{_COLOURS[code - 100]}"
            elif code in (38, 48):
                mode = codes[index] if index < len(codes) else -1
                colour = ""
                if mode == 5 and index + 1 < len(codes):
                    number = codes[index + 1]
                    if 0 <= number < 8:
                        colour = _COLOURS[number]
                    elif 8 <= number < 16:
                        colour = f"l-{_COLOURS[number - 8]}"
                    index += 2
                elif mode == 2:
                    index += 4  # 24-bit colours: not mapped (no inline styles)
                else:
                    index += 1
                if colour:
                    if code == 38:
                        self.fg = colour
                    else:
                        self.bg = colour

    def as_list(self) -> list[Any]:
        return [self.fg, self.bg, int(self.bold), int(self.italic), int(self.underline)]


_STYLE_VALUE = re.compile(r"(l-)?(black|red|green|yellow|blue|magenta|cyan|white)")


@dataclass
class LogState:
    """Where a rendering stopped: the byte offset, the current style, the open sections.

    Handed to the browser as an opaque token (`state`) and read back strictly: a forged one
    can only change how the requester's own view of the log is coloured."""

    offset: int
    style: Style = field(default_factory=Style)
    sections: list[str] = field(default_factory=list)

    def encode(self) -> str:
        data = {"o": self.offset, "s": self.style.as_list(), "x": self.sections}
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> LogState | None:
        token = token.strip()
        if token.isdigit() and len(token) < 16:
            return cls(offset=int(token))
        if not token or len(token) > 4096:
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            offset = data["o"]
            fg, bg, bold, italic, underline = data["s"]
            sections = data["x"]
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None
        if not isinstance(offset, int) or offset < 0 or isinstance(offset, bool):
            return None
        for colour in (fg, bg):
            if not isinstance(colour, str) or (colour and not _STYLE_VALUE.fullmatch(colour)):
                return None
        if not isinstance(sections, list) or len(sections) > MAX_SECTION_DEPTH:
            return None
        if not all(isinstance(s, str) and _SECTION_NAME.fullmatch(s) for s in sections):
            return None
        style = Style(fg, bg, bool(bold), bool(italic), bool(underline))
        return cls(offset=offset, style=style, sections=list(sections))


def _segments(text: str, style: Style) -> list[list[str]]:
    """(classes, text) pairs of one line's text; a carriage return starts the line over
    (progress bars), escapes set the style or are dropped."""
    segments: list[list[str]] = []
    position = 0

    def add(chunk: str) -> None:
        if not chunk:
            return
        classes = style.classes()
        if segments and segments[-1][0] == classes:
            segments[-1][1] += chunk
        else:
            segments.append([classes, chunk])

    for match in _ESCAPE.finditer(text):
        add(text[position : match.start()])
        position = match.end()
        if match.group(0) == "\r":
            segments.clear()
        elif match.group(3) == "m" and not match.group(2):
            style.apply(match.group(1) or "")
    add(text[position:])
    return segments


def render_log(
    data: bytes, state: LogState, *, final: bool
) -> tuple[list[dict[str, Any]], LogState]:
    """Operations for the complete lines of `data` (all of it when `final`) read at
    `state.offset`, and the state after them."""
    if not final:
        end = data.rfind(b"\n") + 1
        if end == 0 and len(data) >= LOG_POLL_BYTES:
            end = len(data)  # a huge line without an end: shown as it is
        data = data[:end]
    style = Style(**vars(state.style))
    sections = list(state.sections)
    ops: list[dict[str, Any]] = []
    text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for line in lines:
        if line.endswith("\r"):
            line = line[:-1]
        position = 0
        had_marker = False
        markers = list(_SECTION.finditer(line))
        for number, match in enumerate(markers):
            before = line[position : match.start()]
            had_marker = True
            segments = _segments(before, style)
            if segments:
                ops.append({"t": "line", "s": segments})
            kind, name, options = match.group(1), match.group(3), match.group(4) or ""
            if kind == "start":
                stop = markers[number + 1].start() if number + 1 < len(markers) else len(line)
                header = _segments(line[match.end() : stop], style)
                position = stop
                if len(sections) < MAX_SECTION_DEPTH:
                    sections.append(name)
                    ops.append(
                        {"t": "open", "n": name, "c": "collapsed=true" in options, "h": header}
                    )
                elif header:
                    ops.append({"t": "line", "s": header})
            else:
                position = match.end()
                if name in sections:
                    while sections:
                        closed = sections.pop()
                        ops.append({"t": "close", "n": closed})
                        if closed == name:
                            break
        rest = _segments(line[position:], style)
        if rest or not had_marker:
            ops.append({"t": "line", "s": rest})
    return ops, LogState(offset=state.offset + len(data), style=style, sections=sections)


def _line_html(segments: list[list[str]]) -> str:
    parts = []
    for classes, text in segments:
        if classes:
            parts.append(format_html('<span class="{}">{}</span>', classes, text))
        else:
            parts.append(escape(text))
    return "".join(parts)


def ops_to_html(ops: list[dict[str, Any]]) -> SafeString:
    """The page's log: every text escaped, sections as <details> (open unless collapsed).
    Sections left open at the end carry `data-open`: ci.js appends the next lines there."""
    out: list[str] = []
    stack: list[int] = []
    for op in ops:
        if op["t"] == "line":
            out.append(f'<div class="log-line">{_line_html(op["s"])}</div>')
        elif op["t"] == "open":
            stack.append(len(out))
            out.append(
                format_html(
                    '<details class="log-section" data-section="{}"{}>',
                    op["n"],
                    "" if op["c"] else " open",
                )
                + f'<summary class="log-line log-section-header">{_line_html(op["h"])}</summary>'
                + '<div class="log-section-body">'
            )
        elif op["t"] == "close" and stack:
            stack.pop()
            out.append("</div></details>")
    for index in stack:
        out[index] = out[index].replace("<details ", "<details data-open ", 1)
    out.extend("</div></details>" for _ in stack)
    return mark_safe("".join(out))  # noqa: S308 (built from escaped parts only)
