"""Background work for CI: delayed jobs coming due, stuck jobs, expired artifacts."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from kiln.ci import statuses as st
from kiln.ci import storage
from kiln.ci.models import Job, JobArtifact
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


@task()
def drop_stuck_jobs() -> int:
    """Fail running jobs past their timeout (plus a grace period) whose runner stopped
    reporting, as `stuck_or_timeout_failure`."""
    now = timezone.now()
    dropped = 0
    for job in Job.objects.filter(status=st.RUNNING, updated_at__lt=now - STUCK_AFTER).only(
        "pk", "pipeline_id", "timeout", "started_at"
    ):
        limit = dt.timedelta(seconds=(job.timeout or 3600)) + STUCK_AFTER
        if job.started_at is not None and now - job.started_at < limit:
            continue
        with transaction.atomic():
            updated = Job.objects.filter(pk=job.pk, status=st.RUNNING).update(
                status=st.FAILED,
                failure_reason="stuck_or_timeout_failure",
                finished_at=now,
                updated_at=now,
            )
            if updated:
                process_pipeline(job.pipeline_id)
                dropped += 1
    return dropped


@task()
def remove_expired_artifacts() -> int:
    expired = list(JobArtifact.objects.filter(expire_at__lt=timezone.now())[:1000])
    for artifact in expired:
        path = artifact.storage_path
        artifact.delete()
        storage.delete_artifact(path)
    return len(expired)
