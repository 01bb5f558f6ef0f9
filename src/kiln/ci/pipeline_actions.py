"""Acting on whole pipelines: cancel (with their child pipelines), retry, delete."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from kiln.ci import statuses as st
from kiln.ci.models import Job, Pipeline
from kiln.ci.processing import process_pipeline, reset_skipped_successors
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden
from kiln.core.policy import can


def _authorize(actor: Actor, action: str, pipeline: Pipeline) -> None:
    if not can(actor, action, pipeline):
        raise Forbidden()


def cancel_pipeline(*, actor: Actor, pipeline: Pipeline) -> Pipeline:
    """Cancel every job that has not finished (GitLab's `cancel_running`)."""
    _authorize(actor, "cancel_pipeline", pipeline)
    now = timezone.now()
    with transaction.atomic():
        Job.objects.filter(pipeline=pipeline, retried=False, status__in=st.CANCELABLE).update(
            status=st.CANCELED, finished_at=now, updated_at=now
        )
        process_pipeline(pipeline.pk)
        cancel_children_on_commit(pipeline.pk)
    pipeline.refresh_from_db()
    return pipeline


def cancel_children_on_commit(pipeline_id: int) -> None:
    """Child pipelines are canceled with their parent (GitLab's `cascade_to_children`)."""
    from kiln.ci.downstream import cancel_children

    transaction.on_commit(lambda: cancel_children(pipeline_id))


def retry_pipeline(*, actor: Actor, pipeline: Pipeline) -> Pipeline:
    """Retry every failed or canceled job and restart what they skipped."""
    from kiln.ci.jobs import clone_for_retry

    _authorize(actor, "retry_pipeline", pipeline)
    assert actor.user is not None
    with transaction.atomic():
        failed = list(
            Job.objects.select_for_update()
            .filter(pipeline=pipeline, retried=False, status__in=(st.FAILED, st.CANCELED))
            .select_related("project")
        )
        if not failed and pipeline.status not in (st.FAILED, st.CANCELED):
            raise Forbidden()
        for job in failed:
            clone_for_retry(job, user=actor.user)
        reset_skipped_successors(pipeline, {job.name for job in failed})
        process_pipeline(pipeline.pk)
        pipeline.refresh_from_db()
        if pipeline.source_job_id is not None:
            from kiln.ci.downstream import bridge_follows_retry

            bridge_follows_retry(actor=actor, pipeline=pipeline)
    pipeline.refresh_from_db()
    return pipeline


def delete_pipeline(*, actor: Actor, pipeline: Pipeline) -> None:
    """Delete the pipeline, its jobs, their logs and artifacts (files after commit)."""
    from kiln.ci import storage
    from kiln.ci.models import JobArtifact

    _authorize(actor, "destroy_pipeline", pipeline)
    job_ids = list(pipeline.jobs.values_list("pk", flat=True))
    paths = list(
        JobArtifact.objects.filter(job_id__in=job_ids).values_list("storage_path", flat=True)
    )
    with transaction.atomic():
        pipeline.delete()

        def remove_files() -> None:
            for path in paths:
                storage.delete_artifact(path)
            for job_id in job_ids:
                storage.delete_trace(job_id)

        transaction.on_commit(remove_files)
