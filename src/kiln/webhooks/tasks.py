"""Background work of webhooks: a push's fan-out, and each delivery with its retries.

A delivery that gets no answer (refused, reset, timed out) or a 5xx/429 is tried again with an
exponential backoff (10 s, 40 s, 160 s by default), with the same `Idempotency-Key`, so a
receiver can tell a retry from a new event. Each attempt is a `WebHookLog`. The event counts
once for auto-disabling, when it finally succeeds or fails (GitLab, which does not retry, counts
every execution; counting attempts would disable a hook after one bad minute). A 4xx answer or
a refused URL is final at once.

With a queue that can defer (the database backend) a retry is a task scheduled `run_after` the
delay; with the immediate backend (tests) it waits inline.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from django_tasks import task

from kiln.repositories.models import Push
from kiln.webhooks import execution, triggers
from kiln.webhooks.models import WebHook

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    base_delay: float = 10.0
    factor: float = 4.0

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before attempt number `attempt` (2, 3, ...)."""
        return self.base_delay * self.factor ** (attempt - 2)


RETRY_POLICY = RetryPolicy()


def set_retry_policy(policy: RetryPolicy) -> RetryPolicy:
    """Replace the retry policy (tests shrink the delays); returns the previous one."""
    global RETRY_POLICY
    previous, RETRY_POLICY = RETRY_POLICY, policy
    return previous


@task()
def execute_push_hooks(push_ids: list[int]) -> int:
    """Build the push payloads of one push (reading its commits) and enqueue deliveries."""
    pushes = list(
        Push.objects.select_related("project__namespace", "author")
        .filter(pk__in=push_ids)
        .order_by("pk")
    )
    return triggers.deliver_pushes(pushes)


def _schedule_retry(
    hook_id: int,
    trigger: str,
    data: dict[str, Any],
    idempotency_key: str,
    event_uuid: str,
    attempt: int,
) -> None:
    delay = RETRY_POLICY.delay_before(attempt)
    if deliver_web_hook.get_backend().supports_defer:
        deferred = deliver_web_hook.using(run_after=timezone.now() + dt.timedelta(seconds=delay))
        deferred.enqueue(hook_id, trigger, data, idempotency_key, event_uuid, attempt)
        return
    time.sleep(delay)
    deliver_web_hook.call(hook_id, trigger, data, idempotency_key, event_uuid, attempt)


@task()
def deliver_web_hook(
    hook_id: int,
    trigger: str,
    data: dict[str, Any],
    idempotency_key: str,
    event_uuid: str,
    attempt: int = 1,
) -> str:
    """One attempt to deliver an event to a hook; schedules the next one when worth it."""
    hook = WebHook.objects.select_related("project", "group").filter(pk=hook_id).first()
    if hook is None:
        return "gone"
    outcome = execution.execute(
        hook,
        data,
        trigger,
        idempotency_key=idempotency_key,
        event_uuid=event_uuid,
        attempt=attempt,
    )
    if outcome.skipped:
        return "disabled"
    if outcome.ok:
        execution.record_outcome(hook_id, ok=True)
        return "ok"
    if outcome.retryable and attempt < RETRY_POLICY.max_attempts:
        log.info(
            "webhook delivery failed, will retry",
            extra={"hook_id": hook_id, "attempt": attempt, "error": outcome.message[:200]},
        )
        _schedule_retry(hook_id, trigger, data, idempotency_key, event_uuid, attempt + 1)
        return "retrying"
    execution.record_outcome(hook_id, ok=False)
    return "failed"
