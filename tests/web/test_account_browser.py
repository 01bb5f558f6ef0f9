"""The account pages in headless Chromium: signing up and waiting for approval, a token shown
once, an SSH key, the colour mode, and the dashboard on a phone."""

from __future__ import annotations

from typing import Any

import asyncssh
import gitlab
import requests


def warm_up(server_url: str) -> None:
    """The first request of a fresh server loads every view; on a busy machine that can take
    longer than a browser navigation waits."""
    requests.get(f"{server_url}/users/sign_in", timeout=120)


def set_signup(*, approval: bool) -> None:
    from kiln.core import appsettings

    setting = appsettings.current()
    setting.signup_enabled = True
    setting.require_admin_approval_after_user_signup = approval
    setting.save()


def test_sign_up_waits_for_approval_then_signs_in(page: Any, server_url: str) -> None:
    from kiln.accounts.models import User
    from kiln.accounts.self_service import approve_user
    from kiln.core.actor import Actor

    set_signup(approval=True)
    warm_up(server_url)
    page.goto(f"{server_url}/users/sign_in")
    page.get_by_role("link", name="Register now").click()
    page.get_by_label("First name").fill("Dana")
    page.get_by_label("Last name").fill("Potter")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Email").fill("dana@example.com")
    page.get_by_label("Password", exact=True).fill("dana-password-1")
    page.get_by_role("button", name="Register").click()
    page.wait_for_load_state()
    assert page.url == f"{server_url}/users/sign_in"
    assert "awaiting approval" in page.locator("main").inner_text()

    def try_sign_in() -> None:
        page.get_by_label("Username or email").fill("dana")
        page.get_by_label("Password").fill("dana-password-1")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()

    try_sign_in()
    assert "pending approval" in page.get_by_role("alert").inner_text()
    approve_user(
        actor=Actor.for_user(User.objects.get(pk=1)), user=User.objects.get(username="dana")
    )
    try_sign_in()
    assert page.url.rstrip("/") == server_url
    assert page.locator("h1").first.inner_text() == "Projects"
    assert page.locator("details.menu > summary").inner_text().strip() == "dana"
    # The refused sign-in answered 401 (as GitLab does); nothing else went wrong.
    assert page.console_errors == [
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    ]


def test_token_once_ssh_key_and_theme(page: Any, sign_in: Any, server_url: str) -> None:
    warm_up(server_url)
    sign_in(server_url)
    # A personal access token, shown once.
    page.goto(f"{server_url}/-/user_settings/personal_access_tokens")
    page.get_by_label("Token name").fill("ci laptop")
    page.locator("input[name=scopes][value=read_api]").check()
    page.get_by_role("button", name="Create token").click()
    page.wait_for_load_state()
    value = page.locator("#created-token").input_value()
    assert value.startswith("glpat-")
    me = requests.get(f"{server_url}/api/v4/user", headers={"PRIVATE-TOKEN": value}, timeout=10)
    assert me.json()["username"] == "root"
    page.reload()
    assert page.locator("#created-token").count() == 0
    assert value not in page.content()
    assert "ci laptop" in page.locator("table").inner_text()

    # An SSH key, listed with its fingerprint.
    key = asyncssh.generate_private_key("ssh-ed25519", comment="root@studio")
    public = key.export_public_key().decode().strip()
    page.goto(f"{server_url}/-/user_settings/ssh_keys")
    page.get_by_label("Key", exact=True).fill(public)
    page.get_by_role("button", name="Add key").click()
    page.wait_for_load_state()
    listed = page.locator("main").inner_text()
    assert "root@studio" in listed
    assert "SHA256:" in listed
    assert key.get_fingerprint("sha256") in listed

    # The colour mode: <html data-theme> follows the preference on every page.
    assert page.locator("html").get_attribute("data-theme") == "system"
    page.goto(f"{server_url}/-/profile/preferences")
    page.get_by_label("Dark").check()
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("data-theme") == "dark"
    page.goto(f"{server_url}/explore")
    assert page.locator("html").get_attribute("data-theme") == "dark"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 17, 21)"
    page.goto(f"{server_url}/-/profile/preferences")
    page.get_by_label("Light").check()
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("data-theme") == "light"
    assert page.console_errors == []


def test_dashboard_fits_a_phone(
    page: Any, sign_in: Any, server_url: str, gl: gitlab.Gitlab
) -> None:
    long_name = "A very long project name that goes on and on " * 3
    project = gl.projects.create({"name": long_name.strip()[:120], "visibility": "public"})
    project.issues.create({"title": "x" * 200, "assignee_ids": [1]})
    gl.groups.create({"name": "Group " + "y" * 60, "path": "group-" + "y" * 60})
    page.set_viewport_size({"width": 360, "height": 740})
    sign_in(server_url)
    for path in (
        "/dashboard/projects",
        "/dashboard/groups",
        "/dashboard/activity",
        "/dashboard/issues",
        "/dashboard/merge_requests",
        "/dashboard/todos",
        "/explore",
        "/root",
        "/-/profile",
        "/-/user_settings/personal_access_tokens",
        "/-/user_settings/ssh_keys",
    ):
        page.goto(f"{server_url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, (path, width)
    page.goto(f"{server_url}/dashboard/issues")
    assert "x" * 50 in page.locator("main").inner_text()
    assert page.console_errors == []
