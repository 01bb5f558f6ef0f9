"""In the browser: a merge request's Changes tab switched between inline and side-by-side, a
file's contents hidden and shown again (by its toggle, and by a link into it from the file
browser), and a comment started on a line of the side-by-side view, with no CSP errors."""

from __future__ import annotations

from typing import Any

import gitlab

from tests.web.test_mr_diffs import PY_AFTER, open_mr, sha1


def test_toggle_views_collapse_and_comment_side_by_side(
    page: Any, sign_in: Any, gl: gitlab.Gitlab, server_url: str
) -> None:
    project, mr, base = open_mr(
        gl,
        "Browsed",
        [
            {"action": "update", "file_path": "app.py", "content": PY_AFTER},
            {"action": "update", "file_path": "README.md", "content": "# Browsed\n\nMore.\n"},
        ],
        files={"app.py": "def greet(name):\n    return name\n", "README.md": "# Browsed\n"},
    )
    sign_in(server_url)
    page.goto(f"{server_url}{base}/diffs?view=inline")
    inline = page.locator("table.diff-inline")
    assert inline.count() == 2
    assert page.locator("table.diff-inline tr.new span.k", has_text="def").count() == 1

    # Side by side: the removed line beside the line it became, highlighted.
    page.get_by_role("navigation", name="Diff view").get_by_role(
        "link", name="Side-by-side"
    ).click()
    page.wait_for_selector("table.diff-parallel")
    row = page.locator("table.diff-parallel tr", has=page.locator("td.line.old"))
    assert "def greet(name):" in row.first.locator("td.line.old").inner_text()
    assert "def greet(name: str) -> str:" in row.first.locator("td.line.new").inner_text()

    # Hide a file's contents, show them again; a link into a hidden file shows it.
    app = page.locator(f"section[id='{sha1('app.py')}']")
    toggle = app.get_by_role("button", name="Hide file contents")
    toggle.click()
    assert not app.locator("table.diff-parallel").is_visible()
    app.get_by_role("button", name="Show file contents").click()
    assert app.locator("table.diff-parallel").is_visible()
    page.get_by_role("button", name="Collapse all").click()
    assert page.locator("table.diff-parallel:visible").count() == 0
    page.get_by_role("navigation", name="Changed files").get_by_role("link", name="app.py").click()
    app.locator("table.diff-parallel").wait_for(state="visible")
    assert page.locator("table.diff-parallel:visible").count() == 1
    page.get_by_role("button", name="Expand all").click()
    assert page.locator("table.diff-parallel:visible").count() == 2

    # Comment on the new line 1, side by side: the form opens under it, on the right.
    app.get_by_role("link", name="Comment on line 1 of app.py").click()
    form = app.locator(".diff-notes-row td[data-side='right'] form.diff-note-form")
    form.get_by_label("Comment on this line").fill("Typed at last.")
    form.get_by_role("button", name="Start a thread").click()
    page.wait_for_selector("table.diff-parallel .diff-notes-row td[data-side='right'] .thread")
    assert "Typed at last." in page.locator(".diff-notes-row td[data-side='right']").inner_text()
    note = project.mergerequests.get(mr.iid).discussions.list()[0].attributes["notes"][0]
    assert (note["position"]["new_path"], note["position"]["new_line"]) == ("app.py", 1)
    assert note["position"]["old_line"] is None

    # A comment on a removed line goes on the left; Cancel takes the form away again.
    app.get_by_role("link", name="Comment on old line 1 of app.py").click()
    left = app.locator(".diff-notes-row td[data-side='left'] form.diff-note-form")
    left.wait_for()
    left.get_by_role("link", name="Cancel").click()
    assert app.locator("form.diff-note-form").count() == 0
    assert page.console_errors == []
