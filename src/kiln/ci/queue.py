"""Handing pending jobs to runners.

`assign_next_job(runner)` picks the oldest pending job the runner may run and marks it
running for that runner, atomically: on PostgreSQL the candidate row is locked with
`FOR UPDATE SKIP LOCKED` (a second runner skips it and takes the next one); on SQLite the
transaction is IMMEDIATE (Kiln's setting), so pickers run one after the other. The final
UPDATE also checks the job is still pending and unassigned, so two runners never get one job
whatever the database.

Which jobs a runner may take (GitLab's Ci::Queue matching):
- instance runners: projects with shared runners enabled (and the instance setting on);
  group runners: projects in the group or below, with group runners enabled; project
  runners: the projects they are assigned to;
- tags: every tag of the job must be among the runner's; untagged jobs need `run_untagged`;
- `ref_protected` runners only take jobs of protected branches and tags;
- paused runners take nothing.

`queue_version(runner)` is the cheap "did anything change" value for X-GitLab-Last-Update:
the versions of the runner's scopes, moved in the transaction that makes a job pending.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from kiln.ci import statuses as st
from kiln.ci.jobtokens import new_job_token
from kiln.ci.models import (
    Job,
    JobKind,
    JobTag,
    Runner,
    RunnerAccessLevel,
    RunnerNamespace,
    RunnerProject,
    RunnerQueueVersion,
    RunnerType,
)
from kiln.ci.processing import process_pipeline
from kiln.core import appsettings
from kiln.namespaces.access import subtree_q


@dataclass(frozen=True)
class Assignment:
    job: Job
    token: str


def queue_keys_for_runner(runner: Runner) -> list[str]:
    """Computed when the runner or its assignments change (stored in `runner.queue_keys`)."""
    if runner.runner_type == RunnerType.INSTANCE:
        return ["instance"]
    if runner.runner_type == RunnerType.GROUP:
        ids = RunnerNamespace.objects.filter(runner=runner).values_list("namespace_id", flat=True)
        return sorted(f"group:{i}" for i in ids)
    project_ids = RunnerProject.objects.filter(runner=runner).values_list("project_id", flat=True)
    return sorted(f"project:{i}" for i in project_ids)


def queue_version(runner: Runner) -> str:
    """An opaque value that changes whenever a job may have become available to `runner` or
    the runner's own settings changed. One indexed query."""
    keys = [str(key) for key in runner.queue_keys]
    versions: dict[str, int] = {}
    if keys:
        # Plain SQL on purpose: every idle poll of every runner runs this, and building the
        # ORM query costs several times what SQLite or PostgreSQL take to answer it.
        table = connection.ops.quote_name(RunnerQueueVersion._meta.db_table)
        marks = ", ".join(["%s"] * len(keys))
        key, version = connection.ops.quote_name("key"), connection.ops.quote_name("version")
        sql = f"SELECT {key}, {version} FROM {table} WHERE {key} IN ({marks})"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql, keys)
            versions = {str(name): int(number) for name, number in cursor.fetchall()}
    numbers = ".".join(str(versions.get(key, 0)) for key in keys)
    # The minute is part of the value, so a change no version records (a project turning
    # shared runners on, say) reaches an idle runner within a minute: one search per runner
    # per minute, at worst.
    minute = int(time.time() // 60)
    return f"{runner.pk}.{runner.config_version}.{minute}.{numbers}"


def _scope(runner: Runner, jobs: QuerySet[Job]) -> QuerySet[Job]:
    if runner.runner_type == RunnerType.INSTANCE:
        if not appsettings.current().shared_runners_enabled:
            return jobs.none()
        return jobs.filter(project__shared_runners_enabled=True)
    if runner.runner_type == RunnerType.GROUP:
        traversals = list(
            RunnerNamespace.objects.filter(runner=runner).values_list(
                "namespace__traversal_ids", flat=True
            )
        )
        if not traversals:
            return jobs.none()
        return jobs.filter(
            subtree_q(traversals, field="project__namespace__traversal_ids"),
            project__group_runners_enabled=True,
        )
    project_ids = RunnerProject.objects.filter(runner=runner).values("project_id")
    return jobs.filter(project_id__in=project_ids)


def candidates(runner: Runner) -> QuerySet[Job]:
    """Pending jobs `runner` may take, oldest first."""
    jobs = Job.objects.filter(status=st.PENDING, runner__isnull=True, kind=JobKind.BUILD)
    jobs = jobs.exclude(project__builds_access_level="disabled")
    if runner.access_level == RunnerAccessLevel.REF_PROTECTED:
        jobs = jobs.filter(protected=True)
    foreign_tags = JobTag.objects.filter(job=OuterRef("pk")).exclude(name__in=list(runner.tag_list))
    jobs = jobs.filter(~Exists(foreign_tags))
    if not runner.run_untagged:
        jobs = jobs.filter(Exists(JobTag.objects.filter(job=OuterRef("pk"))))
    return _scope(runner, jobs).order_by("id")


def _timeout(job: Job, runner: Runner) -> int:
    timeout = job.options.get("timeout") or job.project.build_timeout
    if runner.maximum_timeout:
        timeout = min(int(timeout), runner.maximum_timeout)
    return int(timeout)


def assign_next_job(runner: Runner) -> Assignment | None:
    """Give `runner` the oldest job it may run, or None. The job becomes `running`."""
    if not runner.active:
        return None
    # Look before taking the write lock (an IMMEDIATE transaction on SQLite serializes every
    # writer): an idle runner costs one read.
    if not candidates(runner).exists():
        return None
    with transaction.atomic():
        pending = candidates(runner)
        if connection.features.has_select_for_update_skip_locked:
            pending = pending.select_for_update(skip_locked=True, of=("self",))
        job = pending.select_related("project__namespace").first()
        if job is None:
            return None
        token, digest = new_job_token()
        now = timezone.now()
        timeout = _timeout(job, runner)
        claimed = Job.objects.filter(pk=job.pk, status=st.PENDING, runner__isnull=True).update(
            status=st.RUNNING,
            runner=runner,
            token_digest=digest,
            started_at=now,
            timeout=timeout,
            updated_at=now,
        )
        if claimed != 1:
            return None
        process_pipeline(job.pipeline_id)
    assigned = Job.objects.select_related(
        "project__namespace", "pipeline__project__namespace", "pipeline__user", "runner", "user"
    ).get(pk=job.pk)
    return Assignment(job=assigned, token=token)
