"""Project and group milestones through GitLab's API v4."""

from __future__ import annotations

import datetime as dt
from typing import Any

import gitlab
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kiln.milestones.models import Milestone
from tests.conftest import ROOT_TOKEN
from tests.issues import builders as ib
from tests.projects import builders as b

MILESTONE_KEYS = [
    "id",
    "iid",
    "project_id",
    "title",
    "description",
    "state",
    "created_at",
    "updated_at",
    "due_date",
    "start_date",
    "expired",
    "web_url",
]


@pytest.fixture
def root(server_url: str) -> Any:
    return b.root_user()


@pytest.fixture
def group(root: Any) -> Any:
    return b.group(root, "msgroup")


@pytest.fixture
def project(root: Any, group: Any) -> Any:
    return ib.project(root, namespace=group)


def test_project_milestone_crud(gl: gitlab.Gitlab, project: Any, server_url: str) -> None:
    p = gl.projects.get(project.pk)
    first = p.milestones.create(
        {
            "title": "v1.0",
            "description": "first",
            "start_date": "2030-01-01",
            "due_date": "2030-02-01",
        }
    )
    keys = [k for k in first.attributes if k != "project_id"]
    assert keys == [k for k in MILESTONE_KEYS if k != "project_id"]
    assert first.attributes["project_id"] == project.pk
    assert (first.iid, first.state, first.expired) == (1, "active", False)
    assert first.web_url == f"{server_url}/{project.full_path}/-/milestones/1"
    second = p.milestones.create({"title": "v0.9", "due_date": "2001-01-01"})
    assert (second.iid, second.expired) == (2, True)
    second.state_event = "close"
    second.save()
    assert p.milestones.get(second.id).state == "closed"
    assert [m.title for m in p.milestones.list(get_all=True, state="active")] == ["v1.0"]
    assert [m.title for m in p.milestones.list(get_all=True, search="v0")] == ["v0.9"]
    assert [m.title for m in p.milestones.list(get_all=True, iids=[1])] == ["v1.0"]
    assert [m.title for m in p.milestones.list(get_all=True, title="v1.0")] == ["v1.0"]
    api = b.Api(server_url, ROOT_TOKEN)
    duplicate = api.post(f"/projects/{project.pk}/milestones", json={"title": "v1.0"})
    assert duplicate.status_code == 400
    assert duplicate.json() == {
        "message": 'Failed to create milestone {:title=>["has already been taken"]}'
    }
    backwards = api.post(
        f"/projects/{project.pk}/milestones",
        json={"title": "bad", "start_date": "2030-02-01", "due_date": "2030-01-01"},
    )
    assert backwards.json() == {
        "message": 'Failed to create milestone {:due_date=>["must be greater than start date"]}'
    }
    too_long = api.post(f"/projects/{project.pk}/milestones", json={"title": "m" * 256})
    assert too_long.json() == {
        "message": "Failed to create milestone "
        '{:title=>["is too long (maximum is 255 characters)"]}'
    }
    assert Milestone.objects.filter(project=project).count() == 2
    empty = api.put(f"/projects/{project.pk}/milestones/{first.id}", json={})
    assert empty.status_code == 400
    p.milestones.delete(second.id)
    assert api.get(f"/projects/{project.pk}/milestones/{second.id}").json() == {
        "message": "404 Not found"
    }


def test_milestone_issues_and_group_milestones(
    gl: gitlab.Gitlab, group: Any, project: Any, root: Any
) -> None:
    g = gl.groups.get(group.pk)
    shared = g.milestones.create({"title": "Q1"})
    assert shared.group_id == group.pk
    p = gl.projects.get(project.pk)
    issue = p.issues.create({"title": "planned", "milestone_id": shared.id})
    p.issues.create({"title": "unplanned"})
    assert [i.title for i in g.milestones.get(shared.id).issues()] == ["planned"]
    assert issue.milestone["title"] == "Q1"
    assert [m.title for m in p.milestones.list(get_all=True, include_parent_milestones=True)] == [
        "Q1"
    ]
    assert p.milestones.list(get_all=True) == []
    # A milestone of another group is not assignable: ignored, as GitLab ignores it.
    other = b.group(root, "othergroup")
    foreign = ib.milestone(other, root, "foreign")
    issue.milestone_id = foreign.pk
    issue.save()
    assert p.issues.get(issue.iid).milestone["title"] == "Q1"


def test_promote(gl: gitlab.Gitlab, project: Any, group: Any) -> None:
    p = gl.projects.get(project.pk)
    milestone = p.milestones.create({"title": "promote me"})
    issue = p.issues.create({"title": "in it", "milestone_id": milestone.id})
    milestone.promote()
    promoted = gl.groups.get(group.pk).milestones.list(get_all=True)
    assert [m.title for m in promoted] == ["promote me"]
    assert p.issues.get(issue.iid).milestone["group_id"] == group.pk
    assert p.milestones.list(get_all=True) == []


def test_milestones_need_a_user_and_planning_rights(
    project: Any, make_user: Any, root: Any, server_url: str
) -> None:
    assert b.Api(server_url).get(f"/projects/{project.pk}/milestones").status_code == 401
    guest, guest_gl = make_user("msguest")
    ib.add_project_member(project, guest, ib.GUEST, by=root)
    api = b.Api(server_url, guest_gl.private_token)
    assert api.get(f"/projects/{project.pk}/milestones").status_code == 200
    response = api.post(f"/projects/{project.pk}/milestones", json={"title": "nope"})
    assert response.status_code == 403
    assert not Milestone.objects.filter(title="nope").exists()


@pytest.mark.parametrize("path", ["/projects/{project}/milestones", "/groups/{group}/milestones"])
def test_milestone_list_query_budget(project: Any, group: Any, root: Any, path: str) -> None:
    for n in range(22):
        ib.milestone(project, root, f"m{n:02}", due_date=dt.date(2030, 1, 1 + n % 27))
        ib.milestone(group, root, f"g{n:02}")
    url = "/api/v4" + path.format(project=project.pk, group=group.pk)

    def count(per_page: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = Client().get(url, {"per_page": per_page}, HTTP_PRIVATE_TOKEN=ROOT_TOKEN)
        assert len(response.json()) == per_page
        return len(queries)

    count(2)
    assert count(2) == count(20)
