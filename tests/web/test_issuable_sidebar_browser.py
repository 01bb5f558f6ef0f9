"""In the browser: edit an issue's assignee, labels and milestone and a merge request's
reviewers from the sidebar; each block re-renders in place (no page load), focus comes back
to the block, and the strict CSP reports nothing."""

from __future__ import annotations

from typing import Any

import gitlab

from tests.web.test_merge_requests import make_project, push_change

NO_RELOAD = "window.kilnSidebarPage === true"
FOCUS_IN = "(block) => document.activeElement && !!document.activeElement.closest(block)"


def edit(page: Any, block: str) -> Any:
    """Open a block's Edit dropdown; answer the block."""
    section = page.locator(f"#sidebar-{block}")
    section.get_by_label(f"Edit {block}").click()
    return section


def tick_and_apply(page: Any, block: str, *names: str) -> None:
    section = edit(page, block)
    for name in names:
        section.get_by_label(name).check()
    section.get_by_role("button", name="Apply").click()


def test_sidebar_edits_in_place(
    page: Any, sign_in: Any, server_url: str, gl: gitlab.Gitlab, make_user: Any
) -> None:
    developer, _ = make_user("dev", name="Dee Veloper")
    project = make_project(gl, "Sidebar deck")
    project.members.create({"user_id": developer.pk, "access_level": 30})
    project.labels.create({"name": "bug", "color": "#d9534f"})
    project.labels.create({"name": "ui", "color": "#428bca"})
    project.milestones.create({"title": "v1"})
    project.issues.create({"title": "Sidebar me"})
    push_change(project, "feature")
    project.mergerequests.create(
        {"source_branch": "feature", "target_branch": "main", "title": "Review me"}
    )
    base = f"{server_url}/{project.path_with_namespace}/-"
    sign_in(server_url)

    page.goto(f"{base}/issues/1")
    page.evaluate("window.kilnSidebarPage = true")
    tick_and_apply(page, "assignees", "Dee Veloper")
    page.locator("#sidebar-assignees > p", has_text="Dee Veloper").wait_for()
    page.locator("#sidebar-participants", has_text="@dev").wait_for()  # out of band
    page.wait_for_function(FOCUS_IN, arg="#sidebar-assignees")

    tick_and_apply(page, "labels", "bug", "ui")
    page.locator("#sidebar-labels .label-list .gl-label", has_text="ui").wait_for()
    assert page.locator("#sidebar-labels .label-list .gl-label").count() == 2

    section = edit(page, "milestone")
    section.get_by_role("combobox", name="Milestone").select_option(label="v1")
    section.get_by_role("button", name="Apply").click()
    page.locator("#sidebar-milestone > p a", has_text="v1").wait_for()
    assert page.evaluate(NO_RELOAD)

    issue = project.issues.get(1)
    assert [a["username"] for a in issue.assignees] == ["dev"]
    assert sorted(issue.labels) == ["bug", "ui"]
    assert issue.milestone["title"] == "v1"
    bodies = [n.body for n in issue.notes.list(get_all=True) if n.system]
    assert "assigned to @dev" in bodies
    assert any(b.startswith("changed milestone to %") for b in bodies)

    page.goto(f"{base}/merge_requests/1")
    page.evaluate("window.kilnSidebarPage = true")
    tick_and_apply(page, "reviewers", "Dee Veloper")
    page.locator("#sidebar-reviewers > p", has_text="Dee Veloper").wait_for()
    assert page.evaluate(NO_RELOAD)
    assert [r["username"] for r in project.mergerequests.get(1).reviewers] == ["dev"]

    # Phone width, with a dropdown open: nothing overflows.
    page.set_viewport_size({"width": 360, "height": 800})
    edit(page, "labels").get_by_label("bug").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.console_errors == []
