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

import mimetypes
import re
import stat
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
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
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from kiln.ci import artifacts as artifact_service
from kiln.ci import inputs as ci_inputs
from kiln.ci import jobs as job_services
from kiln.ci import pipeline_actions, policies, queries, storage, test_reports
from kiln.ci import pipelines as pipeline_services
from kiln.ci import statuses as st
from kiln.ci.models import (
    Job,
    JobArtifact,
    JobKind,
    Pipeline,
    PipelineSource,
)
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, KilnError, NotFound
from kiln.core.policy import can
from kiln.gitstore import GitStoreError
from kiln.projects.models import Project
from kiln.repositories import queries as repo_queries
from kiln.web.context import actor_for
from kiln.web.views import ci_downstream
from kiln.web.views.ci_log import LOG_POLL_BYTES, LogState, ops_to_html, render_log
from kiln.web.views.dashboard import paginate
from kiln.web.views.forms import form_errors

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
    posted = form.get("inputs") or {}
    declared = [
        {"input": item, "value": posted.get(item.name, item.default_text)}
        for item in ci_inputs.declared_inputs(project, str(form.get("ref") or ""))
    ]
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
            "inputs": declared,
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
    posted_inputs: dict[str, str] = {
        key[len("inputs[") : -1]: str(value)
        for key, value in request.POST.items()
        if key.startswith("inputs[") and key.endswith("]") and len(key) > len("inputs[]")
    }
    form = {"ref": ref, "variables": variables, "inputs": posted_inputs}
    if not ref:
        return _new_pipeline(request, project, form, ["Select a branch or tag to run."])
    try:
        inputs = ci_inputs.pipeline_inputs(
            ci_inputs.form_inputs(ci_inputs.declared_inputs(project, ref), posted_inputs)
        )
        pipeline = pipeline_services.create_pipeline(
            actor=actor,
            project=project,
            ref=ref,
            source=PipelineSource.WEB,
            variables=variables,
            inputs=inputs,
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
        "retry": not job.retried
        and job.status in st.RETRYABLE
        and (build or job.failure_reason not in job_services.FINAL_BRIDGE_FAILURES)
        and can(actor, "retry_build", job),
        "cancel": job.status in st.CANCELABLE and can(actor, "cancel_build", job),
        "play": job.status in ((st.MANUAL, st.SCHEDULED) if build else (st.MANUAL,))
        and can(actor, "play_job", job),
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
    ci_downstream.annotate_bridges(actor, stage_list)
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
            "upstream": ci_downstream.upstream_link(actor, pipeline),
        },
    )


def _pipeline_action(request: HttpRequest, full_path: str, pipeline_id: int, action: str) -> Any:
    project = _ci_project(request, full_path)
    actor = actor_for(request)
    try:
        pipeline = queries.get_pipeline_for(project, pipeline_id)
        if action == "retry":
            pipeline_actions.retry_pipeline(actor=actor, pipeline=pipeline)
        else:
            pipeline_actions.cancel_pipeline(actor=actor, pipeline=pipeline)
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
