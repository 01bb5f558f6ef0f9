"""Members of groups and projects: one implementation behind `/groups/:id/members...` and
`/projects/:id/members...`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import gitlab
import pytest
import requests
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.conftest import ROOT_TOKEN

ROOT = {"PRIVATE-TOKEN": ROOT_TOKEN}
MEMBER_KEYS = {
    "id",
    "username",
    "public_email",
    "name",
    "state",
    "locked",
    "avatar_url",
    "web_url",
    "access_level",
    "created_at",
    "created_by",
    "expires_at",
    "membership_state",
}


def _group(owner: Any, path: str, parent: Any = None, visibility: str = "private") -> Any:
    from kiln.core.access import Visibility
    from kiln.core.actor import Actor
    from kiln.namespaces.groups import create_group

    return create_group(
        actor=Actor.for_user(owner),
        name=path.title(),
        path=path,
        parent=parent,
        visibility_level=Visibility.from_label(visibility),
    )


def _root() -> Any:
    from kiln.accounts.models import User

    return User.objects.get(pk=1)


def _member(source: Any, user: Any, level: int, **fields: Any) -> Any:
    from kiln.namespaces.models import GroupMember
    from kiln.projects.models import Project, ProjectMember

    if isinstance(source, Project):
        return ProjectMember.objects.create(project=source, user=user, access_level=level, **fields)
    return GroupMember.objects.create(group=source, user=user, access_level=level, **fields)


def _project(namespace: Any, path: str) -> Any:
    from kiln.projects.models import Project

    return Project.objects.create(
        name=path.title(), path=path, namespace=namespace, repository_key=f"members-{path}"
    )


def _post(url: str, path: str, token: str, **body: Any) -> requests.Response:
    return requests.post(
        f"{url}/api/v4{path}", headers={"PRIVATE-TOKEN": token}, json=body, timeout=10
    )


# --- groups ------------------------------------------------------------------------------


def test_group_member_lifecycle_with_python_gitlab(
    gl: gitlab.Gitlab, make_user: Callable[..., tuple[Any, Any]]
) -> None:
    dev, _ = make_user("dev")
    group = gl.groups.create({"name": "Crew", "path": "crew"})
    expires = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    member = group.members.create(
        {
            "user_id": dev.pk,
            "access_level": gitlab.const.AccessLevel.DEVELOPER,
            "expires_at": expires,
        }
    )
    assert member.access_level == 30
    assert member.expires_at == expires
    assert member.membership_state == "active"
    assert member.created_by["username"] == "root"
    assert set(member.attributes) - {"group_id"} == MEMBER_KEYS
    fetched = group.members.get(dev.pk)
    fetched.access_level = gitlab.const.AccessLevel.MAINTAINER
    fetched.save()
    assert group.members.get(dev.pk).access_level == 40
    assert [m.username for m in group.members.list(query="de")] == ["dev"]
    assert [m.username for m in group.members.list(user_ids=[dev.pk])] == ["dev"]
    assert [m.username for m in group.members.list(skip_users=[dev.pk])] == ["root"]
    group.members.delete(dev.pk)
    assert [m.username for m in group.members.list()] == ["root"]


def test_inherited_members_highest_level_wins(
    gl: gitlab.Gitlab, make_user: Callable[..., tuple[Any, Any]]
) -> None:
    low, _ = make_user("low")
    high, _ = make_user("high")
    root = _root()
    top = _group(root, "top")
    sub = _group(root, "sub", parent=top)
    _member(top, low, 20)
    _member(top, high, 40)
    _member(sub, low, 30)
    _member(sub, high, 40)  # equal to the inherited level is allowed
    group = gl.groups.get(sub.pk)
    every = {m.username: m.access_level for m in group.members_all.list(get_all=True)}
    assert every == {"root": 50, "low": 30, "high": 40}
    assert group.members_all.get(low.pk).access_level == 30
    assert gl.groups.get(top.pk).members_all.get(low.pk).access_level == 20
    direct = {m.username for m in group.members.list()}
    assert direct == {"root", "low", "high"}
    for user_id in (999999, int("9" * 30)):
        with pytest.raises(gitlab.GitlabGetError) as missing:
            gl.groups.get(top.pk).members.get(user_id)
        assert missing.value.response_code == 404
        assert missing.value.error_message == "404 Not found"


def test_add_member_errors_as_gitlab(
    server_url: str, make_user: Callable[..., tuple[Any, Any]]
) -> None:
    from kiln.namespaces.models import GroupMember

    dev, _ = make_user("dev")
    parent = _group(_root(), "parent")
    sub = _group(_root(), "child", parent=parent)
    _member(parent, dev, 30)
    path = f"/groups/{sub.pk}/members"
    before = GroupMember.objects.count()
    past = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    cases: list[tuple[dict[str, Any], int, Any]] = [
        (
            {"user_id": dev.pk, "access_level": 20},
            400,
            {
                "message": {
                    "access_level": [
                        "should be greater than or equal to Developer inherited membership "
                        "from group Parent"
                    ]
                }
            },
        ),
        (
            {"user_id": dev.pk, "access_level": 60},
            400,
            {"message": {"access_level": ["is not included in the list"]}},
        ),
        (
            {"user_id": dev.pk, "access_level": 40, "expires_at": past},
            400,
            {"message": {"expires_at": ["cannot be a date in the past"]}},
        ),
        ({"user_id": 999999, "access_level": 30}, 404, {"message": "404 User Not Found"}),
        ({"user_id": "../1", "access_level": 30}, 404, {"message": "404 User Not Found"}),
        ({"user_id": 1, "access_level": 30}, 409, {"message": "Member already exists"}),
        ({"user_id": dev.pk, "access_level": "abc"}, 400, {"error": "access_level is invalid"}),
        (
            {"user_id": dev.pk, "access_level": 30, "expires_at": "not-a-date"},
            400,
            {"error": "expires_at is invalid"},
        ),
        (
            {"user_id": dev.pk, "username": "dev", "access_level": 30},
            400,
            {"error": "user_id, username are mutually exclusive"},
        ),
        (
            {"access_level": 30},
            400,
            {"error": "user_id, username are missing, at least one parameter must be provided"},
        ),
        ({"user_id": dev.pk}, 400, {"error": "access_level is missing"}),
    ]
    for body, status, expected in cases:
        response = _post(server_url, path, ROOT_TOKEN, **body)
        assert (response.status_code, response.json()) == (status, expected), body
    assert GroupMember.objects.count() == before
    by_name = _post(server_url, path, ROOT_TOKEN, username="DEV", access_level=40)
    assert by_name.status_code == 201
    assert by_name.json()["id"] == dev.pk


def test_bulk_add_by_comma_separated_ids(
    server_url: str, make_user: Callable[..., tuple[Any, Any]]
) -> None:
    one, _ = make_user("one")
    two, _ = make_user("two")
    group = _group(_root(), "bulk")
    path = f"/groups/{group.pk}/members"
    response = _post(server_url, path, ROOT_TOKEN, user_id=f"{one.pk},{two.pk}", access_level=20)
    assert response.status_code == 201
    assert response.json() == {"status": "success"}
    response = _post(server_url, path, ROOT_TOKEN, user_id=f"{one.pk},999999", access_level=30)
    assert response.json() == {"status": "error", "message": {"999999": "User not found"}}
    from kiln.namespaces.models import GroupMember

    levels = dict(GroupMember.objects.filter(group=group).values_list("user_id", "access_level"))
    assert levels == {1: 50, one.pk: 30, two.pk: 20}


def test_last_owner_can_be_neither_demoted_nor_removed(
    gl: gitlab.Gitlab, server_url: str, make_user: Callable[..., tuple[Any, Any]]
) -> None:
    owner, owner_gl = make_user("solo")
    group = _group(owner, "solo-group")
    url = f"{server_url}/api/v4/groups/{group.pk}/members/{owner.pk}"
    headers = {"PRIVATE-TOKEN": owner_gl.private_token}
    for method, body in (("PUT", {"access_level": 40}), ("DELETE", None)):
        for who in (headers, ROOT):  # not even an admin
            response = requests.request(method, url, headers=who, json=body, timeout=10)
            assert response.status_code == 403
            assert response.json() == {"message": "403 Forbidden"}
    # With a second Owner, the first may go.
    second, _ = make_user("second")
    _member(group, second, 50)
    response = requests.delete(url, headers=headers, timeout=10)
    assert response.status_code == 204
    assert response.content == b""
    # A subgroup's Owner is not the last one while an ancestor has one.
    sub = _group(second, "sub", parent=group)
    response = requests.delete(
        f"{server_url}/api/v4/groups/{sub.pk}/members/{second.pk}", headers=ROOT, timeout=10
    )
    assert response.status_code == 204


def test_removing_a_group_member_removes_memberships_below(
    server_url: str, make_user: Callable[..., tuple[Any, Any]]
) -> None:
    from kiln.namespaces.models import GroupMember
    from kiln.projects.models import ProjectMember

    leaver, _ = make_user("leaver")
    stayer, _ = make_user("stayer")
    top = _group(_root(), "tree-top")
    sub = _group(_root(), "tree-sub", parent=top)
    project = _project(sub, "app")
    for user in (leaver, stayer):
        _member(top, user, 20)
        _member(sub, user, 30)
        _member(project, user, 40)
    base = f"{server_url}/api/v4/groups/{top.pk}/members"
    assert requests.delete(f"{base}/{leaver.pk}", headers=ROOT, timeout=10).status_code == 204
    assert not GroupMember.objects.filter(user=leaver).exists()
    assert not ProjectMember.objects.filter(user=leaver).exists()
    skip = requests.delete(
        f"{base}/{stayer.pk}", headers=ROOT, params={"skip_subresources": "true"}, timeout=10
    )
    assert skip.status_code == 204
    assert GroupMember.objects.filter(user=stayer, group=sub).exists()
    assert ProjectMember.objects.filter(user=stayer).exists()


# --- projects ----------------------------------------------------------------------------


def test_project_members_and_effective_members(
    gl: gitlab.Gitlab, make_user: Callable[..., tuple[Any, Any]]
) -> None:
    from kiln.projects.models import ProjectGroupLink

    group_dev, _ = make_user("group-dev")
    direct, _ = make_user("direct")
    partner, _ = make_user("partner")
    root = _root()
    group = _group(root, "home")
    project = _project(group, "app")
    _member(group, group_dev, 30)
    friends = _group(root, "friends")
    _member(friends, partner, 50)
    ProjectGroupLink.objects.create(project=project, group=friends, group_access=20)
    remote = gl.projects.get(project.pk, lazy=True)
    created = remote.members.create({"user_id": direct.pk, "access_level": 40})
    assert created.access_level == 40
    assert [m.username for m in remote.members.list()] == ["direct"]
    effective = {m.username: m.access_level for m in remote.members_all.list(get_all=True)}
    # Group members inherit, shares are capped at the share's level.
    assert effective == {"root": 50, "group-dev": 30, "direct": 40, "partner": 20}
    assert remote.members_all.get(partner.pk).access_level == 20


def test_personal_project_owner_is_an_effective_owner(
    server_url: str, make_user: Callable[..., tuple[Any, Any]]
) -> None:
    owner, owner_gl = make_user("holder")
    project = _project(owner.namespace, "mine")
    body = requests.get(
        f"{server_url}/api/v4/projects/{project.pk}/members/all",
        headers={"PRIVATE-TOKEN": owner_gl.private_token},
        timeout=10,
    ).json()
    assert [(m["username"], m["access_level"]) for m in body] == [("holder", 50)]


def test_maintainers_manage_project_members_but_not_owners(
    server_url: str, make_user: Callable[..., tuple[Any, Any]]
) -> None:
    from kiln.projects.models import ProjectMember

    maintainer, maintainer_gl = make_user("keeper")
    owner, _ = make_user("boss")
    newcomer, _ = make_user("newbie")
    project = _project(_group(_root(), "proj-home"), "app")
    _member(project, maintainer, 40)
    _member(project, owner, 50)
    token = maintainer_gl.private_token
    path = f"/projects/{project.pk}/members"
    assert _post(server_url, path, token, user_id=newcomer.pk, access_level=30).status_code == 201
    before = ProjectMember.objects.count()
    denied = [
        _post(server_url, path, token, user_id=make_user("x")[0].pk, access_level=50),
        requests.put(
            f"{server_url}/api/v4{path}/{owner.pk}",
            headers={"PRIVATE-TOKEN": token},
            json={"access_level": 30},
            timeout=10,
        ),
        requests.put(
            f"{server_url}/api/v4{path}/{newcomer.pk}",
            headers={"PRIVATE-TOKEN": token},
            json={"access_level": 50},
            timeout=10,
        ),
        requests.delete(
            f"{server_url}/api/v4{path}/{owner.pk}", headers={"PRIVATE-TOKEN": token}, timeout=10
        ),
    ]
    for response in denied:
        assert response.status_code == 403
        assert response.json() == {"message": "403 Forbidden"}
    assert ProjectMember.objects.count() == before
    assert ProjectMember.objects.get(project=project, user=owner).access_level == 50
    # A developer may leave by themselves.
    leave = requests.delete(
        f"{server_url}/api/v4{path}/{newcomer.pk}",
        headers={"PRIVATE-TOKEN": make_token(newcomer)},
        timeout=10,
    )
    assert leave.status_code == 204


def make_token(user: Any) -> str:
    from kiln.accounts.access_tokens import create_personal_access_token_unchecked

    return create_personal_access_token_unchecked(user=user, name="t", scopes=["api"])[1]


def test_project_member_below_group_level_is_refused(
    server_url: str, make_user: Callable[..., tuple[Any, Any]]
) -> None:
    dev, _ = make_user("grouped")
    group = _group(_root(), "levels")
    _member(group, dev, 30)
    project = _project(group, "app")
    response = _post(
        server_url, f"/projects/{project.pk}/members", ROOT_TOKEN, user_id=dev.pk, access_level=10
    )
    assert response.status_code == 400
    assert response.json() == {
        "message": {
            "access_level": [
                "should be greater than or equal to Developer inherited membership from group "
                "Levels"
            ]
        }
    }


def test_members_need_a_signed_in_reader(
    server_url: str, make_user: Callable[..., tuple[Any, Any]]
) -> None:
    group = _group(_root(), "hidden")
    project = _project(group, "app")
    _, stranger = make_user("stranger")
    for path in (f"/groups/{group.pk}/members", f"/projects/{project.pk}/members/all"):
        anonymous = requests.get(f"{server_url}/api/v4{path}", timeout=10)
        assert (anonymous.status_code, anonymous.json()) == (401, {"message": "401 Unauthorized"})
        response = requests.get(
            f"{server_url}/api/v4{path}",
            headers={"PRIVATE-TOKEN": stranger.private_token},
            timeout=10,
        )
        assert response.status_code == 404


@pytest.mark.parametrize("kind", ["groups", "projects"])
@pytest.mark.parametrize("suffix", ["", "/all"])
def test_members_query_budget(
    server_url: str, make_user: Callable[..., tuple[Any, Any]], kind: str, suffix: str
) -> None:
    from kiln.accounts.models import User

    group = _group(_root(), "crowd")
    project = _project(group, "app")
    source = group if kind == "groups" else project
    for n in range(25):
        user = User.objects.create(username=f"m{n}", name=f"M{n}", email=f"m{n}@example.com")
        _member(source, user, 30, created_by=_root())
    client = Client()
    url = f"/api/v4/{kind}/{source.pk}/members{suffix}"
    client.get(url, HTTP_PRIVATE_TOKEN=ROOT_TOKEN)
    counts = []
    for per_page in (2, 20):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, {"per_page": per_page}, HTTP_PRIVATE_TOKEN=ROOT_TOKEN)
        assert len(response.json()) == per_page
        counts.append(len(queries))
    assert counts[0] == counts[1]
