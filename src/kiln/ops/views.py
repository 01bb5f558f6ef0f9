"""Health endpoints: `/-/health`, `/-/readiness`, `/-/liveness`; `/-/metrics`; `/-/noop`."""

from __future__ import annotations

import os
import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from kiln.ops.health import QueueCollector
from kiln.ops.network import address_in, client_ip, parse_networks


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("GitLab OK", content_type="text/plain")


def liveness(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def noop(request: HttpRequest) -> HttpResponse:
    """A route that does no work: the yardstick `bench/api.py` measures the API against."""
    return HttpResponse(b"{}", content_type="application/json")


def _check_database() -> dict[str, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001  (a probe reports a failure, it does not raise)
        return {"status": "failed", "message": type(exc).__name__}
    return {"status": "ok"}


def _check_storage() -> dict[str, str]:
    root = settings.REPOSITORIES_DIR
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".ready-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        return {"status": "failed", "message": exc.strerror or type(exc).__name__}
    return {"status": "ok"}


def _check_worker() -> dict[str, str]:
    from kiln.ops.health import worker_status

    return worker_status()


def readiness(request: HttpRequest) -> JsonResponse:
    started = time.perf_counter()
    checks = {
        "database": _check_database(),
        "storage": _check_storage(),
        "worker": _check_worker(),
    }
    ready = all(c["status"] == "ok" for c in (checks["database"], checks["storage"]))
    body = {
        "status": "ok" if ready else "failed",
        **{name: [check] for name, check in checks.items()},
        "duration_s": round(time.perf_counter() - started, 4),
    }
    return JsonResponse(body, status=200 if ready else 503)


def _allowed(request: HttpRequest) -> bool:
    networks = parse_networks(tuple(settings.METRICS_ALLOWED_IPS))
    return address_in(client_ip(request), networks)


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus' text format, to the addresses in KILN_METRICS_ALLOWED_IPS only (else 404).

    With several server processes (PROMETHEUS_MULTIPROC_DIR set by `kiln web`), every
    process's samples are summed from their files; the queue is measured now.
    """
    if not _allowed(request):
        return HttpResponse("Not Found", status=404, content_type="text/plain")
    queue = CollectorRegistry()
    queue.register(QueueCollector())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    return HttpResponse(body + generate_latest(queue), content_type=CONTENT_TYPE_LATEST)
