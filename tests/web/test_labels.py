"""Label pages: list with counts and priorities, new, edit, delete; Planners and above only;
hostile titles inert."""

from __future__ import annotations

from typing import Any

import gitlab

from tests.web.test_issues import HOSTILE, assert_inert, client_for, root


def test_labels_crud_and_priority(gl: gitlab.Gitlab) -> None:
    project = gl.projects.create({"name": "Tags"})
    base = f"/{project.path_with_namespace}/-/labels"
    owner = client_for(root())
    assert "Use labels to divide" in owner.get(base).content.decode()
    assert 'name="label[color]"' in owner.get(f"{base}/new").content.decode()
    response = owner.post(
        base, {"label[title]": "bug", "label[color]": "red", "label[description]": "*Broken*"}
    )
    assert response.status_code == 302
    label = project.labels.list()[0]
    assert (label.name, label.color) == ("bug", "#ff0000")
    project.issues.create({"title": "One", "labels": "bug"})
    page = owner.get(base).content.decode()
    assert "<em>Broken</em>" in page
    assert 'fill="#ff0000"' in page
    assert 'Issues <span class="badge">1</span>' in page
    duplicate = owner.post(base, {"label[title]": "bug", "label[color]": "#00ff00"})
    assert duplicate.status_code == 400
    assert "Label already exists" in duplicate.content.decode()
    owner.post(f"{base}/{label.id}/set_priority", {})
    assert "Prioritized labels" in owner.get(base).content.decode()
    assert project.labels.get(label.id).priority == 0
    owner.post(f"{base}/{label.id}/remove_priority", {})
    assert project.labels.get(label.id).priority is None
    response = owner.post(
        f"{base}/{label.id}/edit", {"label[title]": "defect", "label[color]": "#00ff00"}
    )
    assert response.status_code == 302
    assert project.labels.get(label.id).name == "defect"
    bad = owner.post(f"{base}/{label.id}/edit", {"label[title]": "a,b", "label[color]": "#00ff00"})
    assert bad.status_code == 400
    assert "Title is invalid" in bad.content.decode()
    owner.post(f"{base}/{label.id}/delete", {})
    assert project.labels.list() == []


def test_only_planners_manage_labels(gl: gitlab.Gitlab, make_user: Any) -> None:
    project = gl.projects.create({"name": "Shared", "visibility": "public"})
    label = project.labels.create({"name": "keep", "color": "#123456"})
    guest, _ = make_user("guestl")
    project.members.create({"user_id": guest.pk, "access_level": 10})
    base = f"/{project.path_with_namespace}/-/labels"
    for client in (client_for(), client_for(guest)):
        page = client.get(base)
        assert page.status_code == 200
        assert "keep" in page.content.decode()
        assert "New label" not in page.content.decode()
        assert client.get(f"{base}/new").status_code == 404
        assert client.get(f"{base}/{label.id}/edit").status_code == 404
        assert client.post(base, {"label[title]": "x", "label[color]": "red"}).status_code == 404
        assert client.post(f"{base}/{label.id}/delete", {}).status_code == 404
        assert client.post(f"{base}/{label.id}/set_priority", {}).status_code == 404
    assert [lb.name for lb in project.labels.list()] == ["keep"]
    private = gl.projects.create({"name": "Hidden labels", "visibility": "private"})
    private.labels.create({"name": "secret-label", "color": "#123456"})
    page = client_for(guest).get(f"/{private.path_with_namespace}/-/labels")
    assert page.status_code == 404
    assert "secret-label" not in page.content.decode()


def test_hostile_label_titles_are_inert(gl: gitlab.Gitlab) -> None:
    project = gl.projects.create({"name": "Xss labels", "visibility": "public"})
    for payload in HOSTILE:
        project.labels.create(
            {"name": payload.replace(",", ""), "color": "#123456", "description": payload}
        )
    for client in (client_for(root()), client_for()):
        html = client.get(f"/{project.path_with_namespace}/-/labels").content.decode()
        assert_inert(html)
        assert "&lt;script&gt;" in html
    label = project.labels.list()[0]
    html = client_for(root()).get(f"/{project.path_with_namespace}/-/labels/{label.id}/edit")
    assert_inert(html.content.decode())
