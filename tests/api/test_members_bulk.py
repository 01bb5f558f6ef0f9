"""Bulk adds (`user_id=1,2,...`) that meet a membership they may not change: GitLab answers
each such user in the error's message and changes the others."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.api.test_members import ROOT_TOKEN, _group, _member, _post, _project, _root


def test_bulk_add_never_changes_the_last_owner_of_a_group(
    server_url: str, make_user: Callable[..., tuple[Any, Any]]
) -> None:
    from kiln.namespaces.models import GroupMember

    owner, owner_gl = make_user("bulk-owner")
    dev, _ = make_user("bulk-dev")
    group = _group(owner, "bulk-owned")
    path = f"/groups/{group.pk}/members"
    response = _post(
        server_url, path, owner_gl.private_token, user_id=f"{owner.pk},{dev.pk}", access_level=30
    )
    assert response.json() == {
        "status": "error",
        "message": {"bulk-owner": "Base cannot change the last owner"},
    }
    levels = dict(GroupMember.objects.filter(group=group).values_list("user_id", "access_level"))
    assert levels == {owner.pk: 50, dev.pk: 30}
    empty = _post(server_url, path, owner_gl.private_token, user_id=",", access_level=30)
    assert empty.json() == {"status": "error", "message": "No users specified."}


def test_bulk_add_to_a_project_keeps_owners_and_the_namespace_owner(
    server_url: str, make_user: Callable[..., tuple[Any, Any]]
) -> None:
    from kiln.projects.models import ProjectMember

    maintainer, maintainer_gl = make_user("bulk-maint")
    owner, _ = make_user("bulk-powner")
    guest, _ = make_user("bulk-guest")
    group = _group(_root(), "bulk-projects")
    project = _project(group, "shared")
    _member(project, maintainer, 40)
    _member(project, owner, 50)
    _member(project, guest, 10)
    path = f"/projects/{project.pk}/members"
    refs = f"{owner.pk},{guest.pk}"
    response = _post(server_url, path, maintainer_gl.private_token, user_id=refs, access_level=30)
    assert response.json() == {
        "status": "error",
        "message": {"bulk-powner": "Base cannot change this member"},
    }
    levels = dict(
        ProjectMember.objects.filter(project=project).values_list("user_id", "access_level")
    )
    assert levels == {maintainer.pk: 40, owner.pk: 50, guest.pk: 30}

    personal_owner, _ = make_user("bulk-personal")
    mine = _project(personal_owner.namespace, "mine")
    _member(mine, personal_owner, 50)
    path = f"/projects/{mine.pk}/members"
    response = _post(server_url, path, ROOT_TOKEN, user_id=f"{personal_owner.pk},", access_level=30)
    assert response.json() == {
        "status": "error",
        "message": {"bulk-personal": "Base cannot change this member"},
    }
    assert ProjectMember.objects.get(project=mine, user=personal_owner).access_level == 50
