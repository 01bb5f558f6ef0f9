"""The first things a client asks: version, metadata, the current user, and auth failures."""

from __future__ import annotations

import gitlab
import pytest
import requests


def test_version_through_python_gitlab(gl: gitlab.Gitlab) -> None:
    version, revision = gl.version()
    assert version.count(".") == 2
    assert all(part.isdigit() for part in version.split("."))
    assert revision.startswith("kiln-")


def test_anonymous_version_is_401(server_url: str) -> None:
    response = requests.get(f"{server_url}/api/v4/version", timeout=10)
    assert response.status_code == 401
    assert response.json() == {"message": "401 Unauthorized"}


@pytest.mark.parametrize("token", ["glpat-nope", "x" * 600, ""])
def test_bad_token_is_401_never_anonymous(server_url: str, token: str) -> None:
    response = requests.get(
        f"{server_url}/api/v4/projects", headers={"PRIVATE-TOKEN": token}, timeout=10
    )
    if token:
        assert response.status_code == 401
        assert response.json() == {"message": "401 Unauthorized"}
    else:
        # An empty header is no credential at all: anonymous, as GitLab.
        assert response.status_code == 200


def test_request_id_is_echoed(server_url: str) -> None:
    response = requests.get(
        f"{server_url}/-/health", headers={"X-Request-Id": "abc-123"}, timeout=10
    )
    assert response.headers["X-Request-Id"] == "abc-123"
    hostile = requests.get(
        f"{server_url}/-/health", headers={"X-Request-Id": "a b\x7f"}, timeout=10
    )
    assert hostile.headers["X-Request-Id"] != "a b\x7f"
    assert len(hostile.headers["X-Request-Id"]) == 32


def test_readiness_reports_each_component(server_url: str) -> None:
    body = requests.get(f"{server_url}/-/readiness", timeout=10).json()
    assert body["status"] == "ok"
    assert body["database"][0]["status"] == "ok"
    assert body["storage"][0]["status"] == "ok"
    assert "worker" in body


def test_openapi_document(server_url: str) -> None:
    doc = requests.get(f"{server_url}/api/v4/openapi.json", timeout=10).json()
    assert doc["openapi"].startswith("3.")
    assert "/api/v4/version" in doc["paths"]
