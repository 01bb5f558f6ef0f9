"""The worker's small periodic scheduler: maintenance and schedules, each at its interval.

`kiln worker` runs `run_forever` in a thread next to the task worker. Every tick it claims the
periodic tasks that are due (a compare-and-swap on `PeriodicRun.next_run_at`, so with several
workers each run happens once) and enqueues them as ordinary background tasks, which the
worker then runs. The table lives with CI because CI's work is all that runs periodically so
far; a package below CI would register here through a hook, never by importing CI, and a
package above it (notifications) adds its own with `register_periodic`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, close_old_connections, transaction
from django.utils import timezone

from kiln.ci.models import PeriodicRun

log = logging.getLogger(__name__)

TICK_SECONDS = 5.0


@dataclass(frozen=True)
class Periodic:
    name: str
    every: dt.timedelta
    enqueue: Callable[[], object]


_REGISTERED: list[Periodic] = []


def register_periodic(periodic: Periodic) -> Periodic:
    """Add a periodic task of another package (once per name)."""
    if all(p.name != periodic.name for p in _REGISTERED):
        _REGISTERED.append(periodic)
    return periodic


def _registry() -> list[Periodic]:
    from kiln.ci import tasks

    return [
        # Cron has minute granularity: a due schedule starts within ~15 s.
        Periodic(
            "ci.pipeline_schedules",
            dt.timedelta(seconds=15),
            tasks.run_due_pipeline_schedules.enqueue,
        ),
        Periodic("ci.drop_stuck_jobs", dt.timedelta(minutes=5), tasks.drop_stuck_jobs.enqueue),
        Periodic(
            "ci.remove_expired_artifacts",
            dt.timedelta(minutes=7),
            tasks.remove_expired_artifacts.enqueue,
        ),
        Periodic(
            "ci.stop_due_environments",
            dt.timedelta(minutes=1),
            tasks.stop_due_environments.enqueue,
        ),
        *_REGISTERED,
    ]


def claim_run(name: str, now: dt.datetime, next_run_at: dt.datetime) -> bool:
    """Claim the run `name` when it is due (or was never run), moving it to `next_run_at`;
    of several workers claiming at once, one wins."""
    row = PeriodicRun.objects.filter(name=name).first()
    if row is None:
        try:
            with transaction.atomic():
                PeriodicRun.objects.create(name=name, next_run_at=next_run_at, last_run_at=now)
            return True
        except IntegrityError:
            return False
    if row.next_run_at > now:
        return False
    claimed = PeriodicRun.objects.filter(pk=row.pk, next_run_at=row.next_run_at).update(
        next_run_at=next_run_at, last_run_at=now
    )
    return bool(claimed)


def _claim(periodic: Periodic, now: dt.datetime) -> bool:
    return claim_run(periodic.name, now, now + periodic.every)


def run_due(now: dt.datetime | None = None) -> list[str]:
    """Enqueue every periodic task that is due; the names enqueued."""
    now = now or timezone.now()
    started = []
    for periodic in _registry():
        try:
            if _claim(periodic, now):
                periodic.enqueue()
                started.append(periodic.name)
        except Exception:
            log.exception("a periodic task could not be enqueued", extra={"task": periodic.name})
    return started


def run_forever(stop: threading.Event, tick: float = TICK_SECONDS) -> None:
    """The scheduler thread of `kiln worker`, until `stop` is set."""
    while not stop.is_set():
        close_old_connections()
        try:
            run_due()
        except Exception:
            log.exception("the periodic scheduler failed a tick")
        stop.wait(tick)


def start_thread() -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=run_forever, args=(stop,), name="periodic", daemon=True).start()
    return stop
