"""Metrics, structured logs with the correlation id, the 500 answer, and health endpoints."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.conftest import ROOT_TOKEN


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """What the root logger writes, formatted as in production (JSON lines with the id)."""
    from kiln.ops.logging import JsonFormatter, RequestContextFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_request_log_is_json_with_the_clients_request_id(
    server_url: str, json_log: io.StringIO
) -> None:
    response = requests.get(
        f"{server_url}/api/v4/version",
        headers={"X-Request-Id": "abc", "PRIVATE-TOKEN": ROOT_TOKEN},
        timeout=10,
    )
    assert response.headers["X-Request-Id"] == "abc"
    [entry] = [e for e in _lines(json_log) if e["logger"] == "kiln.request"]
    assert entry["correlation_id"] == "abc"
    assert entry["message"] == "request"
    assert entry["method"] == "GET"
    assert entry["path"] == "/api/v4/version"
    assert entry["status"] == 200
    assert entry["severity"] == "INFO"
    assert entry["db_queries"] >= 1
    assert entry["remote_ip"] == "127.0.0.1"
    assert "PRIVATE-TOKEN" not in json_log.getvalue()
    assert ROOT_TOKEN not in json_log.getvalue()


@pytest.mark.urls("tests.ops.boom_urls")
def test_unexpected_error_in_a_view_is_logged_with_the_id_and_answered_500(
    server_url: str, json_log: io.StringIO
) -> None:
    response = requests.get(
        f"{server_url}/-/test-boom", headers={"X-Request-Id": "boom-1"}, timeout=10
    )
    assert response.status_code == 500
    assert response.json() == {"message": "500 Internal Server Error"}
    assert "secret detail" not in response.text
    assert response.headers["X-Request-Id"] == "boom-1"
    errors = [e for e in _lines(json_log) if e["severity"] == "ERROR"]
    assert len(errors) == 1  # logged once, not again by django.request
    assert errors[0]["correlation_id"] == "boom-1"
    assert "RuntimeError: secret detail" in errors[0]["exception"]
    [access] = [e for e in _lines(json_log) if e["message"] == "request"]
    assert access["status"] == 500
    assert access["correlation_id"] == "boom-1"


def test_unexpected_error_in_the_api_is_logged_with_the_id_and_answered_500(
    server_url: str, json_log: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kiln.api.v4 import meta

    def broken() -> dict[str, Any]:
        raise ZeroDivisionError("internal detail")

    monkeypatch.setattr(meta, "_version", broken)
    response = requests.get(
        f"{server_url}/api/v4/version",
        headers={"X-Request-Id": "api-boom", "PRIVATE-TOKEN": ROOT_TOKEN},
        timeout=10,
    )
    assert response.status_code == 500
    assert response.json() == {"message": "500 Internal Server Error"}
    assert "internal detail" not in response.text
    errors = [e for e in _lines(json_log) if e["severity"] == "ERROR"]
    assert {e["correlation_id"] for e in errors} == {"api-boom"}
    [error] = [e for e in errors if "exception" in e]
    assert "ZeroDivisionError: internal detail" in error["exception"]


def _sample(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_count_requests_by_route_and_status(server_url: str) -> None:
    for _ in range(3):
        requests.get(f"{server_url}/-/liveness", timeout=10)
    requests.get(f"{server_url}/api/v4/version", headers={"PRIVATE-TOKEN": ROOT_TOKEN}, timeout=10)
    response = requests.get(f"{server_url}/-/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    text = response.text
    count = _sample(
        text, "kiln_http_requests_total", method="GET", route="-/liveness", status="200"
    )
    assert count is not None
    assert count >= 3
    assert _sample(text, "kiln_http_request_duration_seconds_bucket", route="-/liveness", le="+Inf")
    # Routes are patterns, never raw paths (bounded label values).
    assert 'route="api/v4/version"' in text
    queries = _sample(text, "kiln_db_queries_per_request_sum", route="api/v4/version")
    assert queries is not None
    assert queries >= 1
    assert "kiln_db_queries_per_request_bucket" in text
    assert _sample(text, "kiln_queue_depth") == 0
    assert _sample(text, "kiln_queue_oldest_age_seconds") == 0


def test_queue_depth_and_age(server_url: str) -> None:
    import datetime as dt

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    task = DBTaskResult.objects.create(
        status="READY",
        task_path="kiln.nowhere",
        args_kwargs={"args": [], "kwargs": {}},
        queue_name="default",
        backend_name="default",
        priority=0,
    )
    DBTaskResult.objects.filter(pk=task.pk).update(
        enqueued_at=timezone.now() - dt.timedelta(seconds=90)
    )
    text = requests.get(f"{server_url}/-/metrics", timeout=10).text
    assert _sample(text, "kiln_queue_depth") == 1
    age = _sample(text, "kiln_queue_oldest_age_seconds")
    assert age is not None
    assert 90 <= age < 120
    body = requests.get(f"{server_url}/-/readiness", timeout=10).json()
    assert body["worker"][0]["pending"] == "1"


def test_metrics_only_for_allowed_addresses(server_url: str, settings: Any) -> None:
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    response = requests.get(f"{server_url}/-/metrics", timeout=10)
    assert response.status_code == 404
    assert "kiln_" not in response.text
    settings.METRICS_ALLOWED_IPS = ["127.0.0.0/8"]
    assert requests.get(f"{server_url}/-/metrics", timeout=10).status_code == 200
    # An outside client behind the local (trusted) proxy is an outside client.
    forwarded = requests.get(
        f"{server_url}/-/metrics", headers={"X-Forwarded-For": "203.0.113.9"}, timeout=10
    )
    assert forwarded.status_code == 404


def test_health_endpoints(server_url: str) -> None:
    health = requests.get(f"{server_url}/-/health", timeout=10)
    assert health.status_code == 200
    assert health.text == "GitLab OK"
    assert requests.get(f"{server_url}/-/liveness", timeout=10).json() == {"status": "ok"}
    readiness = requests.get(f"{server_url}/-/readiness", timeout=10).json()
    assert readiness["status"] == "ok"
    assert re.fullmatch(r"\d+", readiness["worker"][0]["pending"])
