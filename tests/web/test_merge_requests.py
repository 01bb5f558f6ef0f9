"""Merge request pages: the list, new (branches, commits and diff before creating), the
Overview with its merge widget, Commits and Changes with line comments, resolving threads,
approving and merging; permissions (404 to outsiders, merge only for those allowed) and
hostile branch names and titles rendered inert."""

from __future__ import annotations

import re
from typing import Any

import gitlab
import pytest

from tests.web.test_issues import HOSTILE, assert_inert, client_for, root


def make_project(gl: gitlab.Gitlab, name: str, **attrs: Any) -> Any:
    project = gl.projects.create({"name": name, "initialize_with_readme": True, **attrs})
    project.files.create(
        {
            "file_path": "app.py",
            "branch": "main",
            "content": "one\ntwo\nthree\n",
            "commit_message": "Add app",
        }
    )
    return project


def push_change(project: Any, branch: str, content: str = "one\nTWO\nthree\nfour\n") -> None:
    project.branches.create({"branch": branch, "ref": "main"})
    project.files.update(
        "app.py",
        {"branch": branch, "content": content, "commit_message": f"Change app on {branch}"},
    )


def test_new_merge_request_shows_commits_and_diff_then_creates(gl: gitlab.Gitlab) -> None:
    project = make_project(gl, "Review")
    push_change(project, "feature")
    project.issues.create({"title": "Bug"})
    base = f"/{project.path_with_namespace}/-/merge_requests"
    owner = client_for(root())
    page = owner.get(
        f"{base}/new?merge_request[source_branch]=feature&merge_request[target_branch]=main"
    ).content.decode()
    assert "Change app on feature" in page  # the commit, and the default title
    assert 'value="Change app on feature"' in page
    assert "TWO" in page
    assert '<tr class="new" id="' in page
    assert 'class="diff-comment"' not in page  # no line comments before it exists
    missing = owner.get(f"{base}/new?merge_request[source_branch]=nope").content.decode()
    assert "Source branch &quot;nope&quot; does not exist" in missing
    response = owner.post(
        base,
        {
            "merge_request[source_branch]": "feature",
            "merge_request[target_branch]": "main",
            "merge_request[title]": "Improve app",
            "merge_request[description]": "Closes #1",
            "merge_request[draft]": "1",
        },
    )
    assert response.status_code == 302, response.content
    assert response["Location"] == f"{base}/1"
    mr = project.mergerequests.get(1)
    assert mr.title == "Draft: Improve app"
    assert mr.source_branch == "feature"
    overview = owner.get(f"{base}/1").content.decode()
    assert "Merge blocked:" in overview
    assert "Merge request must not be draft." in overview
    assert "Closes issue" in overview
    listing = owner.get(base).content.decode()
    assert "Draft: Improve app" in listing
    assert "Improve app" in owner.get(f"{base}?source_branch=feature").content.decode()
    assert "Improve app" not in owner.get(f"{base}?target_branch=other").content.decode()
    # Ready, then merged (deleting the source branch): the issue is closed.
    owner.post(f"{base}/1", {"wip_event": "ready"})
    assert project.mergerequests.get(1).draft is False
    overview = owner.get(f"{base}/1").content.decode()
    assert "Ready to merge!" in overview
    sha = re.search(r'name="sha" value="([0-9a-f]+)"', overview).group(1)  # type: ignore[union-attr]
    response = owner.post(f"{base}/1/merge", {"sha": sha, "should_remove_source_branch": "1"})
    assert response.status_code == 302
    assert project.mergerequests.get(1).state == "merged"
    assert project.issues.get(1).state == "closed"
    assert "feature" not in [b.name for b in project.branches.list()]
    assert "Merged" in owner.get(f"{base}/1").content.decode()


def test_diff_comments_threads_resolve_and_outdated(gl: gitlab.Gitlab) -> None:
    project = make_project(gl, "Lines")
    push_change(project, "topic")
    mr = project.mergerequests.create(
        {"source_branch": "topic", "target_branch": "main", "title": "Topic"}
    )
    base = f"/{project.path_with_namespace}/-/merge_requests/{mr.iid}"
    owner = client_for(root())
    diffs = owner.get(f"{base}/diffs").content.decode()
    row = re.search(r'data-file="(\d+)"', diffs)
    assert row is not None
    # Without JavaScript, ?line= opens the form under that line.
    code = re.search(r'<tr class="new" id="([0-9a-f]{40}_0_2)"', diffs).group(1)  # type: ignore[union-attr]
    assert f'href="?line={code}#{code}"' in diffs
    form = owner.get(f"{base}/diffs?line={code}").content.decode()
    assert 'name="line_file"' in form
    assert 'name="new_line" value="2"' in form
    response = owner.post(
        f"{base}/notes",
        {"note": "Why upper case?", "line_file": row.group(1), "old_line": "", "new_line": "2"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"{base}/diffs#{code}"
    discussion = mr.discussions.list()[0]
    position = discussion.attributes["notes"][0]["position"]
    fresh = project.mergerequests.get(mr.iid)
    assert position["head_sha"] == fresh.diff_refs["head_sha"]
    assert position["base_sha"] == fresh.diff_refs["base_sha"]
    assert position["start_sha"] == fresh.diff_refs["start_sha"]
    assert position["new_path"] == "app.py"
    assert position["new_line"] == 2
    assert position["old_line"] is None
    diffs = owner.get(f"{base}/diffs").content.decode()
    assert "Why upper case?" in diffs
    # Side by side, the thread is under the added line, on the right.
    parallel = owner.get(f"{base}/diffs?view=parallel").content.decode()
    thread = re.search(r'<td colspan="2" data-side="right">\s*<section class="thread', parallel)
    assert thread is not None
    assert "Why upper case?" in parallel
    # A line that is not in the diff is refused.
    bad = owner.post(f"{base}/notes", {"note": "x", "line_file": "0", "new_line": "99"})
    assert bad.status_code == 404
    # Resolve and unresolve from the page.
    owner.post(f"{base}/discussions/{discussion.id}/resolve", {})
    assert mr.discussions.get(discussion.id).attributes["notes"][0]["resolved"] is True
    assert "Unresolve thread" in owner.get(base).content.decode()
    owner.post(f"{base}/discussions/{discussion.id}/unresolve", {"return_to": "diffs"})
    assert mr.discussions.get(discussion.id).attributes["notes"][0]["resolved"] is False
    # A new push makes the thread outdated.
    project.files.update(
        "app.py", {"branch": "topic", "content": "zero\n", "commit_message": "Rewrite"}
    )
    overview = owner.get(base).content.decode()
    assert "Outdated" in overview
    assert "Comments on outdated changes" in owner.get(f"{base}/diffs").content.decode()
    commits = owner.get(f"{base}/commits").content.decode()
    assert "Rewrite" in commits
    assert "Change app on topic" in commits


def test_conflicts_are_shown_clearly(gl: gitlab.Gitlab) -> None:
    project = make_project(gl, "Clash")
    push_change(project, "left", "left\n")
    project.files.update(
        "app.py", {"branch": "main", "content": "right\n", "commit_message": "Main moves"}
    )
    mr = project.mergerequests.create(
        {"source_branch": "left", "target_branch": "main", "title": "Left"}
    )
    page = client_for(root()).get(f"/{project.path_with_namespace}/-/merge_requests/{mr.iid}")
    html = page.content.decode()
    assert "Merge conflicts must be resolved." in html
    assert "app.py" in html
    assert 'action="/root/clash/-/merge_requests/1/merge"' not in html


def test_only_those_allowed_may_merge_or_approve(gl: gitlab.Gitlab, make_user: Any) -> None:
    project = make_project(gl, "Guarded", visibility="public")
    push_change(project, "feat")
    mr = project.mergerequests.create(
        {"source_branch": "feat", "target_branch": "main", "title": "Feat"}
    )
    reporter, _ = make_user("reporter")
    developer, _ = make_user("developer")
    stranger, _ = make_user("stranger")
    project.members.create({"user_id": reporter.pk, "access_level": 20})
    project.members.create({"user_id": developer.pk, "access_level": 30})
    base = f"/{project.path_with_namespace}/-/merge_requests/{mr.iid}"
    head = project.mergerequests.get(mr.iid).sha
    for user in (None, stranger, reporter):
        client = client_for(user)
        page = client.get(base)
        assert page.status_code == 200
        html = page.content.decode()
        assert f'action="{base}/merge"' not in html
        assert f'action="{base}/approve"' not in html
        assert client.post(f"{base}/merge", {"sha": head}).status_code == 404
        assert client.post(f"{base}/approve", {"sha": head}).status_code == 404
        assert client.post(f"{base}/edit", {"merge_request[title]": "x"}).status_code == 404
    assert project.mergerequests.get(mr.iid).state == "opened"
    dev = client_for(developer)
    html = dev.get(base).content.decode()
    assert f'action="{base}/approve"' in html
    # main is protected: Developers may approve but only Maintainers merge.
    assert f'action="{base}/merge"' not in html
    assert "Ask someone with write access" in html
    assert dev.post(f"{base}/merge", {"sha": head}).status_code == 404
    dev.post(f"{base}/approve", {"sha": head})
    assert (
        project.mergerequests.get(mr.iid).approvals.get().approved_by[0]["user"]["username"]
        == "developer"
    )
    html = dev.get(base).content.decode()
    assert "Approved by" in html
    assert "Revoke approval" in html
    dev.post(f"{base}/unapprove", {})
    assert project.mergerequests.get(mr.iid).approvals.get().approved_by == []
    maintainer, _ = make_user("maintainer")
    project.members.create({"user_id": maintainer.pk, "access_level": 40})
    boss = client_for(maintainer)
    assert f'action="{base}/merge"' in boss.get(base).content.decode()
    assert boss.post(f"{base}/merge", {"sha": head}).status_code == 302
    assert project.mergerequests.get(mr.iid).state == "merged"


def test_private_merge_requests_are_404_to_outsiders(gl: gitlab.Gitlab, make_user: Any) -> None:
    project = make_project(gl, "Closed shop", visibility="private")
    push_change(project, "secret-work")
    project.mergerequests.create(
        {"source_branch": "secret-work", "target_branch": "main", "title": "Secret MR"}
    )
    outsider, _ = make_user("nosy")
    base = f"/{project.path_with_namespace}/-/merge_requests"
    for client in (client_for(), client_for(outsider)):
        for page in ("", "/new", "/1", "/1/commits", "/1/diffs", "/1/edit", "/2"):
            response = client.get(base + page)
            assert response.status_code == 404, page
            assert "Secret MR" not in response.content.decode()
        for action in ("/1/merge", "/1/approve", "/1/notes", "/1", ""):
            assert client.post(base + action, {"note": "x"}).status_code == 404, action


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_branch_names_and_titles_are_inert(gl: gitlab.Gitlab, payload: str) -> None:
    project = make_project(gl, "Evil", visibility="public")
    branch = re.sub(r"[^A-Za-z0-9<>=()/.-]", "-", payload).strip("-").replace("..", ".")
    project.branches.create({"branch": branch, "ref": "main"})
    project.files.update(
        "app.py", {"branch": branch, "content": payload + "\n", "commit_message": payload}
    )
    project.labels.create({"name": payload.replace(",", ""), "color": "#123456"})
    mr = project.mergerequests.create(
        {
            "source_branch": branch,
            "target_branch": "main",
            "title": payload,
            "description": payload,
            "labels": payload.replace(",", ""),
        }
    )
    mr.notes.create({"body": payload})
    base = f"/{project.path_with_namespace}/-/merge_requests"
    for client in (client_for(root()), client_for()):
        for page in ("", f"/{mr.iid}", f"/{mr.iid}/commits", f"/{mr.iid}/diffs"):
            response = client.get(base + page)
            assert response.status_code == 200, page
            assert_inert(response.content.decode())
    new = client_for(root()).get(
        f"{base}/new?merge_request[source_branch]={branch}&merge_request[target_branch]=main"
    )
    assert_inert(new.content.decode())
