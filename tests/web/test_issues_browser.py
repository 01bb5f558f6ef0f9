"""In the browser: open an issue with Markdown and a label, preview it, see it rendered."""

from __future__ import annotations

from typing import Any

import gitlab


def test_open_an_issue_with_markdown_and_a_label(
    page: Any, sign_in: Any, server_url: str, gl: gitlab.Gitlab
) -> None:
    project = gl.projects.create({"name": "Browser issues"})
    project.labels.create({"name": "bug", "color": "#d9534f"})
    sign_in(server_url)
    page.goto(f"{server_url}/{project.path_with_namespace}/-/issues")
    page.get_by_role("link", name="New issue").click()
    page.get_by_label("Title").fill("Rendering is **broken**")
    page.get_by_role("textbox", name="Description").fill(
        "Steps:\n\n1. open `app`\n2. see *nothing*\n\n/due 2031-05-06"
    )
    page.get_by_role("tab", name="Preview").click()
    preview = page.locator(".md-preview")
    preview.locator("code", has_text="app").wait_for()
    assert preview.locator("em", has_text="nothing").count() == 1
    page.get_by_role("tab", name="Write").click()
    page.get_by_label("Labels").select_option(label="bug")
    page.get_by_role("button", name="Create issue").click()
    page.wait_for_url(f"{server_url}/{project.path_with_namespace}/-/issues/1")
    assert page.locator("h1").inner_text() == "Rendering is **broken**"
    description = page.get_by_label("Description", exact=True)
    assert description.locator("ol li code", has_text="app").count() == 1
    assert page.locator(".issuable-sidebar .gl-label", has_text="bug").count() == 1
    assert "May 6, 2031" in page.locator(".issuable-sidebar").inner_text()
    # Comment with a quick action, from the keyboard-usable form.
    page.get_by_role("textbox", name="Comment").fill("Confirmed.\n/close")
    page.get_by_role("button", name="Comment", exact=True).click()
    page.locator(".note-body", has_text="Confirmed.").wait_for()
    assert page.get_by_role("button", name="Reopen issue").count() == 1
    assert project.issues.get(1).state == "closed"
    # Phone width: nothing overflows.
    page.set_viewport_size({"width": 360, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.console_errors == []
