"""Writes on one job: what its runner reports (log, state) and what people do (cancel, retry,
play, erase).

Runner-side calls authenticate with the job's token and only while the job runs
(`authenticate_job`, GitLab's `authenticate_job!`): anything else is 403, with the job's
status in `Job-Status` so the runner knows to stop. The log is appended at the offset the
runner gives (`Content-Range`), strictly after what is stored (else 416 and the stored size);
offset 0 rewrites it (GitLab runner's trace reset after a failed validation). The final state
update checks the runner's checksum and size of the log against what was stored (412 asks the
runner to send it again, at most three times).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import re2
from django.db import transaction
from django.utils import timezone

from kiln.accounts.models import User
from kiln.accounts.tokens import matches
from kiln.ci import statuses as st
from kiln.ci import storage
from kiln.ci.models import Job, JobArtifact, JobKind, JobTag
from kiln.ci.processing import bump_queue, process_pipeline, reset_skipped_successors
from kiln.core.actor import Actor
from kiln.core.errors import BadRequest, Forbidden, KilnError
from kiln.core.policy import can

# GitLab's default `ci_jobs_trace_size_limit` (100 MB) and the log update interval it gives
# runners while someone may be watching (seconds).
MAX_TRACE_BYTES = 100 * 1024 * 1024
TRACE_UPDATE_INTERVAL = 3
MAX_TRACE_VALIDATION_FAILURES = 3
RETRY_WHEN = frozenset(
    {
        "always",
        "unknown_failure",
        "script_failure",
        "api_failure",
        "stuck_or_timeout_failure",
        "runner_system_failure",
        "runner_unsupported",
        "stale_schedule",
        "job_execution_timeout",
        "archived_failure",
        "unmet_prerequisites",
        "scheduler_failure",
        "data_integrity_failure",
    }
)


class JobForbidden(KilnError):
    """GitLab's 403 for runner calls on a job; `job_status` goes into the Job-Status header."""

    status = 403
    reason = "job_forbidden"

    def __init__(self, message: str = "", job_status: str | None = None) -> None:
        super().__init__(f"403 Forbidden - {message}" if message else "403 Forbidden")
        self.job_status = job_status


def authenticate_job(job_id: int, token: str) -> Job:
    """The running job `token` belongs to (GitLab's `authenticate_job!`)."""
    job = (
        Job.objects.select_related("project__namespace", "pipeline", "runner")
        .filter(pk=job_id)
        .first()
    )
    if job is None or not token or job.token_digest is None:
        raise JobForbidden()
    if not matches(token, job.token_digest):
        raise JobForbidden()
    if job.erased_at is not None:
        raise JobForbidden("Job has been erased!")
    if job.status != st.RUNNING:
        raise JobForbidden("Job is not running", job_status=job.status)
    return job


# --- the log ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceResult:
    status: int  # 202 appended, 416 range mismatch, 403 too big (job dropped)
    size: int
    job_status: str


def parse_content_range(value: str) -> int:
    """The start offset of `Content-Range: start-end` (the runner's end is inclusive)."""
    text = value.strip()
    if text.lower().startswith("bytes"):
        text = text[5:].strip()
    start, sep, _ = text.partition("-")
    if not sep or not start.isdigit():
        raise BadRequest("Content-Range is invalid")
    return int(start)


def append_trace(job: Job, *, start: int, data: bytes) -> TraceResult:
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.status != st.RUNNING:
            raise JobForbidden("Job is not running", job_status=locked.status)
        size = storage.trace_size(job.pk)
        if start != size and start != 0:
            return TraceResult(416, size, locked.status)
        if start + len(data) > MAX_TRACE_BYTES:
            _finish(locked, state=st.FAILED, failure_reason="trace_size_exceeded", exit_code=None)
            return TraceResult(403, size, st.FAILED)
        new_size = storage.append_trace(job.pk, start, data) if data or start != size else size
        return TraceResult(202, new_size, locked.status)


def trace_checksum(job_id: int) -> tuple[int, str]:
    crc = 0
    size = 0
    try:
        with storage.trace_file(job_id).open("rb") as fh:
            while chunk := fh.read(1024 * 1024):
                crc = zlib.crc32(chunk, crc)
                size += len(chunk)
    except FileNotFoundError:
        pass
    return size, f"crc32:{crc:08x}"


# --- state --------------------------------------------------------------------------------------


def update_job_state(
    job: Job,
    *,
    state: str,
    failure_reason: str | None = None,
    exit_code: int | None = None,
    checksum: str | None = None,
    bytesize: int | None = None,
) -> int:
    """PUT /jobs/:id from the runner: returns the HTTP status GitLab would answer."""
    if state == st.RUNNING:
        if (timezone.now() - job.updated_at).total_seconds() > 30:
            Job.objects.filter(pk=job.pk).update(updated_at=timezone.now())
        return 200
    if state not in (st.SUCCESS, st.FAILED):
        return 400
    if (
        checksum or bytesize is not None
    ) and job.trace_validation_failures < MAX_TRACE_VALIDATION_FAILURES:
        size, crc = trace_checksum(job.pk)
        if (bytesize is not None and bytesize != size) or (checksum and checksum != crc):
            Job.objects.filter(pk=job.pk).update(
                trace_validation_failures=job.trace_validation_failures + 1
            )
            return 412
    finish_job(job, state=state, failure_reason=failure_reason, exit_code=exit_code)
    return 200


def finish_job(
    job: Job, *, state: str, failure_reason: str | None = None, exit_code: int | None = None
) -> None:
    with transaction.atomic():
        locked = Job.objects.select_for_update().select_related("project").get(pk=job.pk)
        if locked.status != st.RUNNING:
            return
        _finish(locked, state=state, failure_reason=failure_reason, exit_code=exit_code)


def _coverage(job: Job) -> float | None:
    pattern = job.options.get("coverage")
    if not pattern:
        return None
    regex = str(pattern)
    if len(regex) > 2 and regex.startswith("/") and regex.rstrip("i").endswith("/"):
        regex = regex[1 : regex.rstrip("i").rindex("/")]
    try:
        compiled = re2.compile(regex)
    except re2.error:
        return None
    text = storage.read_trace(job.pk)[-1024 * 1024 :].decode("utf-8", errors="replace")
    found: float | None = None
    for line in text.splitlines():
        match = compiled.search(line)
        if match is None:
            continue
        numbers = re2.findall(r"\d+(?:\.\d+)?", match.group(0))
        if numbers:
            found = float(numbers[-1])
    return found


def _finish(job: Job, *, state: str, failure_reason: str | None, exit_code: int | None) -> None:
    """Record the end of a running job (row locked by the caller) and process its pipeline."""
    now = timezone.now()
    job.status = state
    job.finished_at = now
    job.exit_code = exit_code
    job.updated_at = now
    if state == st.FAILED:
        reason = failure_reason or "unknown_failure"
        job.failure_reason = reason if reason in st.FAILURE_REASONS else "unknown_failure"
        if exit_code is not None and exit_code in (job.allow_failure_exit_codes or []):
            job.allow_failure = True
    job.coverage = _coverage(job)
    job.save(
        update_fields=[
            "status",
            "finished_at",
            "exit_code",
            "updated_at",
            "failure_reason",
            "allow_failure",
            "coverage",
        ]
    )
    if state == st.FAILED and _should_auto_retry(job):
        clone_for_retry(job, user=job.user)
    process_pipeline(job.pipeline_id)


def _should_auto_retry(job: Job) -> bool:
    retry = job.options.get("retry") or {}
    limit = int(retry.get("max") or 0)
    if limit <= 0 or job.allow_failure:
        return False
    attempts = Job.objects.filter(pipeline_id=job.pipeline_id, name=job.name, retried=True).count()
    if attempts >= limit:
        return False
    when = set(retry.get("when") or ["always"])
    if "always" not in when and (job.failure_reason or "unknown_failure") not in when:
        return False
    exit_codes = retry.get("exit_codes") or []
    return not exit_codes or job.exit_code in exit_codes


def clone_for_retry(job: Job, *, user: User | None) -> Job:
    """A new attempt of `job` (status created; processing starts it); the old one is kept as
    `retried`. Must run inside the caller's transaction."""
    clone = Job.objects.create(
        pipeline_id=job.pipeline_id,
        project_id=job.project_id,
        kind=job.kind,
        name=job.name,
        stage=job.stage,
        stage_idx=job.stage_idx,
        status=st.CREATED,
        when=job.when,
        allow_failure=bool(job.options.get("allow_failure", job.allow_failure)),
        allow_failure_exit_codes=job.allow_failure_exit_codes,
        needs=job.needs,
        options=job.options,
        yaml_variables=job.yaml_variables,
        tag_list=job.tag_list,
        ref=job.ref,
        tag=job.tag,
        protected=job.protected,
        user=user,
        environment_id=job.environment_id,
        resource_group_id=job.resource_group_id,
    )
    JobTag.objects.bulk_create(JobTag(job=clone, name=name) for name in job.tag_list)
    Job.objects.filter(pk=job.pk).update(retried=True)
    return clone


# --- what people do -----------------------------------------------------------------------------

# A bridge that failed for these would fail again (GitLab's Ci::Bridge#retryable?).
FINAL_BRIDGE_FAILURES = frozenset(
    {"pipeline_loop_detected", "reached_max_descendant_pipelines_depth"}
)


def _authorize(actor: Actor, action: str, job: Job) -> None:
    if not can(actor, action, job):
        raise Forbidden()


def cancel_job(*, actor: Actor, job: Job) -> Job:
    """Cancel a job that has not finished; a no-op on one that has (as GitLab answers)."""
    _authorize(actor, "cancel_build", job)
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.status in st.CANCELABLE:
            now = timezone.now()
            locked.status = st.CANCELED
            locked.finished_at = now
            locked.save(update_fields=["status", "finished_at", "updated_at"])
            process_pipeline(locked.pipeline_id)
    job.refresh_from_db()
    return job


def retry_job(*, actor: Actor, job: Job) -> Job:
    _authorize(actor, "retry_build", job)
    if job.status not in st.RETRYABLE or job.retried:
        raise Forbidden("Job is not retryable")
    if job.kind == JobKind.BRIDGE and job.failure_reason in FINAL_BRIDGE_FAILURES:
        raise Forbidden("Job is not retryable")
    assert actor.user is not None
    with transaction.atomic():
        clone = clone_for_retry(job, user=actor.user)
        reset_skipped_successors(job.pipeline, {job.name})
        process_pipeline(job.pipeline_id)
    clone.refresh_from_db()
    return clone


def play_job(
    *, actor: Actor, job: Job, variables: Sequence[Mapping[str, Any]] | None = None
) -> Job:
    """Start a manual (or scheduled, "run now") job as `actor`; a manual bridge creates its
    downstream pipeline as `actor` (GitLab's PlayBridgeService)."""
    _authorize(actor, "play_job", job)
    if job.kind == JobKind.BRIDGE:
        return _play_bridge(actor=actor, job=job)
    if job.status not in (st.MANUAL, st.SCHEDULED):
        raise BadRequest("Unplayable Job")
    assert actor.user is not None
    with transaction.atomic():
        locked = Job.objects.select_for_update().select_related("project__namespace").get(pk=job.pk)
        if locked.status not in (st.MANUAL, st.SCHEDULED):
            raise BadRequest("Unplayable Job")
        now = timezone.now()
        locked.status = st.PENDING
        locked.queued_at = now
        locked.user = actor.user
        if variables:
            locked.options = {
                **locked.options,
                "play_variables": [
                    {"key": str(v.get("key", "")), "value": str(v.get("value", ""))}
                    for v in variables
                    if v.get("key")
                ],
            }
        locked.save(update_fields=["status", "queued_at", "user", "options", "updated_at"])
        bump_queue(locked.project)
        process_pipeline(locked.pipeline_id)
    job.refresh_from_db()
    return job


def _play_bridge(*, actor: Actor, job: Job) -> Job:
    from kiln.ci.downstream import enqueue_triggers

    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.status != st.MANUAL or locked.project.archived:
            raise BadRequest("Unplayable Job")
        locked.status = st.PENDING
        locked.queued_at = timezone.now()
        locked.user = actor.user
        locked.save(update_fields=["status", "queued_at", "user", "updated_at"])
        process_pipeline(locked.pipeline_id)
        transaction.on_commit(lambda: enqueue_triggers([locked.pk]))
    job.refresh_from_db()
    return job


def erase_job(*, actor: Actor, job: Job) -> Job:
    """Delete a finished job's log and artifacts; the job stays, marked erased."""
    _authorize(actor, "erase_build", job)
    if job.status not in st.COMPLETED:
        raise Forbidden("Job is not erasable!")
    paths = list(JobArtifact.objects.filter(job=job).values_list("storage_path", flat=True))
    with transaction.atomic():
        JobArtifact.objects.filter(job=job).delete()
        job.erased_at = timezone.now()
        job.erased_by = actor.user
        job.artifacts_expire_at = None
        job.save(update_fields=["erased_at", "erased_by", "artifacts_expire_at", "updated_at"])

        def remove_files() -> None:
            for path in paths:
                storage.delete_artifact(path)
            storage.delete_trace(job.pk)

        transaction.on_commit(remove_files)
    return job
