"""Project and group labels through GitLab's API v4."""

from __future__ import annotations

from typing import Any

import gitlab
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kiln.labels.models import Label
from tests.conftest import ROOT_TOKEN
from tests.issues import builders as ib
from tests.projects import builders as b

PROJECT_LABEL_KEYS = [
    "id",
    "name",
    "description",
    "description_html",
    "text_color",
    "color",
    "archived",
    "open_issues_count",
    "closed_issues_count",
    "open_merge_requests_count",
    "subscribed",
    "priority",
    "is_project_label",
]


@pytest.fixture
def root(server_url: str) -> Any:
    return b.root_user()


@pytest.fixture
def group(root: Any) -> Any:
    return b.group(root, "lblgroup")


@pytest.fixture
def project(root: Any, group: Any) -> Any:
    return ib.project(root, namespace=group)


def test_project_label_crud(gl: gitlab.Gitlab, project: Any, server_url: str) -> None:
    p = gl.projects.get(project.pk)
    label = p.labels.create(
        {"name": "bug", "color": "#d9534f", "description": "Bug *reported*", "priority": 3}
    )
    assert label.attributes["color"] == "#d9534f"
    assert label.text_color == "#FFFFFF"
    assert label.description_html == "<p>Bug <em>reported</em></p>"
    assert label.priority == 3
    assert label.is_project_label is True
    named = p.labels.create({"name": "docs", "color": "lightgreen"})
    assert named.color == "#90ee90"
    assert named.text_color == "#1F1E24"
    api = b.Api(server_url, ROOT_TOKEN)
    listed = api.get(f"/projects/{project.pk}/labels", params={"with_counts": "true"}).json()
    assert [lb["name"] for lb in listed] == ["bug", "docs"]
    assert list(listed[0]) == PROJECT_LABEL_KEYS
    fetched = p.labels.get("bug")
    fetched.new_name = "defect"
    fetched.priority = None
    fetched.save()
    again = p.labels.get(label.id)
    assert again.name == "defect"
    assert again.priority is None
    duplicate = api.post(f"/projects/{project.pk}/labels", json={"name": "docs", "color": "red"})
    assert duplicate.status_code == 409
    assert duplicate.json() == {"message": "Label already exists"}
    p.labels.delete("docs")
    assert not Label.objects.filter(title="docs").exists()
    assert api.get(f"/projects/{project.pk}/labels/docs").json() == {
        "message": "404 Label Not Found"
    }
    response = api.put(f"/projects/{project.pk}/labels/defect", json={})
    assert response.json() == {
        "error": "new_name, color, description, priority, archived are missing, "
        "at least one parameter must be provided"
    }


def test_label_validation(project: Any, server_url: str) -> None:
    api = b.Api(server_url, ROOT_TOKEN)
    before = Label.objects.count()
    response = api.post(f"/projects/{project.pk}/labels", json={"name": "x", "color": "nope"})
    assert response.json() == {"message": {"color": ["must be a valid color code"]}}
    response = api.post(f"/projects/{project.pk}/labels", json={"name": "a,b", "color": "#fff"})
    assert response.json() == {"message": {"title": ["is invalid"]}}
    response = api.post(
        f"/projects/{project.pk}/labels", json={"name": "l" * 256, "color": "#ffffff"}
    )
    assert response.json() == {"message": {"title": ["is too long (maximum is 255 characters)"]}}
    response = api.post(f"/projects/{project.pk}/labels", json={"color": "#ffffff"})
    assert response.json() == {"error": "name is missing"}
    assert Label.objects.count() == before


def test_group_labels_reach_projects(
    gl: gitlab.Gitlab, group: Any, project: Any, server_url: str
) -> None:
    g = gl.groups.get(group.pk)
    g.labels.create({"name": "team", "color": "#123456"})
    p = gl.projects.get(project.pk)
    p.labels.create({"name": "local", "color": "#654321"})
    names = {lb.name: lb.is_project_label for lb in p.labels.list(get_all=True)}
    assert names == {"local": True, "team": False}
    only_project = p.labels.list(get_all=True, include_ancestor_groups=False)
    assert [lb.name for lb in only_project] == ["local"]
    issue = p.issues.create({"title": "uses group label", "labels": "team"})
    assert issue.labels == ["team"]
    assert [lb.name for lb in g.labels.list(get_all=True)] == ["team"]
    counted = g.labels.list(get_all=True, with_counts=True)[0]
    assert counted.open_issues_count == 1
    # A group label is not the project's to edit.
    api = b.Api(server_url, ROOT_TOKEN)
    assert api.put(f"/projects/{project.pk}/labels/team", json={"color": "#000000"}).json() == {
        "message": "404 Label Not Found"
    }


def test_promote_and_subscribe(gl: gitlab.Gitlab, project: Any, make_user: Any) -> None:
    p = gl.projects.get(project.pk)
    p.labels.create({"name": "promote-me", "color": "#abcdef"})
    issue = p.issues.create({"title": "labelled", "labels": "promote-me"})
    p.labels.get("promote-me").promote()
    label = p.labels.get("promote-me")
    assert label.is_project_label is False
    assert p.issues.get(issue.iid).labels == ["promote-me"]
    label.subscribe()
    assert p.labels.get("promote-me").subscribed is True
    with pytest.raises(gitlab.GitlabSubscribeError) as twice:
        label.subscribe()
    assert twice.value.response_code == 304
    label.unsubscribe()
    assert p.labels.get("promote-me").subscribed is False


def test_managing_labels_needs_planning_rights(
    project: Any, make_user: Any, root: Any, server_url: str
) -> None:
    guest, guest_gl = make_user("lblguest")
    ib.add_project_member(project, guest, ib.GUEST, by=root)
    api = b.Api(server_url, guest_gl.private_token)
    before = Label.objects.count()
    response = api.post(f"/projects/{project.pk}/labels", json={"name": "x", "color": "#fff"})
    assert response.status_code == 403
    assert response.json() == {"message": "403 Forbidden"}
    assert Label.objects.count() == before
    assert api.get(f"/projects/{project.pk}/labels").status_code == 200
    assert b.Api(server_url).get(f"/projects/{project.pk}/labels").status_code == 401


@pytest.mark.parametrize("path", ["/projects/{project}/labels", "/groups/{group}/labels"])
def test_label_list_query_budget(
    project: Any, group: Any, root: Any, server_url: str, path: str
) -> None:
    from kiln.labels.services import create_label

    for n in range(22):
        label = ib.label(project, root, f"label{n:02}")
        ib.issue(project, root, f"i{n}", labels=[label.title])
        create_label(actor=b.actor(root), parent=group, title=f"g{n:02}", color="#000000")
    url = "/api/v4" + path.format(project=project.pk, group=group.pk)

    def count(per_page: int) -> int:
        params = {"per_page": per_page, "with_counts": "true"}
        with CaptureQueriesContext(connection) as queries:
            response = Client().get(url, params, HTTP_PRIVATE_TOKEN=ROOT_TOKEN)
        assert response.status_code == 200
        assert len(response.json()) == per_page
        return len(queries)

    count(2)
    assert count(2) == count(20)
