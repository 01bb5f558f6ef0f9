"""A group's labels and milestones (`/groups/<path>/-/labels`, `/-/milestones`): Planners and
above create, edit, close and delete them; readers only read; private groups are 404 to
outsiders; a subgroup lists its ancestors' labels without offering to change them."""

from __future__ import annotations

from typing import Any

import gitlab

from tests.web.test_issues import HOSTILE, assert_inert, client_for, root


def test_group_labels_crud(gl: gitlab.Gitlab) -> None:
    group = gl.groups.create({"name": "Crew", "path": "crew", "visibility": "private"})
    project = gl.projects.create({"name": "Deck", "namespace_id": group.id})
    base = "/groups/crew/-/labels"
    owner = client_for(root())
    page = owner.get(base).content.decode()
    assert "Use labels to divide" in page
    assert 'href="/groups/crew/-/labels"' in page  # the group sidebar's link, current
    assert 'name="label[color]"' in owner.get(f"{base}/new").content.decode()
    response = owner.post(
        base, {"label[title]": "bug", "label[color]": "red", "label[description]": "*Broken*"}
    )
    assert response.status_code == 302
    assert response["Location"] == base
    label = group.labels.list()[0]
    assert (label.name, label.color) == ("bug", "#ff0000")
    project.issues.create({"title": "One", "labels": "bug"})
    page = owner.get(base).content.decode()
    assert "<em>Broken</em>" in page
    assert 'Issues <span class="badge">1</span>' in page
    assert 'href="/groups/crew/-/issues?label_name[]=bug"' in page
    assert "Prioritize" not in page  # priorities belong to projects
    # The project uses the group's label, and cannot edit it from its own page.
    project_page = owner.get(f"/{project.path_with_namespace}/-/labels").content.decode()
    assert "Group label" in project_page
    assert f"/-/labels/{label.id}/edit" not in project_page
    duplicate = owner.post(base, {"label[title]": "bug", "label[color]": "#00ff00"})
    assert duplicate.status_code == 400
    assert "Label already exists" in duplicate.content.decode()
    edited = owner.post(
        f"{base}/{label.id}/edit", {"label[title]": "defect", "label[color]": "#00ff00"}
    )
    assert edited.status_code == 302
    assert group.labels.get(label.id).name == "defect"
    bad = owner.post(f"{base}/{label.id}/edit", {"label[title]": "a,b", "label[color]": "#00ff00"})
    assert bad.status_code == 400
    assert "Title is invalid" in bad.content.decode()
    assert owner.post(f"{base}/{label.id}/delete", {}).status_code == 302
    assert group.labels.list() == []


def test_subgroup_lists_ancestor_labels_read_only(gl: gitlab.Gitlab) -> None:
    group = gl.groups.create({"name": "Fleet", "path": "fleet"})
    sub = gl.groups.create({"name": "Ships", "path": "ships", "parent_id": group.id})
    inherited = group.labels.create({"name": "fleet-wide", "color": "#123456"})
    sub.labels.create({"name": "ship-only", "color": "#654321"})
    owner = client_for(root())
    page = owner.get("/groups/fleet/ships/-/labels").content.decode()
    assert "fleet-wide" in page
    assert "ship-only" in page
    assert f"/groups/fleet/ships/-/labels/{inherited.id}/edit" not in page
    assert owner.get(f"/groups/fleet/ships/-/labels/{inherited.id}/edit").status_code == 404
    assert owner.post(f"/groups/fleet/ships/-/labels/{inherited.id}/delete").status_code == 404
    assert "ship-only" not in owner.get("/groups/fleet/-/labels").content.decode()
    assert [lb.name for lb in group.labels.list()] == ["fleet-wide"]


def test_group_milestone_lifecycle(gl: gitlab.Gitlab) -> None:
    group = gl.groups.create({"name": "Roadmap", "path": "roadmap"})
    one = gl.projects.create({"name": "App", "namespace_id": group.id})
    two = gl.projects.create({"name": "Api", "namespace_id": group.id})
    base = "/groups/roadmap/-/milestones"
    owner = client_for(root())
    response = owner.post(
        base,
        {
            "milestone[title]": "Q1",
            "milestone[description]": "First **quarter**",
            "milestone[start_date]": "2030-01-01",
            "milestone[due_date]": "2030-03-31",
        },
    )
    assert response.status_code == 302
    milestone = group.milestones.list()[0]
    assert response["Location"] == f"{base}/{milestone.iid}"
    one.issues.create({"title": "App work", "milestone_id": milestone.id})
    done = two.issues.create({"title": "Api work", "milestone_id": milestone.id})
    done.state_event = "close"
    done.save()
    page = owner.get(f"{base}/{milestone.iid}").content.decode()
    assert "<strong>quarter</strong>" in page
    assert f'href="/{one.path_with_namespace}/-/issues/1"' in page
    assert f'href="/{two.path_with_namespace}/-/issues/1"' in page
    assert "50% complete" in page
    listing = owner.get(base).content.decode()
    assert "Q1" in listing
    assert "2 issues" in listing
    bad = owner.post(
        f"{base}/{milestone.iid}/edit",
        {
            "milestone[title]": "Q1",
            "milestone[start_date]": "2030-05-01",
            "milestone[due_date]": "2030-03-31",
        },
    )
    assert bad.status_code == 400
    assert "Due date must be greater than start date" in bad.content.decode()
    assert owner.get(f"{base}/{milestone.iid}/edit").status_code == 200
    owner.post(f"{base}/{milestone.iid}/edit", {"milestone[title]": "Q1 2030"})
    assert group.milestones.get(milestone.id).title == "Q1 2030"
    owner.post(f"{base}/{milestone.iid}", {"milestone[state_event]": "close"})
    assert group.milestones.get(milestone.id).state == "closed"
    assert "Q1 2030" not in owner.get(base).content.decode()
    assert "Q1 2030" in owner.get(f"{base}?state=closed").content.decode()
    owner.post(f"{base}/{milestone.iid}", {"milestone[state_event]": "activate"})
    assert group.milestones.get(milestone.id).state == "active"
    preview = owner.post("/groups/roadmap/-/preview_markdown", {"text": "**hi**"})
    assert preview.json() == {"body": "<p><strong>hi</strong></p>"}
    owner.post(f"{base}/{milestone.iid}/delete", {})
    assert group.milestones.list() == []


def test_outsiders_get_404_and_readers_only_read(gl: gitlab.Gitlab, make_user: Any) -> None:
    private = gl.groups.create({"name": "Vault", "path": "vault", "visibility": "private"})
    secret = private.labels.create({"name": "secret-label", "color": "#123456"})
    hidden = private.milestones.create({"title": "secret-milestone"})
    outsider, _ = make_user("outsider")
    pages = [
        "/groups/vault/-/labels",
        "/groups/vault/-/labels/new",
        f"/groups/vault/-/labels/{secret.id}/edit",
        "/groups/vault/-/milestones",
        "/groups/vault/-/milestones/new",
        f"/groups/vault/-/milestones/{hidden.iid}",
        f"/groups/vault/-/milestones/{hidden.iid}/edit",
    ]
    for client in (client_for(), client_for(outsider)):
        for url in pages:
            response = client.get(url)
            assert response.status_code == 404, url
            assert "secret-" not in response.content.decode()
        assert client.post("/groups/vault/-/labels", {"label[title]": "x"}).status_code == 404
        assert client.post(f"/groups/vault/-/labels/{secret.id}/delete").status_code == 404
        assert (
            client.post("/groups/vault/-/milestones", {"milestone[title]": "x"}).status_code == 404
        )
        closing = {"milestone[state_event]": "close"}
        assert client.post(f"/groups/vault/-/milestones/{hidden.iid}", closing).status_code == 404
        assert client.post("/groups/vault/-/preview_markdown", {"text": "x"}).status_code == 404
    guest, _ = make_user("guestg")
    private.members.create({"user_id": guest.pk, "access_level": 10})
    reader = client_for(guest)
    assert "secret-label" in reader.get("/groups/vault/-/labels").content.decode()
    listing = reader.get("/groups/vault/-/milestones").content.decode()
    assert "secret-milestone" in listing
    assert "New milestone" not in listing
    shown = reader.get(f"/groups/vault/-/milestones/{hidden.iid}").content.decode()
    assert "Close milestone" not in shown
    assert reader.get("/groups/vault/-/labels/new").status_code == 404
    assert reader.post(f"/groups/vault/-/labels/{secret.id}/delete").status_code == 404
    closing = {"milestone[state_event]": "close"}
    assert reader.post(f"/groups/vault/-/milestones/{hidden.iid}", closing).status_code == 404
    assert reader.post(f"/groups/vault/-/milestones/{hidden.iid}/delete").status_code == 404
    assert [lb.name for lb in private.labels.list()] == ["secret-label"]
    assert private.milestones.get(hidden.id).state == "active"
    # A Planner may.
    planner, _ = make_user("plannerg")
    private.members.create({"user_id": planner.pk, "access_level": 15})
    assert (
        client_for(planner).post(f"/groups/vault/-/milestones/{hidden.iid}", closing).status_code
        == 302
    )
    assert private.milestones.get(hidden.id).state == "closed"


def test_hostile_titles_are_inert(gl: gitlab.Gitlab) -> None:
    group = gl.groups.create({"name": "Xss", "path": "xss-group", "visibility": "public"})
    for n, payload in enumerate(HOSTILE):
        group.labels.create({"name": payload.replace(",", ""), "color": "#123456"})
        group.milestones.create({"title": f"{n} {payload}", "description": payload})
    for client in (client_for(root()), client_for()):
        for path in ("labels", "milestones", "milestones/1"):
            response = client.get(f"/groups/xss-group/-/{path}")
            assert response.status_code == 200, path
            html = response.content.decode()
            assert_inert(html)
            # The payloads are on the page, as text.
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path


def test_group_labels_and_milestones_in_the_browser(
    page: Any, sign_in: Any, server_url: str, gl: gitlab.Gitlab
) -> None:
    gl.groups.create({"name": "Studio", "path": "studio"})
    sign_in(server_url)
    page.goto(f"{server_url}/studio")
    page.get_by_role("navigation", name="Group").get_by_role("link", name="Labels").click()
    page.get_by_role("link", name="New label").click()
    page.get_by_label("Title").fill("design")
    page.get_by_role("button", name="Create label").click()
    page.wait_for_url(f"{server_url}/groups/studio/-/labels")
    assert page.locator(".label-list-rows .gl-label", has_text="design").count() == 1
    page.get_by_role("navigation", name="Group").get_by_role("link", name="Milestones").click()
    page.get_by_role("link", name="New milestone").click()
    page.get_by_label("Title").fill("Launch")
    page.get_by_role("textbox", name="Description").fill("Ship *it*")
    page.get_by_role("tab", name="Preview").click()
    page.locator(".md-preview em", has_text="it").wait_for()
    page.get_by_role("tab", name="Write").click()
    page.get_by_role("button", name="Create milestone").click()
    page.wait_for_url(f"{server_url}/groups/studio/-/milestones/1")
    page.get_by_role("button", name="Close milestone").click()
    page.get_by_role("button", name="Reopen milestone").wait_for()
    assert gl.groups.get("studio").milestones.list()[0].state == "closed"
    page.set_viewport_size({"width": 360, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.console_errors == []
