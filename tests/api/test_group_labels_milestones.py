"""Group labels and group milestones through python-gitlab: read, change, subscribe, delete
(the endpoints the API shares with project labels and milestones)."""

from __future__ import annotations

from typing import Any

import gitlab
import pytest

from kiln.core.access import Visibility
from tests.conftest import ROOT_TOKEN
from tests.projects import builders as b


@pytest.fixture
def group(server_url: str) -> Any:
    return b.group(b.root_user(), "sharedgroup", visibility=Visibility.PRIVATE)


def test_group_label_read_change_subscribe_delete(
    gl: gitlab.Gitlab, group: Any, server_url: str
) -> None:
    g = gl.groups.get(group.pk)
    g.labels.create({"name": "triage", "color": "#112233", "priority": 5})
    label = g.labels.get("triage")
    assert label.color == "#112233"
    # A group label has no priority (what was sent is ignored) and is no project's.
    assert {"priority", "is_project_label"}.isdisjoint(label.attributes)
    # python-gitlab's GroupLabel.save() uses the deprecated `PUT /groups/:id/labels` (the label
    # named in the body), which GitLab still serves.
    label.new_name = "triaged"
    label.description = "Looked at"
    label.save()
    changed = g.labels.get("triaged")
    assert (changed.description, changed.color) == ("Looked at", "#112233")
    api = b.Api(server_url, ROOT_TOKEN)
    renamed = api.put(f"/groups/{group.pk}/labels/triaged", json={"description": "Again"})
    assert renamed.status_code == 200
    assert g.labels.get("triaged").description == "Again"
    unnamed = api.put(f"/groups/{group.pk}/labels", json={"description": "x"})
    assert unnamed.status_code == 400
    assert api.put(
        f"/groups/{group.pk}/labels", json={"name": "nope", "color": "#000000"}
    ).json() == {"message": "404 Label Not Found"}
    assert api.put(f"/groups/{group.pk}/labels/triaged", json={"priority": 1}).json() == {
        "error": "new_name, color, description, archived are missing, at least one parameter "
        "must be provided"
    }
    changed.subscribe()
    assert g.labels.get("triaged").subscribed is True
    again = api.post(f"/groups/{group.pk}/labels/triaged/subscribe")
    assert again.status_code == 304
    changed.unsubscribe()
    assert g.labels.get("triaged").subscribed is False
    # Deleting through the deprecated route (the label named in the body).
    g.labels.create({"name": "stale", "color": "#445566"})
    assert api.delete(f"/groups/{group.pk}/labels", json={"name": "stale"}).status_code == 204
    assert "stale" not in [lb.name for lb in g.labels.list(get_all=True)]
    g.labels.delete("triaged")
    assert api.get(f"/groups/{group.pk}/labels/triaged").json() == {
        "message": "404 Label Not Found"
    }


def test_group_milestone_read_change_delete(
    gl: gitlab.Gitlab, group: Any, server_url: str, make_user: Any
) -> None:
    g = gl.groups.get(group.pk)
    milestone = g.milestones.create({"title": "v1", "due_date": "2031-01-31"})
    assert g.milestones.get(milestone.id).due_date == "2031-01-31"
    milestone.title = "v1.0"
    milestone.state_event = "close"
    milestone.save()
    fetched = g.milestones.get(milestone.id)
    assert (fetched.title, fetched.state) == ("v1.0", "closed")
    assert [m.title for m in g.milestones.list(get_all=True, state="closed")] == ["v1.0"]
    _, outsider = make_user("ms-outsider")
    with pytest.raises(gitlab.GitlabGetError) as hidden:
        outsider.groups.get(group.pk, lazy=True).milestones.get(milestone.id)
    assert hidden.value.response_code == 404
    g.milestones.delete(milestone.id)
    api = b.Api(server_url, ROOT_TOKEN)
    assert api.get(f"/groups/{group.pk}/milestones/{milestone.id}").status_code == 404
