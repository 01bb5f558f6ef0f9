"""Account pages: sign up (open, closed, with admin approval), forgotten passwords through
email, password change, "remember me", and `/` for anonymous and signed-in visitors."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.test import Client
from django.utils import timezone

PASSWORD = "correct-horse-1"


@pytest.fixture
def user(db: None) -> Any:
    from kiln.accounts.services import create_user_unchecked

    return create_user_unchecked(
        username="alice", name="Alice", email="alice@example.com", password=PASSWORD
    )


def set_signup(*, enabled: bool = True, approval: bool = False) -> None:
    from kiln.core import appsettings

    setting = appsettings.current()
    setting.signup_enabled = enabled
    setting.require_admin_approval_after_user_signup = approval
    setting.save()


def sign_up(client: Client, **fields: str) -> Any:
    data = {
        "first_name": "Bob",
        "last_name": "Builder",
        "username": "bob",
        "email": "bob@example.com",
        "password": "bob-password-1",
        **fields,
    }
    return client.post("/users/sign_up", data)


def sign_in(client: Client, login: str, password: str, *, remember: bool = False) -> Any:
    data = {"username": login, "password": password}
    if remember:
        data["remember_me"] = "1"
    return client.post("/users/sign_in", data)


def flash(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def admin() -> Any:
    from kiln.accounts.services import create_user_unchecked

    return create_user_unchecked(
        username="boss", name="Boss", email="boss@example.com", password=PASSWORD, is_admin=True
    )


# --- / and sign-in --------------------------------------------------------------------------


def test_root_sends_anonymous_visitors_to_sign_in(client: Client, db: None) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/users/sign_in"
    assert client.get("/explore").status_code == 200


def test_root_is_the_projects_dashboard_once_signed_in(client: Client, user: Any) -> None:
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    assert "<h1>Projects</h1>" in response.content.decode()
    # Signed in, the sign-in page sends you home.
    assert client.get("/users/sign_in")["Location"] == "/"


def test_sign_in_page_links_to_sign_up_only_when_enabled(client: Client, db: None) -> None:
    set_signup(enabled=True)
    assert 'href="/users/sign_up"' in client.get("/users/sign_in").content.decode()
    set_signup(enabled=False)
    assert 'href="/users/sign_up"' not in client.get("/users/sign_in").content.decode()
    assert 'href="/users/password/new"' in client.get("/users/sign_in").content.decode()


def test_remember_me_keeps_a_persistent_session(user: Any) -> None:
    browser_session = Client()
    response = sign_in(browser_session, "alice", PASSWORD)
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert not cookie["expires"]  # ends with the browser
    assert not cookie["max-age"]
    remembered = Client()
    response = sign_in(remembered, "alice", PASSWORD, remember=True)
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["max-age"] == settings.SESSION_COOKIE_AGE


def test_sign_out_ends_the_session(client: Client, user: Any) -> None:
    client.force_login(user)
    assert client.post("/users/sign_out")["Location"] == "/users/sign_in"
    assert client.get("/dashboard/projects").status_code == 302
    assert client.get("/users/sign_out").status_code == 405


# --- sign-up --------------------------------------------------------------------------------


def test_open_sign_up_signs_the_new_user_in(client: Client, db: None) -> None:
    from kiln.accounts.models import User

    set_signup(enabled=True, approval=False)
    page = client.get("/users/sign_up")
    assert page.status_code == 200
    assert "csrfmiddlewaretoken" in page.content.decode()
    response = sign_up(client)
    assert response.status_code == 302
    assert response["Location"] == "/"
    bob = User.objects.get(username="bob")
    assert bob.name == "Bob Builder"
    assert bob.state == "active"
    assert client.session["_auth_user_id"] == str(bob.pk)
    assert client.get("/dashboard/projects").status_code == 200
    # The personal namespace exists: the profile page answers.
    assert client.get("/bob").status_code == 200


def test_sign_up_awaiting_approval_cannot_sign_in_until_approved(client: Client, db: None) -> None:
    from kiln.accounts.models import User
    from kiln.accounts.self_service import approve_user
    from kiln.core.actor import Actor

    set_signup(enabled=True, approval=True)
    response = sign_up(client, password="bob-password-1")
    assert response.status_code == 302
    assert response["Location"] == "/users/sign_in"
    assert "_auth_user_id" not in client.session
    page = client.get("/users/sign_in")
    assert "awaiting approval" in page.content.decode()
    bob = User.objects.get(username="bob")
    assert bob.state == "blocked_pending_approval"
    refused = sign_in(client, "bob", "bob-password-1")
    assert refused.status_code == 401
    assert "pending approval" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    # Wrong password: the usual message, nothing about the account's state.
    wrong = sign_in(client, "bob", "not-the-password")
    assert "pending approval" not in wrong.content.decode()
    # Once an administrator approves, the user signs in.
    approve_user(actor=Actor.for_user(admin()), user=bob)
    assert sign_in(client, "bob", "bob-password-1").status_code == 302
    assert client.session["_auth_user_id"] == str(bob.pk)


def test_only_admins_approve_and_only_pending_users(db: None) -> None:
    from kiln.accounts.models import User
    from kiln.accounts.self_service import approve_user, reject_user
    from kiln.core.actor import Actor
    from kiln.core.errors import Conflict, Forbidden

    set_signup(enabled=True, approval=True)
    sign_up(Client())
    sign_up(Client(), username="carol", email="carol@example.com")
    bob = User.objects.get(username="bob")
    with pytest.raises(Forbidden):
        approve_user(actor=Actor.for_user(bob), user=bob)
    boss = Actor.for_user(admin())
    approve_user(actor=boss, user=bob)
    with pytest.raises(Conflict):
        approve_user(actor=boss, user=bob)
    with pytest.raises(Conflict):
        reject_user(actor=boss, user=bob)
    reject_user(actor=boss, user=User.objects.get(username="carol"))
    assert not User.objects.filter(username="carol").exists()


def test_closed_sign_up_redirects_and_creates_nobody(client: Client, db: None) -> None:
    from kiln.accounts.models import User

    set_signup(enabled=False)
    assert client.get("/users/sign_up")["Location"] == "/users/sign_in"
    response = sign_up(client)
    assert response.status_code == 302
    assert not User.objects.filter(username="bob").exists()


def test_sign_up_shows_every_problem(client: Client, user: Any) -> None:
    set_signup(enabled=True)
    response = sign_up(client, username="alice", email="not-an-email", password="short")
    assert response.status_code == 422
    text = response.content.decode()
    assert "Username has already been taken" in text
    assert "Email is invalid" in text
    assert "Password is too short (minimum is 8 characters)" in text
    taken = sign_up(client, username="new-one", email="ALICE@example.com")
    assert "Email has already been taken" in taken.content.decode()
    reserved = sign_up(client, username="dashboard", email="x@example.com")
    assert reserved.status_code == 422


def test_sign_up_renders_hostile_names_inert(client: Client, db: None) -> None:
    set_signup(enabled=True)
    payload = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
    response = sign_up(client, first_name=payload, username="bad name!")
    assert response.status_code == 422
    text = response.content.decode()
    assert "<script>alert(1)" not in text
    assert "<img src=x" not in text
    assert "&lt;script&gt;" in text


def test_sign_up_needs_the_csrf_token(db: None) -> None:
    set_signup(enabled=True)
    client = Client(enforce_csrf_checks=True)
    assert sign_up(client).status_code == 403


# --- forgotten password ---------------------------------------------------------------------


def reset_link(message: Any) -> str:
    match = re.search(r"(/users/password/edit\?reset_password_token=\S+)", message.body)
    assert match, message.body
    return match.group(1)


def test_reset_answers_the_same_whether_the_email_exists(
    client: Client, user: Any, mailoutbox: list[Any]
) -> None:
    assert client.get("/users/password/new").status_code == 200
    known = client.post("/users/password", {"email": "ALICE@example.com"}, follow=True)
    unknown = client.post("/users/password", {"email": "nobody@example.com"}, follow=True)
    assert known.status_code == unknown.status_code == 200
    assert flash(known) == flash(unknown)
    assert "If your email address exists" in flash(known)[0]
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["alice@example.com"]
    assert mailoutbox[0].subject == "Reset password instructions"


def test_reset_link_ignores_the_requests_host(
    client: Client, user: Any, mailoutbox: list[Any]
) -> None:
    """Host header poisoning: a reset asked for with a forged Host still links to Kiln."""
    client.post("/users/password", {"email": "alice@example.com"}, HTTP_HOST="evil.example")
    assert len(mailoutbox) == 1
    assert "evil.example" not in mailoutbox[0].body
    base = settings.EXTERNAL_URL or f"http://{settings.LISTEN}"
    assert f"{base}/users/password/edit?reset_password_token=" in mailoutbox[0].body


def test_reset_link_works_once_and_unlocks(
    client: Client, user: Any, mailoutbox: list[Any]
) -> None:
    from kiln.accounts.models import User

    User.objects.filter(pk=user.pk).update(failed_attempts=10, locked_at=timezone.now())
    client.post("/users/password", {"email": "alice@example.com"})
    link = reset_link(mailoutbox[0])
    page = client.get(link)
    assert page.status_code == 200
    assert page["Referrer-Policy"] == "no-referrer"
    token = link.split("=", 1)[1]
    mismatch = client.post(
        "/users/password/edit",
        {"reset_password_token": token, "password": "new-pass-123", "password_confirmation": "x"},
    )
    assert mismatch.status_code == 422
    assert "Password confirmation doesn&#x27;t match Password" in mismatch.content.decode()
    done = client.post(
        "/users/password/edit",
        {
            "reset_password_token": token,
            "password": "new-pass-123",
            "password_confirmation": "new-pass-123",
        },
    )
    assert done.status_code == 302
    assert done["Location"] == "/users/sign_in"
    user.refresh_from_db()
    assert user.check_password("new-pass-123")
    assert user.locked_at is None
    # The same link again: refused.
    again = client.post(
        "/users/password/edit",
        {
            "reset_password_token": token,
            "password": "other-pass-123",
            "password_confirmation": "other-pass-123",
        },
    )
    assert again.status_code == 422
    assert "Reset password token is invalid" in again.content.decode()
    assert sign_in(Client(), "alice", "new-pass-123").status_code == 302


def test_expired_or_forged_reset_tokens_are_refused(client: Client, user: Any) -> None:
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    class LongAgo(PasswordResetTokenGenerator):
        def _now(self) -> dt.datetime:
            return dt.datetime.now() - dt.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60)

    uid = urlsafe_base64_encode(force_bytes(user.pk))
    for token in (
        f"{uid}.{LongAgo().make_token(user)}",
        f"{uid}.abc-0123456789abcdef",
        "garbage",
        "a.b.c",
        f"{urlsafe_base64_encode(b'99999999999999999999')}.x-y",
    ):
        response = client.post(
            "/users/password/edit",
            {
                "reset_password_token": token,
                "password": "new-pass-123",
                "password_confirmation": "new-pass-123",
            },
        )
        assert response.status_code == 422, token
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    # Without any token: back to sign-in with Devise's explanation.
    assert client.get("/users/password/edit")["Location"] == "/users/sign_in"


# --- password change ------------------------------------------------------------------------


def test_password_change_needs_the_current_password_and_ends_other_sessions(
    user: Any,
) -> None:
    here, elsewhere = Client(), Client()
    assert sign_in(here, "alice", PASSWORD).status_code == 302
    assert sign_in(elsewhere, "alice", PASSWORD).status_code == 302
    assert here.get("/-/user_settings/password/edit").status_code == 200
    wrong = here.post(
        "/-/user_settings/password/edit",
        {
            "current_password": "nope",
            "password": "new-pass-123",
            "password_confirmation": "new-pass-123",
        },
    )
    assert wrong.status_code == 422
    assert "You must provide a valid current password" in wrong.content.decode()
    short = here.post(
        "/-/user_settings/password/edit",
        {"current_password": PASSWORD, "password": "short", "password_confirmation": "short"},
    )
    assert "Password is too short" in short.content.decode()
    ok = here.post(
        "/-/user_settings/password/edit",
        {
            "current_password": PASSWORD,
            "password": "new-pass-123",
            "password_confirmation": "new-pass-123",
        },
    )
    assert ok.status_code == 302
    # This session goes on; the other one is signed out.
    assert here.get("/dashboard/projects").status_code == 200
    gone = elsewhere.get("/dashboard/projects")
    assert gone.status_code == 302
    assert gone["Location"].startswith("/users/sign_in")
    user.refresh_from_db()
    assert user.check_password("new-pass-123")


def test_settings_pages_need_an_account(client: Client, db: None) -> None:
    for path in (
        "/-/profile",
        "/-/profile/preferences",
        "/-/user_settings/password/edit",
        "/-/user_settings/personal_access_tokens",
        "/-/user_settings/ssh_keys",
        "/dashboard/projects",
        "/dashboard/todos",
    ):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == f"/users/sign_in?redirect_to={path}", path
