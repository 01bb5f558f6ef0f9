"""Background work for CI: delayed jobs coming due, stuck jobs, expired artifacts, pipeline
schedules; the periodic ones are enqueued by the worker's scheduler (kiln.ci.periodic)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from kiln.ci import statuses as st
from kiln.ci import storage
from kiln.ci.models import Job, JobArtifact, JobKind
from kiln.ci.processing import bump_queue, process_pipeline

# GitLab drops a running job whose runner went silent for an hour (StuckCiJobsWorker).
STUCK_AFTER = dt.timedelta(hours=1)


@task()
def enqueue_scheduled_job(job_id: int) -> None:
    """A `when: delayed` job's time has come: it becomes pending."""
    with transaction.atomic():
        job = (
            Job.objects.select_for_update()
            .select_related("project__namespace")
            .filter(pk=job_id)
            .first()
        )
        if job is None or job.status != st.SCHEDULED:
            return
        if job.scheduled_at is not None and job.scheduled_at > timezone.now():
            return
        now = timezone.now()
        job.status = st.PENDING
        job.queued_at = now
        job.save(update_fields=["status", "queued_at", "updated_at"])
        bump_queue(job.project)
        process_pipeline(job.pipeline_id)


# GitLab's StuckCiJobsWorker: pending jobs nobody took for a day, scheduled jobs an hour late.
PENDING_OUTDATED = dt.timedelta(days=1)
SCHEDULED_OUTDATED = dt.timedelta(hours=1)
# How long past its timeout a running job may go before the server stops waiting for its runner.
TIMEOUT_GRACE = dt.timedelta(minutes=15)


def _drop(job_ids: list[int], status: str, reason: str, now: dt.datetime) -> int:
    dropped = 0
    for job in Job.objects.filter(pk__in=job_ids).only("pk", "pipeline_id"):
        with transaction.atomic():
            updated = Job.objects.filter(pk=job.pk, status=status).update(
                status=st.FAILED, failure_reason=reason, finished_at=now, updated_at=now
            )
            if updated:
                process_pipeline(job.pipeline_id)
                dropped += 1
    return dropped


@task()
def drop_stuck_jobs() -> int:
    """Fail jobs that will never finish on their own (GitLab's StuckCiJobsWorker):

    - running, and the runner stopped reporting an hour ago, or the job is past its timeout
      by more than a grace period: `stuck_or_timeout_failure` / `job_execution_timeout`;
    - pending for a day with no runner taking it: `stuck_or_timeout_failure`;
    - scheduled (delayed) an hour past its time: `stale_schedule`.
    """
    now = timezone.now()
    dropped = 0
    silent = list(
        Job.objects.filter(
            status=st.RUNNING, updated_at__lt=now - STUCK_AFTER, kind=JobKind.BUILD
        ).values_list("pk", flat=True)[:1000]
    )
    dropped += _drop(silent, st.RUNNING, "stuck_or_timeout_failure", now)
    overdue = [
        job.pk
        for job in Job.objects.filter(
            status=st.RUNNING, started_at__isnull=False, kind=JobKind.BUILD
        ).only("pk", "timeout", "started_at")[:5000]
        if job.started_at is not None
        and now - job.started_at > dt.timedelta(seconds=job.timeout or 3600) + TIMEOUT_GRACE
    ]
    dropped += _drop(overdue, st.RUNNING, "job_execution_timeout", now)
    outdated = list(
        Job.objects.filter(status=st.PENDING, queued_at__lt=now - PENDING_OUTDATED).values_list(
            "pk", flat=True
        )[:1000]
    )
    dropped += _drop(outdated, st.PENDING, "stuck_or_timeout_failure", now)
    stale = list(
        Job.objects.filter(
            status=st.SCHEDULED, scheduled_at__lt=now - SCHEDULED_OUTDATED
        ).values_list("pk", flat=True)[:1000]
    )
    dropped += _drop(stale, st.SCHEDULED, "stale_schedule", now)
    return dropped


@task()
def remove_expired_artifacts() -> int:
    expired = list(JobArtifact.objects.filter(expire_at__lt=timezone.now())[:1000])
    for artifact in expired:
        path = artifact.storage_path
        artifact.delete()
        storage.delete_artifact(path)
    return len(expired)


@task()
def stop_due_environments() -> int:
    """Environments whose `auto_stop_in` has passed (kiln.ci.environments)."""
    from kiln.ci.environments import stop_due_environments as stop_due

    return stop_due()


@task()
def pipeline_succeeded(pipeline_id: int) -> list[int]:
    """A branch pipeline succeeded: merge requests set to merge when it succeeds merge."""
    from kiln.ci.mr_pipelines import merge_after_success

    return merge_after_success(pipeline_id)


@task()
def create_downstream_pipeline(bridge_id: int) -> int | None:
    """A bridge became pending: its child or multi-project pipeline (kiln.ci.downstream)."""
    from kiln.ci.downstream import trigger_downstream

    return trigger_downstream(bridge_id)


@task()
def update_bridge_status(pipeline_id: int) -> None:
    """A downstream pipeline changed status: its `strategy: depend` bridge follows."""
    from kiln.ci.downstream import update_bridge

    update_bridge(pipeline_id)


@task()
def run_due_pipeline_schedules() -> int:
    from kiln.ci.schedules import run_due_schedules

    return run_due_schedules()


@task()
def run_pipeline_schedule(schedule_id: int, user_id: int) -> int | None:
    """POST .../pipeline_schedules/:id/play: the schedule's pipeline now, as who pressed play."""
    from kiln.accounts.models import User
    from kiln.ci.models import PipelineSchedule
    from kiln.ci.schedules import run_schedule

    schedule = (
        PipelineSchedule.objects.select_related("project__namespace").filter(pk=schedule_id).first()
    )
    user = User.objects.filter(pk=user_id).first()
    if schedule is None:
        return None
    return run_schedule(schedule, user)
