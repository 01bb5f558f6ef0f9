"""Fixtures for the CI tests: the real `kiln web` (gunicorn) for runner traffic and git pushes,
a runner speaking GitLab's protocol over HTTP, and projects with a `.gitlab-ci.yml`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import KilnProcess, database_url, free_port


@pytest.fixture(scope="session")
def ci_web(django_db_setup: None, django_db_blocker: Any) -> Iterator[KilnProcess]:
    """`kiln web` alone (the shared `git_url` fixture also needs `kiln ssh`)."""
    from django.conf import settings
    from django.db import connection

    with django_db_blocker.unblock():
        data_dir, db_url = Path(settings.DATA_DIR), database_url(connection.settings_dict)
        process = KilnProcess("web", data_dir, db_url, web_port=free_port())
        try:
            process.wait_ready()
            yield process
        finally:
            process.stop()


@pytest.fixture
def web_url(ci_web: KilnProcess, seeded: None) -> str:
    """Base URL of the real server (gunicorn), with the database seeded for this test."""
    return ci_web.url
