"""Issues through GitLab's API v4: python-gitlab for behaviour, `requests` for exact bodies."""

from __future__ import annotations

import datetime as dt
from typing import Any

import gitlab
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kiln.core.access import Visibility
from kiln.issues.models import Issue
from kiln.notes.models import Note
from tests.conftest import ROOT_TOKEN
from tests.issues import builders as ib
from tests.projects import builders as b

# GitLab's Entities::Issue, in its order (`subscribed` only on single issues).
ISSUE_KEYS = [
    "id",
    "iid",
    "project_id",
    "title",
    "description",
    "state",
    "created_at",
    "updated_at",
    "closed_at",
    "closed_by",
    "labels",
    "milestone",
    "assignees",
    "author",
    "type",
    "assignee",
    "user_notes_count",
    "merge_requests_count",
    "upvotes",
    "downvotes",
    "due_date",
    "confidential",
    "discussion_locked",
    "issue_type",
    "web_url",
    "time_stats",
    "task_completion_status",
    "has_tasks",
    "_links",
    "references",
    "severity",
    "moved_to_id",
    "imported",
    "imported_from",
    "service_desk_reply_to",
]


@pytest.fixture
def root(server_url: str) -> Any:
    return b.root_user()


@pytest.fixture
def project(root: Any, server_url: str) -> Any:
    return ib.project(root, visibility=Visibility.PUBLIC)


def test_create_get_and_shape(gl: gitlab.Gitlab, project: Any, server_url: str) -> None:
    p = gl.projects.get(project.pk)
    milestone = p.milestones.create({"title": "v1.0"})
    created = p.issues.create(
        {
            "title": "Crash on start",
            "description": "- [x] one\n- [ ] two",
            "labels": "bug,backend",
            "milestone_id": milestone.id,
            "assignee_ids": [1],
            "due_date": "2031-03-05",
        }
    )
    assert created.iid == 1
    issue = p.issues.get(1)
    data = issue.attributes
    shape = [k for k in data if k not in ("subscribed", "task_status", "project_id")]
    assert [k for k in ISSUE_KEYS if k != "project_id"] == shape
    assert data["subscribed"] is True  # the author participates
    assert data["labels"] == ["backend", "bug"]
    assert data["milestone"]["title"] == "v1.0"
    assert data["assignees"][0]["username"] == "root"
    assert data["assignee"]["username"] == "root"
    assert data["due_date"] == "2031-03-05"
    assert data["references"] == {
        "short": "#1",
        "relative": "#1",
        "full": f"{project.full_path}#1",
    }
    assert data["web_url"] == f"{server_url}/{project.full_path}/-/issues/1"
    assert data["time_stats"] == {
        "time_estimate": 0,
        "total_time_spent": 0,
        "human_time_estimate": None,
        "human_total_time_spent": None,
    }
    assert data["task_completion_status"] == {"count": 2, "completed_count": 1}
    assert data["has_tasks"] is True
    assert data["task_status"] == "1 of 2 checklist items completed"
    assert data["_links"]["notes"].endswith(f"/api/v4/projects/{project.pk}/issues/1/notes")
    assert p.issues.create({"title": "Second"}).iid == 2
    # Labels that did not exist became project labels.
    assert sorted(lb.name for lb in p.labels.list(get_all=True)) == ["backend", "bug"]


def test_update_state_labels_and_system_notes(gl: gitlab.Gitlab, project: Any) -> None:
    p = gl.projects.get(project.pk)
    issue = p.issues.create({"title": "Old title", "labels": "a,b"})
    issue.title = "New title"
    issue.state_event = "close"
    issue.add_labels = ["c"]
    issue.remove_labels = ["a"]
    issue.save()
    fresh = p.issues.get(issue.iid)
    assert fresh.title == "New title"
    assert fresh.state == "closed"
    assert fresh.attributes["closed_by"]["username"] == "root"
    assert fresh.closed_at is not None
    assert fresh.labels == ["b", "c"]
    fresh.state_event = "reopen"
    fresh.milestone_id = 0
    fresh.save()
    again = p.issues.get(issue.iid)
    assert again.state == "opened"
    assert again.closed_at is None
    assert again.attributes["closed_by"] is None
    bodies = [n.body for n in again.notes.list(get_all=True, sort="asc")]
    assert bodies[0] == "changed title from **Old title** to **New title**"
    assert "closed" in bodies
    assert "reopened" in bodies
    assert any(body.startswith("added ~") and "removed ~" in body for body in bodies)
    label_events = again.resourcelabelevents.list(get_all=True)
    assert [(e.action, e.label["name"]) for e in label_events] == [
        ("add", "a"),
        ("add", "b"),
        ("add", "c"),
        ("remove", "a"),
    ]
    states = [e.state for e in again.resourcestateevents.list(get_all=True)]
    assert states == ["closed", "reopened"]


def test_update_needs_a_parameter(project: Any, root: Any, server_url: str) -> None:
    issue = ib.issue(project, root)
    api = b.Api(server_url, ROOT_TOKEN)
    response = api.put(f"/projects/{project.pk}/issues/{issue.iid}", json={})
    assert response.status_code == 400
    assert response.json()["error"].endswith("are missing, at least one parameter must be provided")
    assert response.json()["error"].startswith("assignee_id, assignee_ids, confidential")


def test_milestone_and_assignee_changes(gl: gitlab.Gitlab, project: Any, make_user: Any) -> None:
    dev, _ = make_user("dev1")
    ib.add_project_member(project, dev, ib.DEVELOPER, by=b.root_user())
    p = gl.projects.get(project.pk)
    m1 = p.milestones.create({"title": "m1"})
    issue = p.issues.create({"title": "x"})
    issue.milestone_id = m1.id
    issue.assignee_ids = [dev.pk]
    issue.due_date = "2030-01-02"
    issue.discussion_locked = True
    issue.save()
    fresh = p.issues.get(issue.iid)
    assert fresh.milestone["id"] == m1.id
    assert [a["username"] for a in fresh.assignees] == ["dev1"]
    assert fresh.discussion_locked is True
    bodies = {n.body for n in fresh.notes.list(get_all=True)}
    assert "changed milestone to %m1" in bodies
    assert "assigned to @dev1" in bodies
    assert "changed due date to January 2, 2030" in bodies
    assert "locked the discussion in this issue" in bodies
    events = fresh.resourcemilestoneevents.list(get_all=True)
    assert [(e.action, e.milestone["title"]) for e in events] == [("add", "m1")]


def test_author_without_planning_rights_cannot_set_metadata(project: Any, make_user: Any) -> None:
    _, client = make_user("outsider")
    p = client.projects.get(project.pk)
    issue = p.issues.create({"title": "from a user", "labels": "urgent", "assignee_ids": [1]})
    # GitLab drops metadata a non-member may not set, silently.
    assert issue.labels == []
    assert issue.assignees == []
    issue.title = "renamed by its author"
    issue.save()
    assert p.issues.get(issue.iid).title == "renamed by its author"


def test_filters(gl: gitlab.Gitlab, project: Any, root: Any, make_user: Any) -> None:
    other, other_client = make_user("filterer")
    p = gl.projects.get(project.pk)
    today = dt.date.today()
    started = p.milestones.create(
        {"title": "started", "start_date": str(today - dt.timedelta(days=3))}
    )
    upcoming = p.milestones.create(
        {"title": "upcoming", "due_date": str(today + dt.timedelta(days=10))}
    )
    a = p.issues.create({"title": "alpha bug", "labels": "bug", "milestone_id": started.id})
    bb = p.issues.create(
        {
            "title": "beta",
            "description": "has needle",
            "labels": "bug,ui",
            "milestone_id": upcoming.id,
            "assignee_ids": [1],
        }
    )
    c = other_client.projects.get(project.pk).issues.create(
        {"title": "gamma", "confidential": True}
    )
    c_as_root = p.issues.get(c.iid)
    c_as_root.state_event = "close"
    c_as_root.save()

    def iids(**params: Any) -> list[int]:
        return sorted(i.iid for i in p.issues.list(get_all=True, **params))

    assert iids() == [a.iid, bb.iid, c.iid]
    assert iids(state="opened") == [a.iid, bb.iid]
    assert iids(state="closed") == [c.iid]
    assert iids(labels="bug") == [a.iid, bb.iid]
    assert iids(labels="bug,ui") == [bb.iid]
    assert iids(labels="None") == [c.iid]
    assert iids(labels="Any") == [a.iid, bb.iid]
    assert iids(milestone="started") == [a.iid]
    assert iids(milestone="None") == [c.iid]
    assert iids(milestone="Any") == [a.iid, bb.iid]
    assert iids(milestone_id="Upcoming") == [bb.iid]
    assert iids(milestone_id="Started") == [a.iid]
    assert iids(assignee_id="None") == [a.iid, c.iid]
    assert iids(assignee_id="Any") == [bb.iid]
    assert iids(assignee_id=1) == [bb.iid]
    assert iids(assignee_username="root") == [bb.iid]
    assert iids(author_id=other.pk) == [c.iid]
    assert iids(author_username="filterer") == [c.iid]
    assert iids(search="needle") == [bb.iid]
    assert iids(search="needle", **{"in": "title"}) == []
    assert iids(search="alpha") == [a.iid]
    assert iids(confidential=True) == [c.iid]
    assert iids(iids=[a.iid, c.iid]) == [a.iid, c.iid]
    assert iids(scope="created_by_me") == [a.iid, bb.iid]
    assert iids(scope="assigned_to_me") == [bb.iid]
    assert iids(**{"not[labels]": "ui"}) == [a.iid, c.iid]
    assert iids(created_after=(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()) == []
    assert iids(updated_before=(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()) == []
    ordered = [i.iid for i in p.issues.list(get_all=True, order_by="title", sort="asc")]
    assert ordered == [a.iid, bb.iid, c.iid]
    ordered = [i.iid for i in p.issues.list(get_all=True, order_by="created_at", sort="desc")]
    assert ordered == [c.iid, bb.iid, a.iid]


def test_invalid_filter_values(project: Any, server_url: str) -> None:
    api = b.Api(server_url, ROOT_TOKEN)
    response = api.get(f"/projects/{project.pk}/issues", params={"state": "weird"})
    assert response.status_code == 400
    assert response.json() == {"error": "state does not have a valid value"}
    response = api.get(f"/projects/{project.pk}/issues", params={"order_by": "nope"})
    assert response.json() == {"error": "order_by does not have a valid value"}


def test_global_and_group_lists(root: Any, server_url: str, make_user: Any) -> None:
    group = b.group(root, "planning")
    sub = b.group(root, "sub", parent=group)
    top_project = ib.project(root, namespace=group)
    sub_project = ib.project(root, namespace=sub)
    ib.issue(top_project, root, "top")
    ib.issue(sub_project, root, "deep")
    user, client = make_user("lister")
    ib.issue(top_project, user, "mine")
    api = b.Api(server_url, ROOT_TOKEN)
    titles = sorted(i["title"] for i in api.get(f"/groups/{group.pk}/issues").json())
    assert titles == ["deep", "mine", "top"]
    # /issues defaults to the caller's own issues; scope=all widens it.
    assert [i.title for i in client.issues.list(get_all=True)] == ["mine"]
    everything = {i.title for i in client.issues.list(get_all=True, scope="all")}
    assert {"deep", "mine", "top"} <= everything
    anon = b.Api(server_url)
    assert anon.get("/issues").status_code == 401
    assert anon.get("/issues", params={"scope": "all"}).status_code == 200


def test_issues_statistics(project: Any, root: Any, server_url: str) -> None:
    first = ib.issue(project, root, "one")
    ib.issue(project, root, "two")
    from kiln.issues.services import update_issue

    update_issue(actor=b.actor(root), issue=first, state_event="close")
    api = b.Api(server_url, ROOT_TOKEN)
    body = api.get(f"/projects/{project.pk}/issues_statistics").json()
    assert body == {"statistics": {"counts": {"all": 2, "opened": 1, "closed": 1}}}
    body = api.get("/issues_statistics", params={"scope": "all"}).json()
    assert body["statistics"]["counts"]["all"] >= 2


def test_delete_needs_owner(project: Any, root: Any, make_user: Any, server_url: str) -> None:
    maintainer, client = make_user("maint")
    ib.add_project_member(project, maintainer, ib.MAINTAINER, by=root)
    issue = ib.issue(project, root)
    with pytest.raises(gitlab.GitlabDeleteError) as refused:
        client.projects.get(project.pk).issues.delete(issue.iid)
    assert refused.value.response_code == 403
    assert Issue.objects.filter(pk=issue.pk).exists()
    api = b.Api(server_url, ROOT_TOKEN)
    assert api.delete(f"/projects/{project.pk}/issues/{issue.iid}").status_code == 204
    assert not Issue.objects.filter(pk=issue.pk).exists()
    assert api.get(f"/projects/{project.pk}/issues/{issue.iid}").json() == {
        "message": "404 Not found"
    }


def test_move(gl: gitlab.Gitlab, root: Any, project: Any) -> None:
    target = ib.project(root)
    p = gl.projects.get(project.pk)
    p.labels.create({"name": "bug", "color": "#00ff00"})
    gl.projects.get(target.pk).labels.create({"name": "bug", "color": "#0000ff"})
    issue = p.issues.create({"title": "moving", "labels": "bug,only-here"})
    issue.notes.create({"body": "a comment"})
    original_iid = issue.iid
    issue.move(target.pk)  # python-gitlab takes the moved issue's attributes
    moved = issue.attributes
    assert moved["project_id"] == target.pk
    assert moved["labels"] == ["bug"]
    old = p.issues.get(original_iid)
    assert old.state == "closed"
    assert old.moved_to_id == moved["id"]
    new = gl.projects.get(target.pk).issues.get(moved["iid"])
    bodies = [n.body for n in new.notes.list(get_all=True, sort="asc")]
    assert "a comment" in bodies
    assert bodies[-1] == f"moved from {project.full_path}#{original_iid}"
    with pytest.raises(gitlab.GitlabUpdateError) as same:
        new.move(target.pk)
    assert same.value.response_code == 400
    assert "Cannot move issue to project it originates from!" in str(same.value)


def test_links(gl: gitlab.Gitlab, root: Any, project: Any) -> None:
    p = gl.projects.get(project.pk)
    one = p.issues.create({"title": "one"})
    two = p.issues.create({"title": "two"})
    source, target = one.links.create(
        {"target_project_id": project.pk, "target_issue_iid": two.iid, "link_type": "blocks"}
    )
    assert source.iid == one.iid
    assert target.iid == two.iid
    linked = one.links.list()
    assert [(i.iid, i.link_type) for i in linked] == [(two.iid, "blocks")]
    assert [(i.iid, i.link_type) for i in two.links.list()] == [(one.iid, "is_blocked_by")]
    with pytest.raises(gitlab.GitlabCreateError) as again:
        one.links.create({"target_project_id": project.pk, "target_issue_iid": two.iid})
    assert again.value.response_code == 409
    one.links.delete(linked[0].issue_link_id)
    assert one.links.list() == []
    assert "marked this issue as blocking #2" in [n.body for n in one.notes.list(get_all=True)]


def test_subscribe_participants_time_stats(gl: gitlab.Gitlab, project: Any, make_user: Any) -> None:
    _, client = make_user("watcher")
    issue = gl.projects.get(project.pk).issues.create({"title": "watch me"})
    mine = client.projects.get(project.pk).issues.get(issue.iid)
    assert mine.subscribed is False
    mine.subscribe()
    assert mine.subscribed is True
    with pytest.raises(gitlab.GitlabSubscribeError) as twice:
        mine.subscribe()
    assert twice.value.response_code == 304
    mine.unsubscribe()
    assert client.projects.get(project.pk).issues.get(issue.iid).subscribed is False
    mine.notes.create({"body": "me too"})
    assert [u["username"] for u in mine.participants()] == ["root", "watcher"]
    assert mine.time_stats()["time_estimate"] == 0


def test_render_html(gl: gitlab.Gitlab, project: Any, server_url: str) -> None:
    p = gl.projects.get(project.pk)
    first = p.issues.create({"title": "first"})
    second = p.issues.create({"title": "see #1 `code`", "description": "**bold** see #1"})
    api = b.Api(server_url, ROOT_TOKEN)
    body = api.get(
        f"/projects/{project.pk}/issues/{second.iid}", params={"render_html": "true"}
    ).json()
    assert "<strong>bold</strong>" in body["description_html"]
    assert (
        f'href="{server_url}/{project.full_path}/-/issues/{first.iid}"' in body["description_html"]
    )
    assert "<code>code</code>" in body["title_html"]
    assert body["description"] == "**bold** see #1"
    # Referencing an issue leaves "mentioned in" on it.
    notes = [n.body for n in p.issues.get(first.iid).notes.list(get_all=True)]
    assert "mentioned in issue #2" in notes


def test_admin_get_by_id(project: Any, root: Any, server_url: str, make_user: Any) -> None:
    issue = ib.issue(project, root)
    api = b.Api(server_url, ROOT_TOKEN)
    assert api.get(f"/issues/{issue.pk}").json()["iid"] == issue.iid
    _, client = make_user("plain")
    response = b.Api(server_url, client.private_token).get(f"/issues/{issue.pk}")
    assert response.status_code == 403


# -- query budgets -----------------------------------------------------------------------------


def _query_count(path: str, params: dict[str, Any]) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as queries:
        response = Client().get(path, params, HTTP_PRIVATE_TOKEN=ROOT_TOKEN)
    assert response.status_code == 200, response.content
    return len(queries), response.json()


@pytest.mark.parametrize(
    "path", ["/projects/{project}/issues", "/groups/{group}/issues", "/issues"]
)
def test_list_query_budget(root: Any, server_url: str, path: str, make_user: Any) -> None:
    group = b.group(root, "budgetgrp")
    project = ib.project(root, namespace=group)
    dev, _ = make_user("budgetdev")
    ib.add_project_member(project, dev, ib.DEVELOPER, by=root)
    milestone = ib.milestone(project, root, "m")
    for n in range(22):
        issue = ib.issue(
            project,
            root,
            f"issue {n}",
            labels=["x", f"l{n % 3}"],
            assignee_ids=[dev.pk, root.pk],
            milestone_id=milestone.pk,
        )
        ib.note(issue, root, "a note")
    url = "/api/v4" + path.format(project=project.pk, group=group.pk)
    _query_count(url, {"per_page": 2})
    small, body = _query_count(url, {"per_page": 2})
    assert len(body) == 2
    large, body = _query_count(url, {"per_page": 20})
    assert len(body) == 20
    assert large == small, (small, large)
    assert Note.objects.filter(noteable_type="Issue").count() >= 22
