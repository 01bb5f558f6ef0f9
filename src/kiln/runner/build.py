"""One job from the moment the coordinator hands it over to its final update.

The executor runs the job; this module owns what surrounds it and must happen whatever the
executor does: the trace is started before anything runs and finished (all of it sent, then
the final state with its checksum) even when the executor raises, so the server never keeps a
job running that this runner has given up.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from kiln.runner.client import Coordinator, runner_info
from kiln.runner.config import RunnerConfig
from kiln.runner.executors import Executor, JobResult
from kiln.runner.job import PayloadError, parse_job
from kiln.runner.trace import JobTrace

log = logging.getLogger(__name__)


def run_job(
    payload: dict[str, Any],
    *,
    config: RunnerConfig,
    coordinator: Coordinator,
    executor: Executor,
    slot: int = 0,
    shutdown: threading.Event | None = None,
    update_interval: float = 3.0,
    final_update_timeout: float = 300.0,
) -> JobResult | None:
    """Run one job payload; returns how it ended (None if the payload was unusable)."""
    shutdown = shutdown or threading.Event()
    info = runner_info(executor=executor.name, features=executor.features())
    try:
        job = parse_job(payload)
    except PayloadError as exc:
        log.error("the coordinator sent an unusable job: %s", exc)
        return None
    log.info("job %s (%s, project %s): started", job.id, job.name, job.project_id)
    trace = JobTrace(
        coordinator,
        job_id=job.id,
        job_token=job.token,
        info=info,
        masked_values=job.masked_values(),
        token_mask_prefixes=job.features.token_mask_prefixes,
        limit=config.output_limit,
        update_interval=update_interval,
        final_update_timeout=final_update_timeout,
    )
    trace.system(f"Running with {info['name']} {info['version']} on {config.name or 'kiln'}")
    trace.start()
    try:
        result = executor.run(job, trace, slot=slot, shutdown=shutdown)
    except Exception as exc:  # the job must still get its final update
        log.exception("job %s: the executor failed", job.id)
        trace.error(f"Job failed (system failure): {exc}")
        result = JobResult.failed("runner_system_failure")
    state = trace.finish(
        state=result.state, failure_reason=result.failure_reason, exit_code=result.exit_code
    )
    log.info(
        "job %s: %s%s (final update: %s)",
        job.id,
        result.state,
        f" ({result.failure_reason})" if result.failure_reason else "",
        state.value,
    )
    return result
