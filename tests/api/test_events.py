"""Activity events through GitLab's API v4: pushes, issues, comments; who sees which."""

from __future__ import annotations

from typing import Any

import gitlab
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kiln.core.access import Visibility
from tests.conftest import ROOT_TOKEN
from tests.issues import builders as ib
from tests.projects import builders as b

EVENT_KEYS = [
    "id",
    "project_id",
    "action_name",
    "target_id",
    "target_iid",
    "target_type",
    "author_id",
    "target_title",
    "created_at",
    "author",
    "imported",
    "imported_from",
    "author_username",
]


@pytest.fixture
def root(server_url: str) -> Any:
    return b.root_user()


def test_push_issue_and_note_events(gl: gitlab.Gitlab, root: Any, server_url: str) -> None:
    project = ib.project(root)
    p = gl.projects.get(project.pk)
    p.files.create(
        {"file_path": "a.txt", "branch": "main", "content": "a", "commit_message": "First commit"}
    )
    issue = p.issues.create({"title": "Eventful"})
    issue.notes.create({"body": "commenting"})
    issue.state_event = "close"
    issue.save()
    events = p.events.list(get_all=True)
    assert [e.action_name for e in events] == ["closed", "commented on", "created", "pushed new"]
    raw = b.Api(server_url, ROOT_TOKEN).get(f"/projects/{project.pk}/events").json()
    assert [k for k in raw[2] if k in EVENT_KEYS] == EVENT_KEYS
    push = raw[3]["push_data"]
    assert (push["action"], push["ref"], push["ref_type"], push["commit_count"]) == (
        "created",
        "main",
        "branch",
        1,
    )
    assert push["commit_title"] == "First commit"
    comment = raw[1]
    assert comment["target_type"] == "Note"
    assert comment["note"]["body"] == "commenting"
    assert raw[2]["target_iid"] == issue.iid
    assert [e.action_name for e in p.events.list(get_all=True, action="closed")] == ["closed"]
    assert [e.action_name for e in p.events.list(get_all=True, target_type="note")] == [
        "commented on"
    ]
    mine = gl.events.list(get_all=True)
    assert len(mine) >= 4
    assert [e.action_name for e in gl.users.get(root.pk).events.list(get_all=True)][:1] == [
        "closed"
    ]
    assert p.events.list(get_all=True, sort="asc")[0].action_name == "pushed new"


def test_events_follow_visibility(root: Any, server_url: str, make_user: Any) -> None:
    private = ib.project(root, visibility=Visibility.PRIVATE)
    public = ib.project(root, visibility=Visibility.PUBLIC)
    ib.issue(private, root, "hidden")
    ib.issue(public, root, "shown")
    secret = ib.issue(public, root, "confidential one", confidential=True)
    ib.note(secret, root, "secret note")
    guest, guest_gl = make_user("eventguest")
    ib.add_project_member(public, guest, ib.GUEST, by=root)
    api = b.Api(server_url, guest_gl.private_token)
    titles = [e["target_title"] for e in api.get(f"/users/{root.pk}/events").json()]
    assert titles == ["shown"]
    assert api.get(f"/projects/{private.pk}/events").json() == {"message": "404 Project Not Found"}
    anon = b.Api(server_url)
    assert [e["target_title"] for e in anon.get(f"/projects/{public.pk}/events").json()] == [
        "shown"
    ]
    assert anon.get("/events").status_code == 401


def test_private_code_hides_push_events_from_guests(
    gl: gitlab.Gitlab, root: Any, server_url: str, make_user: Any
) -> None:
    project = ib.project(root, visibility=Visibility.PRIVATE)
    gl.projects.get(project.pk).files.create(
        {"file_path": "a.txt", "branch": "main", "content": "a", "commit_message": "code"}
    )
    guest, guest_gl = make_user("pushguest")
    ib.add_project_member(project, guest, ib.GUEST, by=root)
    events = b.Api(server_url, guest_gl.private_token).get(f"/projects/{project.pk}/events").json()
    assert events == []
    reporter, reporter_gl = make_user("pushreporter")
    ib.add_project_member(project, reporter, ib.REPORTER, by=root)
    events = (
        b.Api(server_url, reporter_gl.private_token).get(f"/projects/{project.pk}/events").json()
    )
    assert [e["action_name"] for e in events] == ["pushed new"]


@pytest.mark.parametrize("path", ["/projects/{project}/events", "/events", "/users/1/events"])
def test_event_list_query_budget(root: Any, path: str) -> None:
    project = ib.project(root)
    for n in range(12):
        issue = ib.issue(project, root, f"e{n}")
        ib.note(issue, root, "n")
    url = "/api/v4" + path.format(project=project.pk)

    def count(per_page: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = Client().get(url, {"per_page": per_page}, HTTP_PRIVATE_TOKEN=ROOT_TOKEN)
        assert len(response.json()) == per_page
        return len(queries)

    count(2)
    assert count(2) == count(20)
