"""Health endpoints: `/-/health`, `/-/readiness`, `/-/liveness`, and `/-/metrics`."""

from __future__ import annotations

import ipaddress
import os
import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("GitLab OK", content_type="text/plain")


def liveness(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> dict[str, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
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
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net) for net in settings.METRICS_ALLOWED_IPS)


def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return HttpResponse("Not Found", status=404, content_type="text/plain")
    registry: CollectorRegistry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    from kiln.ops.health import collect_queue_metrics

    collect_queue_metrics()
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
