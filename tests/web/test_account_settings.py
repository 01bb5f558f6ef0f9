"""The user's own settings: profile and avatar, preferences, personal access tokens, SSH
keys. Each change through the page, each refusal for what belongs to someone else."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncssh
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
GIF = b"GIF89a" + b"\x00" * 32
WEBP = b"RIFF\x20\x00\x00\x00WEBPVP8 " + b"\x00" * 32
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def alice(db: None) -> Any:
    from kiln.accounts.services import create_user_unchecked

    return create_user_unchecked(
        username="alice", name="Alice", email="alice@example.com", password="password-123"
    )


@pytest.fixture
def bob(db: None) -> Any:
    from kiln.accounts.services import create_user_unchecked

    return create_user_unchecked(
        username="bob", name="Bob", email="bob@example.com", password="password-123"
    )


def as_user(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def ssh_key(comment: str = "alice@laptop") -> str:
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    return key.export_public_key().decode().strip()


# --- profile --------------------------------------------------------------------------------


def test_profile_update_and_hostile_text_stays_inert(alice: Any) -> None:
    client = as_user(alice)
    assert client.get("/-/profile").status_code == 200
    response = client.post(
        "/-/profile",
        {
            "name": XSS,
            "bio": XSS,
            "location": "Lyon",
            "website_url": "javascript:alert(1)",
            "public_email": "alice@example.com",
            "job_title": "Potter",
        },
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.name == XSS
    assert alice.public_email == "alice@example.com"
    for page in (Client().get("/alice"), client.get("/-/profile"), client.get("/")):
        text = page.content.decode()
        assert "<script>alert" not in text
        assert "<img src=x" not in text
    profile = Client().get("/alice").content.decode()
    assert "&lt;script&gt;" in profile
    assert "Lyon" in profile
    assert 'href="javascript:' not in profile  # shown as text, never as a link
    assert "mailto:alice@example.com" in profile


def test_profile_validation_messages(alice: Any) -> None:
    client = as_user(alice)
    response = client.post(
        "/-/profile",
        {"name": "", "public_email": "someone-else@example.com", "discord": "abc"},
    )
    assert response.status_code == 422
    text = response.content.decode()
    assert "Name can&#x27;t be blank" in text
    assert "Public email must be an email you have verified" in text
    assert "Discord must contain only a discord user ID." in text
    alice.refresh_from_db()
    assert alice.name == "Alice"


def test_private_profile_hides_details_from_others(alice: Any, bob: Any) -> None:
    client = as_user(alice)
    client.post("/-/profile", {"name": "Alice", "bio": "Secret bio", "private_profile": "1"})
    assert "Secret bio" in client.get("/alice").content.decode()
    other = as_user(bob).get("/alice").content.decode()
    assert "Secret bio" not in other
    assert "private profile" in other


# --- avatar ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "content_type", "ext"),
    [(PNG, "image/png", "png"), (GIF, "image/gif", "gif"), (WEBP, "image/webp", "webp"),
     (b"\xff\xd8\xff\xe0" + b"\x00" * 16, "image/jpeg", "jpg")],
)  # fmt: skip
def test_avatar_upload_is_served_back_with_its_type(
    alice: Any, data: bytes, content_type: str, ext: str
) -> None:
    client = as_user(alice)
    upload = SimpleUploadedFile("me.bin", data, content_type="application/octet-stream")
    response = client.post("/-/profile", {"name": "Alice", "avatar": upload})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.avatar_path == f"/uploads/-/system/user/avatar/{alice.pk}/avatar.{ext}"
    served = Client().get(alice.avatar_path)
    assert served.status_code == 200
    assert served["Content-Type"] == content_type
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served.content == data
    again = Client().get(alice.avatar_path, HTTP_IF_NONE_MATCH=served["ETag"])
    assert again.status_code == 304
    assert f'src="{alice.avatar_path}"' in Client().get("/alice").content.decode()
    # Removing it: the URL answers 404.
    assert client.post("/-/profile/avatar").status_code == 302
    assert Client().get(alice.avatar_path).status_code == 404


@pytest.mark.parametrize(
    "data",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        b"<!doctype html><script>alert(1)</script>",
        b"GIF8" + b"<script>alert(1)</script>",
        b"",
    ],
    ids=["svg", "html", "almost-gif", "empty"],
)
def test_avatar_that_is_not_an_image_is_refused(alice: Any, data: bytes) -> None:
    client = as_user(alice)
    disguised = SimpleUploadedFile("avatar.png", data, content_type="image/png")
    response = client.post("/-/profile", {"name": "Alice", "avatar": disguised})
    assert response.status_code == 422
    assert "file format is not supported" in response.content.decode()
    alice.refresh_from_db()
    assert alice.avatar_path == ""
    assert Client().get(f"/uploads/-/system/user/avatar/{alice.pk}/avatar.png").status_code == 404


def test_avatar_over_the_size_cap_is_refused(alice: Any) -> None:
    client = as_user(alice)
    big = SimpleUploadedFile("big.png", PNG + b"\x00" * (200 * 1024), content_type="image/png")
    response = client.post("/-/profile", {"name": "Alice", "avatar": big})
    assert response.status_code == 422
    assert "is too big (should be at most 200 KiB)" in response.content.decode()


# --- preferences ----------------------------------------------------------------------------


def test_preferences_set_the_theme_of_every_page(alice: Any) -> None:
    client = as_user(alice)
    assert 'data-theme="system"' in client.get("/dashboard/projects").content.decode()
    response = client.post(
        "/-/profile/preferences", {"color_mode": "dark", "diff_view": "parallel"}
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.color_mode == "dark"
    assert alice.diff_view == "parallel"
    assert 'data-theme="dark"' in client.get("/dashboard/projects").content.decode()
    page = client.get("/-/profile/preferences").content.decode()
    assert 'value="parallel" checked' in page
    bad = client.post("/-/profile/preferences", {"color_mode": "neon"})
    assert bad.status_code == 422
    assert "Color mode is not included in the list" in bad.content.decode()
    assert 'data-theme="system"' in Client().get("/explore").content.decode()


# --- personal access tokens -----------------------------------------------------------------

TOKENS = "/-/user_settings/personal_access_tokens"


def test_new_token_is_shown_once_and_works(alice: Any) -> None:
    client = as_user(alice)
    response = client.post(
        TOKENS, {"name": "laptop", "scopes": ["read_api", "read_user"], "expires_at": ""}
    )
    assert response.status_code == 302
    page = client.get(TOKENS)
    assert "no-store" in page["Cache-Control"]
    text = page.content.decode()
    value = text.split('id="created-token" class="mono" readonly value="', 1)[1].split('"', 1)[0]
    assert value.startswith("glpat-")
    assert "Your new personal access token" in text
    # Shown once: the next visit lists the token without its value.
    again = client.get(TOKENS).content.decode()
    assert value not in again
    assert "Your new personal access token" not in again
    assert "laptop" in again
    me = Client().get("/api/v4/user", HTTP_PRIVATE_TOKEN=value)
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
    from kiln.accounts.models import PersonalAccessToken

    token = PersonalAccessToken.objects.get(user=alice, name="laptop")
    assert token.scopes == ["read_api", "read_user"]
    # No expiry given: the longest allowed, a year.
    assert token.expires_at == dt.date.today() + dt.timedelta(days=365)


def test_token_form_refusals(alice: Any) -> None:
    client = as_user(alice)
    nothing = client.post(TOKENS, {"name": "", "scopes": []})
    assert nothing.status_code == 422
    text = nothing.content.decode()
    assert "Name can&#x27;t be blank" in text
    assert "Scopes can&#x27;t be blank" in text
    past = client.post(TOKENS, {"name": "t", "scopes": ["api"], "expires_at": "2001-01-01"})
    assert "Expiration date must be in the future" in past.content.decode()
    far = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    too_far = client.post(TOKENS, {"name": "t", "scopes": ["api"], "expires_at": far})
    assert "Expiration date must be before" in too_far.content.decode()
    garbage = client.post(TOKENS, {"name": "t", "scopes": ["api"], "expires_at": "soon"})
    assert "Expiration date is invalid" in garbage.content.decode()
    # sudo is for administrators only.
    sudo = client.post(TOKENS, {"name": "t", "scopes": ["api", "sudo"]})
    assert sudo.status_code == 422
    assert 'value="sudo"' not in client.get(TOKENS).content.decode()
    from kiln.accounts.models import PersonalAccessToken

    assert not PersonalAccessToken.objects.filter(user=alice).exists()


def test_revoke_own_token_but_never_someone_elses(alice: Any, bob: Any) -> None:
    from kiln.accounts.access_tokens import create_personal_access_token_unchecked
    from kiln.accounts.models import PersonalAccessToken

    mine, _ = create_personal_access_token_unchecked(user=alice, name="mine", scopes=["api"])
    theirs, _ = create_personal_access_token_unchecked(user=bob, name="theirs", scopes=["api"])
    client = as_user(alice)
    assert "theirs" not in client.get(TOKENS).content.decode()
    refused = client.post(f"{TOKENS}/{theirs.pk}/revoke")
    assert refused.status_code == 404
    assert "Page not found" in refused.content.decode()
    assert client.post(f"{TOKENS}/99999999999999999/revoke").status_code == 404
    assert not PersonalAccessToken.objects.get(pk=theirs.pk).revoked
    assert client.get(f"{TOKENS}/{mine.pk}/revoke").status_code == 405
    assert client.post(f"{TOKENS}/{mine.pk}/revoke").status_code == 302
    assert PersonalAccessToken.objects.get(pk=mine.pk).revoked
    page = client.get(TOKENS).content.decode()
    assert "Inactive personal access tokens" in page


def test_token_pages_need_the_csrf_token(alice: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(TOKENS, {"name": "t", "scopes": ["api"]}).status_code == 403


# --- SSH keys -------------------------------------------------------------------------------

KEYS = "/-/user_settings/ssh_keys"


def test_add_list_and_delete_an_ssh_key(alice: Any, bob: Any) -> None:
    from kiln.accounts.models import SSHKey

    client = as_user(alice)
    key = ssh_key()
    response = client.post(KEYS, {"key": key, "title": "", "usage_type": "auth_and_signing"})
    assert response.status_code == 302
    saved = SSHKey.objects.get(user=alice)
    assert saved.title == "alice@laptop"  # from the key's comment
    page = client.get(KEYS).content.decode()
    assert saved.fingerprint_sha256 in page
    # The same key again, or on another account: GitLab's messages.
    again = client.post(KEYS, {"key": key, "title": "again"})
    assert again.status_code == 422
    assert "Key has already been taken" in again.content.decode()
    invalid = client.post(KEYS, {"key": "ssh-rsa not-a-key", "title": "bad"})
    assert "Key is invalid" in invalid.content.decode()
    blank = client.post(KEYS, {"key": "", "title": "x"})
    assert "Key can&#x27;t be blank" in blank.content.decode()
    # Bob cannot delete Alice's key.
    assert as_user(bob).post(f"{KEYS}/{saved.pk}/delete").status_code == 404
    assert SSHKey.objects.filter(pk=saved.pk).exists()
    assert client.post(f"{KEYS}/{saved.pk}/delete").status_code == 302
    assert not SSHKey.objects.filter(pk=saved.pk).exists()


def test_ssh_key_title_is_escaped(alice: Any) -> None:
    client = as_user(alice)
    client.post(KEYS, {"key": ssh_key(), "title": XSS})
    page = client.get(KEYS).content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;" in page
