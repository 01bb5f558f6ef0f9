"""The pipeline state machine: which jobs start when, and the pipeline's own status.

`process_pipeline` is the one place that moves jobs out of `created`: it is called after a
pipeline is created and after any job of it changes state (finished, canceled, retried,
played). It works as GitLab's AtomicProcessingService and ProcessBuildService:

1. For each `created` job, the status of what it waits for: its `needs` (DAG) or every job of
   the earlier stages, composed with GitLab's rules (kiln.ci.statuses.composite). An empty
   set counts as success. Nothing happens until that status is complete.
2. The job's `when` decides: `on_success`/`manual`/`delayed` run after success (and after
   skipped predecessors for stage jobs), `on_failure` after failure, `always` after anything
   but cancellation; otherwise the job is skipped. Running means `pending` (a runner may take
   it), `manual` (a person must play it) or `scheduled` (delayed).
3. Repeat until nothing changes (a skipped job can skip its successors in the same pass).
4. The pipeline's status is the composite of all its latest jobs.

It locks the pipeline row first, so two jobs finishing at once are processed one after the
other and the second sees the first. Whenever a job became pending, the runner queue version
of the project's scopes moves (kiln.ci.queue), inside the same transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from kiln.ci import deployments, resource_groups
from kiln.ci import statuses as st
from kiln.ci.models import Job, JobKind, Pipeline, RunnerQueueVersion
from kiln.ci.observers import status_changed_after_commit
from kiln.projects.models import Project

log = logging.getLogger(__name__)

_VALID_PREVIOUS = {
    "on_success": ({st.SUCCESS, st.SKIPPED}, {st.SUCCESS}),
    "manual": ({st.SUCCESS, st.SKIPPED}, {st.SUCCESS}),
    "delayed": ({st.SUCCESS, st.SKIPPED}, {st.SUCCESS}),
    "on_failure": ({st.FAILED}, {st.FAILED}),
    "always": ({st.SUCCESS, st.FAILED, st.SKIPPED}, {st.SUCCESS, st.FAILED, st.SKIPPED}),
}
_JOB_FIELDS = ["status", "queued_at", "scheduled_at", "finished_at", "failure_reason", "updated_at"]


# --- the runner queue's version numbers -------------------------------------------------------


def queue_keys_for_project(project: Project) -> list[str]:
    """The scopes whose runners may take a job of this project."""
    keys = ["instance", f"project:{project.pk}"]
    namespace = project.namespace
    if namespace.is_group:
        keys += [f"group:{i}" for i in namespace.traversal_ids.split("/") if i]
    return keys


def bump_queue(project: Project) -> None:
    """Tell idle runners of the project's scopes that there may be a job for them.

    Called inside the transaction that made the job pending, so a runner that sees the new
    number also sees the job.
    """
    keys = queue_keys_for_project(project)
    updated = RunnerQueueVersion.objects.filter(key__in=keys).update(version=F("version") + 1)
    if updated == len(keys):
        return
    existing = set(RunnerQueueVersion.objects.filter(key__in=keys).values_list("key", flat=True))
    for key in keys:
        if key in existing:
            continue
        try:
            with transaction.atomic():
                RunnerQueueVersion.objects.create(key=key, version=1)
        except IntegrityError:
            RunnerQueueVersion.objects.filter(key=key).update(version=F("version") + 1)


# --- processing -------------------------------------------------------------------------------


def _previous_status(job: Job, jobs: list[Job], by_name: dict[str, Job]) -> str:
    if job.needs is not None:
        needed = [by_name[n["name"]] for n in job.needs if n.get("name") in by_name]
        result = st.composite(((j.status, j.allow_failure) for j in needed), dag=True)
    else:
        earlier = [j for j in jobs if j.stage_idx < job.stage_idx]
        result = st.composite((j.status, j.allow_failure) for j in earlier)
    return result or st.SUCCESS


def _decide(job: Job, previous: str, now: dt.datetime) -> None:
    """Move one created job whose predecessors completed (GitLab's ProcessBuildService)."""
    stage_valid, dag_valid = _VALID_PREVIOUS.get(job.when, (set(), set()))
    valid = dag_valid if job.needs is not None else stage_valid
    if previous not in valid:
        job.status = st.SKIPPED
        return
    # A bridge is never scheduled (GitLab's `schedulable?`): a delayed one is enqueued.
    if job.when == "delayed" and job.kind != JobKind.BRIDGE:
        seconds = int(job.options.get("start_in_seconds") or 0)
        job.status = st.SCHEDULED
        job.scheduled_at = now + dt.timedelta(seconds=seconds)
        return
    if job.when == "manual":
        job.status = st.MANUAL
        return
    job.status = st.PENDING
    job.queued_at = now


def _pipeline_status(jobs: Iterable[Job]) -> str | None:
    return st.composite((j.status, j.allow_failure) for j in jobs)


def update_pipeline_status(pipeline: Pipeline, jobs: list[Job], now: dt.datetime) -> None:
    status = _pipeline_status(jobs) or pipeline.status
    if status != pipeline.status:
        _status_changed(pipeline, status)
    fields = ["status", "updated_at"]
    pipeline.status = status
    started = [j.started_at for j in jobs if j.started_at is not None]
    if started and pipeline.started_at is None:
        pipeline.started_at = min(started)
        pipeline.queued_duration = max(
            0, int((pipeline.started_at - pipeline.created_at).total_seconds())
        )
        fields += ["started_at", "queued_duration"]
    if status in st.COMPLETED:
        pipeline.finished_at = pipeline.finished_at or now
        if pipeline.started_at is not None:
            pipeline.duration = max(
                0, int((pipeline.finished_at - pipeline.started_at).total_seconds())
            )
        fields += ["finished_at", "duration"]
    elif pipeline.finished_at is not None:
        # Retried: running again.
        pipeline.finished_at = None
        pipeline.duration = None
        fields += ["finished_at", "duration"]
    pipeline.save(update_fields=fields)


def _status_changed(pipeline: Pipeline, status: str) -> None:
    """Side effects of a pipeline reaching a new status, after the transaction commits."""
    status_changed_after_commit(pipeline, status)
    pipeline_id = pipeline.pk
    if status == st.SUCCESS and not pipeline.tag:
        transaction.on_commit(lambda: _enqueue_success(pipeline_id))
    if pipeline.source_job_id is not None:
        # A downstream pipeline: its bridge may follow it (kiln.ci.downstream).
        transaction.on_commit(lambda: _downstream().enqueue_bridge_update(pipeline_id))


def _downstream() -> Any:
    from kiln.ci import downstream

    return downstream


def _enqueue_success(pipeline_id: int) -> None:
    from kiln.ci.tasks import pipeline_succeeded

    try:
        pipeline_succeeded.enqueue(pipeline_id)
    except Exception:
        log.exception("could not enqueue the pipeline success work", extra={"id": pipeline_id})


def process_pipeline(pipeline_id: int) -> Pipeline:
    """Advance the pipeline's jobs and recompute its status (see the module docstring)."""
    scheduled: list[Job] = []
    with transaction.atomic():
        pipeline = (
            Pipeline.objects.select_for_update(of=("self",))
            .select_related("project__namespace")
            .get(pk=pipeline_id)
        )
        jobs = list(pipeline.jobs.filter(retried=False).order_by("stage_idx", "id"))
        by_name = {job.name: job for job in jobs}
        now = timezone.now()
        touched: dict[int, Job] = {}
        changed = True
        while changed:
            changed = False
            for job in jobs:
                if job.status != st.CREATED:
                    continue
                previous = _previous_status(job, jobs, by_name)
                if previous not in st.COMPLETED:
                    continue
                _decide(job, previous, now)
                touched[job.pk] = job
                changed = True
        enqueued = False
        bridges: list[int] = []
        for job in touched.values():
            job.updated_at = now
            job.save(update_fields=_JOB_FIELDS)
            if job.kind == JobKind.BRIDGE:
                if job.status == st.PENDING:
                    bridges.append(job.pk)
                continue
            enqueued = enqueued or job.status == st.PENDING
            if job.status == st.SCHEDULED:
                scheduled.append(job)
        # Jobs of resource groups wait for their resource; deployments follow their jobs.
        resource_groups.request_resources(pipeline, jobs, now)
        deployments.follow_jobs(pipeline, jobs, now)
        update_pipeline_status(pipeline, jobs, now)
        if enqueued:
            bump_queue(pipeline.project)
        if scheduled:
            transaction.on_commit(lambda: _schedule(scheduled))
        if bridges:
            # Pending bridges create their downstream pipelines (kiln.ci.downstream).
            transaction.on_commit(lambda: _downstream().enqueue_triggers(bridges))
    return pipeline


def _schedule(jobs: list[Job]) -> None:
    from kiln.ci.tasks import enqueue_scheduled_job

    for job in jobs:
        try:
            enqueue_scheduled_job.using(run_after=job.scheduled_at).enqueue(job.pk)
        except Exception:  # noqa: BLE001 (a backend without deferred tasks: "run now" still works)
            log.warning("could not schedule a delayed job", extra={"job_id": job.pk})


def reset_skipped_successors(pipeline: Pipeline, names: set[str]) -> None:
    """After retrying or playing jobs, their successors that were skipped (or waiting for a
    manual job that now runs) go back to `created` so processing can start them (GitLab's
    ResetSkippedJobsService). Must run inside the caller's transaction."""
    jobs = list(pipeline.jobs.filter(retried=False))
    min_stage = min((j.stage_idx for j in jobs if j.name in names), default=None)
    if min_stage is None:
        return
    to_reset: set[int] = set()
    frontier = set(names)
    changed = True
    while changed:
        changed = False
        for job in jobs:
            if job.pk in to_reset or job.status not in (st.SKIPPED,):
                continue
            depends = (
                any(n.get("name") in frontier for n in job.needs)
                if job.needs is not None
                else job.stage_idx > min_stage
            )
            if depends:
                to_reset.add(job.pk)
                frontier.add(job.name)
                changed = True
    if to_reset:
        Job.objects.filter(pk__in=to_reset).update(
            status=st.CREATED, finished_at=None, updated_at=timezone.now()
        )
