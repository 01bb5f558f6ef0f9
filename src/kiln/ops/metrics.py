"""Prometheus metrics: requests by route and status with latency, database queries per request.

Exposed at `/-/metrics` (see kiln.ops.views) to an allow-list of addresses. With several
server processes, prometheus_client's multiprocess mode aggregates them when
PROMETHEUS_MULTIPROC_DIR is set (`kiln web` sets it under the data directory).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.http import HttpRequest
from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "kiln_http_requests_total", "HTTP requests by route and status", ["method", "route", "status"]
)
LATENCY = Histogram(
    "kiln_http_request_duration_seconds",
    "HTTP request latency by route",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
# Its `_sum` is the total number of queries by route (no separate counter: each sample costs
# a locked write to shared memory on every request).
QUERIES = Histogram(
    "kiln_db_queries_per_request",
    "Database queries made by one request",
    ["route"],
    buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200),
)


def route_of(request: HttpRequest) -> str:
    """The matched route pattern (bounded cardinality), never the raw path."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return str(match.route or match.view_name or "unmatched")


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


def observe_queries(route: str, count: int) -> None:
    QUERIES.labels(route).observe(count)


@dataclass
class QueryCount:
    count: int = 0


@contextlib.contextmanager
def count_queries() -> Iterator[QueryCount]:
    counter = QueryCount()

    def wrapper(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        counter.count += 1
        return execute(sql, params, many, context)

    with contextlib.ExitStack() as stack:
        for alias in connections:
            stack.enter_context(connections[alias].execute_wrapper(wrapper))
        yield counter
