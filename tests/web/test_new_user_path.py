"""The new user's path through the UI, in headless Chromium against the real server: sign in
as root, create a group and a project, push with git over HTTP, browse the tree and a file,
edit the file in the browser, open an issue with Markdown and a label, open a merge request
that says "Closes #1", comment on a diff line, approve and merge it, and see the issue closed.
A failing run leaves a screenshot in test-artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT_TOKEN, client
from tests.support.git import authed, commit_file, git, make_repo

pytestmark = pytest.mark.slow


def test_new_user_path(page: Any, sign_in: Any, git_url: str, tmp_path: Path) -> None:
    page.set_default_timeout(60_000)  # the box running the suite may be busy
    sign_in(git_url)

    # A group, and a blank project in it.
    page.goto(f"{git_url}/groups/new")
    page.get_by_label("Group name").fill("Pioneers")
    page.get_by_role("button", name="Create group").click()
    page.wait_for_url(f"{git_url}/pioneers")
    page.get_by_role("link", name="New project").click()
    page.get_by_label("Project name").fill("Rover")
    page.get_by_label("Initialize repository with a README").uncheck()
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url(f"{git_url}/pioneers/rover")

    # Push with git over HTTP.
    work = make_repo(tmp_path / "work", {"README.md": "# Rover\n", "src/drive.py": "speed = 1\n"})
    remote = authed(f"{git_url}/pioneers/rover.git", "root", ROOT_TOKEN)
    git("push", "-q", remote, "main", cwd=work)

    # Browse the tree and a file; the README is rendered on the home page.
    page.goto(f"{git_url}/pioneers/rover")
    assert page.locator("h1", has_text="Rover").count() >= 1
    page.get_by_role("link", name="src", exact=True).click()
    page.get_by_role("link", name="drive.py").click()
    page.wait_for_url(f"{git_url}/pioneers/rover/-/blob/main/src/drive.py")
    assert "speed = 1" in page.locator(".blob-code").inner_text()

    # Edit it in the browser.
    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label("Content").fill("speed = 2\n")
    page.get_by_label("Commit message").fill("Drive faster")
    page.get_by_role("button", name="Commit changes").click()
    assert "committed successfully" in page.locator(".flash").inner_text()
    assert "speed = 2" in page.locator(".blob-code").inner_text()

    # A label, then an issue with Markdown and that label.
    page.goto(f"{git_url}/pioneers/rover/-/labels/new")
    page.get_by_label("Title").fill("bug")
    page.get_by_role("button", name="Create label").click()
    page.goto(f"{git_url}/pioneers/rover/-/issues/new")
    page.get_by_label("Title").fill("Rover is too slow")
    page.get_by_role("textbox", name="Description").fill("It needs **more** speed.")
    page.get_by_label("Labels").select_option(label="bug")
    page.get_by_role("button", name="Create issue").click()
    page.wait_for_url(f"{git_url}/pioneers/rover/-/issues/1")
    description = page.get_by_label("Description", exact=True)
    assert description.locator("strong", has_text="more").count() == 1
    assert page.locator(".issuable-sidebar", has_text="bug").count() == 1

    # A branch pushed on top of the browser's commit, and a merge request from it.
    gl = client(git_url, ROOT_TOKEN)
    project = gl.projects.get("pioneers/rover")
    gl.http_post(
        f"/projects/{project.id}/approvals", post_data={"merge_requests_author_approval": True}
    )
    git("fetch", "-q", remote, "main", cwd=work)
    git("checkout", "-q", "-b", "turbo", "FETCH_HEAD", cwd=work)
    commit_file(work, "src/drive.py", "speed = 3\n", "Turbo mode")
    git("push", "-q", remote, "turbo", cwd=work)
    base = f"{git_url}/pioneers/rover/-/merge_requests"
    page.goto(f"{base}/new?merge_request[source_branch]=turbo&merge_request[target_branch]=main")
    page.get_by_role("textbox", name="Description").fill("Closes #1")
    page.get_by_role("button", name="Create merge request").click()
    page.wait_for_url(f"{base}/1")

    # Comment on the changed line.
    nav = page.get_by_role("navigation", name="Merge request")
    nav.get_by_role("link", name="Changes").click()
    page.get_by_role("link", name="Comment on line 1 of src/drive.py").click()
    page.get_by_label("Comment on this line").fill("Is 3 safe?")
    page.get_by_role("button", name="Start a thread").click()
    page.locator(".diff-notes-row", has_text="Is 3 safe?").wait_for()
    note = project.mergerequests.get(1).discussions.list()[0].attributes["notes"][0]
    assert note["position"]["new_path"] == "src/drive.py"
    assert note["position"]["new_line"] == 1

    # Approve and merge; the issue is closed by "Closes #1".
    nav.get_by_role("link", name="Overview").click()
    page.get_by_role("button", name="Approve").click()
    page.get_by_text("Approved by").wait_for()
    page.get_by_role("button", name="Merge", exact=True).click()
    page.locator(".mr-widget .badge-merged").wait_for()
    assert project.mergerequests.get(1).state == "merged"
    assert project.files.get("src/drive.py", ref="main").decode() == b"speed = 3\n"
    page.goto(f"{git_url}/pioneers/rover/-/issues/1")
    assert page.locator(".issuable-header .badge-closed").inner_text() == "Closed"
    assert project.issues.get(1).state == "closed"
    assert page.console_errors == []
