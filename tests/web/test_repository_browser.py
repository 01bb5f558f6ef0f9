"""The repository pages in headless Chromium: browse tree → file → line range, edit a file
and see the new commit, the commit diff inline and side by side, and phone width."""

from __future__ import annotations

import re
from typing import Any

import gitlab

from tests.web.test_repository import PY_FILE, make_project


def test_browse_tree_file_and_line_range(
    page: Any, sign_in: Any, gl: gitlab.Gitlab, server_url: str
) -> None:
    make_project(gl, "Walk", {"README.md": "# Walk\n", "src/main.py": PY_FILE})
    sign_in(server_url)
    page.goto(f"{server_url}/root/walk")
    page.get_by_role("link", name="src", exact=True).click()
    page.wait_for_url(re.compile(r"/-/tree/main/src$"))
    page.get_by_role("link", name="main.py").click()
    page.wait_for_url(re.compile(r"/-/blob/main/src/main.py$"))
    page.locator("#L3").click()
    page.locator("#L6").click(modifiers=["Shift"])
    assert page.url.endswith("#L3-6")
    assert page.locator(".blob-code .line.hll-line").count() == 4
    # A shared link to a range highlights it on load.
    page.goto(f"{server_url}/root/walk/-/blob/main/src/main.py#L10-12")
    page.wait_for_selector("#LC11.hll-line")
    assert page.locator(".blob-code .line.hll-line").count() == 3
    assert page.console_errors == []


def test_edit_a_file_in_the_browser(
    page: Any, sign_in: Any, gl: gitlab.Gitlab, server_url: str
) -> None:
    project = make_project(gl, "Edit Me", {"notes.txt": "first\n"})
    sign_in(server_url)
    page.goto(f"{server_url}/root/edit-me/-/blob/main/notes.txt")
    page.get_by_role("link", name="Edit", exact=True).click()
    page.wait_for_url(re.compile(r"/-/edit/main/notes.txt$"))
    # Same branch: no merge request option; a new branch shows it.
    assert page.get_by_label("Start a new merge request with these changes").is_hidden()
    page.get_by_label("Content").fill("first\nsecond from the browser\n")
    page.get_by_label("Commit message").fill("Edit notes in the browser")
    page.get_by_role("button", name="Commit changes").click()
    page.wait_for_url(re.compile(r"/-/blob/main/notes.txt$"))
    assert "committed successfully" in page.locator(".flash").inner_text()
    assert "second from the browser" in page.locator(".blob-code").inner_text()
    page.get_by_role("link", name="History").first.click()
    page.wait_for_url(re.compile(r"/-/commits/main/notes.txt$"))
    assert page.get_by_role("link", name="Edit notes in the browser").count() == 1
    assert project.commits.list(get_all=False)[0].title == "Edit notes in the browser"
    assert page.console_errors == []


def test_commit_diff_inline_and_side_by_side(
    page: Any, sign_in: Any, gl: gitlab.Gitlab, server_url: str
) -> None:
    project = make_project(gl, "Diffy", {"a.txt": "one\ntwo\nthree\n"})
    commit = project.commits.create(
        {
            "branch": "main",
            "commit_message": "Change two",
            "actions": [{"action": "update", "file_path": "a.txt", "content": "one\n2\nthree\n"}],
        }
    )
    sign_in(server_url)
    page.goto(f"{server_url}/root/diffy/-/commit/{commit.id}?view=inline")
    inline = page.locator("table.diff-inline")
    assert inline.count() == 1
    assert "two" in inline.locator("tr.old").inner_text()
    assert "2" in inline.locator("tr.new").inner_text()
    page.get_by_role("link", name="Side-by-side").click()
    page.wait_for_selector("table.diff-parallel")
    row = page.locator("table.diff-parallel tr", has=page.locator("td.line.old"))
    assert "two" in row.locator("td.line.old").inner_text()
    assert "2" in row.locator("td.line.new").inner_text()
    # The choice is remembered (GitLab's diff_view cookie).
    page.goto(f"{server_url}/root/diffy/-/commit/{commit.id}")
    assert page.locator("table.diff-parallel").count() == 1
    assert page.console_errors == []


def test_repository_pages_fit_a_phone(
    page: Any, sign_in: Any, gl: gitlab.Gitlab, server_url: str
) -> None:
    long_name = "a-rather-long-file-name-that-could-overflow-a-phone-screen-easily.py"
    project = make_project(
        gl, "Phone", {"README.md": "# Phone\n\n" + "word " * 200, long_name: PY_FILE}
    )
    commit = project.commits.create(
        {
            "branch": "main",
            "commit_message": "Touch",
            "actions": [{"action": "update", "file_path": long_name, "content": PY_FILE + "x\n"}],
        }
    )
    page.set_viewport_size({"width": 360, "height": 740})
    sign_in(server_url)
    for path in (
        "/root/phone",
        f"/root/phone/-/blob/main/{long_name}",
        f"/root/phone/-/commit/{commit.id}?view=parallel",
        "/root/phone/-/branches",
        f"/root/phone/-/edit/main/{long_name}",
    ):
        page.goto(server_url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, (path, width)
    assert page.console_errors == []
