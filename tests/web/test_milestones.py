"""Milestone pages: open/closed lists, new, edit, close and reopen, the milestone page with its
issues and merge requests; Planners only for changes; hostile titles inert."""

from __future__ import annotations

from typing import Any

import gitlab

from tests.web.test_issues import HOSTILE, assert_inert, client_for, root


def test_milestone_lifecycle(gl: gitlab.Gitlab) -> None:
    project = gl.projects.create({"name": "Plan", "initialize_with_readme": True})
    base = f"/{project.path_with_namespace}/-/milestones"
    owner = client_for(root())
    response = owner.post(
        base,
        {
            "milestone[title]": "v1.0",
            "milestone[description]": "First **release**",
            "milestone[start_date]": "2030-01-01",
            "milestone[due_date]": "2030-02-01",
        },
    )
    assert response.status_code == 302
    milestone = project.milestones.list()[0]
    assert response["Location"] == f"{base}/{milestone.iid}"
    project.issues.create({"title": "Open work", "milestone_id": milestone.id})
    done = project.issues.create({"title": "Done work", "milestone_id": milestone.id})
    done.state_event = "close"
    done.save()
    page = owner.get(f"{base}/{milestone.iid}").content.decode()
    assert "<strong>release</strong>" in page
    assert "Open work" in page
    assert "Done work" in page
    assert "50% complete" in page
    listing = owner.get(base).content.decode()
    assert "v1.0" in listing
    assert "2 issues" in listing
    bad = owner.post(
        f"{base}/{milestone.iid}/edit",
        {
            "milestone[title]": "v1.0",
            "milestone[start_date]": "2030-03-01",
            "milestone[due_date]": "2030-02-01",
        },
    )
    assert bad.status_code == 400
    assert "Due date must be greater than start date" in bad.content.decode()
    owner.post(f"{base}/{milestone.iid}/edit", {"milestone[title]": "v1.1"})
    assert project.milestones.get(milestone.id).title == "v1.1"
    owner.post(f"{base}/{milestone.iid}", {"milestone[state_event]": "close"})
    assert project.milestones.get(milestone.id).state == "closed"
    assert "v1.1" not in owner.get(base).content.decode()
    assert "v1.1" in owner.get(f"{base}?state=closed").content.decode()
    owner.post(f"{base}/{milestone.iid}", {"milestone[state_event]": "activate"})
    assert project.milestones.get(milestone.id).state == "active"
    owner.post(f"{base}/{milestone.iid}/delete", {})
    assert project.milestones.list() == []


def test_milestone_permissions(gl: gitlab.Gitlab, make_user: Any) -> None:
    project = gl.projects.create({"name": "Roadmap", "visibility": "private"})
    milestone = project.milestones.create({"title": "Secret plan"})
    project.issues.create(
        {"title": "Confidential step", "milestone_id": milestone.id, "confidential": True}
    )
    guest, _ = make_user("guestm")
    outsider, _ = make_user("outsiderm")
    project.members.create({"user_id": guest.pk, "access_level": 10})
    base = f"/{project.path_with_namespace}/-/milestones"
    for client in (client_for(), client_for(outsider)):
        for page in (base, f"{base}/1", f"{base}/new", f"{base}/1/edit"):
            response = client.get(page)
            assert response.status_code == 404, page
            assert "Secret plan" not in response.content.decode()
    member = client_for(guest)
    page = member.get(f"{base}/1").content.decode()
    assert "Secret plan" in page
    assert "Confidential step" not in page
    assert member.get(f"{base}/new").status_code == 404
    assert member.post(f"{base}/1", {"milestone[state_event]": "close"}).status_code == 404
    assert member.post(f"{base}/1/delete", {}).status_code == 404
    assert project.milestones.get(milestone.id).state == "active"


def test_hostile_milestone_titles_are_inert(gl: gitlab.Gitlab) -> None:
    project = gl.projects.create({"name": "Xss plan", "visibility": "public"})
    for payload in HOSTILE:
        project.milestones.create({"title": payload, "description": payload})
    base = f"/{project.path_with_namespace}/-/milestones"
    for client in (client_for(root()), client_for()):
        assert_inert(client.get(base).content.decode())
        for iid in range(1, len(HOSTILE) + 1):
            assert_inert(client.get(f"{base}/{iid}").content.decode())
