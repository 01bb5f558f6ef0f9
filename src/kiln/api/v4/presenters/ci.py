"""GitLab's CI entities: pipelines, jobs, runners, variables, and the runner's job payload.

Shapes follow GitLab's `lib/api/entities/ci/*.rb` (Pipeline, PipelineBasic, Job, JobBasic,
Runner, RunnerDetails, Variable) and `lib/api/entities/ci/job_request/*.rb` for what
`POST /jobs/request` answers. List presenters take a whole page and load what they add in a
fixed number of queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from kiln.api.v4.presenters.common import iso
from kiln.api.v4.presenters.users import user_basic
from kiln.ci import statuses as st
from kiln.ci.models import (
    ArtifactType,
    Job,
    JobArtifact,
    Pipeline,
    PipelineSchedule,
    PipelineScheduleVariable,
    PipelineTrigger,
    Runner,
    RunnerType,
    Variable,
)
from kiln.ci.queries import ONLINE_WINDOW, STALE_WINDOW, dependencies_of
from kiln.ci.variables import JobVariable
from kiln.core.actor import Actor
from kiln.core.urls import base_url

_LABELS = {
    st.SUCCESS: ("passed", "Passed"),
    st.FAILED: ("failed", "Failed"),
    st.RUNNING: ("running", "Running"),
    st.PENDING: ("pending", "Pending"),
    st.CANCELED: ("canceled", "Canceled"),
    st.SKIPPED: ("skipped", "Skipped"),
    st.MANUAL: ("manual action", "Manual"),
    st.SCHEDULED: ("delayed", "Scheduled"),
    st.CREATED: ("created", "Created"),
    st.PREPARING: ("preparing", "Preparing"),
    st.WAITING_FOR_RESOURCE: ("waiting for resource", "Waiting"),
}


def _detailed_status(status: str, path: str) -> dict[str, Any]:
    label, text = _LABELS.get(status, (status, status.title()))
    return {
        "icon": f"status_{status}",
        "text": text,
        "label": label,
        "group": status,
        "tooltip": label,
        "has_details": True,
        "details_path": path,
        "illustration": None,
        "favicon": f"/assets/ci_favicons/favicon_status_{status}.png",
    }


detailed_status = _detailed_status


# --- pipelines ----------------------------------------------------------------------------------


def pipeline_path(pipeline: Pipeline) -> str:
    return f"/{pipeline.project.full_path}/-/pipelines/{pipeline.pk}"


def pipeline_basic(pipeline: Pipeline, request: HttpRequest | None) -> dict[str, Any]:
    return {
        "id": pipeline.pk,
        "iid": pipeline.iid,
        "project_id": pipeline.project_id,
        "sha": pipeline.sha,
        "ref": pipeline.ref,
        "status": pipeline.status,
        "source": pipeline.source,
        "created_at": iso(pipeline.created_at),
        "updated_at": iso(pipeline.updated_at),
        "web_url": base_url(request) + pipeline_path(pipeline),
        "name": pipeline.name or None,
    }


def pipeline_entities(
    pipelines: Sequence[Pipeline], request: HttpRequest | None
) -> list[dict[str, Any]]:
    return [pipeline_basic(p, request) for p in pipelines]


def pipeline_entity(pipeline: Pipeline, request: HttpRequest | None) -> dict[str, Any]:
    data = pipeline_basic(pipeline, request)
    data.update(
        {
            "before_sha": pipeline.before_sha,
            "tag": pipeline.tag,
            "yaml_errors": pipeline.yaml_errors or None,
            "user": user_basic(pipeline.user, request) if pipeline.user is not None else None,
            "started_at": iso(pipeline.started_at),
            "finished_at": iso(pipeline.finished_at),
            "committed_at": iso(pipeline.committed_at),
            "duration": pipeline.duration,
            "queued_duration": pipeline.queued_duration,
            "coverage": f"{pipeline.coverage:.2f}" if pipeline.coverage is not None else None,
            "detailed_status": _detailed_status(pipeline.status, pipeline_path(pipeline)),
            "archived": pipeline.project.archived,
        }
    )
    return data


def pipeline_variable_entity(row: Any) -> dict[str, Any]:
    return {"variable_type": row.variable_type, "key": row.key, "value": row.value}


# --- jobs ---------------------------------------------------------------------------------------


def _commit(pipeline: Pipeline, request: HttpRequest | None) -> dict[str, Any]:
    info = pipeline.commit_info or {}
    timestamp = info.get("timestamp")
    return {
        "id": pipeline.sha,
        "short_id": pipeline.sha[:8],
        "created_at": timestamp,
        "parent_ids": [],
        "title": info.get("title", ""),
        "message": info.get("message", ""),
        "author_name": info.get("author_name", ""),
        "author_email": info.get("author_email", ""),
        "authored_date": timestamp,
        "committer_name": info.get("author_name", ""),
        "committer_email": info.get("author_email", ""),
        "committed_date": timestamp,
        "trailers": {},
        "extended_trailers": {},
        "web_url": f"{base_url(request)}/{pipeline.project.full_path}/-/commit/{pipeline.sha}",
    }


def _user(user: Any, request: HttpRequest | None) -> dict[str, Any] | None:
    if user is None:
        return None
    data = user_basic(user, request)
    data.update(
        {
            "created_at": iso(getattr(user, "created_at", None)),
            "bio": getattr(user, "bio", ""),
            "location": getattr(user, "location", ""),
            "organization": getattr(user, "organization", ""),
            "job_title": getattr(user, "job_title", ""),
            "bot": getattr(user, "bot", False),
        }
    )
    return data


def _artifact_entity(artifact: JobArtifact) -> dict[str, Any]:
    return {
        "file_type": artifact.file_type,
        "size": artifact.size,
        "filename": artifact.filename,
        "file_format": artifact.file_format,
    }


def runner_basic(runner: Runner) -> dict[str, Any]:
    return {
        "id": runner.pk,
        "description": runner.description,
        "ip_address": None,
        "active": runner.active,
        "paused": not runner.active,
        "is_shared": runner.runner_type == RunnerType.INSTANCE,
        "runner_type": runner.runner_type,
        "name": runner.name or None,
        "online": _online(runner),
        "created_at": iso(runner.created_at),
        "status": runner_status(runner),
    }


def job_entities(jobs: Sequence[Job], request: HttpRequest | None) -> list[dict[str, Any]]:
    artifacts: dict[int, list[JobArtifact]] = defaultdict(list)
    for artifact in JobArtifact.objects.filter(job_id__in=[j.pk for j in jobs]).order_by("pk"):
        artifacts[artifact.job_id].append(artifact)
    return [_job(job, artifacts.get(job.pk, []), request) for job in jobs]


def job_entity(job: Job, request: HttpRequest | None) -> dict[str, Any]:
    return job_entities([job], request)[0]


def _job(job: Job, artifacts: list[JobArtifact], request: HttpRequest | None) -> dict[str, Any]:
    pipeline = job.pipeline
    base = base_url(request)
    archive = next((a for a in artifacts if a.file_type == ArtifactType.ARCHIVE), None)
    data: dict[str, Any] = {
        "id": job.pk,
        "status": job.status,
        "stage": job.stage,
        "name": job.name,
        "ref": job.ref,
        "tag": job.tag,
        "coverage": job.coverage,
        "allow_failure": job.allow_failure,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "erased_at": iso(job.erased_at),
        "duration": job.duration,
        "queued_duration": job.queued_duration,
        "user": _user(job.user, request),
        "commit": _commit(pipeline, request),
        "pipeline": pipeline_basic(pipeline, request),
        "web_url": f"{base}/{job.project.full_path}/-/jobs/{job.pk}",
        "project": {"ci_job_token_scope_enabled": job.project.ci_job_token_scope_enabled},
        "artifacts": [_artifact_entity(a) for a in artifacts],
        "runner": runner_basic(job.runner) if job.runner is not None else None,
        "runner_manager": None,
        "artifacts_expire_at": iso(job.artifacts_expire_at),
        "archived": job.project.archived,
        "tag_list": sorted(job.tag_list),
    }
    if job.status == st.FAILED:
        data["failure_reason"] = job.failure_reason or "unknown_failure"
    if archive is not None:
        data["artifacts_file"] = {"filename": archive.filename, "size": archive.size}
    return data


_JOB_BASIC = (
    "id", "status", "stage", "name", "ref", "tag", "coverage", "allow_failure", "created_at",
    "started_at", "finished_at", "erased_at", "duration", "queued_duration", "user", "commit",
    "pipeline", "failure_reason", "web_url", "project",
)  # fmt: skip


def bridge_entities(
    bridges: Sequence[Job], request: HttpRequest | None, actor: Actor
) -> list[dict[str, Any]]:
    """GitLab's Bridge entity (JobBasic and `downstream_pipeline`). A downstream pipeline in a
    project the viewer may not read is `null`."""
    from kiln.ci.downstream import downstream_of
    from kiln.ci.policies import can_read_pipelines

    downstream = downstream_of(bridges)
    readable: dict[int, bool] = {}
    result = []
    for bridge in bridges:
        data = _job(bridge, [], request)
        entity = {key: data[key] for key in _JOB_BASIC if key in data}
        pipeline = downstream.get(bridge.pk)
        if pipeline is not None and pipeline.project_id not in readable:
            readable[pipeline.project_id] = can_read_pipelines(actor, pipeline.project)
        visible = pipeline is not None and readable[pipeline.project_id]
        entity["downstream_pipeline"] = (
            pipeline_basic(pipeline, request) if pipeline is not None and visible else None
        )
        result.append(entity)
    return result


# --- runners ------------------------------------------------------------------------------------


def _online(runner: Runner) -> bool:
    return runner.contacted_at is not None and runner.contacted_at > timezone.now() - ONLINE_WINDOW


def runner_status(runner: Runner) -> str:
    now = timezone.now()
    if runner.contacted_at is None:
        return "stale" if runner.created_at < now - STALE_WINDOW else "never_contacted"
    if runner.contacted_at < now - STALE_WINDOW:
        return "stale"
    if not runner.active:
        return "paused"
    return "online" if _online(runner) else "offline"


def runner_entities(runners: Iterable[Runner]) -> list[dict[str, Any]]:
    return [runner_basic(r) for r in runners]


def runner_details(
    runner: Runner,
    request: HttpRequest | None,
    *,
    can_update: bool,
    projects: Sequence[Any] = (),
    groups: Sequence[Any] = (),
) -> dict[str, Any]:
    data = runner_basic(runner)
    base = base_url(request)
    data.update(
        {
            "tag_list": list(runner.tag_list),
            "run_untagged": runner.run_untagged,
            "locked": runner.locked,
            "maximum_timeout": runner.maximum_timeout,
            "access_level": runner.access_level,
            "version": runner.version or None,
            "revision": runner.revision or None,
            "platform": runner.platform or None,
            "architecture": runner.architecture or None,
            "contacted_at": iso(runner.contacted_at),
            "maintenance_note": runner.maintenance_note if can_update else None,
            "projects": [
                {
                    "id": p.pk,
                    "description": p.description,
                    "name": p.name,
                    "name_with_namespace": p.name_with_namespace,
                    "path": p.path,
                    "path_with_namespace": p.path_with_namespace,
                    "created_at": iso(p.created_at),
                    "default_branch": p.default_branch,
                    "web_url": f"{base}/{p.full_path}",
                }
                for p in projects
            ],
            "groups": [
                {"id": g.pk, "name": g.name, "web_url": f"{base}/groups/{g.full_path}"}
                for g in groups
            ],
        }
    )
    return data


def registration_entity(runner: Runner, token: str) -> dict[str, Any]:
    """GitLab's RunnerRegistrationDetails."""
    return {"id": runner.pk, "token": token, "token_expires_at": iso(runner.token_expires_at)}


# --- variables ----------------------------------------------------------------------------------


def variable_entity(row: Variable) -> dict[str, Any]:
    data: dict[str, Any] = {
        "variable_type": row.variable_type,
        "key": row.key,
        "value": None if row.hidden else row.value,
        "hidden": row.hidden,
        "protected": row.protected,
        "masked": row.masked,
        "raw": row.raw,
        "environment_scope": row.environment_scope,
        "description": row.description or None,
    }
    if row.project_id is None and row.namespace_id is None:
        data.pop("environment_scope")
    return data


# --- the runner's job payload -------------------------------------------------------------------


def _step(
    name: str, script: list[str], timeout: int, when: str, allow_failure: bool
) -> dict[str, Any]:
    return {
        "name": name,
        "script": script,
        "timeout": timeout,
        "when": when,
        "allow_failure": allow_failure,
    }


def _image(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict) or not value.get("name"):
        return None
    return {
        "name": value.get("name"),
        "entrypoint": value.get("entrypoint"),
        "ports": value.get("ports") or [],
        "executor_opts": {
            key: value[key] for key in ("docker", "kubernetes") if isinstance(value.get(key), dict)
        },
        "pull_policy": value.get("pull_policy"),
    }


def _service(value: dict[str, Any]) -> dict[str, Any]:
    data = _image(value) or {"name": value.get("name")}
    data.update(
        {
            "alias": value.get("alias"),
            "command": value.get("command"),
            "variables": [
                {"key": k, "value": str(v), "public": True}
                for k, v in (value.get("variables") or {}).items()
            ],
        }
    )
    return data


def _artifacts(job: Job) -> list[dict[str, Any]]:
    spec = job.options.get("artifacts")
    if not isinstance(spec, dict):
        return []
    entries: list[dict[str, Any]] = []
    if spec.get("paths") or spec.get("untracked"):
        entry: dict[str, Any] = {
            "name": spec.get("name") or "artifacts",
            "untracked": bool(spec.get("untracked")),
            "paths": list(spec.get("paths") or []),
            "when": spec.get("when") or "on_success",
            "expire_in": spec.get("expire_in"),
            "artifact_type": "archive",
            "artifact_format": "zip",
        }
        if spec.get("exclude"):
            entry["exclude"] = list(spec["exclude"])
        entries.append(entry)
    reports = spec.get("reports") or {}
    for report_type, paths in reports.items():
        if report_type not in ArtifactType.values or not isinstance(paths, (list, str)):
            continue
        entries.append(
            {
                "name": report_type,
                "untracked": False,
                "paths": [paths] if isinstance(paths, str) else list(paths),
                "when": "always",
                "expire_in": spec.get("expire_in"),
                "artifact_type": report_type,
                "artifact_format": "gzip",
            }
        )
    return entries


def _cache(job: Job) -> list[dict[str, Any]]:
    return [
        {
            "key": entry.get("key") or "default",
            "untracked": bool(entry.get("untracked")),
            "paths": list(entry.get("paths") or []),
            "policy": entry.get("policy") or "pull-push",
            "when": entry.get("when") or "on_success",
            "fallback_keys": list(entry.get("fallback_keys") or []),
        }
        for entry in job.options.get("cache") or []
    ]


def _refspecs(job: Job) -> list[str]:
    if job.tag:
        return [f"+refs/tags/{job.ref}:refs/tags/{job.ref}"]
    return [f"+refs/heads/{job.ref}:refs/remotes/origin/{job.ref}"]


def job_request_payload(
    job: Job, token: str, variables: Sequence[JobVariable], request: HttpRequest | None
) -> dict[str, Any]:
    """What `POST /jobs/request` answers with 201 (GitLab's JobRequest::Response)."""
    from urllib.parse import urlsplit

    pipeline = job.pipeline
    project = job.project
    base = base_url(request)
    parts = urlsplit(base)
    repo_url = f"{parts.scheme}://gitlab-ci-token:{token}@{parts.netloc}/{project.full_path}.git"
    timeout = int(job.timeout or project.build_timeout)
    options = job.options
    steps = [
        _step(
            "script",
            [*options.get("before_script", []), *options.get("script", [])],
            timeout,
            "on_success",
            False,
        )
    ]
    if options.get("after_script"):
        steps.append(_step("after_script", list(options["after_script"]), timeout, "always", True))
    dependencies = []
    deps = dependencies_of(job)
    archives = {
        a.job_id: a
        for a in JobArtifact.objects.filter(
            job_id__in=[d.pk for d in deps], file_type=ArtifactType.ARCHIVE
        )
    }
    now = timezone.now()
    for dep in deps:
        entry: dict[str, Any] = {"id": dep.pk, "name": dep.name, "token": token}
        archive = archives.get(dep.pk)
        if archive is not None and (archive.expire_at is None or archive.expire_at > now):
            entry["artifacts_file"] = {"filename": archive.filename, "size": archive.size}
        dependencies.append(entry)
    started = job.started_at or now
    queued = job.queued_at or started
    return {
        "id": job.pk,
        "token": token,
        "allow_git_fetch": project.build_git_strategy == "fetch",
        "job_info": {
            "id": job.pk,
            "name": job.name,
            "stage": job.stage,
            "project_id": project.pk,
            "project_name": project.name,
            "time_in_queue_seconds": max(0.0, (started - queued).total_seconds()),
            "project_jobs_running_on_instance_runners_count": "+Inf",
        },
        "git_info": {
            "repo_url": repo_url,
            "ref": job.ref,
            "sha": pipeline.sha,
            "before_sha": pipeline.before_sha,
            "ref_type": "tag" if job.tag else "branch",
            "refspecs": _refspecs(job),
            "depth": project.ci_default_git_depth or 0,
            "repo_object_format": project.repository_object_format or "sha1",
            "protected": job.protected,
        },
        "runner_info": {"timeout": timeout, "runner_session_url": None},
        "variables": [v.as_payload() for v in variables],
        "steps": steps,
        "hooks": [],
        "image": _image(options.get("image")),
        "services": [_service(s) for s in options.get("services") or [] if isinstance(s, dict)],
        "artifacts": _artifacts(job),
        "cache": _cache(job),
        "credentials": [
            {
                "type": "registry",
                "url": parts.netloc,
                "username": "gitlab-ci-token",
                "password": token,
            }
        ],
        "dependencies": dependencies,
        "features": {
            "trace_sections": True,
            "token_mask_prefixes": ["glpat-", "glcbt-", "glrt-", "GR1348941"],
            "failure_reasons": list(st.FAILURE_REASONS),
        },
    }


# --- pipeline schedules and trigger tokens ------------------------------------------------------


def schedule_entity(schedule: PipelineSchedule, request: HttpRequest | None) -> dict[str, Any]:
    """GitLab's `PipelineSchedule`."""
    return {
        "id": schedule.pk,
        "description": schedule.description,
        "ref": schedule.ref,
        "cron": schedule.cron,
        "cron_timezone": schedule.cron_timezone,
        "next_run_at": iso(schedule.next_run_at),
        "active": schedule.active,
        "created_at": iso(schedule.created_at),
        "updated_at": iso(schedule.updated_at),
        "owner": user_basic(schedule.owner, request) if schedule.owner is not None else None,
    }


def schedule_variable_entity(row: PipelineScheduleVariable) -> dict[str, Any]:
    return {
        "variable_type": row.variable_type,
        "key": row.key,
        "value": row.value,
        "raw": row.raw,
    }


def schedule_details_entity(
    schedule: PipelineSchedule, request: HttpRequest | None
) -> dict[str, Any]:
    """GitLab's `PipelineScheduleDetails`: with the last pipeline and the variables."""
    data = schedule_entity(schedule, request)
    last = schedule.pipelines.select_related("project__namespace").order_by("-pk").first()
    data["last_pipeline"] = pipeline_basic(last, request) if last is not None else None
    data["variables"] = [schedule_variable_entity(row) for row in schedule.variables.order_by("pk")]
    data["inputs"] = [
        {"name": item["name"], "value": item["value"]} for item in schedule.inputs or []
    ]
    return data


def trigger_entity(
    trigger: PipelineTrigger, request: HttpRequest | None, *, token: str | None = None
) -> dict[str, Any]:
    """GitLab's `Trigger`; the whole token only in the answer that created it."""
    return {
        "id": trigger.pk,
        "token": token if token is not None else trigger.token_start,
        "description": trigger.description,
        "created_at": iso(trigger.created_at),
        "updated_at": iso(trigger.updated_at),
        "last_used": iso(trigger.last_used),
        "expires_at": iso(trigger.expires_at),
        "owner": user_basic(trigger.owner, request) if trigger.owner is not None else None,
    }
