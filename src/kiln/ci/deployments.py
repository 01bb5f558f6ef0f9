"""Deployments: what jobs with `environment:` (and API callers) record about an environment.

As GitLab's pipeline-creation chain (EnsureEnvironments, Seed::Deployment) and the job
state machine's deployment hooks (Ci::Deployable):

- `prepare_jobs`, when a pipeline is created: every job naming an environment gets it
  (created when missing, its name expanded with the job's variables when the configuration
  was processed); a name that is not a valid environment name fails the job at once with
  `environment_creation_failure`. Jobs get their resource group too (kiln.ci.resource_groups).
- `follow_jobs`, every time kiln.ci.processing processes a pipeline (so after every change
  of a job's status): a job that starts its environment (`action: start`, the default) gets
  a deployment (per-project `iid`), whose status then follows the job's: `created`, `blocked`
  while the job waits for a manual action, `running`, `success`, `failed`, `canceled`,
  `skipped`. A retried job gets a new deployment. When a deployment succeeds the environment
  is available again, with the job's `environment:url` (expanded with the job's variables,
  or the `DYNAMIC_ENVIRONMENT_URL` of its dotenv report), tier and `auto_stop_in`.
  A job with `action: stop` that succeeds stops its environment, unless the environment was
  deployed again after it finished; one that fails while the environment is `stopping` makes
  it available again.
- The API's deployments without a job (`create_deployment`, `update_deployment`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from kiln.ci import resource_groups
from kiln.ci import statuses as st
from kiln.ci.config import JobPlan
from kiln.ci.config.durations import parse_duration
from kiln.ci.config.variables import expand
from kiln.ci.environments import (
    NAME_MESSAGE,
    can_write,
    ensure_environment,
    name_errors,
    url_errors,
)
from kiln.ci.models import (
    Deployment,
    DeploymentStatus,
    Environment,
    EnvironmentState,
    Job,
    Pipeline,
)
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, InvalidParameter, NotFound, ValidationFailed
from kiln.projects.models import Project

# The deployment status a job's status means (GitLab's `sync_status_with`); the other job
# statuses (pending, waiting for a resource, scheduled) leave the deployment as it is.
_FOLLOWS = {
    st.CREATED: DeploymentStatus.CREATED,
    st.MANUAL: DeploymentStatus.BLOCKED,
    st.RUNNING: DeploymentStatus.RUNNING,
    st.SUCCESS: DeploymentStatus.SUCCESS,
    st.FAILED: DeploymentStatus.FAILED,
    st.CANCELED: DeploymentStatus.CANCELED,
    st.SKIPPED: DeploymentStatus.SKIPPED,
}
FINISHED = frozenset({DeploymentStatus.SUCCESS, DeploymentStatus.FAILED, DeploymentStatus.CANCELED})
API_STATUSES = ("running", "success", "failed", "canceled")
STATUSES = tuple(DeploymentStatus.values)
ORDER_BY = ("id", "iid", "created_at", "updated_at", "ref", "finished_at")
_SHA = re.compile(r"\A[0-9a-fA-F]{7,64}\Z")


def _environment_options(job: Job) -> dict[str, Any]:
    options = job.options.get("environment")
    return options if isinstance(options, dict) else {}


def _action(job: Job) -> str:
    return str(_environment_options(job).get("action") or "start")


# --- pipeline creation ------------------------------------------------------------------------


def prepare_jobs(project: Project, jobs: Sequence[Job], plans: Sequence[JobPlan]) -> None:
    """Before the jobs of a new pipeline are saved (the caller holds the project's row lock):
    their environments and resource groups (see the module docstring)."""
    for job, plan in zip(jobs, plans, strict=True):
        resource_groups.prepare_job(job, plan.expanded_resource_group)
        options = _environment_options(job)
        if not options.get("name"):
            continue
        environment = ensure_environment(
            project, str(options["name"]), tier=options.get("deployment_tier")
        )
        if environment is None:
            job.status = st.FAILED
            job.failure_reason = "environment_creation_failure"
            job.finished_at = job.created_at
        else:
            job.environment = environment


# --- following the jobs -----------------------------------------------------------------------


def _next_iid(project_id: int) -> int:
    current = Deployment.objects.filter(project_id=project_id).aggregate(m=Max("iid"))["m"] or 0
    return int(current) + 1


def _insert(deployment: Deployment) -> Deployment:
    """Save a new deployment with the next iid (retried when another one took it)."""
    for attempt in range(10):
        deployment.iid = _next_iid(deployment.project_id)
        try:
            with transaction.atomic():
                deployment.save(force_insert=True)
            return deployment
        except IntegrityError:
            deployment.pk = None
            if attempt == 9:
                raise
    raise AssertionError("unreachable")


def follow_jobs(pipeline: Pipeline, jobs: list[Job], now: dt.datetime) -> None:
    """Deployments and environments after processing (the pipeline row locked by the
    caller, kiln.ci.processing.process_pipeline). No query for a pipeline without
    environments."""
    with_environment = [job for job in jobs if job.environment_id is not None]
    if not with_environment:
        return
    current = {job.pk: job for job in jobs}
    deployments = {
        d.job_id: d
        for d in Deployment.objects.filter(job__pipeline_id=pipeline.pk).select_related(
            "job", "environment"
        )
    }
    for job in with_environment:
        if job.pk in deployments or _action(job) != "start" or job.environment_id is None:
            continue
        options = _environment_options(job)
        deployments[job.pk] = _insert(
            Deployment(
                project_id=job.project_id,
                environment_id=job.environment_id,
                job=job,
                ref=job.ref,
                tag=job.tag,
                sha=pipeline.sha,
                user_id=job.user_id,
                status=DeploymentStatus.CREATED,
                on_stop=str(options.get("on_stop") or "")[:255],
                created_at=now,
            )
        )
    for deployment in deployments.values():
        followed = current.get(deployment.job_id or 0) or deployment.job
        if followed is not None:
            _follow(deployment, followed, now)
    stops = [
        job
        for job in with_environment
        if _action(job) == "stop" and job.status in (st.SUCCESS, st.FAILED, st.CANCELED)
    ]
    if stops:
        _follow_stop_jobs(stops)


def _follow(deployment: Deployment, job: Job, now: dt.datetime) -> None:
    wanted = _FOLLOWS.get(job.status)
    if wanted is None or wanted == deployment.status:
        return
    _set_status(deployment, wanted, now, job=job)


def _set_status(deployment: Deployment, status: str, now: dt.datetime, *, job: Job | None) -> None:
    deployment.status = status
    fields = ["status", "updated_at"]
    if status in FINISHED:
        deployment.finished_at = now
        fields.append("finished_at")
    deployment.save(update_fields=fields)
    if status == DeploymentStatus.SUCCESS:
        _deployed(deployment, job, now)


def _job_lookup(job: Job) -> dict[str, str]:
    from kiln.ci.variables import runner_variables
    from kiln.core.urls import base_url

    return {v.key: v.value for v in runner_variables(job, token="", base_url=base_url(None))}


def _deployed(deployment: Deployment, job: Job | None, now: dt.datetime) -> None:
    """GitLab's Deployments::UpdateEnvironmentService: the environment is available, with
    the deploying job's URL, tier and auto-stop time."""
    environment = Environment.objects.get(pk=deployment.environment_id)
    environment.state = EnvironmentState.AVAILABLE
    fields = ["state", "updated_at"]
    if job is not None:
        options = _environment_options(job)
        lookup: dict[str, str] | None = None
        url = options.get("url")
        if url:
            lookup = _job_lookup(job)
            url = expand(str(url), lookup)
        else:
            url = next(
                (
                    str(v.get("value", ""))
                    for v in job.dotenv_variables or []
                    if v.get("key") == "DYNAMIC_ENVIRONMENT_URL"
                ),
                None,
            )
        if url and not url_errors(url):
            environment.external_url = url
            fields.append("external_url")
        auto_stop_in = options.get("auto_stop_in")
        seconds = None
        if isinstance(auto_stop_in, str) and auto_stop_in:
            lookup = lookup if lookup is not None else _job_lookup(job)
            seconds = parse_duration(expand(auto_stop_in, lookup))
        environment.auto_stop_at = now + dt.timedelta(seconds=seconds) if seconds else None
        fields.append("auto_stop_at")
        tier = options.get("deployment_tier")
        if tier:
            environment.tier = str(tier)
            fields.append("tier")
    environment.save(update_fields=fields)


def _follow_stop_jobs(jobs: list[Job]) -> None:
    environments = Environment.objects.in_bulk({job.environment_id for job in jobs})
    for job in jobs:
        environment = environments.get(job.environment_id or 0)
        if environment is None or job.finished_at is None:
            continue
        if job.status == st.SUCCESS and environment.state != EnvironmentState.STOPPED:
            # Only when nothing was deployed there after the stop job ended: a pipeline is
            # processed again whenever any of its jobs moves.
            deployed = Deployment.objects.filter(
                environment=environment,
                status=DeploymentStatus.SUCCESS,
                finished_at__gt=job.finished_at,
            ).exists()
            if not deployed:
                environment.state = EnvironmentState.STOPPED
                environment.save(update_fields=["state", "updated_at"])
        elif (
            job.status in (st.FAILED, st.CANCELED)
            and environment.state == EnvironmentState.STOPPING
            and job.finished_at >= environment.updated_at
        ):
            environment.state = EnvironmentState.AVAILABLE
            environment.save(update_fields=["state", "updated_at"])


# --- the API ----------------------------------------------------------------------------------


def list_deployments(
    project: Project,
    *,
    order_by: str | None = None,
    sort: str | None = None,
    updated_after: dt.datetime | None = None,
    updated_before: dt.datetime | None = None,
    environment: str | None = None,
    status: str | None = None,
) -> QuerySet[Deployment]:
    """GitLab's DeploymentsFinder for one project (the caller checked `read_deployment`)."""
    order_by = order_by or "id"
    sort = sort or "asc"
    if order_by not in ORDER_BY:
        raise InvalidParameter("order_by does not have a valid value")
    if sort not in ("asc", "desc"):
        raise InvalidParameter("sort does not have a valid value")
    if status is not None and status not in STATUSES:
        raise InvalidParameter("status does not have a valid value")
    found = Deployment.objects.filter(project=project)
    if updated_after is not None:
        found = found.filter(updated_at__gt=updated_after)
    if updated_before is not None:
        found = found.filter(updated_at__lt=updated_before)
    if environment is not None:
        found = found.filter(environment__name=environment)
    if status is not None:
        found = found.filter(status=status)
    column = "id" if order_by in ("iid", "created_at") else order_by
    prefix = "-" if sort == "desc" else ""
    ordering = [prefix + column]
    if column == "updated_at":
        ordering.append("-id")
    elif column != "id":
        ordering.append(prefix + "id")
    return found.order_by(*ordering)


def get_deployment(project: Project, deployment_id: int | str) -> Deployment:
    if not str(deployment_id).isdigit():
        raise NotFound()
    found = (
        Deployment.objects.select_related("environment", "user", "project__namespace")
        .filter(project=project, pk=int(deployment_id))
        .first()
    )
    if found is None:
        raise NotFound()
    return found


def _check_ref(project: Project, sha: str, ref: str) -> dict[str, list[str]]:
    from kiln.gitstore import GitStoreError
    from kiln.repositories.storage import repo_path, store

    errors: dict[str, list[str]] = {}
    path = repo_path(project)
    commit = None
    if _SHA.match(sha):
        try:
            commit = store().resolve_revision(relative_path=path, revision=sha)
        except (GitStoreError, ValueError):
            commit = None
    if commit is None:
        errors["sha"] = ["The commit does not exist"]
    from kiln.ci.pipelines import PipelineError, resolve_ref

    try:
        resolve_ref(project, ref)
    except PipelineError:
        errors["ref"] = ["The branch or tag does not exist"]
    return errors


def create_deployment(
    *,
    actor: Actor,
    project: Project,
    environment: str,
    sha: str,
    ref: str,
    tag: bool,
    status: str,
) -> Deployment:
    """POST /projects/:id/deployments: a deployment made outside Kiln's CI (no job)."""
    if not can_write(actor, project):
        raise Forbidden()
    if status not in API_STATUSES:
        raise InvalidParameter("status does not have a valid value")
    if problems := name_errors(environment):
        raise ValidationFailed({"environment": problems})
    if errors := _check_ref(project, sha, ref):
        raise ValidationFailed(errors)
    now = timezone.now()
    with transaction.atomic():
        target = ensure_environment(project, environment)
        if target is None:
            raise ValidationFailed({"environment": [NAME_MESSAGE]})
        deployment = _insert(
            Deployment(
                project=project,
                environment=target,
                ref=ref,
                tag=tag,
                sha=sha.lower(),
                user=actor.user,
                status=DeploymentStatus.CREATED,
                created_at=now,
            )
        )
        _set_status(deployment, status, now, job=None)
    return deployment


def update_deployment(*, actor: Actor, deployment: Deployment, status: str) -> Deployment:
    """PUT /projects/:id/deployments/:deployment_id: only deployments without a job."""
    if not can_write(actor, deployment.project):
        raise Forbidden()
    if status not in API_STATUSES:
        raise InvalidParameter("status does not have a valid value")
    if deployment.job_id is not None:
        raise Forbidden("Deployments created using GitLab CI can not be updated using the API")
    with transaction.atomic():
        locked = Deployment.objects.select_for_update().get(pk=deployment.pk)
        if locked.status != status:
            _set_status(locked, status, timezone.now(), job=None)
    deployment.refresh_from_db()
    return deployment
