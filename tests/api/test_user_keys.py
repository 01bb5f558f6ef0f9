"""SSH keys: `/user/keys` and `/users/:id/keys`, parsing, fingerprints, hostile keys."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncssh
import gitlab
import requests
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.conftest import ROOT_TOKEN

MakeUser = Callable[..., tuple[Any, gitlab.Gitlab]]
ROOT = {"PRIVATE-TOKEN": ROOT_TOKEN}
KEY_SHAPE = {"id", "title", "created_at", "expires_at", "key", "usage_type"}
FORBIDDEN_TYPE = "type is forbidden. Must be RSA, DSA, ECDSA, ED25519, ECDSA_SK, or ED25519_SK"
INVALID = {"key": [FORBIDDEN_TYPE, "is invalid"], "fingerprint_sha256": ["cannot be generated"]}


def public_key(algorithm: str, comment: str = "me@laptop", **kwargs: Any) -> str:
    key = asyncssh.generate_private_key(algorithm, comment=comment, **kwargs)
    return key.export_public_key().decode().strip()


ED25519 = public_key("ssh-ed25519")
ED25519_OTHER = public_key("ssh-ed25519")
ECDSA = public_key("ecdsa-sha2-nistp256")
RSA_2048 = public_key("ssh-rsa", key_size=2048)
RSA_1024 = public_key("ssh-rsa", key_size=1024)
PRIVATE = asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode()


def ssh_keygen_fingerprint(key: str, digest: str = "sha256") -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "key.pub"
        path.write_text(key + "\n")
        out = subprocess.run(
            ["ssh-keygen", "-l", "-E", digest, "-f", str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return out.split()[1]


def api(server_url: str, path: str) -> str:
    return f"{server_url}/api/v4{path}"


def key_count() -> int:
    from kiln.accounts.models import SSHKey

    return SSHKey.objects.count()


def test_own_keys_lifecycle(make_user: MakeUser) -> None:
    from kiln.accounts.models import SSHKey

    user, client = make_user("alice", name="Alice Doe")
    client.auth()
    assert client.user is not None
    created = client.user.keys.create({"title": "laptop", "key": ED25519})
    assert set(created.attributes) == KEY_SHAPE
    assert created.title == "laptop"
    assert created.usage_type == "auth_and_signing"
    assert created.expires_at is None
    # The comment (often an email) is replaced by the owner's name and the host.
    algorithm, encoded, _ = ED25519.split(" ", 2)
    assert created.key == f"{algorithm} {encoded} Alice Doe (127.0.0.1)"
    row = SSHKey.objects.get(pk=created.id)
    assert row.fingerprint_sha256 == ssh_keygen_fingerprint(ED25519)
    assert row.fingerprint_md5 == ssh_keygen_fingerprint(ED25519, "md5").removeprefix("MD5:")
    assert row.user_id == user.pk
    assert [k.id for k in client.user.keys.list()] == [created.id]
    assert client.user.keys.get(created.id).title == "laptop"
    created.delete()
    assert client.user.keys.list() == []
    assert key_count() == 0


def test_keys_are_public_by_id_and_username(server_url: str, make_user: MakeUser) -> None:
    user, client = make_user("bob")
    client.auth()
    assert client.user is not None
    key = client.user.keys.create({"title": "work", "key": ECDSA})
    for ref in (str(user.pk), "bob", "BOB"):
        listed = requests.get(api(server_url, f"/users/{ref}/keys"), timeout=10)
        assert listed.status_code == 200
        assert [k["id"] for k in listed.json()] == [key.id]
    single = requests.get(api(server_url, f"/users/{user.pk}/keys/{key.id}"), timeout=10)
    assert single.status_code == 200
    assert single.json()["title"] == "work"
    missing_user = requests.get(api(server_url, "/users/nobody/keys"), timeout=10)
    assert (missing_user.status_code, missing_user.json()) == (
        404,
        {"message": "404 User Not Found"},
    )
    missing_key = requests.get(api(server_url, f"/users/{user.pk}/keys/999999"), timeout=10)
    assert (missing_key.status_code, missing_key.json()) == (404, {"message": "404 Key Not Found"})


def test_fingerprint_is_unique_in_the_instance(server_url: str, make_user: MakeUser) -> None:
    _, first = make_user("carol")
    _, second = make_user("dave")
    first.auth()
    assert first.user is not None
    first.user.keys.create({"title": "one", "key": RSA_2048})
    before = key_count()
    for client in (first, second):
        response = requests.post(
            api(server_url, "/user/keys"),
            json={"title": "again", "key": RSA_2048.rsplit(" ", 1)[0] + " other-comment"},
            headers={"PRIVATE-TOKEN": client.private_token or ""},
            timeout=10,
        )
        assert response.status_code == 400
        assert response.json() == {"message": {"fingerprint_sha256": ["has already been taken"]}}
    assert key_count() == before


HOSTILE_KEYS: list[tuple[str, str, dict[str, list[str]]]] = [
    ("garbage", "this is not a key", INVALID),
    ("private key", PRIVATE, INVALID),
    (
        "pem public key",
        "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----",
        INVALID,
    ),
    ("truncated base64", ED25519.split()[0] + " " + ED25519.split()[1][:-8], INVALID),
    ("not base64", "ssh-ed25519 !!!!", INVALID),
    ("algorithm mismatch", "ssh-rsa " + ED25519.split()[1], INVALID),
    ("certificate type", "ssh-ed25519-cert-v01@openssh.com " + ED25519.split()[1], INVALID),
    ("short rsa", RSA_1024, {"key": ["must be at least 2048 bits"]}),
    (
        "blank",
        "",
        {
            "key": ["can't be blank", FORBIDDEN_TYPE, "is invalid"],
            "fingerprint_sha256": ["cannot be generated"],
        },
    ),
    (
        "too long",
        "ssh-ed25519 " + "A" * 5000,
        {
            "key": [FORBIDDEN_TYPE, "is too long (maximum is 5000 characters)", "is invalid"],
            "fingerprint_sha256": ["cannot be generated"],
        },
    ),
    ("nul byte", "ssh-ed25519\x00 AAAA", INVALID),
]


def test_hostile_keys_are_refused(server_url: str, make_user: MakeUser) -> None:
    _, client = make_user("eve")
    headers = {"PRIVATE-TOKEN": client.private_token or ""}
    for label, key, errors in HOSTILE_KEYS:
        response = requests.post(
            api(server_url, "/user/keys"),
            json={"title": label, "key": key},
            headers=headers,
            timeout=10,
        )
        assert response.status_code == 400, label
        assert response.json() == {"message": errors}, label
    assert key_count() == 0


def test_key_parameters(server_url: str, make_user: MakeUser) -> None:
    _, client = make_user("fred")
    headers = {"PRIVATE-TOKEN": client.private_token or ""}
    url = api(server_url, "/user/keys")

    def post(**payload: Any) -> requests.Response:
        return requests.post(url, json=payload, headers=headers, timeout=10)

    missing = post()
    assert (missing.status_code, missing.json()) == (
        400,
        {"error": "key is missing, title is missing"},
    )
    usage = post(title="t", key=ED25519, usage_type="everything")
    assert usage.json() == {"error": "usage_type does not have a valid value"}
    blank_title = post(title="", key=ED25519)
    assert blank_title.json() == {"message": {"title": ["can't be blank"]}}
    bidi_title = post(title="evil\u202etitle", key=ED25519)
    assert bidi_title.json() == {
        "message": {"title": ["cannot contain control or invisible formatting characters"]}
    }
    expired = post(title="old", key=ED25519, expires_at="2001-01-01")
    assert expired.json() == {"message": {"key": ["has expired"]}}
    assert key_count() == 0
    created = post(title="t", key=ED25519, expires_at="2999-01-21", usage_type="auth")
    assert created.status_code == 201
    assert created.json()["expires_at"] == "2999-01-21T00:00:00.000Z"
    assert created.json()["usage_type"] == "auth"


def test_key_split_over_lines_is_rejoined(server_url: str, make_user: MakeUser) -> None:
    from kiln.accounts.models import SSHKey

    _, client = make_user("gail")
    algorithm, encoded, comment = RSA_2048.split(" ", 2)
    broken = f"  {algorithm} {encoded[:100]}\n{encoded[100:]} {comment}\n"
    response = requests.post(
        api(server_url, "/user/keys"),
        data={"title": "wrapped", "key": broken},
        headers={"PRIVATE-TOKEN": client.private_token or ""},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    assert SSHKey.objects.get().key == RSA_2048


def test_admin_manages_keys_of_a_user(
    server_url: str, gl: gitlab.Gitlab, make_user: MakeUser
) -> None:
    user, client = make_user("hank")
    remote = gl.users.get(user.pk)
    key = remote.keys.create({"title": "added by admin", "key": ED25519_OTHER})
    assert set(key.attributes) - {"user_id"} == KEY_SHAPE  # python-gitlab adds the parent id
    headers = {"PRIVATE-TOKEN": client.private_token or ""}
    # Only admins use /users/:id/keys for writes, even on their own account.
    own = requests.post(
        api(server_url, f"/users/{user.pk}/keys"),
        json={"title": "x", "key": ED25519},
        headers=headers,
        timeout=10,
    )
    assert (own.status_code, own.json()) == (403, {"message": "403 Forbidden"})
    delete = requests.delete(
        api(server_url, f"/users/{user.pk}/keys/{key.id}"), headers=headers, timeout=10
    )
    assert delete.status_code == 403
    missing_user = requests.post(
        api(server_url, "/users/999999/keys"),
        json={"title": "x", "key": ED25519},
        headers=ROOT,
        timeout=10,
    )
    assert (missing_user.status_code, missing_user.json()) == (
        404,
        {"message": "404 User Not Found"},
    )
    assert key_count() == 1
    gone = requests.delete(
        api(server_url, f"/users/{user.pk}/keys/{key.id}"), headers=ROOT, timeout=10
    )
    assert gone.status_code == 204
    assert key_count() == 0


def test_other_users_keys_are_not_yours(server_url: str, make_user: MakeUser) -> None:
    _, owner = make_user("ivan")
    _, stranger = make_user("jane")
    owner.auth()
    assert owner.user is not None
    key = owner.user.keys.create({"title": "mine", "key": ED25519})
    headers = {"PRIVATE-TOKEN": stranger.private_token or ""}
    get = requests.get(api(server_url, f"/user/keys/{key.id}"), headers=headers, timeout=10)
    assert (get.status_code, get.json()) == (404, {"message": "404 Key Not Found"})
    delete = requests.delete(api(server_url, f"/user/keys/{key.id}"), headers=headers, timeout=10)
    assert delete.status_code == 404
    anonymous = requests.post(
        api(server_url, "/user/keys"), json={"title": "x", "key": ED25519_OTHER}, timeout=10
    )
    assert (anonymous.status_code, anonymous.json()) == (401, {"message": "401 Unauthorized"})
    assert key_count() == 1


def test_key_list_query_budget(make_user: MakeUser) -> None:
    from kiln.accounts.models import SSHKey

    user, client = make_user("kim")
    for i in range(21):
        algorithm = "ssh-ed25519"
        SSHKey.objects.create(
            user=user,
            title=f"k{i}",
            key=public_key(algorithm),
            key_type=algorithm,
            fingerprint_sha256=f"SHA256:fake{i}",
            fingerprint_md5=f"md5-{i}",
        )
    http = Client()
    extra = {"HTTP_PRIVATE_TOKEN": client.private_token or ""}
    for path in ("/api/v4/user/keys", f"/api/v4/users/{user.pk}/keys"):
        http.get(path, {"per_page": 2}, **extra)
        with CaptureQueriesContext(connection) as small:
            assert http.get(path, {"per_page": 2}, **extra).status_code == 200
        with CaptureQueriesContext(connection) as large:
            response = http.get(path, {"per_page": 20}, **extra)
        assert len(response.json()) == 20
        assert len(large) == len(small), path
