"""Shared fixtures: a live Kiln server, seeded administrator, python-gitlab clients.

The database is SQLite by default; with KILN_DATABASE_URL pointing at PostgreSQL (as
`make test` does from KILN_TEST_DATABASE_URL) the same tests run there. Each test process has
its own data directory (see kiln.test_settings).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import gitlab
import pytest

from tests.support.processes import KilnProcess, database_url, free_port
from tests.support.server import LiveServer

# Fixtures through which a test reaches the database (every server fixture depends on
# django_db_setup). pytest-django refuses database access to any other test.
_DATABASE_FIXTURES = {"db", "transactional_db", "django_db_setup"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With KILN_TEST_DATABASE_ONLY=1 (`make test-postgres`), run only the tests that use the
    database: the others never reach it (pytest-django blocks them), so a second database
    backend cannot change their outcome; they ran in the SQLite pass."""
    if os.environ.get("KILN_TEST_DATABASE_ONLY") != "1":
        return
    keep, drop = [], []
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        uses_db = bool(names & _DATABASE_FIXTURES) or item.get_closest_marker("django_db")
        (keep if uses_db else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


ROOT_PASSWORD = "root-password-1"
ROOT_TOKEN = "glpat-test-root-token-000000"


@pytest.fixture(scope="session")
def kiln_server(django_db_setup: None, django_db_blocker: Any) -> Iterator[LiveServer]:
    with django_db_blocker.unblock():
        server = LiveServer()
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def kiln_processes(
    django_db_setup: None, django_db_blocker: Any
) -> Iterator[dict[str, KilnProcess]]:
    """`kiln web` (gunicorn) and `kiln ssh` themselves, on the test database."""
    from pathlib import Path

    from django.conf import settings
    from django.db import connection

    with django_db_blocker.unblock():
        data_dir, db_url = Path(settings.DATA_DIR), database_url(connection.settings_dict)
        web_port, ssh_port = free_port(), free_port()
        processes = {
            name: KilnProcess(name, data_dir, db_url, web_port=web_port, ssh_port=ssh_port)
            for name in ("web", "ssh")
        }
        try:
            for process in processes.values():
                process.wait_ready()
            yield processes
        finally:
            for process in processes.values():
                process.stop()


@pytest.fixture
def git_url(kiln_processes: dict[str, KilnProcess], seeded: None) -> str:
    """Base URL of the real server, with the database seeded for this test."""
    return kiln_processes["web"].url


@pytest.fixture
def ssh_port(kiln_processes: dict[str, KilnProcess], seeded: None) -> int:
    return kiln_processes["ssh"].port


@pytest.fixture
def seeded(transactional_db: None) -> None:
    from kiln.accounts.services import seed_root

    seed_root(password=ROOT_PASSWORD, token_value=ROOT_TOKEN)


@pytest.fixture
def server_url(kiln_server: LiveServer, seeded: None) -> str:
    return kiln_server.url


def client(url: str, token: str | None = None) -> gitlab.Gitlab:
    return gitlab.Gitlab(url, private_token=token, retry_transient_errors=False, timeout=30)


@pytest.fixture
def gl(server_url: str) -> gitlab.Gitlab:
    """python-gitlab as root (admin, api+sudo)."""
    return client(server_url, ROOT_TOKEN)


@pytest.fixture
def anon_gl(server_url: str) -> gitlab.Gitlab:
    return client(server_url)


@pytest.fixture
def make_user(server_url: str) -> Callable[..., tuple[Any, gitlab.Gitlab]]:
    """Create a user with a token; returns (user model, python-gitlab client as that user)."""
    from kiln.accounts.access_tokens import create_personal_access_token_unchecked
    from kiln.accounts.services import create_user_unchecked

    def make(
        username: str, *, scopes: tuple[str, ...] = ("api",), **fields: Any
    ) -> tuple[Any, gitlab.Gitlab]:
        user = create_user_unchecked(
            username=username,
            name=fields.pop("name", username.title()),
            email=fields.pop("email", f"{username}@example.com"),
            password=fields.pop("password", "password-123"),
            **fields,
        )
        _, token = create_personal_access_token_unchecked(user=user, name="t", scopes=scopes)
        return user, client(server_url, token)

    return make
