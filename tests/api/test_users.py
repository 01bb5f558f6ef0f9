"""`/user` and `/users`: shapes, filters, create/modify/delete, states, username rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gitlab
import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import ROOT_TOKEN

MakeUser = Callable[..., tuple[Any, gitlab.Gitlab]]

ROOT = {"PRIVATE-TOKEN": ROOT_TOKEN}

USER_BASIC = {"id", "username", "public_email", "name", "state", "locked", "avatar_url", "web_url"}
USER_PROFILE = USER_BASIC | {
    "created_at",
    "bio",
    "location",
    "linkedin",
    "twitter",
    "discord",
    "github",
    "website_url",
    "organization",
    "job_title",
    "pronouns",
    "bot",
    "work_information",
    "followers",
    "following",
    "is_followed",
    "local_time",
}
USER_PUBLIC = USER_PROFILE | {
    "last_sign_in_at",
    "confirmed_at",
    "last_activity_on",
    "email",
    "theme_id",
    "color_scheme_id",
    "projects_limit",
    "current_sign_in_at",
    "identities",
    "can_create_group",
    "can_create_project",
    "two_factor_enabled",
    "external",
    "private_profile",
    "commit_email",
    "preferred_language",
}
USER_WITH_ADMIN = USER_PUBLIC | {
    "is_admin",
    "note",
    "namespace_id",
    "created_by",
    "email_reset_offered_at",
}
USER_DETAILS_WITH_ADMIN = USER_WITH_ADMIN | {
    "highest_role",
    "current_sign_in_ip",
    "last_sign_in_ip",
    "sign_in_count",
}


def api(server_url: str, path: str) -> str:
    return f"{server_url}/api/v4{path}"


def counts() -> tuple[int, int]:
    from kiln.accounts.models import User
    from kiln.namespaces.models import Namespace

    return User.objects.count(), Namespace.objects.count()


# --- /user ----------------------------------------------------------------------------------


def test_current_user_as_admin_has_full_shape(gl: gitlab.Gitlab) -> None:
    gl.auth()
    assert gl.user is not None
    assert gl.user.username == "root"
    data = gl.user.attributes
    assert set(data) == USER_WITH_ADMIN
    assert data["id"] == 1
    assert data["name"] == "Administrator"
    assert data["is_admin"] is True
    assert data["two_factor_enabled"] is False
    assert data["identities"] == []
    assert data["can_create_group"] is True
    assert data["can_create_project"] is True
    assert data["web_url"].endswith("/root")
    assert data["namespace_id"] is not None


def test_current_user_as_regular_user(make_user: MakeUser) -> None:
    _user, client = make_user("alice", public_email="alice@example.com")
    client.auth()
    data = client.user.attributes  # type: ignore[union-attr]
    assert set(data) == USER_PUBLIC
    assert "is_admin" not in data
    assert data["email"] == "alice@example.com"
    assert data["public_email"] == "alice@example.com"
    assert data["commit_email"] == "alice@example.com"


def test_current_user_anonymous_is_401(server_url: str) -> None:
    response = requests.get(api(server_url, "/user"), timeout=10)
    assert response.status_code == 401
    assert response.json() == {"message": "401 Unauthorized"}
    paths = requests.get(api(server_url, "/openapi.json"), timeout=10).json()["paths"]
    for path in ("/api/v4/user", "/api/v4/users", "/api/v4/personal_access_tokens/self"):
        assert path in paths


# --- /users list ----------------------------------------------------------------------------


def test_list_users_shapes_by_role(gl: gitlab.Gitlab, make_user: MakeUser) -> None:
    _, bob = make_user("bob")
    admin_view = gl.users.list(get_all=True)
    assert {u.username for u in admin_view} == {"root", "bob"}
    assert all(set(u.attributes) == USER_WITH_ADMIN for u in admin_view)
    user_view = bob.users.list(get_all=True)
    assert {u.username for u in user_view} == {"root", "bob"}
    assert all(set(u.attributes) == USER_BASIC for u in user_view)
    # Default order: id, descending.
    assert [u.username for u in user_view] == ["bob", "root"]


def test_anonymous_may_only_look_up_by_username(server_url: str, anon_gl: gitlab.Gitlab) -> None:
    response = requests.get(api(server_url, "/users"), timeout=10)
    assert response.status_code == 403
    assert response.json() == {"message": "403 Forbidden - Not authorized to access /api/v4/users"}
    found = anon_gl.users.list(username="ROOT")
    assert [u.username for u in found] == ["root"]
    assert set(found[0].attributes) == USER_BASIC


def test_search_and_email_visibility(gl: gitlab.Gitlab, make_user: MakeUser) -> None:
    make_user("carol", name="Carol Jones", email="carol@corp.example")
    _, dave = make_user("dave", email="dave@corp.example", public_email="dave@corp.example")
    assert [u.username for u in gl.users.list(search="jones")] == ["carol"]
    assert [u.username for u in gl.users.list(search="@car")] == ["carol"]
    # Admins find users by their private email; others only by public ones.
    assert [u.username for u in gl.users.list(search="carol@corp.example")] == ["carol"]
    assert dave.users.list(search="carol@corp.example") == []
    assert [u.username for u in dave.users.list(search="dave@corp.example")] == ["dave"]
    assert [u.username for u in dave.users.list(public_email="dave@corp.example")] == ["dave"]


def test_state_and_kind_filters(gl: gitlab.Gitlab, make_user: MakeUser) -> None:
    from kiln.accounts.models import User

    blocked, _ = make_user("blocked1")
    make_user("extern1", external=True)
    _, viewer = make_user("viewer")
    User.objects.filter(pk=blocked.pk).update(state="blocked")
    assert [u.username for u in gl.users.list(blocked=True)] == ["blocked1"]
    assert "blocked1" not in {u.username for u in gl.users.list(active=True, get_all=True)}
    assert [u.username for u in gl.users.list(external=True)] == ["extern1"]
    assert "extern1" not in {u.username for u in gl.users.list(exclude_external=True)}
    assert {u.username for u in gl.users.list(exclude_internal=True, get_all=True)} == {
        "root",
        "blocked1",
        "extern1",
        "viewer",
    }
    assert [u.username for u in gl.users.list(admins=True)] == ["root"]
    # Blocked accounts are hidden from non-admin lists.
    assert "blocked1" not in {u.username for u in viewer.users.list(get_all=True)}
    assert viewer.users.list(blocked=True) == []


def test_order_by_and_invalid_values(
    server_url: str, gl: gitlab.Gitlab, make_user: MakeUser
) -> None:
    make_user("zed", name="Aaron")
    make_user("amy", name="Zoe")
    by_name = gl.users.list(order_by="name", sort="asc", get_all=True)
    assert [u.username for u in by_name] == ["zed", "root", "amy"]
    by_username = gl.users.list(order_by="username", sort="asc", get_all=True)
    assert [u.username for u in by_username] == ["amy", "root", "zed"]
    response = requests.get(
        api(server_url, "/users"), params={"order_by": "email"}, headers=ROOT, timeout=10
    )
    assert response.status_code == 400
    assert response.json() == {"error": "order_by does not have a valid value"}
    response = requests.get(
        api(server_url, "/users"), params={"active": "maybe"}, headers=ROOT, timeout=10
    )
    assert response.status_code == 400
    assert response.json() == {"error": "active is invalid"}


def test_pagination_headers_and_keyset(server_url: str, gl: gitlab.Gitlab) -> None:
    from kiln.accounts.services import create_user_unchecked

    for i in range(5):
        create_user_unchecked(
            username=f"page{i}", name=f"Page {i}", email=f"page{i}@example.com", password=None
        )
    response = requests.get(
        api(server_url, "/users"), params={"per_page": 2, "page": 2}, headers=ROOT, timeout=10
    )
    assert response.status_code == 200
    assert len(response.json()) == 2
    assert response.headers["X-Total"] == "6"
    assert response.headers["X-Total-Pages"] == "3"
    assert response.headers["X-Next-Page"] == "3"
    assert response.headers["X-Prev-Page"] == "1"
    assert 'rel="next"' in response.headers["Link"]
    # python-gitlab pages through everything without warnings.
    assert len(list(gl.users.list(iterator=True, per_page=2))) == 6
    keyset = gl.users.list(pagination="keyset", order_by="id", sort="asc", per_page=2, get_all=True)
    assert [u.id for u in keyset] == sorted(u.id for u in keyset)
    assert len(keyset) == 6
    capped = requests.get(
        api(server_url, "/users"), params={"per_page": 100000, "page": -1}, headers=ROOT, timeout=10
    )
    assert capped.status_code == 200
    assert capped.headers["X-Per-Page"] == "100"
    assert capped.headers["X-Page"] == "1"


@pytest.mark.parametrize("headers", [ROOT, None], ids=["admin", "user"])
def test_list_query_budget(
    server_url: str, make_user: MakeUser, headers: dict[str, str] | None
) -> None:
    from django.test import Client

    from kiln.accounts.services import create_user_unchecked

    admin_token = headers is not None
    for i in range(25):
        create_user_unchecked(
            username=f"budget{i}", name=f"B {i}", email=f"b{i}@example.com", password=None
        )
    if not admin_token:
        from kiln.accounts.access_tokens import create_personal_access_token_unchecked
        from kiln.accounts.models import User

        viewer = User.objects.get(username="budget0")
        _, value = create_personal_access_token_unchecked(user=viewer, name="t", scopes=["api"])
        headers = {"PRIVATE-TOKEN": value}
    client = Client()
    assert headers is not None
    extra = {"HTTP_PRIVATE_TOKEN": headers["PRIVATE-TOKEN"]}
    client.get("/api/v4/users", {"per_page": 2}, **extra)  # warm caches
    with CaptureQueriesContext(connection) as small:
        assert client.get("/api/v4/users", {"per_page": 2}, **extra).status_code == 200
    with CaptureQueriesContext(connection) as large:
        response = client.get("/api/v4/users", {"per_page": 20}, **extra)
    assert response.status_code == 200
    assert len(response.json()) == 20
    assert len(large) == len(small)
    assert len(large) <= 8


# --- /users/:id -----------------------------------------------------------------------------


def test_get_user_admin_and_public_shapes(
    server_url: str, gl: gitlab.Gitlab, make_user: MakeUser
) -> None:
    erin, erin_gl = make_user("erin", note="watch")
    admin_view = gl.users.get(erin.pk)
    assert set(admin_view.attributes) == USER_DETAILS_WITH_ADMIN
    assert admin_view.email == "erin@example.com"
    assert admin_view.note == "watch"
    assert admin_view.is_admin is False
    assert admin_view.highest_role == 0
    public = erin_gl.users.get(1)
    assert set(public.attributes) == USER_PROFILE
    assert "email" not in public.attributes
    anonymous = requests.get(api(server_url, f"/users/{erin.pk}"), timeout=10)
    assert anonymous.status_code == 403
    assert anonymous.json() == {"message": "403 Forbidden - Not authorized!"}
    missing = requests.get(api(server_url, "/users/999999"), headers=ROOT, timeout=10)
    assert missing.status_code == 404
    assert missing.json() == {"message": "404 User Not Found"}
    by_name = requests.get(api(server_url, "/users/erin"), headers=ROOT, timeout=10)
    assert by_name.status_code == 404
    assert by_name.json() == {"error": "404 Not Found"}


def test_private_profile_hides_details(make_user: MakeUser) -> None:
    shy, _ = make_user("shy", private_profile=True)
    _, other = make_user("other")
    data = other.users.get(shy.pk).attributes
    assert "created_at" not in data
    assert "followers" not in data
    assert data["username"] == "shy"


# --- POST /users ----------------------------------------------------------------------------


def test_create_user_through_python_gitlab(gl: gitlab.Gitlab) -> None:
    from kiln.accounts.models import User
    from kiln.namespaces.models import Namespace

    user = gl.users.create(
        {
            "username": "frank",
            "name": "Frank",
            "email": "frank@example.com",
            "password": "long-password-1",
            "skip_confirmation": True,
            "projects_limit": 7,
            "bio": "hello",
        }
    )
    assert set(user.attributes) == USER_WITH_ADMIN
    assert user.username == "frank"
    assert user.projects_limit == 7
    assert user.bio == "hello"
    assert user.created_by["username"] == "root"
    assert user.confirmed_at is not None
    row = User.objects.get(username="frank")
    assert row.password != "long-password-1"
    assert row.check_password("long-password-1")
    namespace = Namespace.objects.get(owner=row)
    assert namespace.full_path == "frank"
    assert user.namespace_id == namespace.pk


def test_create_user_random_password_and_external(gl: gitlab.Gitlab) -> None:
    user = gl.users.create(
        {
            "username": "ext",
            "name": "Ext",
            "email": "ext@example.com",
            "force_random_password": True,
            "external": True,
        }
    )
    assert user.external is True
    assert user.can_create_group is False
    assert user.projects_limit == 0
    assert user.can_create_project is False
    assert user.confirmed_at is None
    reset = gl.users.create(
        {"username": "rst", "name": "R", "email": "rst@example.com", "reset_password": True}
    )
    assert reset.state == "active"


def test_create_user_missing_parameters(server_url: str, gl: gitlab.Gitlab) -> None:
    before = counts()
    response = requests.post(api(server_url, "/users"), json={}, headers=ROOT, timeout=10)
    assert response.status_code == 400
    assert response.json() == {
        "error": "email is missing, password, reset_password, force_random_password are missing, "
        "at least one parameter must be provided, name is missing, username is missing"
    }
    response = requests.post(
        api(server_url, "/users"),
        data={"email": "x@example.com", "name": "X", "username": "x1"},
        headers=ROOT,
        timeout=10,
    )
    assert response.json() == {
        "error": "password, reset_password, force_random_password are missing, "
        "at least one parameter must be provided"
    }
    assert counts() == before


def test_create_user_needs_admin(server_url: str, make_user: MakeUser) -> None:
    _user, client = make_user("plain")
    payload = {"username": "x2", "name": "X", "email": "x2@example.com", "password": "password-1"}
    before = counts()
    with pytest.raises(gitlab.GitlabCreateError) as excinfo:
        client.users.create(payload)
    assert excinfo.value.response_code == 403
    anonymous = requests.post(api(server_url, "/users"), json=payload, timeout=10)
    assert anonymous.status_code == 401
    assert counts() == before


def post_user(server_url: str, **overrides: Any) -> requests.Response:
    payload = {"username": "newbie", "name": "Newbie", "email": "newbie@example.com"}
    payload["password"] = "password-123"
    payload.update(overrides)
    return requests.post(api(server_url, "/users"), json=payload, headers=ROOT, timeout=10)


FORMAT = (
    "can contain only letters, digits, '_', '-' and '.'. "
    "Cannot start with '-' or end in '.', '.git' or '.atom'."
)


BAD_USERNAMES: list[tuple[str, dict[str, list[str]]]] = [
    ("..", {"username": [FORMAT]}),
    ("../etc", {"username": [FORMAT]}),
    ("%2e%2e", {"username": [FORMAT]}),
    ("-lead", {"username": [FORMAT]}),
    ("repo.git", {"username": [FORMAT]}),
    ("feed.atom", {"username": [FORMAT]}),
    ("trail.", {"username": [FORMAT]}),
    ("a" * 256, {"username": ["is too long (maximum is 255 characters)"]}),
    ("bell\x07", {"username": [FORMAT]}),
    ("rtl\u202eevil", {"username": [FORMAT]}),
    ("admin", {"username": ["admin is a reserved name"]}),
    ("API", {"username": ["API is a reserved name"]}),
    ("", {"username": ["can't be blank"]}),
]


def test_create_user_refuses_bad_usernames(server_url: str, seeded: None) -> None:
    # One test for all cases: each is a request, and a database flush per case would cost more.
    before = counts()
    for username, errors in BAD_USERNAMES:
        response = post_user(server_url, username=username)
        assert response.status_code == 400, username
        assert response.json() == {"message": errors}, username
    assert counts() == before


BAD_ATTRIBUTES: list[tuple[str, Any, dict[str, list[str]]]] = [
    ("name", "", {"name": ["can't be blank"]}),
    ("name", "n" * 256, {"name": ["is too long (maximum is 255 characters)"]}),
    (
        "name",
        "Evil\u202eName",
        {"name": ["cannot contain control or invisible formatting characters"]},
    ),
    (
        "name",
        "Null\x00Byte",
        {"name": ["cannot contain control or invisible formatting characters"]},
    ),
    ("email", "not-an-email", {"email": ["is invalid"]}),
    ("email", "two@@example.com", {"email": ["is invalid"]}),
    ("password", "short", {"password": ["is too short (minimum is 8 characters)"]}),
    ("password", "p" * 129, {"password": ["is too long (maximum is 128 characters)"]}),
    ("projects_limit", -1, {"projects_limit": ["must be greater than or equal to 0"]}),
    ("theme_id", 99, {"theme_id": ["99 is not a valid theme"]}),
    ("color_scheme_id", 0, {"color_scheme_id": ["0 is not a valid color scheme"]}),
    ("public_email", "x@example.com", {"public_email": ["must be an email you have verified"]}),
    ("bio", "b" * 256, {"bio": ["is too long (maximum is 255 characters)"]}),
    ("discord", "not-an-id", {"discord": ["must contain only a discord user ID."]}),
]


def test_create_user_validation_messages(server_url: str, seeded: None) -> None:
    before = counts()
    for field, value, errors in BAD_ATTRIBUTES:
        response = post_user(server_url, **{field: value})
        assert response.status_code == 400, field
        assert response.json() == {"message": errors}, (field, value)
    assert counts() == before


def test_create_user_wrong_types(server_url: str, gl: gitlab.Gitlab) -> None:
    before = counts()
    response = post_user(server_url, projects_limit="lots", admin="maybe")
    assert response.status_code == 400
    assert response.json() == {"error": "projects_limit is invalid, admin is invalid"}
    malformed = requests.post(
        api(server_url, "/users"),
        data=b'{"username": ',
        headers={**ROOT, "Content-Type": "application/json"},
        timeout=10,
    )
    assert malformed.status_code == 400
    assert counts() == before


def test_username_and_email_uniqueness(server_url: str, gl: gitlab.Gitlab) -> None:
    from kiln.accounts.models import User
    from kiln.core.actor import Actor
    from kiln.namespaces.groups import create_group

    root = User.objects.get(pk=1)
    create_group(actor=Actor.for_user(root), name="Team", path="team")
    assert post_user(server_url).status_code == 201
    before = counts()
    # Another user has it (whatever the case): 409, as GitLab.
    taken = post_user(server_url, username="NEWBIE", email="other@example.com")
    assert taken.status_code == 409
    assert taken.json() == {"message": "Username has already been taken"}
    email = post_user(server_url, username="other", email="Newbie@Example.com")
    assert email.status_code == 409
    assert email.json() == {"message": "Email has already been taken"}
    # A group holds the path: a validation error on the account.
    group = post_user(server_url, username="Team", email="team@example.com")
    assert group.status_code == 400
    assert group.json() == {
        "message": {"base": ["A user, alias, or group already exists with that username."]}
    }
    assert counts() == before


# --- PUT /users/:id -------------------------------------------------------------------------


def test_update_user_renames_personal_namespace(gl: gitlab.Gitlab, make_user: MakeUser) -> None:
    from kiln.namespaces.models import Namespace

    user, _ = make_user("gina")
    remote = gl.users.get(user.pk)
    remote.username = "georgina"
    remote.name = "Georgina"
    remote.bio = "Updated"
    remote.save()
    fresh = gl.users.get(user.pk)
    assert fresh.username == "georgina"
    assert fresh.bio == "Updated"
    namespace = Namespace.objects.get(owner_id=user.pk)
    assert namespace.full_path == "georgina"
    assert namespace.path == "georgina"
    assert namespace.name == "Georgina"


def test_update_user_refusals(server_url: str, gl: gitlab.Gitlab, make_user: MakeUser) -> None:
    from kiln.accounts.models import User

    hank, hank_gl = make_user("hank")
    make_user("ivy")
    url = api(server_url, f"/users/{hank.pk}")
    taken = requests.put(url, json={"username": "IVY"}, headers=ROOT, timeout=10)
    assert taken.status_code == 409
    assert taken.json() == {"message": "Username has already been taken"}
    email = requests.put(url, json={"email": "ivy@example.com"}, headers=ROOT, timeout=10)
    assert email.status_code == 409
    assert email.json() == {"message": "Email has already been taken"}
    bad = requests.put(url, json={"username": "x.git", "name": ""}, headers=ROOT, timeout=10)
    assert bad.status_code == 400
    assert bad.json() == {"message": {"username": [FORMAT], "name": ["can't be blank"]}}
    forbidden = requests.put(
        api(server_url, "/users/1"),
        json={"admin": False},
        headers={"PRIVATE-TOKEN": hank_gl.private_token or ""},
        timeout=10,
    )
    assert forbidden.status_code == 403
    assert forbidden.json() == {"message": "403 Forbidden"}
    missing = requests.put(api(server_url, "/users/999999"), json={}, headers=ROOT, timeout=10)
    assert missing.status_code == 404
    assert missing.json() == {"message": "404 User Not Found"}
    row = User.objects.get(pk=hank.pk)
    assert (row.username, row.name, row.email) == ("hank", "Hank", "hank@example.com")
    assert User.objects.get(pk=1).is_admin


def test_update_external_and_admin_flags(gl: gitlab.Gitlab, make_user: MakeUser) -> None:
    user, _ = make_user("jack")
    remote = gl.users.get(user.pk)
    remote.external = True
    remote.save()
    assert gl.users.get(user.pk).can_create_group is False
    assert gl.users.get(user.pk).projects_limit == 0
    remote = gl.users.get(user.pk)
    remote.external = False
    remote.admin = True
    remote.save()
    fresh = gl.users.get(user.pk)
    assert fresh.is_admin is True
    assert fresh.external is False
    assert fresh.projects_limit == 100000


# --- DELETE /users/:id ----------------------------------------------------------------------


def test_delete_user_removes_namespace_projects_tokens_and_keys(
    server_url: str, gl: gitlab.Gitlab, make_user: MakeUser
) -> None:
    from kiln.accounts.models import PersonalAccessToken, User
    from kiln.core.actor import Actor
    from kiln.namespaces.models import Namespace
    from kiln.projects.models import Project
    from kiln.projects.services import create_project

    kate, _kate_gl = make_user("kate")
    create_project(actor=Actor.for_user(kate), name="notes")
    assert Project.objects.filter(namespace__owner=kate).count() == 1
    gl.users.delete(kate.pk)
    assert not User.objects.filter(pk=kate.pk).exists()
    assert not Namespace.objects.filter(full_path="kate").exists()
    assert not Project.objects.filter(name="notes").exists()
    assert not PersonalAccessToken.objects.filter(user_id=kate.pk).exists()
    gone = requests.get(api(server_url, f"/users/{kate.pk}"), headers=ROOT, timeout=10)
    assert gone.status_code == 404
    again = requests.delete(api(server_url, f"/users/{kate.pk}"), headers=ROOT, timeout=10)
    assert again.status_code == 404
    assert again.json() == {"message": "404 User Not Found"}


def test_delete_sole_group_owner(server_url: str, gl: gitlab.Gitlab, make_user: MakeUser) -> None:
    from kiln.accounts.models import User
    from kiln.core.actor import Actor
    from kiln.namespaces.groups import create_group
    from kiln.namespaces.models import Namespace

    leo, _ = make_user("leo")
    group = create_group(actor=Actor.for_user(leo), name="Leo Group", path="leo-group")
    create_group(actor=Actor.for_user(leo), name="Sub", path="sub", parent=group)
    url = api(server_url, f"/users/{leo.pk}")
    refused = requests.delete(url, headers=ROOT, timeout=10)
    assert refused.status_code == 409
    assert refused.json() == {
        "message": "User cannot be removed while is the sole-owner of a group"
    }
    assert User.objects.filter(pk=leo.pk).exists()
    assert Namespace.objects.filter(full_path="leo-group").exists()
    hard = requests.delete(url, params={"hard_delete": "true"}, headers=ROOT, timeout=10)
    assert hard.status_code == 204
    assert not User.objects.filter(pk=leo.pk).exists()
    assert not Namespace.objects.filter(full_path__startswith="leo-group").exists()


def test_delete_user_with_co_owned_group_keeps_the_group(
    gl: gitlab.Gitlab, make_user: MakeUser
) -> None:
    from kiln.core.access import AccessLevel
    from kiln.core.actor import Actor
    from kiln.namespaces.groups import create_group
    from kiln.namespaces.models import GroupMember, Namespace

    mia, _ = make_user("mia")
    ned, _ = make_user("ned")
    group = create_group(actor=Actor.for_user(mia), name="Shared", path="shared")
    GroupMember.objects.create(group=group, user=ned, access_level=AccessLevel.OWNER)
    gl.users.delete(mia.pk)
    assert Namespace.objects.filter(full_path="shared").exists()
    assert list(GroupMember.objects.filter(group=group).values_list("user_id", flat=True)) == [
        ned.pk
    ]


def test_delete_user_needs_admin(server_url: str, make_user: MakeUser) -> None:
    _, client = make_user("olga")
    before = counts()
    response = requests.delete(
        api(server_url, "/users/1"),
        headers={"PRIVATE-TOKEN": client.private_token or ""},
        timeout=10,
    )
    assert response.status_code == 403
    assert counts() == before


# --- block / unblock / deactivate / activate ------------------------------------------------


def post_state(server_url: str, user_id: int, action: str) -> requests.Response:
    return requests.post(api(server_url, f"/users/{user_id}/{action}"), headers=ROOT, timeout=10)


def test_block_and_unblock(server_url: str, gl: gitlab.Gitlab, make_user: MakeUser) -> None:
    user, client = make_user("pete")
    remote = gl.users.get(user.pk)
    assert remote.block() is True
    assert remote.state == "blocked"
    # A blocked user's token no longer works.
    with pytest.raises(gitlab.GitlabError) as excinfo:
        client.auth()
    assert excinfo.value.response_code == 403
    again = post_state(server_url, user.pk, "block")
    assert (again.status_code, again.json()) == (201, None)
    assert remote.unblock() is True
    assert gl.users.get(user.pk).state == "active"
    active = post_state(server_url, user.pk, "unblock")
    assert (active.status_code, active.json()) == (201, False)
    own = post_state(server_url, 1, "block")
    assert own.status_code == 403
    assert own.json() == {
        "message": "403 Forbidden - The API initiating user cannot be blocked by the API"
    }
    missing = post_state(server_url, 999999, "block")
    assert (missing.status_code, missing.json()) == (404, {"message": "404 User Not Found"})


def test_deactivate_and_activate_rules(
    server_url: str, gl: gitlab.Gitlab, make_user: MakeUser
) -> None:
    from kiln.accounts.models import User

    quinn, quinn_gl = make_user("quinn")
    remote = gl.users.get(quinn.pk)
    remote.deactivate()
    assert User.objects.get(pk=quinn.pk).state == "deactivated"
    again = post_state(server_url, quinn.pk, "deactivate")
    assert (again.status_code, again.json()) == (201, None)
    unblock = post_state(server_url, quinn.pk, "unblock")
    assert unblock.status_code == 403
    assert unblock.json() == {
        "message": "403 Forbidden - Deactivated users cannot be unblocked by the API"
    }
    activated = post_state(server_url, quinn.pk, "activate")
    assert (activated.status_code, activated.json()) == (201, True)
    # Recently active users cannot be deactivated (GitLab: the last 90 days).
    quinn_gl.auth()
    recent = post_state(server_url, quinn.pk, "deactivate")
    assert recent.status_code == 403
    assert recent.json() == {
        "message": "The user you are trying to deactivate has been active in the past 90 days "
        "and cannot be deactivated"
    }
    assert post_state(server_url, quinn.pk, "block").status_code == 201
    blocked = post_state(server_url, quinn.pk, "deactivate")
    assert blocked.status_code == 403
    assert blocked.json() == {"message": "Error occurred. A blocked user cannot be deactivated"}
    activate = post_state(server_url, quinn.pk, "activate")
    assert activate.status_code == 403
    assert activate.json() == {
        "message": "Error occurred. A blocked user must be unblocked to be activated"
    }
    assert User.objects.get(pk=quinn.pk).state == "blocked"


def test_state_changes_need_admin(server_url: str, make_user: MakeUser) -> None:
    _user, client = make_user("rita")
    for action in ("block", "unblock", "deactivate", "activate"):
        response = requests.post(
            api(server_url, f"/users/1/{action}"),
            headers={"PRIVATE-TOKEN": client.private_token or ""},
            timeout=10,
        )
        assert response.status_code == 403
        assert response.json() == {"message": "403 Forbidden"}
