"""User and IP rate limits: GitLab's settings, GitLab's 429, counted across processes."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gitlab
import pytest
import requests

from tests.conftest import ROOT_PASSWORD, ROOT_TOKEN


@pytest.fixture
def throttles(server_url: str) -> Iterator[Callable[..., None]]:
    """Set throttle settings (as root, through the service); counts start from zero."""
    from kiln.accounts.models import User
    from kiln.core import appsettings
    from kiln.core.actor import Actor
    from kiln.ops.ratelimit import reset_counters

    reset_counters()
    root = Actor.for_user(User.objects.get(pk=1))

    def configure(**changes: Any) -> None:
        appsettings.update_application_settings(actor=root, changes=changes)

    yield configure
    reset_counters()


def _get(url: str, **kwargs: Any) -> requests.Response:
    return requests.get(url, timeout=10, allow_redirects=False, **kwargs)


def test_off_by_default_no_headers(server_url: str) -> None:
    for _ in range(3):
        response = _get(f"{server_url}/api/v4/license")
        assert response.status_code == 404
        assert "RateLimit-Limit" not in response.headers


def test_unauthenticated_api_is_limited_per_address(
    server_url: str, throttles: Callable[..., None]
) -> None:
    throttles(
        throttle_unauthenticated_api_enabled=True,
        throttle_unauthenticated_api_requests_per_period=3,
        throttle_unauthenticated_api_period_in_seconds=60,
    )
    for n in range(1, 4):
        response = _get(f"{server_url}/api/v4/license")
        assert response.status_code == 404
        assert response.headers["RateLimit-Name"] == "throttle_unauthenticated_api"
        assert response.headers["RateLimit-Observed"] == str(n)
        assert response.headers["RateLimit-Remaining"] == str(3 - n)
        assert response.headers["RateLimit-Limit"] == "3"
    throttled = _get(f"{server_url}/api/v4/license")
    assert throttled.status_code == 429
    assert throttled.text == "Retry later\n"
    assert throttled.headers["Content-Type"] == "text/plain"
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60
    reset = int(throttled.headers["RateLimit-Reset"])
    assert reset % 60 == 0
    assert 0 < reset - time.time() <= 60
    assert throttled.headers["RateLimit-ResetTime"].endswith(" GMT")
    assert throttled.headers["RateLimit-Name"] == "throttle_unauthenticated_api"
    assert "X-Request-Id" in throttled.headers
    # A token is another identity: not limited by the anonymous budget.
    assert _get(f"{server_url}/api/v4/version", headers={"PRIVATE-TOKEN": ROOT_TOKEN}).ok
    # A bad token is no identity at all: it counts against the address, as GitLab.
    bad = _get(f"{server_url}/api/v4/version", headers={"PRIVATE-TOKEN": "glpat-nope"})
    assert bad.status_code == 429
    # Health and metrics are never throttled; the web has its own (disabled) limit.
    for path in ("/-/health", "/-/liveness", "/-/readiness", "/-/metrics"):
        assert _get(f"{server_url}{path}").status_code == 200, path
    assert _get(f"{server_url}/users/sign_in").status_code == 200


def test_forwarded_client_address_from_a_trusted_proxy(
    server_url: str, throttles: Callable[..., None]
) -> None:
    throttles(
        throttle_unauthenticated_api_enabled=True,
        throttle_unauthenticated_api_requests_per_period=2,
        throttle_unauthenticated_api_period_in_seconds=60,
    )
    # The test client is 127.0.0.1, a trusted proxy by default: X-Forwarded-For is believed.
    one = {"X-Forwarded-For": "198.51.100.7"}
    two = {"X-Forwarded-For": "10.1.1.1, 198.51.100.8"}
    assert [_get(f"{server_url}/api/v4/license", headers=one).status_code for _ in range(3)] == [
        404,
        404,
        429,
    ]
    assert _get(f"{server_url}/api/v4/license", headers=two).status_code == 404
    assert _get(f"{server_url}/api/v4/license").status_code == 404  # 127.0.0.1 itself


def test_authenticated_api_is_limited_per_user(
    server_url: str,
    throttles: Callable[..., None],
    make_user: Callable[..., tuple[Any, gitlab.Gitlab]],
) -> None:
    _, alice = make_user("alice")
    _, bob = make_user("bob")
    throttles(
        throttle_authenticated_api_enabled=True,
        throttle_authenticated_api_requests_per_period=2,
        throttle_authenticated_api_period_in_seconds=3600,
        rate_limiting_response_text="Slow down, please.",
    )
    headers = {"Authorization": f"Bearer {alice.private_token}"}
    assert _get(f"{server_url}/api/v4/version", headers=headers).status_code == 200
    assert _get(f"{server_url}/api/v4/version", headers=headers).status_code == 200
    throttled = _get(f"{server_url}/api/v4/version", headers=headers)
    assert throttled.status_code == 429
    assert throttled.text == "Slow down, please.\n"
    assert throttled.headers["RateLimit-Name"] == "throttle_authenticated_api"
    assert throttled.headers["RateLimit-Limit"] == "1"  # 2 per hour, rounded up per minute
    # python-gitlab sees GitLab's 429 (and would wait Retry-After seconds if told to obey).
    with pytest.raises(gitlab.GitlabHttpError) as raised:
        alice.http_get("/version", obey_rate_limit=False)
    assert raised.value.response_code == 429
    # Another user has their own budget, and anonymous requests are not limited here.
    assert _get(f"{server_url}/api/v4/version", headers={"PRIVATE-TOKEN": bob.private_token}).ok
    assert _get(f"{server_url}/api/v4/license").status_code == 404


def _sign_in(server_url: str, session: requests.Session) -> requests.Response:
    page = session.get(f"{server_url}/users/sign_in", timeout=10)
    token = page.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    return session.post(
        f"{server_url}/users/sign_in",
        data={"username": "root", "password": ROOT_PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{server_url}/users/sign_in"},
        timeout=10,
        allow_redirects=False,
    )


def test_web_limits_per_address_and_per_signed_in_user(
    server_url: str, throttles: Callable[..., None]
) -> None:
    session = requests.Session()
    assert _sign_in(server_url, session).status_code == 302
    throttles(
        throttle_unauthenticated_web_enabled=True,
        throttle_unauthenticated_web_requests_per_period=2,
        throttle_unauthenticated_web_period_in_seconds=60,
        throttle_authenticated_web_enabled=True,
        throttle_authenticated_web_requests_per_period=3,
        throttle_authenticated_web_period_in_seconds=60,
    )
    statuses = [_get(f"{server_url}/users/sign_in").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    # The signed-in user has their own budget, not the address's.
    statuses = [session.get(f"{server_url}/", timeout=10).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    # The API is not the web: neither web limit applies there.
    assert _get(f"{server_url}/api/v4/license").status_code == 404


def test_a_settings_change_applies_to_the_next_request(
    server_url: str, gl: gitlab.Gitlab, throttles: Callable[..., None]
) -> None:
    gl.settings.update(
        new_data={
            "throttle_unauthenticated_api_enabled": True,
            "throttle_unauthenticated_api_requests_per_period": 1,
        }
    )
    assert _get(f"{server_url}/api/v4/license").status_code == 404
    assert _get(f"{server_url}/api/v4/license").status_code == 429
    gl.settings.update(new_data={"throttle_unauthenticated_api_enabled": False})
    assert _get(f"{server_url}/api/v4/license").status_code == 404


def _hammer(path: str, hits: int, queue: Any) -> None:
    from kiln.ops.shared import SharedCounters

    store = SharedCounters(Path(path))
    last = 0
    for _ in range(hits):
        last, _ = store.hit("throttle_test:ip:192.0.2.1", 3600, time.time())
    queue.put(last)


def test_counts_are_shared_by_processes(tmp_path: Path) -> None:
    """gunicorn's workers are processes: a limit must hold across them, not per process."""
    from kiln.ops.shared import SharedCounters

    path = tmp_path / "counters"
    store = SharedCounters(path)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [context.Process(target=_hammer, args=(str(path), 500, queue)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    results = sorted(queue.get(timeout=5) for _ in workers)
    assert results[-1] == 1500  # the last increment saw every other process's
    count, _ = store.hit("throttle_test:ip:192.0.2.1", 3600, time.time())
    assert count == 1501
    assert store.hit("throttle_test:ip:192.0.2.2", 3600, time.time())[0] == 1


def test_windows_roll_over_and_slots_are_reused(tmp_path: Path) -> None:
    from kiln.ops.shared import SharedCounters

    store = SharedCounters(tmp_path / "counters", slots=64)
    start = 1_000_000_000.0  # a window boundary for period 10
    assert store.hit("k", 10, start)[0] == 1
    assert store.hit("k", 10, start + 9.9) == (2, 1_000_000_010)
    assert store.hit("k", 10, start + 10) == (1, 1_000_000_020)
    # Far more keys than slots: old windows are evicted, counting goes on.
    for n in range(500):
        assert store.hit(f"key-{n}", 10, start + 20)[0] == 1


def test_settings_generation_is_shared(tmp_path: Path) -> None:
    from kiln.ops.shared import SharedCounters

    one = SharedCounters(tmp_path / "counters")
    two = SharedCounters(tmp_path / "counters")
    before = two.generation()
    one.bump()
    assert two.generation() == before + 1
