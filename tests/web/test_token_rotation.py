"""Rotating a personal access token from the settings page: the old value stops working, the
new one (same name, scopes and lifetime) is shown once; someone else's token is 404."""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests
from django.test import Client

from kiln.accounts.access_tokens import create_personal_access_token_unchecked
from kiln.accounts.models import PersonalAccessToken
from kiln.accounts.services import create_user_unchecked

TOKENS = "/-/user_settings/personal_access_tokens"


def _user(username: str) -> Any:
    return create_user_unchecked(
        username=username,
        name=username.title(),
        email=f"{username}@example.com",
        password="pw-12345678",
    )


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user, backend="kiln.accounts.backends.KilnBackend")
    return client


def _shown_token(html: str) -> str:
    return html.split('id="created-token" class="mono" readonly value="', 1)[1].split('"', 1)[0]


def test_rotate_keeps_lifetime_and_shows_the_new_value_once(db: None) -> None:
    alice = _user("alice")
    today = dt.date.today()
    old, old_value = create_personal_access_token_unchecked(
        user=alice, name="deploy", scopes=["read_api"], expires_at=today + dt.timedelta(days=30)
    )
    client = _client(alice)
    assert client.get(f"{TOKENS}/{old.pk}/rotate").status_code == 405
    response = client.post(f"{TOKENS}/{old.pk}/rotate")
    assert response.status_code == 302
    assert response["Location"] == TOKENS
    page = client.get(TOKENS).content.decode()
    value = _shown_token(page)
    assert value.startswith("glpat-")
    assert value != old_value
    assert value not in client.get(TOKENS).content.decode()
    old.refresh_from_db()
    assert old.revoked
    new = PersonalAccessToken.objects.get(user=alice, revoked=False)
    assert (new.name, new.scopes, new.previous_id) == ("deploy", ["read_api"], old.pk)
    assert new.expires_at == today + dt.timedelta(days=30)
    assert Client().get("/api/v4/user", HTTP_PRIVATE_TOKEN=value).status_code == 200
    assert Client().get("/api/v4/user", HTTP_PRIVATE_TOKEN=old_value).status_code == 401
    # Rotating the revoked token again is refused with GitLab's message; nothing is issued.
    again = client.post(f"{TOKENS}/{old.pk}/rotate", follow=True)
    assert "Token already revoked" in again.content.decode()
    assert PersonalAccessToken.objects.filter(user=alice).count() == 2


def test_someone_elses_token_and_anonymous_are_refused(db: None) -> None:
    alice, bob = _user("alice"), _user("bob")
    theirs, _ = create_personal_access_token_unchecked(user=bob, name="theirs", scopes=["api"])
    assert _client(alice).post(f"{TOKENS}/{theirs.pk}/rotate").status_code == 404
    assert _client(alice).post(f"{TOKENS}/99999999999999999/rotate").status_code == 404
    anonymous = Client().post(f"{TOKENS}/{theirs.pk}/rotate")
    assert anonymous.status_code == 302
    assert "/users/sign_in" in anonymous["Location"]
    # Not even an administrator rotates another user's token from their own settings page.
    admin = _user("boss")
    admin.is_admin = True
    admin.save()
    assert _client(admin).post(f"{TOKENS}/{theirs.pk}/rotate").status_code == 404
    assert PersonalAccessToken.objects.filter(user=bob).count() == 1
    assert not PersonalAccessToken.objects.get(pk=theirs.pk).revoked


def test_rotate_in_the_browser(page: Any, sign_in: Any, server_url: str) -> None:
    sign_in(server_url)
    page.goto(f"{server_url}{TOKENS}")
    page.get_by_label("Token name").fill("laptop")
    page.locator("input[name=scopes][value=read_api]").check()
    page.get_by_role("button", name="Create token").click()
    page.wait_for_load_state()
    first = page.locator("#created-token").input_value()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate laptop").click()
    page.wait_for_load_state()
    second = page.locator("#created-token").input_value()
    assert second.startswith("glpat-")
    assert second != first
    api = f"{server_url}/api/v4/user"
    assert requests.get(api, headers={"PRIVATE-TOKEN": second}, timeout=10).status_code == 200
    assert requests.get(api, headers={"PRIVATE-TOKEN": first}, timeout=10).status_code == 401
    assert page.locator("table").get_by_text("laptop").count() == 1
    assert page.console_errors == []
