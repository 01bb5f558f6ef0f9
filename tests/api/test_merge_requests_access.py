"""Who sees which merge requests, hostile text rendered inert, and query budgets of the lists."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import gitlab
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.conftest import ROOT_TOKEN
from tests.merge_requests.support import api, call, open_mr, project_with_branch
from tests.repositories.support import commit_files

XSS = "<script>alert(1)</script><img src=x onerror=alert(2)><svg onload=alert(3)>"
XSS_DESCRIPTION = (
    f"{XSS}\n\n[click](javascript:alert(4)) [data](data:text/html,<script>alert(5)</script>)\n\n"
    "&lt;script&gt;alert(6)&lt;/script&gt;\n\n```mermaid\ngraph TD; A-->B; click A callback\n```"
)


_EVENT_ATTRIBUTE = re.compile(r"<[a-z][^>]*\son\w+\s*=", re.IGNORECASE)
_BAD_URL = re.compile(r"(?:href|src)\s*=\s*[\"']?\s*(?:javascript|data|vbscript):", re.IGNORECASE)


def _inert(html: str) -> None:
    """No live script: no script or svg element, no event handler, no script URL."""
    lowered = html.lower()
    assert "<script" not in lowered, html
    assert "<svg" not in lowered, html
    assert _EVENT_ATTRIBUTE.search(html) is None, html
    assert _BAD_URL.search(html) is None, html


def test_private_merge_requests_are_not_reachable_by_id(
    gl: gitlab.Gitlab, server_url: str, make_user: Callable[..., Any]
) -> None:
    project = project_with_branch(gl, "secret-mrs")
    mr = open_mr(project)
    group = gl.groups.create({"name": "open-group", "path": "open-group", "visibility": "public"})
    _, outsider_gl = make_user("mr-outsider")
    outsider = api(server_url, outsider_gl.private_token)
    anonymous = api(server_url, None)
    base = f"/projects/{project.id}/merge_requests"
    for session in (outsider, anonymous):
        for path in (base, f"{base}/{mr.iid}", f"{base}/{mr.iid}/changes",
                     f"{base}/{mr.iid}/diffs", f"{base}/{mr.iid}/versions",
                     f"{base}/{mr.iid}/approvals", f"{base}/{mr.iid}/commits"):  # fmt: skip
            response = call(session, "GET", path)
            assert response.status_code == 404, path
            assert response.json() == {"message": "404 Project Not Found"}
        merge = call(session, "PUT", f"{base}/{mr.iid}/merge")
        assert merge.status_code in (401, 404)
    everywhere = call(outsider, "GET", "/merge_requests?scope=all")
    assert everywhere.status_code == 200
    assert all(item["project_id"] != project.id for item in everywhere.json())
    assert call(anonymous, "GET", "/merge_requests").status_code == 401
    assert call(outsider, "GET", f"/groups/{group.id}/merge_requests").json() == []


def test_guest_of_private_project_is_forbidden(
    gl: gitlab.Gitlab, server_url: str, make_user: Callable[..., Any]
) -> None:
    project = project_with_branch(gl, "guest-mrs")
    open_mr(project)
    guest, guest_gl = make_user("mr-guest")
    project.members.create({"user_id": guest.pk, "access_level": 10})
    session = api(server_url, guest_gl.private_token)
    listed = call(session, "GET", f"/projects/{project.id}/merge_requests")
    assert (listed.status_code, listed.json()) == (403, {"message": "403 Forbidden"})
    assert call(session, "GET", f"/projects/{project.id}/merge_requests/1").status_code == 403


def test_public_project_merge_requests_for_anonymous(
    gl: gitlab.Gitlab, anon_gl: gitlab.Gitlab
) -> None:
    project = project_with_branch(gl, "public-mrs", visibility="public")
    mr = open_mr(project)
    seen = anon_gl.projects.get(project.id).mergerequests.get(mr.iid)
    assert seen.title == mr.title
    assert seen.user == {"can_merge": False}
    assert [m.iid for m in anon_gl.mergerequests.list(scope="all")] == [mr.iid]


def test_hostile_text_is_inert(gl: gitlab.Gitlab, server_url: str) -> None:
    from kiln.notes.models import Note

    branch = "xss<img/src=x/onerror=alert(1)>"
    project = project_with_branch(gl, "xss-mrs", branch=branch)
    project.branches.create({"branch": "xss\"'><svg/onload=alert(7)>", "ref": "main"})
    mr = open_mr(project, source=branch, title=XSS, description=XSS_DESCRIPTION)
    assert mr.title == XSS  # stored and returned as text (JSON), never as markup
    session = api(server_url, ROOT_TOKEN)
    response = call(session, "GET", f"/projects/{project.id}/merge_requests/1?render_html=true")
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    _inert(body["title_html"])
    _inert(body["description_html"])
    assert "&lt;script&gt;" in body["title_html"]
    # System notes that quote titles and branch names render inert too.
    mr.title = f"{XSS} again"
    mr.target_branch = "xss\"'><svg/onload=alert(7)>"
    mr.save()
    notes = Note.objects.filter(noteable_type="MergeRequest", noteable_id=mr.id, system=True)
    assert notes.count() >= 2
    for note in notes:
        _inert(note.body_html)
    discussions = call(session, "GET", f"/projects/{project.id}/merge_requests/1/notes")
    assert discussions.status_code == 200


def test_list_query_budget(gl: gitlab.Gitlab, make_user: Callable[..., Any]) -> None:
    group = gl.groups.create(
        {"name": "budget-group", "path": "budget-group", "visibility": "internal"}
    )
    project = project_with_branch(gl, "budget", visibility="internal", namespace_id=group.id)
    labels = ["a", "b"]
    reviewer, _ = make_user("mr-budget-reviewer")
    project.members.create({"user_id": reviewer.pk, "access_level": 30})
    for index in range(21):
        name = f"b{index}"
        project.branches.create({"branch": name, "ref": "main"})
        commit_files(project, {f"{name}.txt": name}, branch=name)
        open_mr(
            project,
            source=name,
            title=f"MR {index}",
            labels=",".join(labels),
            assignee_ids=[1],
            reviewer_ids=[reviewer.pk],
        )
    client = Client(HTTP_PRIVATE_TOKEN=ROOT_TOKEN)

    def count(path: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path)
        assert response.status_code == 200, response.content
        return len(ctx.captured_queries)

    for path in (
        f"/api/v4/projects/{project.id}/merge_requests",
        "/api/v4/merge_requests?scope=all",
        f"/api/v4/groups/{group.id}/merge_requests",
    ):
        small = count(f"{path}{'&' if '?' in path else '?'}per_page=2")
        large = count(f"{path}{'&' if '?' in path else '?'}per_page=20")
        # Measured: 11-13 queries whatever the page size (GitLab's budget is "does not grow").
        assert large <= small, (path, small, large)
        assert large <= 16, (path, large)


@pytest.mark.parametrize("scope", ["created_by_me", "assigned_to_me"])
def test_global_scopes(gl: gitlab.Gitlab, scope: str) -> None:
    project = project_with_branch(gl, f"scopes-{scope}")
    open_mr(project, assignee_ids=[1] if scope == "assigned_to_me" else None)
    found = gl.mergerequests.list(scope=scope, get_all=True)
    assert [m.project_id for m in found] == [project.id]


def test_members_only_merge_requests_of_a_public_project(
    gl: gitlab.Gitlab, server_url: str, make_user: Callable[..., Any]
) -> None:
    project = project_with_branch(gl, "members-only", visibility="public")
    project.merge_requests_access_level = "private"
    project.save()
    mr = open_mr(project)
    _, outsider_gl = make_user("mr-members-only")
    outsider = api(server_url, outsider_gl.private_token)
    base = f"/projects/{project.id}/merge_requests"
    assert call(outsider, "GET", base).status_code == 403
    assert call(outsider, "GET", f"{base}/{mr.iid}").status_code == 403
    events = call(outsider, "GET", f"/projects/{project.id}/events").json()
    assert all(e["target_type"] != "MergeRequest" for e in events)
    mine = call(api(server_url, ROOT_TOKEN), "GET", f"/projects/{project.id}/events").json()
    assert any(e["target_type"] == "MergeRequest" for e in mine)
