"""The admin area: administrators only (404 to everyone else), users (search, create, edit,
block, unblock, approve, deactivate, delete), groups and projects lists, application settings
and system hooks, all through the services the API uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gitlab
import pytest

from tests.web.conftest import ROOT_PASSWORD
from tests.web.test_project_settings import XSS, Web, forms_have_csrf, web_factory

ADMIN_PAGES = [
    "/admin",
    "/admin/users",
    "/admin/users/new",
    "/admin/users/root",
    "/admin/users/root/edit",
    "/admin/groups",
    "/admin/projects",
    "/admin/application_settings",
    "/admin/hooks",
]


@pytest.fixture
def web(server_url: str) -> Callable[..., Web]:
    return web_factory(server_url)


@pytest.fixture
def root(web: Callable[..., Web]) -> Web:
    return web("root", ROOT_PASSWORD)


def test_admin_pages_are_404_to_everyone_else(
    web: Callable[..., Web], root: Web, make_user: Any, gl: gitlab.Gitlab
) -> None:
    make_user("alice")
    group = gl.groups.create({"name": "G", "path": "gg"})
    group.members.create({"user_id": gl.users.list(username="alice")[0].id, "access_level": 50})
    alice, anonymous = web("alice"), web()
    for page in ADMIN_PAGES:
        assert alice.get(page).status_code == 404, page
        assert anonymous.get(page).status_code == 404, page
        response = root.get(page)
        assert response.status_code == 200, page
        if page not in ("/admin", "/admin/users", "/admin/groups", "/admin/projects"):
            forms_have_csrf(response.text)
    for action in ("block", "unblock", "deactivate", "activate", "approve"):
        assert alice.post(f"/admin/users/root/{action}").status_code == 404
    assert alice.post("/admin/application_settings", {"signup_enabled": "1"}).status_code == 404
    assert alice.post("/admin/hooks", {"url": "https://example.com"}).status_code == 404


def test_users_list_search_and_create(root: Web, make_user: Any, gl: gitlab.Gitlab) -> None:
    make_user("carol", name=f"Carol {XSS}")
    make_user("dave")
    listing = root.get("/admin/users", search_query="carol").text
    assert "@carol" in listing
    assert "@dave" not in listing
    assert XSS not in listing
    assert "Carol &lt;img" in listing
    refused = root.post(
        "/admin/users/new", {"name": "Erin", "username": "-erin", "email": "erin@example.com"}
    )
    assert refused.status_code == 200
    assert "Username" in refused.text
    taken = root.post(
        "/admin/users/new", {"name": "Dave 2", "username": "dave", "email": "d2@example.com"}
    )
    assert "Username has already been taken" in taken.text
    created = root.post(
        "/admin/users/new",
        {
            "name": "Erin",
            "username": "erin",
            "email": "erin@example.com",
            "password": "erin-password-1",
            "external": "1",
            "projects_limit": "5",
        },
    )
    assert created.headers["Location"] == "/admin/users/erin"
    erin = gl.users.list(username="erin")[0]
    assert erin.external is True
    assert erin.is_admin is False
    # Edit: admin flag, name.
    root.follow(
        "/admin/users/erin/edit",
        {
            "name": "Erin E",
            "username": "erin",
            "email": "erin@example.com",
            "is_admin": "1",
            "projects_limit": "5",
        },
    )
    erin = gl.users.get(erin.id)
    assert (erin.name, erin.is_admin, erin.external) == ("Erin E", True, False)
    # Root cannot drop their own admin flag by accident.
    root.follow(
        "/admin/users/root/edit",
        {
            "name": "Administrator",
            "username": "root",
            "email": "admin@example.com",
            "projects_limit": "100000",
        },
    )
    assert gl.users.get(1).is_admin is True


def test_block_unblock_approve_deactivate_delete(
    root: Web, make_user: Any, gl: gitlab.Gitlab, web: Callable[..., Web]
) -> None:
    from kiln.accounts.models import User, UserState

    make_user("frank")
    page = root.follow("/admin/users/frank/block")
    assert "Successfully blocked" in page.text
    assert gl.users.list(username="frank")[0].state == "blocked"
    with pytest.raises(AssertionError):
        web("frank")  # a blocked user cannot sign in
    root.follow("/admin/users/frank/unblock")
    assert gl.users.list(username="frank")[0].state == "active"
    # Root may not block themselves (the service's rule); the page says so.
    own = root.follow("/admin/users/root/block")
    assert "cannot be blocked" in own.text
    # Pending approval.
    make_user("gina")
    User.objects.filter(username="gina").update(state=UserState.BLOCKED_PENDING_APPROVAL)
    assert "Pending approval" in root.get("/admin/users", filter="blocked_pending_approval").text
    assert "Successfully approved" in root.follow("/admin/users/gina/approve").text
    assert User.objects.get(username="gina").state == UserState.ACTIVE
    again = root.follow("/admin/users/gina/approve")
    assert "not pending approval" in again.text
    # Deactivate: refused for a recently active user, with the service's message.
    web("gina")
    refused = root.follow("/admin/users/gina/deactivate")
    assert "has been active in the past 90 days" in refused.text
    # Delete needs the username typed.
    root.post("/admin/users/frank/delete", {"confirm": "nope"})
    assert User.objects.filter(username="frank").exists()
    root.post("/admin/users/frank/delete", {"confirm": "frank"})
    assert not User.objects.filter(username="frank").exists()


def test_groups_and_projects_lists(root: Web, gl: gitlab.Gitlab) -> None:
    group = gl.groups.create(
        {"name": "Secret Team", "path": "secret-team", "visibility": "private"}
    )
    gl.projects.create({"name": "Vault", "namespace_id": group.id})
    gl.projects.create({"name": "Open", "visibility": "public"})
    groups = root.get("/admin/groups", name="secret").text
    assert "Secret Team" in groups
    projects = root.get("/admin/projects").text
    assert "Vault" in projects
    assert "Open" in projects
    assert "Vault" not in root.get("/admin/projects", name="open").text
    dashboard = root.get("/admin").text
    assert "Secret Team" in dashboard
    assert "Vault" in dashboard


def test_application_settings(root: Web, gl: gitlab.Gitlab) -> None:
    page = root.get("/admin/application_settings").text
    assert "allow_local_requests_from_web_hooks_and_services" in page
    base = {
        "default_projects_limit": "100000",
        "max_attachment_size": "100",
        "max_artifacts_size": "100",
        "max_import_size": "0",
        "repository_size_limit": "0",
        "default_project_visibility": "10",
        "default_group_visibility": "0",
        "throttle_unauthenticated_api_requests_per_period": "3600",
        "throttle_unauthenticated_api_period_in_seconds": "3600",
        "throttle_unauthenticated_web_requests_per_period": "3600",
        "throttle_unauthenticated_web_period_in_seconds": "3600",
        "throttle_authenticated_api_requests_per_period": "7200",
        "throttle_authenticated_api_period_in_seconds": "3600",
        "throttle_authenticated_web_requests_per_period": "7200",
        "throttle_authenticated_web_period_in_seconds": "3600",
    }
    saved = root.follow(
        "/admin/application_settings",
        {
            **base,
            "signup_enabled": "1",
            "allow_local_requests_from_web_hooks_and_services": "1",
            "restricted_visibility_levels": ["20"],
            "default_branch_name": "trunk",
        },
    )
    assert "Application settings saved successfully." in saved.text
    settings = gl.settings.get()
    assert settings.allow_local_requests_from_web_hooks_and_services is True
    assert settings.require_admin_approval_after_user_signup is False  # unchecked
    assert settings.default_project_visibility == "internal"
    assert settings.restricted_visibility_levels == ["public"]
    assert settings.default_branch_name == "trunk"
    bad = root.post(
        "/admin/application_settings",
        {**base, "max_attachment_size": "0", "default_branch_name": "a..b"},
    )
    assert bad.status_code == 200
    assert "Max attachment size must be greater than 0" in bad.text
    assert "Default branch name is invalid" in bad.text
    assert gl.settings.get().default_branch_name == "trunk"


def test_system_hooks(root: Web, gl: gitlab.Gitlab) -> None:
    from tests.webhooks.conftest import Receiver, set_local_requests

    receiver = Receiver()
    receiver.start()
    try:
        set_local_requests(web_hooks=False, system_hooks=False)
        refused = root.post("/admin/hooks", {"url": f"{receiver.url}/sys"})
        assert "Invalid url given" in refused.text
        set_local_requests(web_hooks=False, system_hooks=True)
        root.follow(
            "/admin/hooks",
            {
                "url": f"{receiver.url}/sys",
                "token": "t0k",
                "repository_update_events": "1",
                "name": XSS,
            },
        )
        hook = gl.hooks.list()[0]
        assert hook.repository_update_events
        assert not hook.push_events
        page = root.get("/admin/hooks").text
        assert XSS not in page
        tested = root.follow(f"/admin/hooks/{hook.id}/test")
        assert "Hook executed successfully: HTTP 200" in tested.text
        assert receiver.wait_for(1)[0].json()["event_name"] == "project_create"
        root.follow(f"/admin/hooks/{hook.id}/delete")
        assert gl.hooks.list() == []
    finally:
        receiver.stop()
