"""The main paths of the groups, new project, settings and admin pages in headless Chromium:
create a group and a project with a README, protect a branch, add and test a webhook, and an
administrator blocking a user. No JavaScript error on any page."""

from __future__ import annotations

from typing import Any

import gitlab

# The box the suite runs on may be busy: give pages more time than the fixture's default.
SLOW = 60_000


def _no_overflow(page: Any, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_create_group_and_project_with_readme(
    page: Any, sign_in: Any, server_url: str, gl: gitlab.Gitlab
) -> None:
    page.set_default_timeout(SLOW)
    sign_in(server_url)
    page.goto(f"{server_url}/groups/new")
    page.get_by_label("Group name").fill("Rocket Lab")
    # The path follows the name (admin.js) until edited by hand.
    assert page.get_by_label("Group URL").input_value() == "rocket-lab"
    page.get_by_label("Internal").check()
    page.get_by_role("button", name="Create group").click()
    page.wait_for_url(f"{server_url}/rocket-lab")
    assert "Group 'Rocket Lab' was successfully created." in page.content()

    page.get_by_role("link", name="New project").click()
    page.wait_for_url("**/projects/new?namespace_id=*")
    assert page.get_by_label("Project URL").locator("option:checked").inner_text() == "rocket-lab"
    page.get_by_label("Project name").fill("Launch Pad")
    assert page.get_by_label("Project slug").input_value() == "launch-pad"
    assert page.get_by_label("Initialize repository with a README").is_checked()
    _no_overflow(page, 360)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url(f"{server_url}/rocket-lab/launch-pad")
    project = gl.projects.get("rocket-lab/launch-pad")
    assert project.visibility == "private"
    assert project.files.get("README.md", ref="main").decode() == b"# Launch Pad\n"
    assert page.console_errors == []


def test_protect_branch_and_add_webhook(
    page: Any, sign_in: Any, server_url: str, gl: gitlab.Gitlab
) -> None:
    from tests.webhooks.conftest import Receiver, set_local_requests

    project = gl.projects.create({"name": "Site", "initialize_with_readme": True})
    project.branches.create({"branch": "release", "ref": "main"})
    set_local_requests(web_hooks=True)
    receiver = Receiver()
    receiver.start()
    try:
        page.set_default_timeout(SLOW)
        sign_in(server_url)
        page.goto(f"{server_url}/root/site/-/settings/repository")
        page.get_by_label("Branch", exact=True).fill("release")
        page.get_by_label("Allowed to merge").select_option(label="Developers + Maintainers")
        page.get_by_label("Allowed to force push").check()
        page.locator("form.protect-form").first.get_by_role("button", name="Protect").click()
        page.wait_for_load_state()
        row = page.locator("tr", has_text="release")
        assert "Developers + Maintainers" in row.inner_text()
        rule = project.protectedbranches.get("release")
        assert rule.merge_access_levels[0]["access_level"] == 30
        assert rule.allow_force_push is True

        page.get_by_role("link", name="Webhooks").click()
        page.get_by_label("URL").fill(f"{receiver.url}/hook")
        page.get_by_label("Secret token").fill("tok")
        page.get_by_label("Tag push events").check()
        page.get_by_role("button", name="Add webhook").click()
        page.wait_for_load_state()
        assert "Webhook was created." in page.content()
        page.get_by_role("button", name="Test").click()
        page.wait_for_load_state()
        assert "Hook executed successfully: HTTP 200" in page.content()
        assert receiver.wait_for(1)[0].headers["X-Gitlab-Token"] == "tok"

        # The delete button waits for the path to be typed.
        page.goto(f"{server_url}/root/site/-/settings/general")
        delete = page.get_by_role("button", name="Delete project")
        assert delete.is_disabled()
        page.locator("#delete_confirm").fill("root/site")
        assert delete.is_enabled()
        assert page.console_errors == []
    finally:
        receiver.stop()


def test_admin_blocks_a_user(page: Any, sign_in: Any, server_url: str, make_user: Any) -> None:
    make_user("mallory")
    page.set_default_timeout(SLOW)
    sign_in(server_url)
    page.goto(f"{server_url}/admin/users")
    page.get_by_label("Search users").fill("mallory")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Mallory", exact=True).click()
    page.wait_for_url(f"{server_url}/admin/users/mallory")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Block user").click()
    page.wait_for_load_state()
    assert "Successfully blocked" in page.content()
    assert page.locator("h1 .badge").inner_text() == "Blocked"
    from kiln.accounts.models import User

    assert User.objects.get(username="mallory").state == "blocked"
    assert page.console_errors == []
