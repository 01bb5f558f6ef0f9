"""`GET/PUT /application/settings`: admins only, GitLab's names, validation and error bodies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gitlab
import pytest
import requests

from tests.conftest import ROOT_TOKEN

SUPPORTED = {
    "allow_local_requests_from_system_hooks",
    "allow_local_requests_from_web_hooks_and_services",
    "can_create_group",
    "default_branch_name",
    "default_group_visibility",
    "default_project_visibility",
    "default_projects_limit",
    "failed_login_attempts_unlock_period_in_minutes",
    "kiln_embedded_runner_enabled",
    "max_attachment_size",
    "max_file_size",
    "max_artifacts_size",
    "max_import_size",
    "max_login_attempts",
    "rate_limiting_response_text",
    "receive_max_input_size",
    "repository_size_limit",
    "require_admin_approval_after_user_signup",
    "restricted_visibility_levels",
    "shared_runners_enabled",
    "signup_enabled",
    "throttle_authenticated_api_enabled",
    "throttle_authenticated_api_period_in_seconds",
    "throttle_authenticated_api_requests_per_period",
    "throttle_authenticated_web_enabled",
    "throttle_authenticated_web_period_in_seconds",
    "throttle_authenticated_web_requests_per_period",
    "throttle_unauthenticated_api_enabled",
    "throttle_unauthenticated_api_period_in_seconds",
    "throttle_unauthenticated_api_requests_per_period",
    "throttle_unauthenticated_web_enabled",
    "throttle_unauthenticated_web_period_in_seconds",
    "throttle_unauthenticated_web_requests_per_period",
    "user_default_external",
}
LEGACY = {
    "allow_local_requests_from_hooks_and_services",
    "throttle_unauthenticated_enabled",
    "throttle_unauthenticated_period_in_seconds",
    "throttle_unauthenticated_requests_per_period",
}
ROOT = {"PRIVATE-TOKEN": ROOT_TOKEN}


def _url(server_url: str) -> str:
    return f"{server_url}/api/v4/application/settings"


def _stored() -> dict[str, Any]:
    from django.forms.models import model_to_dict

    from kiln.core.models import ApplicationSetting

    row, _ = ApplicationSetting.objects.get_or_create(pk=1)
    return model_to_dict(row)


def test_defaults_are_gitlabs(gl: gitlab.Gitlab) -> None:
    settings = gl.settings.get()
    body = settings.asdict()
    assert set(body) == SUPPORTED | LEGACY | {"id", "created_at", "updated_at"}
    assert body["id"] == 1
    assert body["signup_enabled"] is True
    assert body["require_admin_approval_after_user_signup"] is True
    assert body["default_project_visibility"] == "private"
    assert body["default_group_visibility"] == "private"
    assert body["restricted_visibility_levels"] == []
    assert body["max_attachment_size"] == 100
    assert body["max_artifacts_size"] == 100
    assert body["max_import_size"] == 0
    assert body["receive_max_input_size"] is None
    assert body["default_branch_name"] is None
    assert body["default_projects_limit"] == 100000
    assert body["allow_local_requests_from_web_hooks_and_services"] is False
    assert body["allow_local_requests_from_system_hooks"] is True
    assert body["max_login_attempts"] is None
    assert body["failed_login_attempts_unlock_period_in_minutes"] is None
    for kind in ("authenticated_api", "authenticated_web"):
        assert body[f"throttle_{kind}_enabled"] is False
        assert body[f"throttle_{kind}_requests_per_period"] == 7200
        assert body[f"throttle_{kind}_period_in_seconds"] == 3600
    for kind in ("unauthenticated_api", "unauthenticated_web", "unauthenticated"):
        assert body[f"throttle_{kind}_enabled"] is False
        assert body[f"throttle_{kind}_requests_per_period"] == 3600
        assert body[f"throttle_{kind}_period_in_seconds"] == 3600
    assert body["created_at"].endswith("Z")


def test_update_through_python_gitlab(gl: gitlab.Gitlab) -> None:
    settings = gl.settings.get()
    settings.default_project_visibility = "internal"
    settings.restricted_visibility_levels = ["public"]
    settings.max_login_attempts = 3
    settings.failed_login_attempts_unlock_period_in_minutes = 30
    settings.default_branch_name = "trunk"
    settings.signup_enabled = False
    settings.save()
    again = gl.settings.get()
    assert again.default_project_visibility == "internal"
    assert again.restricted_visibility_levels == ["public"]
    assert again.max_login_attempts == 3
    assert again.failed_login_attempts_unlock_period_in_minutes == 30
    assert again.default_branch_name == "trunk"
    assert again.signup_enabled is False
    stored = _stored()
    assert stored["default_project_visibility"] == 10
    assert stored["restricted_visibility_levels"] == [20]

    from kiln.core import appsettings

    assert appsettings.current().effective_max_login_attempts == 3


def test_form_and_query_parameters_as_curl_sends_them(server_url: str) -> None:
    response = requests.put(
        _url(server_url) + "?signup_enabled=false&default_project_visibility=internal",
        headers=ROOT,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["signup_enabled"] is False
    response = requests.put(
        _url(server_url),
        data={"max_attachment_size": "25", "restricted_visibility_levels": "internal,public"},
        headers=ROOT,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["max_attachment_size"] == 25
    assert response.json()["restricted_visibility_levels"] == ["internal", "public"]
    response = requests.put(
        _url(server_url),
        data={"restricted_visibility_levels[]": ["0", "10"]},
        headers=ROOT,
        timeout=10,
    )
    assert response.json()["restricted_visibility_levels"] == ["private", "internal"]


def test_legacy_names_are_accepted_and_shown(server_url: str) -> None:
    response = requests.put(
        _url(server_url),
        json={
            "throttle_unauthenticated_enabled": True,
            "throttle_unauthenticated_period_in_seconds": 123,
            "throttle_unauthenticated_requests_per_period": 456,
            "allow_local_requests_from_hooks_and_services": True,
        },
        headers=ROOT,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["throttle_unauthenticated_web_enabled"] is True
    assert body["throttle_unauthenticated_web_period_in_seconds"] == 123
    assert body["throttle_unauthenticated_web_requests_per_period"] == 456
    assert body["throttle_unauthenticated_enabled"] is True
    assert body["allow_local_requests_from_web_hooks_and_services"] is True
    # The new name wins when both are given, as GitLab.
    response = requests.put(
        _url(server_url),
        json={
            "throttle_unauthenticated_period_in_seconds": 1,
            "throttle_unauthenticated_web_period_in_seconds": 77,
        },
        headers=ROOT,
        timeout=10,
    )
    assert response.json()["throttle_unauthenticated_period_in_seconds"] == 77


def test_unknown_keys_are_ignored(server_url: str) -> None:
    response = requests.put(
        _url(server_url),
        json={"signup_enabled": False, "gravatar_enabled": False, "no_such_setting": 1},
        headers=ROOT,
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["signup_enabled"] is False
    assert "gravatar_enabled" not in response.json()


def test_only_unknown_keys_is_400_as_grapes_at_least_one_of(server_url: str) -> None:
    before = _stored()
    response = requests.put(
        _url(server_url), json={"gravatar_enabled": False}, headers=ROOT, timeout=10
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.endswith(" are missing, at least one parameter must be provided")
    assert "signup_enabled" in error
    assert _stored() == before


def test_non_admin_gets_403_and_writes_nothing(
    server_url: str, make_user: Callable[..., tuple[Any, gitlab.Gitlab]]
) -> None:
    _, client = make_user("alice")
    token = client.private_token
    before = _stored()
    for method in ("get", "put"):
        response = requests.request(
            method,
            _url(server_url),
            json={"signup_enabled": False},
            headers={"PRIVATE-TOKEN": token},
            timeout=10,
        )
        assert response.status_code == 403
        assert response.json() == {"message": "403 Forbidden"}
    assert _stored() == before
    with pytest.raises(gitlab.GitlabGetError) as raised:
        client.settings.get()
    assert raised.value.response_code == 403


def test_anonymous_gets_401(server_url: str) -> None:
    response = requests.get(_url(server_url), timeout=10)
    assert response.status_code == 401
    assert response.json() == {"message": "401 Unauthorized"}
    response = requests.put(_url(server_url), json={"signup_enabled": False}, timeout=10)
    assert response.status_code == 401


def test_read_api_token_cannot_write(
    server_url: str, make_user: Callable[..., tuple[Any, gitlab.Gitlab]]
) -> None:
    _, client = make_user("reader", scopes=("read_api",), is_admin=True)
    before = _stored()
    headers = {"PRIVATE-TOKEN": client.private_token}
    assert requests.get(_url(server_url), headers=headers, timeout=10).status_code == 200
    before = _stored()
    response = requests.put(
        _url(server_url), json={"signup_enabled": False}, headers=headers, timeout=10
    )
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert _stored() == before


@pytest.mark.parametrize(
    ("payload", "body"),
    [
        (
            {"max_attachment_size": 0},
            {"message": {"max_attachment_size": ["must be greater than 0"]}},
        ),
        (
            {"default_projects_limit": -1},
            {"message": {"default_projects_limit": ["must be greater than or equal to 0"]}},
        ),
        (
            {"default_projects_limit": 10**20},
            {"message": {"default_projects_limit": ["must be less than or equal to 2147483647"]}},
        ),
        (
            {"max_attachment_size": None},
            {"message": {"max_attachment_size": ["can't be blank", "is not a number"]}},
        ),
        (
            {"throttle_authenticated_api_period_in_seconds": 0},
            {
                "message": {
                    "throttle_authenticated_api_period_in_seconds": ["must be greater than 0"]
                }
            },
        ),
        (
            {"max_login_attempts": 0},
            {"message": {"max_login_attempts": ["must be greater than 0"]}},
        ),
        ({"max_attachment_size": "ten"}, {"error": "max_attachment_size is invalid"}),
        ({"max_attachment_size": 1.5}, {"error": "max_attachment_size is invalid"}),
        ({"signup_enabled": "perhaps"}, {"error": "signup_enabled is invalid"}),
        (
            {"default_project_visibility": "secret"},
            {"error": "default_project_visibility does not have a valid value"},
        ),
        (
            {"restricted_visibility_levels": ["public", "bogus"]},
            {
                "message": {
                    "restricted_visibility_levels": ["'bogus' is not a valid visibility level"]
                }
            },
        ),
        (
            {"default_branch_name": "--output=/tmp/x"},
            {"message": {"default_branch_name": ["is invalid"]}},
        ),
        (
            {"default_branch_name": "../../etc"},
            {"message": {"default_branch_name": ["is invalid"]}},
        ),
        (
            {"default_branch_name": "main\u202e"},
            {"message": {"default_branch_name": ["is invalid"]}},
        ),
        (
            {"default_branch_name": "b" * 256},
            {"message": {"default_branch_name": ["is too long (maximum is 255 characters)"]}},
        ),
        (
            {"rate_limiting_response_text": "x" * 256},
            {
                "message": {
                    "rate_limiting_response_text": ["is too long (maximum is 255 characters)"]
                }
            },
        ),
        (
            # One bad attribute among good ones: nothing at all is written.
            {"signup_enabled": False, "max_import_size": -5},
            {"message": {"max_import_size": ["must be greater than or equal to 0"]}},
        ),
    ],
)
def test_invalid_values_get_gitlabs_400_and_write_nothing(
    server_url: str, payload: dict[str, Any], body: dict[str, Any]
) -> None:
    before = _stored()
    response = requests.put(_url(server_url), json=payload, headers=ROOT, timeout=10)
    assert response.status_code == 400, response.text
    assert response.json() == body
    assert _stored() == before


def test_malformed_json_is_400_and_writes_nothing(server_url: str) -> None:
    before = _stored()
    response = requests.put(
        _url(server_url),
        data=b'{"signup_enabled": fal',
        headers={**ROOT, "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400
    assert "message" in response.json()
    assert _stored() == before


def test_blank_branch_name_means_the_default(server_url: str) -> None:
    requests.put(_url(server_url), json={"default_branch_name": "trunk"}, headers=ROOT, timeout=10)
    response = requests.put(
        _url(server_url), json={"default_branch_name": "  "}, headers=ROOT, timeout=10
    )
    assert response.json()["default_branch_name"] is None


def test_a_change_is_seen_at_once_by_the_cached_reader(gl: gitlab.Gitlab) -> None:
    from kiln.core import appsettings

    assert appsettings.current().max_attachment_size == 100
    gl.settings.update(new_data={"max_attachment_size": 7})
    assert appsettings.current().max_attachment_size == 7
