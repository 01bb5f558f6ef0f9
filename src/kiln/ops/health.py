"""The background worker's health and queue depth, read from the task queue's table."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from prometheus_client import Gauge

QUEUE_DEPTH = Gauge("kiln_queue_depth", "Background tasks waiting to run", multiprocess_mode="max")
QUEUE_AGE = Gauge(
    "kiln_queue_oldest_age_seconds", "Age of the oldest waiting task", multiprocess_mode="max"
)


def _ready_tasks() -> QuerySet[Any]:
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(status="READY")


def worker_status() -> dict[str, str]:
    try:
        pending = _ready_tasks().count()
    except Exception as exc:
        return {"status": "failed", "message": type(exc).__name__}
    return {"status": "ok", "pending": str(pending)}


def collect_queue_metrics() -> None:
    try:
        tasks = _ready_tasks()
        QUEUE_DEPTH.set(tasks.count())
        oldest = tasks.order_by("enqueued_at").values_list("enqueued_at", flat=True).first()
    except Exception:
        return
    QUEUE_AGE.set((timezone.now() - oldest).total_seconds() if oldest else 0)
