"""`/groups/<path>/-/issues` and `/-/merge_requests`: those of the group's projects (and its
subgroups') that the visitor may see; 404 for private groups, confidential issues hidden."""

from __future__ import annotations

from typing import Any

import gitlab
import requests

from tests.conftest import ROOT_PASSWORD


def _session(server_url: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{server_url}/users/sign_in", timeout=30)
    token = page.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    response = session.post(
        f"{server_url}/users/sign_in",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        timeout=30,
    )
    assert response.status_code == 200, response.status_code
    return session


def test_group_issue_list(gl: gitlab.Gitlab, server_url: str, make_user: Any) -> None:
    group = gl.groups.create({"name": "Fleet", "path": "fleet", "visibility": "private"})
    sub = gl.groups.create({"name": "Ships", "path": "ships", "parent_id": group.id})
    top = gl.projects.create({"name": "Dock", "namespace_id": group.id})
    deep = gl.projects.create({"name": "Hull", "namespace_id": sub.id})
    top.issues.create({"title": "Dock <script>alert(1)</script> leaks"})
    deep.issues.create({"title": "Hull is cracked"})
    deep.issues.create({"title": "Secret plan", "confidential": True})
    closed = top.issues.create({"title": "Old thing"})
    closed.state_event = "close"
    closed.save()
    guest, _ = make_user("deckhand")
    group.members.create({"user_id": guest.pk, "access_level": 10})
    make_user("stranger")

    url = f"{server_url}/groups/fleet/-/issues"
    root = _session(server_url, "root", ROOT_PASSWORD)
    page = root.get(url, timeout=30)
    assert page.status_code == 200
    assert "Hull is cracked" in page.text
    assert "Secret plan" in page.text
    assert "Old thing" not in page.text  # open issues by default
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text
    assert 'href="/fleet/ships/hull/-/issues/1"' in page.text
    assert "Old thing" in root.get(url, params={"state": "closed"}, timeout=30).text
    assert "Hull" not in root.get(url, params={"search": "Dock"}, timeout=30).text

    as_guest = _session(server_url, "deckhand", "password-123").get(url, timeout=30)
    assert as_guest.status_code == 200
    assert "Hull is cracked" in as_guest.text
    assert "Secret plan" not in as_guest.text  # confidential: not for Guests

    assert _session(server_url, "stranger", "password-123").get(url, timeout=30).status_code == 404
    assert requests.get(url, timeout=30).status_code == 404


def test_group_merge_request_list(gl: gitlab.Gitlab, server_url: str, make_user: Any) -> None:
    group = gl.groups.create({"name": "Yard", "path": "yard", "visibility": "private"})
    project = gl.projects.create(
        {"name": "Crane", "namespace_id": group.id, "initialize_with_readme": True}
    )
    project.branches.create({"branch": "lift", "ref": "main"})
    project.files.create(
        {"file_path": "lift.txt", "branch": "lift", "content": "up", "commit_message": "Lift"}
    )
    project.mergerequests.create(
        {"source_branch": "lift", "target_branch": "main", "title": "Lift <b>higher</b>"}
    )
    make_user("outsider")
    url = f"{server_url}/groups/yard/-/merge_requests"
    page = _session(server_url, "root", ROOT_PASSWORD).get(url, timeout=30)
    assert page.status_code == 200
    assert "Lift &lt;b&gt;higher&lt;/b&gt;" in page.text
    assert 'href="/yard/crane/-/merge_requests/1"' in page.text
    assert 'aria-current="page">Merge requests' in page.text
    assert _session(server_url, "outsider", "password-123").get(url, timeout=30).status_code == 404
    assert requests.get(url, timeout=30).status_code == 404
