"""Groups and subgroups over GitLab's API: python-gitlab for behaviour, requests for raw answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gitlab
import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import ROOT_TOKEN

ROOT = {"PRIVATE-TOKEN": ROOT_TOKEN}

GROUP_KEYS = {
    "id",
    "web_url",
    "name",
    "path",
    "description",
    "visibility",
    "share_with_group_lock",
    "require_two_factor_authentication",
    "two_factor_grace_period",
    "project_creation_level",
    "auto_devops_enabled",
    "subgroup_creation_level",
    "emails_disabled",
    "emails_enabled",
    "show_diff_preview_in_email",
    "mentions_disabled",
    "lfs_enabled",
    "archived",
    "math_rendering_limits_enabled",
    "lock_math_rendering_limits_enabled",
    "default_branch",
    "default_branch_protection",
    "default_branch_protection_defaults",
    "avatar_url",
    "request_access_enabled",
    "full_name",
    "full_path",
    "created_at",
    "parent_id",
    "organization_id",
    "shared_runners_setting",
    "max_artifacts_size",
    "marked_for_deletion_on",
}
DETAIL_KEYS = GROUP_KEYS | {"shared_with_groups", "runners_token"}


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


def _count() -> int:
    from kiln.namespaces.models import Namespace

    return Namespace.objects.count()


# --- create, read ---------------------------------------------------------------------------


def test_create_group_and_read_it_by_id_and_by_path(gl: gitlab.Gitlab, server_url: str) -> None:
    group = gl.groups.create(
        {"name": "Platform Team", "path": "platform", "description": "d", "visibility": "internal"}
    )
    assert group.full_path == "platform"
    assert group.full_name == "Platform Team"
    assert group.parent_id is None
    assert group.visibility == "internal"
    assert group.web_url == f"{server_url}/groups/platform"
    # The creator is the first Owner.
    assert [(m.username, m.access_level) for m in group.members.list()] == [("root", 50)]
    by_path = gl.groups.get("platform")
    assert by_path.id == group.id
    body = requests.get(f"{server_url}/api/v4/groups/{group.id}", headers=ROOT, timeout=10).json()
    assert set(body) == DETAIL_KEYS | {"prevent_sharing_groups_outside_hierarchy", "projects"} | {
        "shared_projects"
    }
    assert body["projects"] == []
    assert body["shared_projects"] == []
    assert body["created_at"].endswith("Z")
    lean = requests.get(
        f"{server_url}/api/v4/groups/platform",
        headers=ROOT,
        params={"with_projects": "false"},
        timeout=10,
    ).json()
    assert "projects" not in lean


def test_subgroups_by_encoded_path_and_descendants(gl: gitlab.Gitlab, server_url: str) -> None:
    parent = gl.groups.create({"name": "Parent", "path": "parent", "visibility": "public"})
    child = gl.groups.create({"name": "Child", "path": "child", "parent_id": parent.id})
    grandchild = gl.groups.create({"name": "Grand", "path": "grand", "parent_id": child.id})
    assert child.full_path == "parent/child"
    assert child.full_name == "Parent / Child"
    assert grandchild.full_path == "parent/child/grand"
    assert gl.groups.get("parent/child/grand").id == grandchild.id
    assert [g.id for g in parent.subgroups.list()] == [child.id]
    assert sorted(g.id for g in parent.descendant_groups.list()) == [child.id, grandchild.id]
    raw = requests.get(f"{server_url}/api/v4/groups/parent%2Fchild", headers=ROOT, timeout=10)
    assert raw.json()["id"] == child.id
    assert gl.groups.list(top_level_only=True, get_all=True)[0].id == parent.id


def test_rename_moves_every_descendant_and_its_projects(gl: gitlab.Gitlab) -> None:
    from kiln.namespaces.models import Namespace
    from kiln.projects.models import Project

    root = _root()
    top = _group(root, "old-top")
    mid = _group(root, "mid", parent=top)
    leaf = _group(root, "leaf", parent=mid)
    project = Project.objects.create(
        name="App", path="app", namespace=leaf, repository_key="rename-moves-key"
    )
    group = gl.groups.get(top.pk)
    group.path = "new-top"
    group.name = "New Top"
    group.save()
    leaf.refresh_from_db()
    assert leaf.full_path == "new-top/mid/leaf"
    assert leaf.full_name == "New Top / Mid / Leaf"
    assert leaf.traversal_ids == f"{top.pk}/{mid.pk}/{leaf.pk}"
    assert Project.objects.get(pk=project.pk).full_path == "new-top/mid/leaf/app"
    assert gl.groups.get("new-top/mid").id == mid.pk
    with pytest.raises(gitlab.GitlabGetError) as missing:
        gl.groups.get("old-top/mid")
    assert missing.value.response_code == 404
    assert not Namespace.objects.filter(full_path__startswith="old-top").exists()


def test_delete_answers_202_and_removes_the_subtree(gl: gitlab.Gitlab, server_url: str) -> None:
    from kiln.namespaces import hooks
    from kiln.namespaces.models import GroupMember, Namespace

    root = _root()
    top = _group(root, "doomed")
    sub = _group(root, "sub", parent=top)
    keep = _group(root, "keep")
    seen: list[list[int]] = []
    hooks.register_before_namespace_destroy(seen.append)
    try:
        response = requests.delete(f"{server_url}/api/v4/groups/doomed", headers=ROOT, timeout=10)
    finally:
        hooks._BEFORE_DESTROY.remove(seen.append)
    assert response.status_code == 202
    assert response.json() == {"message": "202 Accepted"}
    assert seen == [sorted([top.pk, sub.pk])]
    assert not Namespace.objects.filter(pk__in=[top.pk, sub.pk]).exists()
    assert not GroupMember.objects.filter(group_id__in=[top.pk, sub.pk]).exists()
    assert Namespace.objects.filter(pk=keep.pk).exists()
    with pytest.raises(gitlab.GitlabGetError):
        gl.groups.get(top.pk)


def test_group_details_list_projects_which_move_and_go_with_the_group(
    gl: gitlab.Gitlab, server_url: str
) -> None:
    from kiln.core.actor import Actor
    from kiln.projects.models import Project
    from kiln.projects.services import create_project
    from kiln.projects.sharing import share_project

    root = _root()
    home = _group(root, "home", visibility="public")
    other = _group(root, "other", visibility="public")
    actor = Actor.for_user(root)
    app = create_project(actor=actor, name="App", namespace=home.pk)
    lent = create_project(actor=actor, name="Lent", namespace=other.pk)
    share_project(actor=actor, project=lent, group_id=home.pk, group_access=30)
    # python-gitlab hides `projects` behind its manager: read the raw answer.
    body = requests.get(f"{server_url}/api/v4/groups/home", headers=ROOT, timeout=10).json()
    assert [p["path_with_namespace"] for p in body["projects"]] == ["home/app"]
    assert [p["path_with_namespace"] for p in body["shared_projects"]] == ["other/lent"]
    # A subgroup may not take the path of a project in the same parent.
    taken = requests.post(
        f"{server_url}/api/v4/groups",
        headers=ROOT,
        json={"name": "App", "path": "app", "parent_id": home.pk},
        timeout=10,
    )
    assert taken.json() == {"message": 'Failed to save group {:path=>["has already been taken"]}'}
    group = gl.groups.get(home.pk)
    group.path = "house"
    group.save()
    assert gl.projects.get(app.pk).path_with_namespace == "house/app"
    gl.groups.delete(home.pk)
    assert not Project.objects.filter(pk=app.pk).exists()
    assert Project.objects.filter(pk=lent.pk).exists()


# --- transfer ---------------------------------------------------------------------------


def test_transfer_to_another_parent_and_to_the_top(gl: gitlab.Gitlab, server_url: str) -> None:
    from kiln.namespaces.models import Namespace

    root = _root()
    source = _group(root, "src", visibility="internal")
    moved = _group(root, "moved", parent=source, visibility="internal")
    inner = _group(root, "inner", parent=moved, visibility="internal")
    target = _group(root, "dst", visibility="private")
    gl.groups.get(moved.pk).transfer(target.pk)
    inner.refresh_from_db()
    assert inner.full_path == "dst/moved/inner"
    assert inner.traversal_ids == f"{target.pk}/{moved.pk}/{inner.pk}"
    # A private parent lowers the whole subtree.
    assert inner.visibility_level == 0
    assert Namespace.objects.get(pk=moved.pk).visibility_level == 0
    gl.groups.get(moved.pk).transfer()
    inner.refresh_from_db()
    assert inner.full_path == "moved/inner"
    assert Namespace.objects.get(pk=moved.pk).parent_id is None


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("already_root", "Transfer failed: Group is already a root group."),
        ("same_parent", "Transfer failed: Group is already associated to the parent group."),
        ("into_own_subgroup", "Transfer failed: Cannot transfer group to one of its subgroup."),
        (
            "same_path",
            "Transfer failed: The parent group already has a subgroup or a project with the "
            "same path.",
        ),
    ],
)
def test_transfer_errors(server_url: str, case: str, message: str) -> None:
    root = _root()
    top = _group(root, "top")
    child = _group(root, "child", parent=top)
    grandchild = _group(root, "grandchild", parent=child)
    other = _group(root, "other")
    _group(root, "child", parent=other)
    group, target = {
        "already_root": (top, None),
        "same_parent": (child, top),
        "into_own_subgroup": (top, grandchild),
        "same_path": (child, other),
    }[case]
    body = {"group_id": target.pk} if target is not None else {}
    response = requests.post(
        f"{server_url}/api/v4/groups/{group.pk}/transfer", headers=ROOT, json=body, timeout=10
    )
    assert response.status_code == 400
    assert response.json() == {"message": message}
    group.refresh_from_db()
    assert group.parent_id == (top.pk if group is child else None)


def test_transfer_needs_create_subgroup_on_the_target(
    server_url: str, make_user: Callable[..., tuple[Any, Any]]
) -> None:
    user, client = make_user("mover")
    mine = _group(user, "mine")
    foreign = _group(_root(), "foreign", visibility="public")
    url = f"{server_url}/api/v4/groups/{mine.pk}/transfer"
    response = requests.post(
        url,
        headers={"PRIVATE-TOKEN": client.private_token},
        json={"group_id": foreign.pk},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json() == {"message": "Transfer failed: You don't have enough permissions."}


# --- rules --------------------------------------------------------------------------------


def test_child_is_never_more_visible_than_its_parent(server_url: str) -> None:
    parent = _group(_root(), "vis-parent", visibility="internal")
    before = _count()
    response = requests.post(
        f"{server_url}/api/v4/groups",
        headers=ROOT,
        json={"name": "Kid", "path": "kid", "parent_id": parent.pk, "visibility": "public"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json() == {
        "message": 'Failed to save group {:visibility_level=>["public is not allowed since '
        'the parent group has a internal visibility."]}'
    }
    assert _count() == before


def test_parent_is_never_less_visible_than_a_child_or_a_project(server_url: str) -> None:
    from kiln.namespaces import hooks

    parent = _group(_root(), "lower-me", visibility="public")
    _group(_root(), "kid", parent=parent, visibility="internal")
    url = f"{server_url}/api/v4/groups/{parent.pk}"
    response = requests.put(url, headers=ROOT, json={"visibility": "private"}, timeout=10)
    assert response.status_code == 400
    assert response.json() == {
        "message": {
            "visibility_level": [
                "private is not allowed since there are sub-groups with higher visibility."
            ]
        }
    }

    def public_projects(namespace_ids: list[int]) -> int | None:
        return 20 if parent.pk in namespace_ids else None

    hooks.register_content_visibility(public_projects)
    try:
        response = requests.put(url, headers=ROOT, json={"visibility": "internal"}, timeout=10)
    finally:
        hooks._VISIBILITY.remove(public_projects)
    assert response.json() == {
        "message": {
            "visibility_level": [
                "internal is not allowed since this group contains projects with higher visibility."
            ]
        }
    }
    parent.refresh_from_db()
    assert parent.visibility_level == 20


def test_nesting_stops_at_twenty_ancestors(server_url: str) -> None:
    parent = None
    for depth in range(21):  # a top-level group and 20 levels of subgroups below it
        parent = _group(_root(), f"level{depth}", parent=parent)
    assert parent is not None
    assert parent.depth == 21
    before = _count()
    response = requests.post(
        f"{server_url}/api/v4/groups",
        headers=ROOT,
        json={"name": "Too Deep", "path": "too-deep", "parent_id": parent.pk},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json() == {
        "message": 'Failed to save group {:parent_id=>["has too deep level of nesting"]}'
    }
    assert _count() == before


def test_subgroup_path_may_not_equal_a_claimed_child_path(server_url: str) -> None:
    from kiln.namespaces import hooks

    parent = _group(_root(), "claims")

    def project_named_app(namespace_id: int, path: str) -> bool:
        return namespace_id == parent.pk and path.lower() == "app"

    hooks.register_child_path_claim(project_named_app)
    try:
        response = requests.post(
            f"{server_url}/api/v4/groups",
            headers=ROOT,
            json={"name": "App", "path": "APP", "parent_id": parent.pk},
            timeout=10,
        )
    finally:
        hooks._PATH_CLAIMS.remove(project_named_app)
    assert response.json() == {
        "message": 'Failed to save group {:path=>["has already been taken"]}'
    }


# --- lists --------------------------------------------------------------------------------


@pytest.fixture
def listed_groups(make_user: Callable[..., tuple[Any, Any]]) -> dict[str, Any]:
    user, client = make_user("lister")
    root = _root()
    from kiln.namespaces.models import GroupMember

    groups = {
        "alpha": _group(root, "alpha", visibility="public"),
        "beta": _group(root, "beta", visibility="internal"),
        "gamma": _group(root, "gamma", visibility="private"),
        "mine": _group(user, "mine"),
    }
    groups["alpha-sub"] = _group(root, "alpha-sub", parent=groups["alpha"], visibility="public")
    GroupMember.objects.create(group=groups["gamma"], user=user, access_level=20)
    return {"client": client, **groups}


def _ids(response: requests.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [g["id"] for g in response.json()]


def test_list_filters(server_url: str, listed_groups: dict[str, Any]) -> None:
    g = listed_groups
    token = {"PRIVATE-TOKEN": g["client"].private_token}

    def ids(headers: dict[str, str] | None = None, **params: Any) -> list[int]:
        url = f"{server_url}/api/v4/groups"
        return _ids(requests.get(url, headers=headers, params=params, timeout=10))

    pk = {name: group.pk for name, group in g.items() if name != "client"}
    # Anonymous: public groups. A user: their groups; with all_available, all they may see.
    assert ids() == [pk["alpha"], pk["alpha-sub"]]
    assert ids(token) == [pk["gamma"], pk["mine"]]
    assert ids(token, all_available="true") == [
        pk["alpha"],
        pk["alpha-sub"],
        pk["beta"],
        pk["gamma"],
        pk["mine"],
    ]
    assert ids(token, owned="true") == [pk["mine"]]
    assert ids(token, min_access_level=30) == [pk["mine"]]
    assert ids(ROOT, top_level_only="true") == [pk[n] for n in ("alpha", "beta", "gamma", "mine")]
    assert ids(ROOT, search="alp") == [pk["alpha"], pk["alpha-sub"]]
    assert ids(ROOT, search="al") == []  # under 3 characters: exact matches only
    assert ids(ROOT, visibility="internal") == [pk["beta"]]
    assert ids(ROOT, order_by="id", sort="desc")[:2] == [pk["alpha-sub"], pk["mine"]]
    assert ids(ROOT, order_by="path", sort="desc")[0] == pk["mine"]
    assert ids(ROOT, search="alpha", order_by="similarity")[0] == pk["alpha"]
    assert pk["beta"] not in ids(ROOT, **{"skip_groups[]": [pk["beta"]]})
    assert pk["beta"] not in ids(ROOT, skip_groups=f"{pk['beta']},{pk['gamma']}")
    bad = requests.get(f"{server_url}/api/v4/groups", params={"min_access_level": 7}, timeout=10)
    assert bad.status_code == 400
    assert bad.json() == {"error": "min_access_level does not have a valid value"}
    bad = requests.get(f"{server_url}/api/v4/groups", params={"visibility": "secret"}, timeout=10)
    assert bad.json() == {"error": "visibility does not have a valid value"}


def test_python_gitlab_pagination_without_warnings(gl: gitlab.Gitlab) -> None:
    root = _root()
    for n in range(5):
        _group(root, f"page{n}")
    every = gl.groups.list(get_all=True, per_page=2)
    assert len(every) == 5
    assert len(list(gl.groups.list(iterator=True, per_page=2))) == 5


def test_out_of_range_paging(server_url: str) -> None:
    _group(_root(), "paged")
    url = f"{server_url}/api/v4/groups"
    huge = requests.get(url, headers=ROOT, params={"per_page": 100000}, timeout=10)
    assert huge.headers["X-Per-Page"] == "100"
    negative = requests.get(url, headers=ROOT, params={"page": -1}, timeout=10)
    assert negative.headers["X-Page"] == "1"
    assert len(negative.json()) == 1


def query_count(path: str, **params: Any) -> tuple[int, Any]:
    """Queries one API request makes, served in this thread by Django's test client."""
    from django.test import Client

    with CaptureQueriesContext(connection) as queries:
        response = Client().get(path, params, HTTP_PRIVATE_TOKEN=ROOT_TOKEN)
    assert response.status_code == 200, response.content
    return len(queries), response.json()


@pytest.mark.parametrize(
    "path", ["/groups", "/groups/{id}/subgroups", "/groups/{id}/descendant_groups"]
)
def test_list_query_budget(server_url: str, path: str) -> None:
    root = _root()
    top = _group(root, "budget", visibility="public")
    for n in range(25):
        _group(root, f"b{n}", parent=top, visibility="public")
    url = f"/api/v4{path.format(id=top.pk)}"
    query_count(url)  # once, so that per-minute work (the token's last use) is done
    small, page = query_count(url, per_page=2)
    assert len(page) == 2
    large, page = query_count(url, per_page=20)
    assert len(page) == 20
    assert small == large


# --- hostile input ---------------------------------------------------------------------------

BIDI = "evil\u202egpj.exe"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"name": "Dots", "path": "../etc"},
            {
                "message": 'Failed to save group {:path=>["can contain only letters, digits, '
                "'_', '-' and '.'. Cannot start with '-' or end in '.', '.git' or '.atom'.\"]}"
            },
        ),
        (
            {"name": "Encoded", "path": "%2e%2e"},
            {
                "message": 'Failed to save group {:path=>["can contain only letters, digits, '
                "'_', '-' and '.'. Cannot start with '-' or end in '.', '.git' or '.atom'.\"]}"
            },
        ),
        (
            {"name": "x" * 256, "path": "long-name"},
            {
                "message": "Failed to save group "
                '{:name=>["is too long (maximum is 255 characters)"]}'
            },
        ),
        (
            {"name": "Bell\x07", "path": "bell"},
            {
                "message": 'Failed to save group {:name=>["cannot contain control or invisible '
                "formatting characters\", \"can contain only letters, digits, emoji, '_', '.', "
                "dash, space, parenthesis. It must start with letter, digit, emoji or '_'.\"]}"
            },
        ),
        (
            {"name": BIDI, "path": "bidi"},
            {
                "message": 'Failed to save group {:name=>["cannot contain control or invisible '
                'formatting characters"]}'
            },
        ),
        (
            {"name": "API", "path": "api"},
            {"message": 'Failed to save group {:path=>["api is a reserved name"]}'},
        ),
        (
            {"name": "Taken", "path": "ROOT"},
            {"message": 'Failed to save group {:path=>["has already been taken"]}'},
        ),
        (
            {"name": "Short", "path": "a"},
            {"message": 'Failed to save group {:path=>["is too short (minimum is 2 characters)"]}'},
        ),
        ({"name": "Secret", "path": "secret", "visibility": "secret"}, None),
        ({"name": "Parent", "path": "abc-parent", "parent_id": "abc"}, None),
        ({"path": "nameless"}, {"error": "name is missing"}),
    ],
    ids=[
        "dotdot",
        "encoded-dotdot",
        "long-name",
        "control-char",
        "bidi",
        "reserved",
        "taken-by-username",
        "too-short",
        "bad-visibility",
        "bad-parent-id",
        "missing-name",
    ],
)
def test_hostile_group_creation_writes_nothing(
    server_url: str, body: dict[str, Any], expected: dict[str, Any] | None
) -> None:
    if expected is None:
        key = "visibility" if "visibility" in body else "parent_id"
        verb = "does not have a valid value" if key == "visibility" else "is invalid"
        expected = {"error": f"{key} {verb}"}
    before = _count()
    response = requests.post(f"{server_url}/api/v4/groups", headers=ROOT, json=body, timeout=10)
    assert response.status_code == 400
    assert response.json() == expected
    assert _count() == before


def test_reserved_subgroup_path_and_case_insensitive_duplicates(server_url: str) -> None:
    parent = _group(_root(), "Dup")
    _group(_root(), "taken", parent=parent)
    before = _count()
    cases = [
        ({"name": "Tree", "path": "tree", "parent_id": parent.pk}, "tree is a reserved name"),
        ({"name": "Again", "path": "dup"}, "has already been taken"),
        ({"name": "Twice", "path": "TAKEN", "parent_id": parent.pk}, "has already been taken"),
    ]
    for body, message in cases:
        url = f"{server_url}/api/v4/groups"
        response = requests.post(url, headers=ROOT, json=body, timeout=10)
        assert response.json() == {"message": f'Failed to save group {{:path=>["{message}"]}}'}
    assert _count() == before


def test_malformed_json_and_encoded_traversal_in_the_url(server_url: str) -> None:
    before = _count()
    response = requests.post(
        f"{server_url}/api/v4/groups",
        headers={**ROOT, "Content-Type": "application/json"},
        data=b'{"name": "x", "path":',
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json() == {"message": "400 Bad request - the request body is not valid JSON"}
    assert _count() == before
    for ref in ("%2e%2e", "..%2F..%2Fetc", "%2E%2E%2Fx", "9" * 30):
        missing = requests.get(f"{server_url}/api/v4/groups/{ref}", headers=ROOT, timeout=10)
        assert missing.status_code == 404
        assert missing.json() == {"message": "404 Group Not Found"}


def test_update_refuses_bad_names_and_keeps_the_row(server_url: str) -> None:
    group = _group(_root(), "stable")
    url = f"{server_url}/api/v4/groups/{group.pk}"
    response = requests.put(url, headers=ROOT, json={"path": "../x", "name": "ok"}, timeout=10)
    assert response.status_code == 400
    assert response.json() == {
        "message": {
            "path": [
                "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-' or "
                "end in '.', '.git' or '.atom'."
            ]
        }
    }
    group.refresh_from_db()
    assert (group.path, group.name) == ("stable", "Stable")


def test_only_admins_may_set_admin_settings_or_create_without_permission(
    server_url: str, make_user: Callable[..., tuple[Any, Any]]
) -> None:
    user, client = make_user("plain")
    headers = {"PRIVATE-TOKEN": client.private_token}
    mine = _group(user, "plain-group")
    # max_artifacts_size is an administrator's setting: ignored for others, as GitLab does.
    response = requests.put(
        f"{server_url}/api/v4/groups/{mine.pk}",
        headers=headers,
        json={"max_artifacts_size": 5, "description": "mine"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["max_artifacts_size"] is None
    assert response.json()["description"] == "mine"
    admin = requests.put(
        f"{server_url}/api/v4/groups/{mine.pk}",
        headers=ROOT,
        json={"max_artifacts_size": 5},
        timeout=10,
    )
    assert admin.json()["max_artifacts_size"] == 5

    _, external = make_user("outsider", external=True)
    _, limited = make_user("limited", can_create_group=False)
    before = _count()
    for token in (external.private_token, limited.private_token):
        response = requests.post(
            f"{server_url}/api/v4/groups",
            headers={"PRIVATE-TOKEN": token},
            json={"name": "Nope", "path": "nope"},
            timeout=10,
        )
        assert response.status_code == 403
        assert response.json() == {"message": "403 Forbidden"}
    assert _count() == before


def test_anonymous_and_read_only_tokens_cannot_write(
    server_url: str, make_user: Callable[..., tuple[Any, Any]]
) -> None:
    group = _group(_root(), "guarded", visibility="public")
    _, reader = make_user("reader", scopes=("read_api",))
    before = _count()
    anonymous = requests.post(
        f"{server_url}/api/v4/groups", json={"name": "Anon", "path": "anon"}, timeout=10
    )
    assert anonymous.status_code == 401
    assert anonymous.json() == {"message": "401 Unauthorized"}
    response = requests.delete(
        f"{server_url}/api/v4/groups/{group.pk}",
        headers={"PRIVATE-TOKEN": reader.private_token},
        timeout=10,
    )
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert _count() == before
