"""In the browser, against the real server: push a branch with git over HTTP, open a merge
request from it that says "Closes #1", comment on a diff line, approve and merge it, and see
the issue closed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import ROOT_TOKEN, client
from tests.support.git import authed, commit_file, git, make_repo


def test_merge_request_from_a_pushed_branch(
    page: Any, sign_in: Any, git_url: str, tmp_path: Path
) -> None:
    gl = client(git_url, ROOT_TOKEN)
    project = gl.projects.create({"name": "Shipping"})
    gl.http_post(
        f"/projects/{project.id}/approvals", post_data={"merge_requests_author_approval": True}
    )
    project.issues.create({"title": "Greeting is rude"})
    work = make_repo(tmp_path / "work", {"hello.txt": "go away\nbye\n"})
    remote = authed(f"{git_url}/root/shipping.git", "root", ROOT_TOKEN)
    git("push", "-q", remote, "main", cwd=work)
    git("checkout", "-q", "-b", "polite", cwd=work)
    commit_file(work, "hello.txt", "hello there\nbye\n", "Be polite")
    git("push", "-q", remote, "polite", cwd=work)

    sign_in(git_url)
    base = f"{git_url}/root/shipping/-/merge_requests"
    page.goto(f"{base}/new?merge_request[source_branch]=polite&merge_request[target_branch]=main")
    assert page.get_by_label("Title").input_value() == "Be polite"
    assert page.locator("tr.new td.line", has_text="hello there").count() == 1
    page.get_by_role("textbox", name="Description").fill("Closes #1")
    page.get_by_role("button", name="Create merge request").click()
    page.wait_for_url(f"{base}/1")
    widget = page.locator(".mr-widget").inner_text()
    assert "Closes issue #1 when merged." in widget, widget

    # Comment on the added line, from the Changes tab.
    page.get_by_role("navigation", name="Merge request").get_by_role("link", name="Changes").click()
    page.get_by_role("link", name="Comment on line 1 of hello.txt").click()
    page.get_by_label("Comment on this line").fill("Nicer, thanks.")
    page.get_by_role("button", name="Start a thread").click()
    page.locator(".diff-notes-row", has_text="Nicer, thanks.").wait_for()
    position = project.mergerequests.get(1).discussions.list()[0].attributes["notes"][0]["position"]
    assert (position["new_path"], position["new_line"], position["old_line"]) == (
        "hello.txt",
        1,
        None,
    )
    page.get_by_role("button", name="Resolve thread").click()
    page.get_by_role("button", name="Unresolve thread").wait_for()

    # Approve, then merge.
    page.get_by_role("navigation", name="Merge request").get_by_role(
        "link", name="Overview"
    ).click()
    page.get_by_role("button", name="Approve").click()
    page.get_by_text("Approved by").wait_for()
    assert "Ready to merge!" in page.locator(".mr-widget").inner_text()
    page.get_by_role("button", name="Merge", exact=True).click()
    page.locator(".mr-widget .badge-merged").wait_for()
    assert project.mergerequests.get(1).state == "merged"

    page.goto(f"{git_url}/root/shipping/-/issues/1")
    assert page.locator(".issuable-header .badge-closed").inner_text() == "Closed"
    assert "closed" in page.locator("#notes").inner_text()
    assert page.console_errors == []
