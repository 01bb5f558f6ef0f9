"""GitLab's CI statuses and how a set of them composes into one.

Jobs, stages and pipelines share the same eleven statuses. `composite` is GitLab's
`Gitlab::Ci::Status::Composite`: the status of a group of jobs (a stage, a pipeline, the
jobs a job waits for). The order of the checks is GitLab's and it matters: a pipeline with a
success and a created job is "running" (between stages), one whose failed jobs were all
allowed to fail is "success" (with warnings).
"""

from __future__ import annotations

from collections.abc import Iterable

CREATED = "created"
WAITING_FOR_RESOURCE = "waiting_for_resource"
PREPARING = "preparing"
PENDING = "pending"
RUNNING = "running"
SUCCESS = "success"
FAILED = "failed"
CANCELED = "canceled"
SKIPPED = "skipped"
MANUAL = "manual"
SCHEDULED = "scheduled"

ALL = (
    CREATED,
    WAITING_FOR_RESOURCE,
    PREPARING,
    PENDING,
    RUNNING,
    SUCCESS,
    FAILED,
    CANCELED,
    SKIPPED,
    MANUAL,
    SCHEDULED,
)
CHOICES = [(s, s) for s in ALL]

# GitLab's Ci::HasStatus sets.
COMPLETED = frozenset({SUCCESS, FAILED, CANCELED, SKIPPED})
ACTIVE = frozenset({PREPARING, PENDING, RUNNING, WAITING_FOR_RESOURCE})
CANCELABLE = frozenset({RUNNING, WAITING_FOR_RESOURCE, PREPARING, PENDING, CREATED, SCHEDULED})
RETRYABLE = frozenset({SUCCESS, FAILED, CANCELED})
PASSED_WITH_WARNINGS = frozenset({FAILED, CANCELED})
IGNORED = frozenset({MANUAL})

# GitLab's failure reasons a runner may report (CommitStatus.failure_reasons), plus the ones
# the server sets itself.
FAILURE_REASONS = (
    "unknown_failure",
    "script_failure",
    "api_failure",
    "stuck_or_timeout_failure",
    "runner_system_failure",
    "missing_dependency_failure",
    "runner_unsupported",
    "stale_schedule",
    "job_execution_timeout",
    "archived_failure",
    "unmet_prerequisites",
    "scheduler_failure",
    "data_integrity_failure",
    "forward_deployment_failure",
    "user_blocked",
    "project_deleted",
    "ci_quota_exceeded",
    "pipeline_loop_detected",
    "no_matching_runner",
    "trace_size_exceeded",
    "builds_disabled",
    "environment_creation_failure",
    "deployment_rejected",
    "failed_outdated_deployment_job",
    "protected_environment_failure",
    "insufficient_bridge_permissions",
    "downstream_bridge_project_not_found",
    "invalid_bridge_trigger",
    "upstream_bridge_project_not_found",
    "insufficient_upstream_permissions",
    "bridge_pipeline_is_child_pipeline",
    "downstream_pipeline_creation_failed",
    "secrets_provider_not_found",
    "reached_max_descendant_pipelines_depth",
    "ip_restriction_failure",
    "reached_max_pipeline_hierarchy_size",
    "reached_downstream_pipeline_trigger_rate_limit",
    "image_pull_failure",
)


def composite(statuses: Iterable[tuple[str, bool]], *, dag: bool = False) -> str | None:
    """The status of a group of (status, allow_failure) pairs; None for an empty group."""
    seen: set[str] = set()
    for status, allow_failure in statuses:
        if allow_failure and status in PASSED_WITH_WARNINGS:
            seen.add("success_with_warnings")
        elif allow_failure and status in IGNORED:
            seen.add("ignored")
        else:
            seen.add(status)
    if not seen:
        return None

    def only_of(*names: str) -> bool:
        matching = sum(1 for name in names if name in seen)
        return matching > 0 and matching == len(seen)

    def any_of(*names: str) -> bool:
        return any(name in seen for name in names)

    if dag and any_of(SKIPPED, "ignored"):
        return SKIPPED
    if dag and not only_of(SUCCESS, FAILED, CANCELED, SKIPPED, "success_with_warnings"):
        return PENDING
    if only_of(SKIPPED, "ignored"):
        return SKIPPED
    if only_of(SUCCESS, SKIPPED, "success_with_warnings", "ignored"):
        return SUCCESS
    if only_of(CREATED, "success_with_warnings", "ignored"):
        return CREATED
    if only_of(PREPARING, "success_with_warnings", "ignored"):
        return PREPARING
    if only_of(CANCELED, SUCCESS, SKIPPED, "success_with_warnings", "ignored"):
        return CANCELED
    if only_of(PENDING, CREATED, SKIPPED, "success_with_warnings", "ignored"):
        return PENDING
    if any_of(RUNNING, PENDING):
        return RUNNING
    if any_of(WAITING_FOR_RESOURCE):
        return WAITING_FOR_RESOURCE
    if any_of(MANUAL):
        return MANUAL
    if any_of(SCHEDULED):
        return SCHEDULED
    if any_of(PREPARING):
        return PREPARING
    if any_of(CREATED):
        return RUNNING
    return FAILED
