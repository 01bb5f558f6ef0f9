"""Group pages: overview (subgroups and projects the viewer may see, search), new group and
subgroup, members (Owners manage, the last Owner stays), settings (rename, visibility, path,
transfer, delete with the path typed), each as the namespaces services allow."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gitlab
import pytest

from tests.web.conftest import ROOT_PASSWORD
from tests.web.test_project_settings import XSS, Web, forms_have_csrf, web_factory


@pytest.fixture
def web(server_url: str) -> Callable[..., Web]:
    return web_factory(server_url)


@pytest.fixture
def org(gl: gitlab.Gitlab, make_user: Any) -> dict[str, Any]:
    """A public group `org` (description with markup) holding a public and a private project
    and a private subgroup; members of each role; an outsider."""
    group = gl.groups.create(
        {"name": "Org", "path": "org", "visibility": "public", "description": f"About {XSS}"}
    )
    gl.projects.create({"name": "Shown", "namespace_id": group.id, "visibility": "public"})
    gl.projects.create({"name": "Hidden", "namespace_id": group.id, "visibility": "private"})
    gl.groups.create(
        {"name": "Inner", "path": "inner", "parent_id": group.id, "visibility": "private"}
    )
    users = {}
    for role, level in {"guest": 10, "developer": 30, "maintainer": 40, "owner": 50}.items():
        user, _ = make_user(role)
        group.members.create({"user_id": user.pk, "access_level": level})
        users[role] = user
    users["outsider"], _ = make_user("outsider")
    return {"group": group, "users": users}


def test_overview_shows_what_the_viewer_may_see(
    org: dict[str, Any], web: Callable[..., Web]
) -> None:
    anonymous = web().get("/org")
    assert anonymous.status_code == 200
    assert "Shown" in anonymous.text
    assert "Hidden" not in anonymous.text
    assert "Inner" not in anonymous.text
    assert XSS not in anonymous.text
    assert "About &lt;img src=x" in anonymous.text
    assert "New project" not in anonymous.text
    assert "New subgroup" not in anonymous.text
    guest = web("guest").get("/org").text
    assert "Hidden" in guest
    assert "Inner" in guest
    assert "New project" not in guest
    developer = web("developer").get("/org").text
    assert "New project" in developer
    assert "New subgroup" not in developer
    maintainer = web("maintainer").get("/org").text
    assert "New project" in maintainer
    assert f"/groups/new?parent_id={org['group'].id}" in maintainer
    searched = web("guest").get("/org", filter="shown").text
    assert "Shown" in searched
    assert "Hidden" not in searched
    assert web().get("/groups/org").status_code == 200  # the old URL redirects
    assert (
        web()
        .http.get(f"{web().base}/groups/org", allow_redirects=False, timeout=60)
        .headers["Location"]
        == "/org"
    )


def test_private_group_pages_are_404_to_outsiders(
    org: dict[str, Any], web: Callable[..., Web]
) -> None:
    outsider, anonymous = web("outsider"), web()
    for path in ("/org/inner", "/groups/org/inner/-/group_members", "/groups/org/inner/-/edit"):
        assert outsider.get(path).status_code == 404, path
        assert anonymous.get(path).status_code == 404, path
    # Settings need an Owner; members are listed to anyone who may read them.
    for name in ("guest", "developer", "maintainer", "outsider"):
        assert web(name).get("/groups/org/-/edit").status_code == 404, name
    owner = web("owner")
    edit = owner.get("/groups/org/-/edit")
    assert edit.status_code == 200
    forms_have_csrf(edit.text)
    assert web("outsider").get("/groups/org/-/group_members").status_code == 200  # public group
    members = web("maintainer").get("/groups/org/-/group_members").text
    assert "Invite a member" not in members  # only Owners manage group members
    forms_have_csrf(owner.get("/groups/org/-/group_members").text)


def test_new_group_and_subgroup(web: Callable[..., Web], gl: gitlab.Gitlab, make_user: Any) -> None:
    make_user("alice")
    alice = web("alice")
    form = alice.get("/groups/new")
    assert form.status_code == 200
    forms_have_csrf(form.text)
    bad = alice.post("/groups/new", {"name": "X", "path": "-x", "visibility_level": "0"})
    assert bad.status_code == 200
    assert "Path" in bad.text
    assert 'role="alert"' in bad.text
    created = alice.post(
        "/groups/new",
        {"name": "Alice Co", "path": "alice-co", "visibility_level": "10", "description": XSS},
    )
    assert created.headers["Location"] == "/alice-co"
    group = gl.groups.get("alice-co")
    assert (group.visibility, group.description) == ("internal", XSS)
    page = alice.get("/alice-co").text
    assert XSS not in page
    # Subgroup: visibility may not exceed the parent's (the service's message).
    sub_form = alice.get("/groups/new", parent_id=str(group.id))
    assert "Create subgroup" in sub_form.text
    too_open = alice.post(
        f"/groups/new?parent_id={group.id}",
        {"name": "Sub", "path": "sub", "visibility_level": "20", "parent_id": str(group.id)},
    )
    assert "is not allowed since the parent group has a internal visibility" in too_open.text
    alice.post(
        f"/groups/new?parent_id={group.id}",
        {"name": "Sub", "path": "sub", "visibility_level": "0", "parent_id": str(group.id)},
    )
    assert gl.groups.get("alice-co/sub").parent_id == group.id
    # Someone else may not create a subgroup there (404), nor anonymous users at all.
    make_user("bob")
    assert web("bob").get("/groups/new", parent_id=str(group.id)).status_code == 404
    anonymous = web()
    first = anonymous.http.get(f"{anonymous.base}/groups/new", allow_redirects=False, timeout=60)
    assert first.status_code == 302


def test_members_follow_the_owner_rules(
    org: dict[str, Any], web: Callable[..., Web], gl: gitlab.Gitlab
) -> None:
    group = org["group"]
    owner, maintainer = web("owner"), web("maintainer")
    outsider = org["users"]["outsider"]
    # Only Owners manage members.
    denied = maintainer.post(
        "/groups/org/-/group_members", {"username": "outsider", "access_level": "10"}
    )
    assert denied.status_code == 404
    owner.follow("/groups/org/-/group_members", {"username": "outsider", "access_level": "20"})
    assert group.members.get(outsider.pk).access_level == 20
    owner.follow(f"/groups/org/-/group_members/{outsider.pk}", {"access_level": "30"})
    assert group.members.get(outsider.pk).access_level == 30
    owner.follow(f"/groups/org/-/group_members/{outsider.pk}/remove")
    with pytest.raises(gitlab.GitlabGetError):
        group.members.get(outsider.pk)
    # The last Owner can be neither demoted nor removed; the page offers neither. (root
    # created the group and is its first Owner; remove root so `owner` is the only one.)
    root = web("root", ROOT_PASSWORD)
    root.follow("/groups/org/-/group_members/1/remove")
    owner_id = org["users"]["owner"].pk
    page = owner.get("/groups/org/-/group_members").text
    assert f"/groups/org/-/group_members/{owner_id}/remove" not in page
    assert (
        owner.post(f"/groups/org/-/group_members/{owner_id}", {"access_level": "30"}).status_code
        == 404
    )
    assert owner.post(f"/groups/org/-/group_members/{owner_id}/remove").status_code == 404
    assert group.members.get(owner_id).access_level == 50


def test_group_settings_rename_transfer_delete(
    org: dict[str, Any], web: Callable[..., Web], gl: gitlab.Gitlab
) -> None:
    owner = web("owner")
    page = owner.follow("/groups/org/-/edit", {"name": "Org Two", "description": "New words"})
    assert "was successfully updated" in page.text
    assert gl.groups.get("org").name == "Org Two"
    # A public group with a public project cannot become private (the service says why).
    refused = owner.post("/groups/org/-/edit", {"visibility_level": "0"})
    assert "contains projects with higher visibility" in refused.text
    # Path change moves the subtree.
    owner.follow("/groups/org/-/edit", {"path": "org2"})
    assert gl.projects.get("org2/shown").name == "Shown"
    # Transfer the subgroup to the top level needs the path typed.
    wrong = owner.post(
        "/groups/org2/inner/-/transfer", {"new_parent_group_id": "top", "confirm": "x"}
    )
    assert "to confirm the transfer" in wrong.text
    moved = owner.post(
        "/groups/org2/inner/-/transfer", {"new_parent_group_id": "top", "confirm": "org2/inner"}
    )
    assert moved.status_code == 302
    assert gl.groups.get("inner").parent_id is None
    # Delete with confirmation.
    wrong = owner.post("/groups/org2/-/delete", {"confirm": "org"})
    assert "to confirm the deletion" in wrong.text
    assert web("maintainer").post("/groups/org2/-/delete", {"confirm": "org2"}).status_code == 404
    done = owner.post("/groups/org2/-/delete", {"confirm": "org2"})
    assert done.status_code == 302
    with pytest.raises(gitlab.GitlabGetError):
        gl.groups.get("org2")
