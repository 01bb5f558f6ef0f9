"""`/namespaces`: the caller's namespaces, one namespace, and whether a path is free."""

from __future__ import annotations

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
BASIC_KEYS = {"id", "name", "path", "kind", "full_path", "parent_id", "avatar_url", "web_url"}
OWNER_KEYS = BASIC_KEYS | {
    "members_count_with_descendants",
    "root_repository_size",
    "projects_count",
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


def _member(group: Any, user: Any, level: int) -> None:
    from kiln.namespaces.models import GroupMember

    GroupMember.objects.create(group=group, user=user, access_level=level)


@pytest.fixture
def world(make_user: Callable[..., tuple[Any, Any]]) -> dict[str, Any]:
    alice, alice_gl = make_user("alice")
    bob, _ = make_user("bob")
    root = _root()
    team = _group(root, "team", visibility="public")
    sub = _group(root, "sub", parent=team, visibility="public")
    owned = _group(alice, "alices")
    _group(root, "stranger", visibility="public")
    _member(team, alice, 30)
    _member(sub, bob, 20)
    return {"alice": alice, "gl": alice_gl, "bob": bob, "team": team, "sub": sub, "owned": owned}


def test_user_sees_own_namespace_and_direct_groups(world: dict[str, Any], server_url: str) -> None:
    gl = world["gl"]
    listed = {(n.kind, n.full_path) for n in gl.namespaces.list(get_all=True)}
    # Direct memberships only: not the subgroup below "team", not public groups.
    assert listed == {("user", "alice"), ("group", "team"), ("group", "alices")}
    owned_only = {n.full_path for n in gl.namespaces.list(owned_only=True, get_all=True)}
    assert owned_only == {"alice", "alices"}
    assert [n.full_path for n in gl.namespaces.list(search="ali", get_all=True)] == [
        "alice",
        "alices",
    ]
    by_kind = {n["full_path"]: n for n in _get(server_url, gl.private_token, "/namespaces")}
    assert set(by_kind["alice"]) == BASIC_KEYS
    assert by_kind["alice"]["web_url"] == f"{server_url}/alice"
    assert set(by_kind["team"]) == BASIC_KEYS  # a Developer does not see the counts
    assert set(by_kind["alices"]) == OWNER_KEYS
    assert by_kind["alices"]["members_count_with_descendants"] == 1
    assert by_kind["alices"]["web_url"] == f"{server_url}/groups/alices"


def _get(url: str, token: str | None, path: str, **params: Any) -> Any:
    headers = {"PRIVATE-TOKEN": token} if token else {}
    response = requests.get(f"{url}/api/v4{path}", headers=headers, params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_admin_sees_every_namespace_with_counts(world: dict[str, Any], gl: gitlab.Gitlab) -> None:
    paths = {n.full_path for n in gl.namespaces.list(get_all=True)}
    assert {"root", "alice", "bob", "team", "team/sub", "alices", "stranger"} <= paths
    top = {n.full_path for n in gl.namespaces.list(top_level_only=True, get_all=True)}
    assert "team/sub" not in top
    team = gl.namespaces.get(world["team"].pk)
    # root (creator), alice in team, bob in team/sub: three people with descendants.
    assert team.members_count_with_descendants == 3
    assert team.root_repository_size is None
    assert isinstance(team.projects_count, int)


def test_get_one_namespace_needs_a_membership(world: dict[str, Any], server_url: str) -> None:
    gl = world["gl"]
    assert gl.namespaces.get("team").id == world["team"].pk
    # Inherited memberships count: alice is a member of team, so of team/sub.
    assert gl.namespaces.get("team/sub").id == world["sub"].pk
    assert gl.namespaces.get(world["alice"].namespace.pk).kind == "user"
    for ref in ("stranger", "bob", "root", "nope", str(world["bob"].namespace.pk)):
        with pytest.raises(gitlab.GitlabGetError) as missing:
            gl.namespaces.get(ref)
        assert missing.value.response_code == 404
    raw = requests.get(
        f"{server_url}/api/v4/namespaces/stranger",
        headers={"PRIVATE-TOKEN": gl.private_token},
        timeout=10,
    )
    assert raw.json() == {"message": "404 Namespace Not Found"}
    encoded = requests.get(f"{server_url}/api/v4/namespaces/team%2Fsub", headers=ROOT, timeout=10)
    assert encoded.json()["full_path"] == "team/sub"


def test_exists_suggests_a_free_path(world: dict[str, Any], gl: gitlab.Gitlab) -> None:
    taken = gl.namespaces.exists("team")
    assert taken.exists is True
    assert taken.suggests == ["team1"]
    _group(_root(), "team1")
    assert gl.namespaces.exists("TEAM").suggests == ["team2"]
    assert gl.namespaces.exists("alice").exists is True  # usernames are top-level namespaces
    free = gl.namespaces.exists("nobody-here")
    assert (free.exists, free.suggests) == (False, [])
    # Scoped to a parent: "sub" exists below team, not at the top level.
    assert gl.namespaces.exists("sub").exists is False
    assert gl.namespaces.exists("sub", parent_id=world["team"].pk).exists is True


def test_anonymous_callers_get_401(world: dict[str, Any], server_url: str) -> None:
    for path in ("/namespaces", f"/namespaces/{world['team'].pk}", "/namespaces/team/exists"):
        response = requests.get(f"{server_url}/api/v4{path}", timeout=10)
        assert response.status_code == 401
        assert response.json() == {"message": "401 Unauthorized"}


def test_list_query_budget(server_url: str) -> None:
    root = _root()
    for n in range(25):
        parent = _group(root, f"q{n}")
        _group(root, "inner", parent=parent)
    client = Client()
    client.get("/api/v4/namespaces", HTTP_PRIVATE_TOKEN=ROOT_TOKEN)
    counts = []
    for per_page in (2, 20):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(
                "/api/v4/namespaces", {"per_page": per_page}, HTTP_PRIVATE_TOKEN=ROOT_TOKEN
            )
        assert len(response.json()) == per_page
        assert all("members_count_with_descendants" in n for n in response.json()[1:])
        counts.append(len(queries))
    assert counts[0] == counts[1]
