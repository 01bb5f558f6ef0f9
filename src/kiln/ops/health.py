"""The background queue's health: depth and age of waiting tasks, read from the queue's table.

They are measured when asked (a readiness probe, a metrics scrape), not kept in gauges: with
several server processes a gauge set by one process would go stale in the others' files.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


def _ready_tasks() -> QuerySet[Any]:
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(status="READY")


def queue_state() -> tuple[int, float]:
    """Waiting tasks and the age in seconds of the oldest one."""
    tasks = _ready_tasks()
    depth = tasks.count()
    oldest = tasks.order_by("enqueued_at").values_list("enqueued_at", flat=True).first()
    age = (timezone.now() - oldest).total_seconds() if oldest is not None else 0.0
    return depth, max(age, 0.0)


def worker_status() -> dict[str, str]:
    try:
        depth, age = queue_state()
    except Exception as exc:  # noqa: BLE001  (a probe reports a failure, it does not raise)
        return {"status": "failed", "message": type(exc).__name__}
    return {"status": "ok", "pending": str(depth), "oldest_age_s": f"{age:.1f}"}


class QueueCollector(Collector):
    """`kiln_queue_depth` and `kiln_queue_oldest_age_seconds`, measured at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            depth, age = queue_state()
        except Exception:  # noqa: BLE001  (a scrape without queue figures beats a failed one)
            return
        yield GaugeMetricFamily("kiln_queue_depth", "Background tasks waiting to run", depth)
        yield GaugeMetricFamily(
            "kiln_queue_oldest_age_seconds", "Age of the oldest waiting background task", age
        )
