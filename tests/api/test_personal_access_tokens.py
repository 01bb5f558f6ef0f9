"""Personal access tokens: list, get, revoke, rotate, `self`, admin creation, and what a token
may do (scopes, expiry, revocation, sudo)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

import gitlab
import pytest
import requests
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.conftest import ROOT_TOKEN, client

MakeUser = Callable[..., tuple[Any, gitlab.Gitlab]]
ROOT = {"PRIVATE-TOKEN": ROOT_TOKEN}
TOKEN_SHAPE = {
    "id",
    "name",
    "revoked",
    "created_at",
    "description",
    "scopes",
    "user_id",
    "last_used_at",
    "active",
    "expires_at",
}
REVOKED = {
    "error": "invalid_token",
    "error_description": "Token was revoked. You have to re-authorize from the user.",
}
EXPIRED = {
    "error": "invalid_token",
    "error_description": "Token is expired. You can either do re-authorization or token refresh.",
}
INSUFFICIENT = "The request requires higher privileges than provided by the access token."


def api(server_url: str, path: str) -> str:
    return f"{server_url}/api/v4{path}"


def auth(value: str) -> dict[str, str]:
    return {"PRIVATE-TOKEN": value}


def new_token(user: Any, **fields: Any) -> tuple[Any, str]:
    from kiln.accounts.access_tokens import create_personal_access_token_unchecked

    fields.setdefault("name", "extra")
    fields.setdefault("scopes", ["api"])
    return create_personal_access_token_unchecked(user=user, **fields)


def token_of(gl: gitlab.Gitlab) -> str:
    assert gl.private_token is not None
    return gl.private_token


# --- listing and reading --------------------------------------------------------------------


def test_users_list_their_own_tokens(gl: gitlab.Gitlab, make_user: MakeUser) -> None:
    alice, alice_gl = make_user("alice")
    new_token(alice, name="second", description="for CI")
    bob, _ = make_user("bob")
    own = alice_gl.personal_access_tokens.list(get_all=True)
    assert [t.name for t in own] == ["t", "second"]
    assert all(set(t.attributes) == TOKEN_SHAPE for t in own)
    assert all(t.user_id == alice.pk for t in own)
    assert own[1].description == "for CI"
    assert own[0].active is True
    everyone = gl.personal_access_tokens.list(get_all=True)
    assert {t.user_id for t in everyone} == {1, alice.pk, bob.pk}
    assert [t.user_id for t in gl.personal_access_tokens.list(user_id=alice.pk)] == [alice.pk] * 2


def test_list_user_id_rules(server_url: str, make_user: MakeUser) -> None:
    alice, alice_gl = make_user("alice")
    headers = auth(token_of(alice_gl))
    url = api(server_url, "/personal_access_tokens")
    other = requests.get(url, params={"user_id": 1}, headers=headers, timeout=10)
    assert (other.status_code, other.json()) == (401, {"message": "401 Unauthorized"})
    own = requests.get(url, params={"user_id": alice.pk}, headers=headers, timeout=10)
    assert own.status_code == 200
    missing = requests.get(url, params={"user_id": 999999}, headers=ROOT, timeout=10)
    assert (missing.status_code, missing.json()) == (404, {"message": "404 Not found"})
    anonymous = requests.get(url, timeout=10)
    assert anonymous.status_code == 401


def test_list_filters(server_url: str, make_user: MakeUser) -> None:
    alice, alice_gl = make_user("alice")
    revoked, _ = new_token(alice, name="old")
    revoked.revoked = True
    revoked.save()
    new_token(alice, name="deploy-key", expires_at=timezone.now().date() + dt.timedelta(days=3))
    headers = auth(token_of(alice_gl))
    url = api(server_url, "/personal_access_tokens")

    def names(**params: Any) -> list[str]:
        response = requests.get(url, params=params, headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        return [t["name"] for t in response.json()]

    assert names() == ["t", "old", "deploy-key"]
    assert names(revoked="true") == ["old"]
    assert names(state="active") == ["t", "deploy-key"]
    assert names(state="inactive") == ["old"]
    assert names(search="DEPLOY") == ["deploy-key"]
    soon = (timezone.now().date() + dt.timedelta(days=10)).isoformat()
    assert names(expires_before=soon) == ["deploy-key"]
    assert names(sort="name_asc") == ["deploy-key", "old", "t"]
    bad = requests.get(url, params={"state": "asleep"}, headers=headers, timeout=10)
    assert (bad.status_code, bad.json()) == (400, {"error": "state does not have a valid value"})


def test_get_token_by_id(server_url: str, make_user: MakeUser) -> None:
    alice, alice_gl = make_user("alice")
    mine = alice_gl.personal_access_tokens.list()[0]
    assert alice_gl.personal_access_tokens.get(mine.id).name == "t"
    headers = auth(token_of(alice_gl))
    # Somebody else's token, or no token at all: 401 for non-admins (GitLab hides which).
    for token_id in (1, 999999):
        response = requests.get(
            api(server_url, f"/personal_access_tokens/{token_id}"), headers=headers, timeout=10
        )
        assert (response.status_code, response.json()) == (401, {"message": "401 Unauthorized"})
    admin = requests.get(
        api(server_url, "/personal_access_tokens/999999"), headers=ROOT, timeout=10
    )
    assert (admin.status_code, admin.json()) == (404, {"message": "404 Not found"})
    assert (
        requests.get(
            api(server_url, f"/personal_access_tokens/{mine.id}"), headers=ROOT, timeout=10
        ).json()["user_id"]
        == alice.pk
    )


def test_list_query_budget(make_user: MakeUser) -> None:
    alice, _ = make_user("alice")
    for i in range(22):
        new_token(alice, name=f"n{i}")
    http = Client()
    extra = {"HTTP_PRIVATE_TOKEN": ROOT_TOKEN}
    http.get("/api/v4/personal_access_tokens", {"per_page": 2}, **extra)
    with CaptureQueriesContext(connection) as small:
        http.get("/api/v4/personal_access_tokens", {"per_page": 2}, **extra)
    with CaptureQueriesContext(connection) as large:
        response = http.get("/api/v4/personal_access_tokens", {"per_page": 20}, **extra)
    assert len(response.json()) == 20
    assert len(large) == len(small)


# --- revoking -------------------------------------------------------------------------------


def test_revoke_by_id(server_url: str, make_user: MakeUser) -> None:
    from kiln.accounts.models import PersonalAccessToken

    alice, alice_gl = make_user("alice")
    spare, spare_value = new_token(alice, name="spare")
    _, bob_gl = make_user("bob")
    bob_token = bob_gl.personal_access_tokens.list()[0]
    refused = requests.delete(
        api(server_url, f"/personal_access_tokens/{bob_token.id}"),
        headers=auth(token_of(alice_gl)),
        timeout=10,
    )
    assert (refused.status_code, refused.json()) == (400, {"message": "400 Bad request"})
    assert PersonalAccessToken.objects.get(pk=bob_token.id).revoked is False
    missing = requests.delete(
        api(server_url, "/personal_access_tokens/999999"), headers=ROOT, timeout=10
    )
    assert (missing.status_code, missing.json()) == (404, {"message": "404 Not found"})
    alice_gl.personal_access_tokens.delete(spare.pk)
    assert PersonalAccessToken.objects.get(pk=spare.pk).revoked is True
    used = requests.get(api(server_url, "/user"), headers=auth(spare_value), timeout=10)
    assert (used.status_code, used.json()) == (401, REVOKED)
    # Admins revoke anybody's.
    gl_root = client(server_url, ROOT_TOKEN)
    gl_root.personal_access_tokens.delete(bob_token.id)
    assert PersonalAccessToken.objects.get(pk=bob_token.id).revoked is True


def test_self_works_with_any_scope(server_url: str, make_user: MakeUser) -> None:
    _, repo_gl = make_user("alice", scopes=("read_repository",))
    value = token_of(repo_gl)
    me = repo_gl.personal_access_tokens.get("self")
    assert set(me.attributes) == TOKEN_SHAPE
    assert me.scopes == ["read_repository"]
    # The same token may not read anything else.
    user = requests.get(api(server_url, "/user"), headers=auth(value), timeout=10)
    assert user.status_code == 403
    revoked = requests.delete(
        api(server_url, "/personal_access_tokens/self"), headers=auth(value), timeout=10
    )
    assert revoked.status_code == 204
    again = requests.get(
        api(server_url, "/personal_access_tokens/self"), headers=auth(value), timeout=10
    )
    assert (again.status_code, again.json()) == (401, REVOKED)
    anonymous = requests.get(api(server_url, "/personal_access_tokens/self"), timeout=10)
    assert (anonymous.status_code, anonymous.json()) == (401, {"message": "401 Unauthorized"})


# --- rotating -------------------------------------------------------------------------------


def test_rotate_by_id(server_url: str, make_user: MakeUser) -> None:
    from kiln.accounts.models import PersonalAccessToken

    alice, alice_gl = make_user("alice")
    spare, spare_value = new_token(alice, name="spare", description="d", scopes=["read_api"])
    rotated = alice_gl.personal_access_tokens.rotate(spare.pk)
    assert set(rotated) == TOKEN_SHAPE | {"token"}
    assert rotated["name"] == "spare"
    assert rotated["description"] == "d"
    assert rotated["scopes"] == ["read_api"]
    assert rotated["token"].startswith("glpat-")
    week = (timezone.now().date() + dt.timedelta(weeks=1)).isoformat()
    assert rotated["expires_at"] == week
    assert PersonalAccessToken.objects.get(pk=spare.pk).revoked is True
    old = requests.get(api(server_url, "/user"), headers=auth(spare_value), timeout=10)
    assert old.status_code == 401
    assert requests.get(api(server_url, "/user"), headers=auth(rotated["token"]), timeout=10).ok
    again = requests.post(
        api(server_url, f"/personal_access_tokens/{spare.pk}/rotate"),
        headers=auth(token_of(alice_gl)),
        timeout=10,
    )
    assert (again.status_code, again.json()) == (
        400,
        {"message": "400 Bad request - Token already revoked"},
    )
    month = (timezone.now().date() + dt.timedelta(days=30)).isoformat()
    chosen = requests.post(
        api(server_url, f"/personal_access_tokens/{rotated['id']}/rotate"),
        json={"expires_at": month},
        headers=ROOT,
        timeout=10,
    )
    assert chosen.status_code == 200
    assert chosen.json()["expires_at"] == month
    others = requests.post(
        api(server_url, "/personal_access_tokens/1/rotate"),
        headers=auth(token_of(alice_gl)),
        timeout=10,
    )
    assert (others.status_code, others.json()) == (401, {"message": "401 Unauthorized"})
    too_far = requests.post(
        api(server_url, f"/personal_access_tokens/{chosen.json()['id']}/rotate"),
        json={"expires_at": "2999-01-01"},
        headers=ROOT,
        timeout=10,
    )
    limit = timezone.now().date() + dt.timedelta(days=365)
    assert (too_far.status_code, too_far.json()) == (
        400,
        {"message": f"400 Bad request - Expires at must be before {limit.isoformat()}"},
    )
    assert PersonalAccessToken.objects.get(pk=chosen.json()["id"]).revoked is False


def test_self_rotation_and_the_token_family_rule(server_url: str, make_user: MakeUser) -> None:
    from kiln.accounts.models import PersonalAccessToken

    _, alice_gl = make_user("alice")
    first = token_of(alice_gl)
    url = api(server_url, "/personal_access_tokens/self/rotate")
    second = requests.post(url, headers=auth(first), timeout=10)
    assert second.status_code == 200
    third = requests.post(url, headers=auth(second.json()["token"]), timeout=10)
    assert third.status_code == 200
    latest = third.json()["token"]
    assert requests.get(api(server_url, "/user"), headers=auth(latest), timeout=10).ok
    # The first token, already rotated away, is presented again to rotate: it leaked. Every
    # token rotated from it is revoked, the live one included.
    replay = requests.post(url, headers=auth(first), timeout=10)
    assert (replay.status_code, replay.json()) == (401, REVOKED)
    assert PersonalAccessToken.objects.get(pk=third.json()["id"]).revoked is True
    after = requests.get(api(server_url, "/user"), headers=auth(latest), timeout=10)
    assert (after.status_code, after.json()) == (401, REVOKED)


def test_revoked_token_elsewhere_does_not_revoke_the_family(
    server_url: str, make_user: MakeUser
) -> None:
    _, alice_gl = make_user("alice")
    first = token_of(alice_gl)
    second = requests.post(
        api(server_url, "/personal_access_tokens/self/rotate"), headers=auth(first), timeout=10
    ).json()["token"]
    assert (
        requests.get(api(server_url, "/user"), headers=auth(first), timeout=10).status_code == 401
    )
    assert requests.get(api(server_url, "/user"), headers=auth(second), timeout=10).ok


def test_self_rotation_scopes(server_url: str, make_user: MakeUser) -> None:
    from kiln.accounts.models import PersonalAccessToken

    _, read_gl = make_user("alice", scopes=("read_api",))
    refused = requests.post(
        api(server_url, "/personal_access_tokens/self/rotate"),
        headers=auth(token_of(read_gl)),
        timeout=10,
    )
    assert (refused.status_code, refused.json()) == (
        403,
        {
            "error": "insufficient_scope",
            "error_description": INSUFFICIENT,
            "scope": "api self_rotate",
        },
    )
    _, rotate_gl = make_user("bob", scopes=("self_rotate",))
    allowed = requests.post(
        api(server_url, "/personal_access_tokens/self/rotate"),
        headers=auth(token_of(rotate_gl)),
        timeout=10,
    )
    assert allowed.status_code == 200
    assert allowed.json()["scopes"] == ["self_rotate"]
    assert PersonalAccessToken.objects.filter(revoked=False, name="t").count() == 2


# --- admins create tokens for users ---------------------------------------------------------


def test_admin_creates_a_token_for_a_user(
    server_url: str, gl: gitlab.Gitlab, make_user: MakeUser
) -> None:
    from kiln.accounts.models import PersonalAccessToken

    alice, _ = make_user("alice")
    created = gl.users.get(alice.pk).personal_access_tokens.create(
        {"name": "ci", "scopes": ["read_api", "read_repository"], "description": "pipeline"}
    )
    data = created.attributes
    assert set(data) - {"user_id"} == TOKEN_SHAPE - {"user_id"} | {"token"}
    assert data["user_id"] == alice.pk
    value = data["token"]
    assert value.startswith("glpat-")
    default = timezone.now().date() + dt.timedelta(days=365)
    assert data["expires_at"] == default.isoformat()
    row = PersonalAccessToken.objects.get(pk=data["id"])
    # Only the digest is stored; the value is shown once and never again.
    assert row.token_digest == hashlib.sha256(value.encode()).hexdigest()
    assert value not in (row.token_digest, row.name, row.description)
    assert "token" not in gl.personal_access_tokens.get(row.pk).attributes
    me = requests.get(api(server_url, "/user"), headers=auth(value), timeout=10)
    assert me.json()["username"] == "alice"
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_admin_token_creation_refusals(server_url: str, make_user: MakeUser) -> None:
    from kiln.accounts.models import PersonalAccessToken

    alice, alice_gl = make_user("alice")
    before = PersonalAccessToken.objects.count()
    url = api(server_url, f"/users/{alice.pk}/personal_access_tokens")

    def post(headers: dict[str, str] = ROOT, **payload: Any) -> requests.Response:
        return requests.post(url, json=payload, headers=headers, timeout=10)

    missing = post()
    assert (missing.status_code, missing.json()) == (
        400,
        {"error": "name is missing, scopes is missing"},
    )
    bad_scope = post(name="x", scopes=["api", "root_everything"])
    assert (bad_scope.status_code, bad_scope.json()) == (
        400,
        {"error": "scopes does not have a valid value"},
    )
    limit = timezone.now().date() + dt.timedelta(days=365)
    far = post(name="x", scopes=["api"], expires_at="2999-01-01")
    assert (far.status_code, far.json()) == (
        422,
        {"message": f"Expires at must be before {limit.isoformat()}"},
    )
    past = post(name="x", scopes=["api"], expires_at="2001-01-01")
    assert (past.status_code, past.json()) == (422, {"message": "Expires at must be in the future"})
    blank = post(name="", scopes=["api"])
    assert (blank.status_code, blank.json()) == (422, {"message": "Name can't be blank"})
    wrong_date = post(name="x", scopes=["api"], expires_at="soon")
    assert (wrong_date.status_code, wrong_date.json()) == (400, {"error": "expires_at is invalid"})
    not_admin = post(auth(token_of(alice_gl)), name="x", scopes=["api"])
    assert (not_admin.status_code, not_admin.json()) == (403, {"message": "403 Forbidden"})
    nobody = requests.post(
        api(server_url, "/users/999999/personal_access_tokens"),
        json={"name": "x", "scopes": ["api"]},
        headers=ROOT,
        timeout=10,
    )
    assert (nobody.status_code, nobody.json()) == (404, {"message": "404 User Not Found"})
    assert PersonalAccessToken.objects.count() == before
    # Scopes as GitLab accepts them in a form: comma-separated or `scopes[]`.
    form = requests.post(
        url, data={"name": "f", "scopes[]": ["api", "read_user"]}, headers=ROOT, timeout=10
    )
    assert form.status_code == 201
    assert form.json()["scopes"] == ["api", "read_user"]
    comma = requests.post(
        url, data={"name": "c", "scopes": "read_api,sudo"}, headers=ROOT, timeout=10
    )
    assert comma.json()["scopes"] == ["read_api", "sudo"]


# --- what a token may do --------------------------------------------------------------------


def test_read_api_token_reads_but_cannot_write(server_url: str, make_user: MakeUser) -> None:
    from kiln.accounts.models import SSHKey

    _, read_gl = make_user("alice", scopes=("read_api",))
    read_gl.auth()
    assert read_gl.user is not None
    assert read_gl.user.username == "alice"
    assert [u.username for u in read_gl.users.list(username="alice")] == ["alice"]
    with pytest.raises(gitlab.GitlabCreateError) as excinfo:
        read_gl.user.keys.create({"title": "x", "key": "ssh-ed25519 AAAA"})
    assert excinfo.value.response_code == 403
    raw = requests.post(
        api(server_url, "/user/keys"),
        json={"title": "x", "key": "ssh-ed25519 AAAA"},
        headers=auth(token_of(read_gl)),
        timeout=10,
    )
    assert (raw.status_code, raw.json()) == (
        403,
        {"error": "insufficient_scope", "error_description": INSUFFICIENT, "scope": "api"},
    )
    assert SSHKey.objects.count() == 0


def test_read_user_token_reads_only_users(server_url: str, make_user: MakeUser) -> None:
    _, user_gl = make_user("alice", scopes=("read_user",))
    headers = auth(token_of(user_gl))
    assert requests.get(api(server_url, "/user"), headers=headers, timeout=10).ok
    assert requests.get(api(server_url, "/users"), headers=headers, timeout=10).ok
    projects = requests.get(api(server_url, "/projects"), headers=headers, timeout=10)
    assert (projects.status_code, projects.json()) == (
        403,
        {"error": "insufficient_scope", "error_description": INSUFFICIENT, "scope": "api read_api"},
    )


def test_expired_revoked_and_unknown_tokens(server_url: str, make_user: MakeUser) -> None:
    from kiln.accounts.models import PersonalAccessToken

    alice, _ = make_user("alice")
    expired, expired_value = new_token(alice, name="expired")
    PersonalAccessToken.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now().date() - dt.timedelta(days=1)
    )
    revoked, revoked_value = new_token(alice, name="revoked")
    PersonalAccessToken.objects.filter(pk=revoked.pk).update(revoked=True)
    for value, body in (
        (expired_value, EXPIRED),
        (revoked_value, REVOKED),
        ("glpat-unknown-token-value", {"message": "401 Unauthorized"}),
    ):
        for headers in (auth(value), {"Authorization": f"Bearer {value}"}):
            response = requests.get(api(server_url, "/user"), headers=headers, timeout=10)
            assert (response.status_code, response.json()) == (401, body)
        query = requests.get(api(server_url, "/user"), params={"private_token": value}, timeout=10)
        assert (query.status_code, query.json()) == (401, body)
    # A token expires at the start of its expiry date.
    PersonalAccessToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now().date())
    today = requests.get(api(server_url, "/user"), headers=auth(expired_value), timeout=10)
    assert (today.status_code, today.json()) == (401, EXPIRED)


# --- sudo -----------------------------------------------------------------------------------


def test_sudo_as_admin_acts_as_the_user(server_url: str, make_user: MakeUser) -> None:
    alice, _ = make_user("alice")
    sudo_gl = client(server_url, ROOT_TOKEN)
    sudo_gl.headers["Sudo"] = "alice"
    sudo_gl.auth()
    assert sudo_gl.user is not None
    assert sudo_gl.user.username == "alice"
    assert "is_admin" not in sudo_gl.user.attributes
    by_id = requests.get(
        api(server_url, "/user"), params={"sudo": alice.pk}, headers=ROOT, timeout=10
    )
    assert by_id.json()["username"] == "alice"
    # Acting as alice, admin-only endpoints are closed.
    refused = requests.post(
        api(server_url, f"/users/{alice.pk}/block"), headers={**ROOT, "Sudo": "alice"}, timeout=10
    )
    assert refused.status_code == 403
    missing = requests.get(api(server_url, "/user"), headers={**ROOT, "Sudo": "ghost"}, timeout=10)
    assert (missing.status_code, missing.json()) == (
        404,
        {"message": "404 User with ID or username 'ghost' Not Found"},
    )


def test_sudo_needs_admin_and_the_sudo_scope(server_url: str, make_user: MakeUser) -> None:
    alice, alice_gl = make_user("alice")
    _, value = new_token(alice.__class__.objects.get(pk=1), scopes=["api"])
    plain = requests.get(
        api(server_url, "/user"), headers={"PRIVATE-TOKEN": value, "Sudo": "alice"}, timeout=10
    )
    assert plain.status_code == 403
    not_admin = requests.get(
        api(server_url, "/user"), headers={**auth(token_of(alice_gl)), "Sudo": "root"}, timeout=10
    )
    assert not_admin.status_code == 403


def test_sudo_refusals_have_gitlab_bodies(server_url: str, make_user: MakeUser) -> None:
    alice, alice_gl = make_user("alice")
    _, value = new_token(alice.__class__.objects.get(pk=1), scopes=["api"])
    not_admin = requests.get(
        api(server_url, "/user"), headers={**auth(token_of(alice_gl)), "Sudo": "root"}, timeout=10
    )
    assert not_admin.json() == {"message": "403 Forbidden - Must be admin to use sudo"}
    no_scope = requests.get(
        api(server_url, "/user"), headers={"PRIVATE-TOKEN": value, "Sudo": "alice"}, timeout=10
    )
    assert no_scope.json() == {
        "error": "insufficient_scope",
        "error_description": INSUFFICIENT,
        "scope": "sudo",
    }
