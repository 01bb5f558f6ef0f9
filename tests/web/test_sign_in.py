"""The web sign-in page: passwords, the lockout after failed attempts, blocked accounts, and
the session that a sign-in starts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

PASSWORD = "correct-horse-1"
SIGN_IN = "/users/sign_in"
INVALID = "Invalid login or password."
LOCKED = "Your account is locked."


@pytest.fixture
def user(db: None) -> Any:
    from kiln.accounts.services import create_user_unchecked

    return create_user_unchecked(
        username="alice", name="Alice", email="alice@example.com", password=PASSWORD
    )


def sign_in(client: Client, login: str, password: str, **params: str) -> Any:
    query = "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
    return client.post(SIGN_IN + query, {"username": login, "password": password})


def signed_in_user_id(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def test_sign_in_page_renders(client: Client, db: None) -> None:
    response = client.get(SIGN_IN)
    assert response.status_code == 200
    assert b'name="password"' in response.content
    assert b"csrfmiddlewaretoken" in response.content


def test_correct_password_signs_in(client: Client, user: Any) -> None:
    response = sign_in(client, "alice", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert signed_in_user_id(client) == str(user.pk)
    user.refresh_from_db()
    assert user.sign_in_count == 1
    assert user.current_sign_in_at is not None
    assert user.current_sign_in_ip == "127.0.0.1"
    # The session reads the API as that user.
    me = client.get("/api/v4/user")
    assert me.status_code == 200
    assert me.json()["username"] == "alice"


def test_login_by_email_or_any_case(client: Client, user: Any) -> None:
    assert sign_in(client, "ALICE", PASSWORD).status_code == 302
    other = Client()
    assert sign_in(other, "Alice@Example.com", PASSWORD).status_code == 302


def test_wrong_password_is_a_401_page(client: Client, user: Any) -> None:
    response = sign_in(client, "alice", "wrong-password")
    assert response.status_code == 401
    assert INVALID in response.content.decode()
    assert signed_in_user_id(client) is None
    user.refresh_from_db()
    assert user.failed_attempts == 1
    unknown = sign_in(client, "nobody", "whatever-pass")
    assert unknown.status_code == 401
    assert INVALID in unknown.content.decode()


def test_ten_failures_lock_the_account_for_ten_minutes(client: Client, user: Any) -> None:
    from kiln.accounts.models import User

    for attempt in range(1, 10):
        response = sign_in(client, "alice", f"wrong-{attempt}")
        assert response.status_code == 401
        assert INVALID in response.content.decode(), attempt
    tenth = sign_in(client, "alice", "wrong-10")
    assert tenth.status_code == 401
    assert LOCKED in tenth.content.decode()
    user.refresh_from_db()
    assert user.locked_at is not None
    assert user.access_locked
    # While locked, the right password is refused too.
    correct = sign_in(client, "alice", PASSWORD)
    assert correct.status_code == 401
    assert LOCKED in correct.content.decode()
    assert signed_in_user_id(client) is None
    # Nine minutes later: still locked.
    User.objects.filter(pk=user.pk).update(locked_at=timezone.now() - dt.timedelta(minutes=9))
    assert sign_in(client, "alice", PASSWORD).status_code == 401
    # Once ten minutes have passed, the lock lifts and the count starts over.
    User.objects.filter(pk=user.pk).update(locked_at=timezone.now() - dt.timedelta(minutes=10))
    assert sign_in(client, "alice", PASSWORD).status_code == 302
    user.refresh_from_db()
    assert user.locked_at is None
    assert user.failed_attempts == 0


def test_success_resets_the_failure_count(client: Client, user: Any) -> None:
    for attempt in range(9):
        sign_in(client, "alice", f"wrong-{attempt}")
    assert sign_in(client, "alice", PASSWORD).status_code == 302
    user.refresh_from_db()
    assert user.failed_attempts == 0
    assert sign_in(Client(), "alice", "wrong-again").status_code == 401
    user.refresh_from_db()
    assert user.locked_at is None


def test_blocked_users_cannot_sign_in(client: Client, user: Any) -> None:
    from kiln.accounts.models import User

    User.objects.filter(pk=user.pk).update(state="blocked")
    response = sign_in(client, "alice", PASSWORD)
    assert response.status_code == 401
    assert "Your account has been blocked." in response.content.decode()
    assert signed_in_user_id(client) is None


def test_deactivated_users_are_reactivated_by_signing_in(client: Client, user: Any) -> None:
    from kiln.accounts.models import User
    from kiln.accounts.services import authenticate_password

    User.objects.filter(pk=user.pk).update(state="deactivated")
    # Git over HTTP does not reactivate an account...
    assert authenticate_password("alice", PASSWORD) is None
    # ...signing in on the web does, as on GitLab.
    assert sign_in(client, "alice", PASSWORD).status_code == 302
    user.refresh_from_db()
    assert user.state == "active"


def test_session_cookie_rotates_on_sign_in(client: Client, user: Any) -> None:
    session = client.session
    session["visited"] = True
    session.save()
    before = session.session_key
    assert before is not None
    client.cookies[settings.SESSION_COOKIE_NAME] = before
    response = sign_in(client, "alice", PASSWORD)
    assert response.status_code == 302
    after = response.cookies[settings.SESSION_COOKIE_NAME].value
    assert after
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert response.cookies[settings.SESSION_COOKIE_NAME]["httponly"]


def test_redirect_stays_on_this_site(client: Client, user: Any) -> None:
    response = sign_in(client, "alice", PASSWORD, redirect_to="https://evil.example/x")
    assert response["Location"] == "/"
    other = Client()
    response = sign_in(other, "alice", PASSWORD, redirect_to="/alice")
    assert response["Location"] == "/alice"


def test_sign_in_needs_the_csrf_token(user: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    response = sign_in(client, "alice", PASSWORD)
    assert response.status_code == 403
    assert signed_in_user_id(client) is None


def test_oversized_input_is_refused_quietly(client: Client, user: Any) -> None:
    response = sign_in(client, "alice", "p" * 5000)
    assert response.status_code == 401
    response = sign_in(client, "a" * 5000, PASSWORD)
    assert response.status_code == 401
    user.refresh_from_db()
    assert user.failed_attempts == 0
