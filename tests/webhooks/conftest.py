"""A real HTTP receiver on 127.0.0.1 for webhook deliveries, and switches for the seams.

The receiver records every request (method, path, headers, body) and answers with what the
test scripted: a status, a body, headers, a delay. Deliveries reach it only when the admin
setting allows local requests (`allow_local`), or through the resolver seam (`dns`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from kiln.webhooks import delivery, tasks


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: bytes = b'{"ok":true}'
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.answers: list[Answer] = []
        self.default = Answer()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(
                        Recorded(
                            "POST", self.path, dict(self.headers.items()), body, time.monotonic()
                        )
                    )
                    answer = receiver.answers.pop(0) if receiver.answers else receiver.default
                    receiver._arrived.notify_all()
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass  # the client gave up (timeouts, capped reads)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, *answers: Answer) -> None:
        with self._lock:
            self.answers.extend(answers)

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Recorded]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} requests, got {len(self.requests)}")
                self._arrived.wait(left)
            return list(self.requests)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_receiver() -> Iterator[Callable[[], Receiver]]:
    made: list[Receiver] = []

    def make() -> Receiver:
        server = Receiver()
        server.start()
        made.append(server)
        return server

    try:
        yield make
    finally:
        for server in made:
            server.stop()


def set_local_requests(*, web_hooks: bool, system_hooks: bool = True) -> None:
    from kiln.accounts.models import User
    from kiln.core.actor import Actor
    from kiln.core.appsettings import update_application_settings

    root = User.objects.get(username="root")
    update_application_settings(
        actor=Actor(user=root),
        changes={
            "allow_local_requests_from_web_hooks_and_services": web_hooks,
            "allow_local_requests_from_system_hooks": system_hooks,
        },
    )


@pytest.fixture
def allow_local(seeded: None) -> None:
    """The admin setting that lets hooks reach 127.0.0.1 (where the receiver listens)."""
    set_local_requests(web_hooks=True)


class FakeDns:
    """The resolver seam: names map to the addresses a test says (a list, or a callable)."""

    def __init__(self) -> None:
        self.records: dict[str, Any] = {}
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        answer = self.records.get(host)
        if answer is None:
            raise OSError(f"NXDOMAIN {host}")
        return list(answer() if callable(answer) else answer)


@pytest.fixture
def dns() -> Iterator[FakeDns]:
    fake = FakeDns()
    with delivery.resolving_with(fake):
        yield fake


@pytest.fixture
def fast_retries() -> Iterator[tasks.RetryPolicy]:
    policy = tasks.RetryPolicy(max_attempts=3, base_delay=0.2, factor=2.0)
    previous = tasks.set_retry_policy(policy)
    try:
        yield policy
    finally:
        tasks.set_retry_policy(previous)


@pytest.fixture
def short_timeouts() -> Iterator[delivery.Timeouts]:
    timeouts = delivery.Timeouts(connect=1.0, read=0.5, total=2.0)
    previous = delivery.set_default_timeouts(timeouts)
    try:
        yield timeouts
    finally:
        delivery.set_default_timeouts(previous)
