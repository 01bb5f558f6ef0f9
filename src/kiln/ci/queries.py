"""Reads of pipelines, jobs and runners, restricted to what the actor may see.

Every read starts from `get_ci_project_for`: a project the actor cannot see answers 404 (a
job token outside its job's project included), one it sees without the right to read its
pipelines answers 403, as GitLab's `authorize! :read_pipeline`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from kiln.ci import policies
from kiln.ci import statuses as st
from kiln.ci.jobtokens import JobTokenActor
from kiln.ci.models import (
    Job,
    Pipeline,
    PipelineSource,
    Runner,
    RunnerNamespace,
    RunnerProject,
    RunnerType,
)
from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, InvalidParameter, NotFound
from kiln.namespaces.access import member_group_traversals, subtree_q
from kiln.projects.models import Project
from kiln.projects.queries import get_project_for, member_projects_q


def get_ci_project_for(actor: Actor, ref: str | int) -> Project:
    if isinstance(actor, JobTokenActor):
        project = get_project_for(actor, ref)
        if not actor.allows_project(project.pk):
            raise NotFound("Project")
    else:
        project = get_project_for(actor, ref)
    if not policies.can_read_pipelines(actor, project):
        raise Forbidden()
    return project


def get_pipeline_for(project: Project, pipeline_id: int | str) -> Pipeline:
    if not str(pipeline_id).isdigit():
        raise NotFound()
    found = (
        Pipeline.objects.select_related("project__namespace", "user")
        .filter(project=project, pk=int(pipeline_id))
        .first()
    )
    if found is None:
        raise NotFound()
    return found


def get_job_for(project: Project, job_id: int | str) -> Job:
    if not str(job_id).isdigit():
        raise NotFound()
    found = (
        Job.objects.select_related(
            "project__namespace", "pipeline__project__namespace", "user", "runner"
        )
        .filter(project=project, pk=int(job_id))
        .first()
    )
    if found is None:
        raise NotFound()
    return found


PIPELINE_SCOPES = ("running", "pending", "finished", "branches", "tags")
PIPELINE_ORDER = ("id", "status", "ref", "updated_at", "user_id")


@dataclass
class PipelineFilters:
    scope: str | None = None
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
    order_by: str = "id"
    sort: str = "desc"


def list_pipelines(project: Project, filters: PipelineFilters) -> QuerySet[Pipeline]:
    qs = Pipeline.objects.filter(project=project).select_related("project__namespace", "user")
    f = filters
    if f.scope is not None:
        if f.scope not in PIPELINE_SCOPES:
            raise InvalidParameter("scope does not have a valid value")
        if f.scope == "running":
            qs = qs.filter(status=st.RUNNING)
        elif f.scope == "pending":
            qs = qs.filter(status=st.PENDING)
        elif f.scope == "finished":
            qs = qs.filter(status__in=st.COMPLETED)
        elif f.scope == "branches":
            qs = qs.filter(tag=False)
        else:
            qs = qs.filter(tag=True)
    if f.status is not None:
        if f.status not in st.ALL:
            raise InvalidParameter("status does not have a valid value")
        qs = qs.filter(status=f.status)
    if f.source:
        qs = qs.filter(source=f.source)
    else:
        # GitLab's PipelinesFinder lists child pipelines only when asked for by their source.
        qs = qs.exclude(source=PipelineSource.PARENT_PIPELINE)
    if f.ref:
        qs = qs.filter(ref=f.ref)
    if f.sha:
        qs = qs.filter(sha=f.sha)
    if f.yaml_errors is not None:
        qs = qs.exclude(yaml_errors="") if f.yaml_errors else qs.filter(yaml_errors="")
    if f.username:
        qs = qs.filter(user__username__iexact=f.username)
    if f.name:
        qs = qs.filter(name=f.name)
    if f.updated_after:
        qs = qs.filter(updated_at__gt=f.updated_after)
    if f.updated_before:
        qs = qs.filter(updated_at__lt=f.updated_before)
    if f.created_after:
        qs = qs.filter(created_at__gt=f.created_after)
    if f.created_before:
        qs = qs.filter(created_at__lt=f.created_before)
    if f.order_by not in PIPELINE_ORDER:
        raise InvalidParameter("order_by does not have a valid value")
    if f.sort not in ("asc", "desc"):
        raise InvalidParameter("sort does not have a valid value")
    prefix = "-" if f.sort == "desc" else ""
    field = "pk" if f.order_by == "id" else f.order_by
    ordering = [f"{prefix}{field}"] + ([f"{prefix}pk"] if field != "pk" else [])
    return qs.order_by(*ordering)


def _statuses(scope: Sequence[str]) -> list[str]:
    for value in scope:
        if value not in st.ALL:
            raise InvalidParameter("scope[0] does not have a valid value")
    return list(scope)


def list_jobs(
    project: Project,
    *,
    scope: Sequence[str] = (),
    pipeline: Pipeline | None = None,
    include_retried: bool = False,
) -> QuerySet[Job]:
    qs = Job.objects.filter(project=project).select_related(
        "pipeline__project__namespace", "user", "runner", "project__namespace"
    )
    if pipeline is not None:
        qs = qs.filter(pipeline=pipeline)
        if not include_retried:
            qs = qs.filter(retried=False)
    if scope:
        qs = qs.filter(status__in=_statuses(scope))
    if pipeline is not None:
        return qs.order_by("pk")
    return qs.order_by("-pk")


def latest_successful_job(project: Project, ref: str, name: str) -> Job | None:
    """GitLab's `/jobs/artifacts/:ref/download?job=`: the job of that name in the latest
    successful pipeline of `ref` (a branch or tag)."""
    pipeline = (
        Pipeline.objects.filter(project=project, ref=ref, status=st.SUCCESS).order_by("-pk").first()
    )
    if pipeline is None:
        return None
    return (
        Job.objects.select_related("project__namespace", "pipeline")
        .filter(pipeline=pipeline, name=name, retried=False, status=st.SUCCESS)
        .order_by("-pk")
        .first()
    )


# --- runners --------------------------------------------------------------------------------

RUNNER_TYPES = tuple(RunnerType.values)
RUNNER_STATUSES = ("active", "paused", "online", "offline", "never_contacted", "stale")
ONLINE_WINDOW = dt.timedelta(hours=2)
STALE_WINDOW = dt.timedelta(days=7 * 13)


def _runner_filters(
    qs: QuerySet[Runner],
    *,
    type: str | None,
    status: str | None,
    paused: bool | None,
    tag_list: Sequence[str],
) -> QuerySet[Runner]:
    from django.utils import timezone

    if type is not None:
        if type not in RUNNER_TYPES:
            raise InvalidParameter("type does not have a valid value")
        qs = qs.filter(runner_type=type)
    if status is not None:
        if status not in RUNNER_STATUSES:
            raise InvalidParameter("status does not have a valid value")
        now = timezone.now()
        if status == "active":
            qs = qs.filter(active=True)
        elif status == "paused":
            qs = qs.filter(active=False)
        elif status == "online":
            qs = qs.filter(contacted_at__gt=now - ONLINE_WINDOW)
        elif status == "offline":
            qs = qs.filter(contacted_at__lte=now - ONLINE_WINDOW)
        elif status == "never_contacted":
            qs = qs.filter(contacted_at__isnull=True)
        else:
            qs = qs.filter(
                Q(contacted_at__lt=now - STALE_WINDOW)
                | Q(contacted_at__isnull=True, created_at__lt=now - STALE_WINDOW)
            )
    if paused is not None:
        qs = qs.filter(active=not paused)
    runners = qs.order_by("pk")
    if tag_list:
        wanted = set(tag_list)
        ids = [r.pk for r in runners.only("pk", "tag_list") if wanted <= set(r.tag_list)]
        runners = runners.filter(pk__in=ids)
    return runners


def list_owned_runners(
    actor: Actor,
    *,
    type: str | None = None,
    status: str | None = None,
    paused: bool | None = None,
    tag_list: Sequence[str] = (),
) -> QuerySet[Runner]:
    """GET /runners: the project and group runners of what the actor administers."""
    if actor.user is None:
        return Runner.objects.none()
    projects = Project.objects.filter(member_projects_q(actor, AccessLevel.MAINTAINER))
    groups = member_group_traversals(actor, AccessLevel.OWNER)
    q = Q(pk__in=RunnerProject.objects.filter(project__in=projects).values("runner_id"))
    if groups:
        q |= Q(
            pk__in=RunnerNamespace.objects.filter(
                subtree_q(groups, field="namespace__traversal_ids")
            ).values("runner_id")
        )
    qs = Runner.objects.filter(q).exclude(runner_type=RunnerType.INSTANCE)
    return _runner_filters(qs, type=type, status=status, paused=paused, tag_list=tag_list)


def list_all_runners(
    *,
    type: str | None = None,
    status: str | None = None,
    paused: bool | None = None,
    tag_list: Sequence[str] = (),
) -> QuerySet[Runner]:
    return _runner_filters(
        Runner.objects.all(), type=type, status=status, paused=paused, tag_list=tag_list
    )


def list_project_runners(
    project: Project,
    *,
    scope: str | None = None,
    type: str | None = None,
    status: str | None = None,
    paused: bool | None = None,
    tag_list: Sequence[str] = (),
) -> QuerySet[Runner]:
    """GET /projects/:id/runners: its own runners, its groups', and the instance's."""
    q = Q(pk__in=RunnerProject.objects.filter(project=project).values("runner_id"))
    if project.namespace.is_group:
        ancestors = [int(i) for i in project.namespace.traversal_ids.split("/") if i]
        q |= Q(
            pk__in=RunnerNamespace.objects.filter(namespace_id__in=ancestors).values("runner_id")
        )
    if project.shared_runners_enabled:
        q |= Q(runner_type=RunnerType.INSTANCE)
    qs = Runner.objects.filter(q)
    if scope == "specific":
        qs = qs.exclude(runner_type=RunnerType.INSTANCE)
    elif scope == "shared":
        qs = qs.filter(runner_type=RunnerType.INSTANCE)
    elif scope is not None and scope not in RUNNER_STATUSES:
        raise InvalidParameter("scope does not have a valid value")
    elif scope is not None:
        status = scope
    return _runner_filters(qs, type=type, status=status, paused=paused, tag_list=tag_list)


def get_runner_for(actor: Actor, runner_id: int | str) -> Runner:
    if not str(runner_id).isdigit():
        raise NotFound("Runner")
    runner = Runner.objects.filter(pk=int(runner_id)).first()
    if runner is None:
        raise NotFound("Runner")
    if runner.runner_type == RunnerType.INSTANCE and actor.user is not None:
        # Instance runners are visible to every signed-in user, as on GitLab.
        return runner
    if not policies.can_read_runner(actor, runner):
        raise NotFound("Runner")
    return runner


def runner_jobs(runner: Runner, *, status: str | None, sort: str = "desc") -> QuerySet[Job]:
    qs = Job.objects.filter(runner=runner).select_related(
        "pipeline__project__namespace", "user", "runner", "project__namespace"
    )
    if status is not None:
        if status not in st.ALL:
            raise InvalidParameter("status does not have a valid value")
        qs = qs.filter(status=status)
    return qs.order_by("pk" if sort == "asc" else "-pk")


def dependencies_of(job: Job) -> list[Job]:
    """The jobs whose artifacts `job` receives (GitLab's `all_dependencies`): its needs with
    `artifacts: true` (DAG), else `dependencies:` (all earlier stages when not given)."""
    siblings = Job.objects.filter(pipeline_id=job.pipeline_id, retried=False).exclude(pk=job.pk)
    if job.needs is not None:
        names = [n["name"] for n in job.needs if n.get("artifacts", True)]
        if not names:
            return []
        found = {j.name: j for j in siblings.filter(name__in=names)}
        return [found[name] for name in names if name in found]
    wanted = job.options.get("dependencies")
    earlier = siblings.filter(stage_idx__lt=job.stage_idx).order_by("stage_idx", "pk")
    if wanted is None:
        return list(earlier)
    by_name = {j.name: j for j in earlier.filter(name__in=list(wanted))}
    return [by_name[name] for name in wanted if name in by_name]
