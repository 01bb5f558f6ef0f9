"""The accounts services behind the account pages: sign-up under the instance's settings,
approval, password change and reset, profile, preferences, avatar, a user's own tokens."""

from __future__ import annotations

from typing import Any

import pytest

from kiln.accounts import access_tokens, self_service, services
from kiln.core import appsettings
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, NotFound, PlainForbidden, ValidationFailed


@pytest.fixture
def alice(db: None) -> Any:
    return services.create_user_unchecked(
        username="alice", name="Alice", email="alice@example.com", password="password-123"
    )


@pytest.fixture
def bob(db: None) -> Any:
    return services.create_user_unchecked(
        username="bob", name="Bob", email="bob@example.com", password="password-123"
    )


def settings(**values: Any) -> None:
    row = appsettings.current()
    for name, value in values.items():
        setattr(row, name, value)
    row.save()


def register(**fields: str) -> self_service.Registration:
    data = {
        "username": "carol",
        "first_name": "Carol",
        "last_name": "Kiln",
        "email": "carol@example.com",
        "password": "carol-password",
        **fields,
    }
    return self_service.register_user(**data)


def test_register_follows_the_instance_settings(db: None) -> None:
    settings(signup_enabled=False)
    with pytest.raises(PlainForbidden):
        register()
    settings(signup_enabled=True, require_admin_approval_after_user_signup=False,
             user_default_external=True)  # fmt: skip
    open_one = register()
    assert not open_one.pending_approval
    assert open_one.user.state == "active"
    assert open_one.user.external
    assert open_one.user.projects_limit == 0
    settings(require_admin_approval_after_user_signup=True)
    pending = register(username="dave", email="dave@example.com")
    assert pending.pending_approval
    assert pending.user.state == "blocked_pending_approval"
    result = services.sign_in_with_password(login="dave", password="carol-password")
    assert result.user is None
    assert result.failure == "pending_approval"


def test_register_reports_every_field(alice: Any) -> None:
    settings(signup_enabled=True)
    with pytest.raises(ValidationFailed) as exc:
        register(username="Alice", email="ALICE@example.com", password="x", first_name="")
    assert exc.value.errors == {
        "first_name": ["can't be blank"],
        "username": ["has already been taken"],
        "email": ["has already been taken"],
        "password": ["is too short (minimum is 8 characters)"],
    }


def test_change_password_is_for_oneself(alice: Any, bob: Any) -> None:
    with pytest.raises(NotFound):
        self_service.change_password(
            actor=Actor.for_user(bob), user=alice, current_password="password-123",
            password="new-password", confirmation="new-password",
        )  # fmt: skip
    with pytest.raises(ValidationFailed) as exc:
        self_service.change_password(
            actor=Actor.for_user(alice), user=alice, current_password="password-123",
            password="new-password", confirmation="other",
        )  # fmt: skip
    assert exc.value.errors == {"password_confirmation": ["doesn't match Password"]}
    self_service.change_password(
        actor=Actor.for_user(alice), user=alice, current_password="password-123",
        password="new-password", confirmation="new-password",
    )  # fmt: skip
    alice.refresh_from_db()
    assert alice.check_password("new-password")


def test_reset_token_is_single_use(alice: Any) -> None:
    token = self_service.password_reset_token(alice)
    assert self_service.user_for_reset_token(token) == alice
    self_service.reset_password(token=token, password="brand-new-1", confirmation="brand-new-1")
    assert self_service.user_for_reset_token(token) is None
    with pytest.raises(ValidationFailed):
        self_service.reset_password(token=token, password="again-new-1", confirmation="again-new-1")


def test_profile_preferences_and_avatar_need_the_user_or_an_admin(alice: Any, bob: Any) -> None:
    as_bob = Actor.for_user(bob)
    with pytest.raises(NotFound):
        self_service.update_profile(actor=as_bob, user=alice, changes={"bio": "hacked"})
    with pytest.raises(NotFound):
        self_service.update_preferences(actor=as_bob, user=alice, color_mode="dark")
    with pytest.raises(NotFound):
        self_service.set_avatar(actor=as_bob, user=alice, data=b"\x89PNG\r\n\x1a\n")
    with pytest.raises(TypeError):
        self_service.update_profile(
            actor=Actor.for_user(alice), user=alice, changes={"is_admin": True}
        )
    root = services.create_user_unchecked(
        username="root", name="Root", email="root@example.com", password="password-123",
        is_admin=True,
    )  # fmt: skip
    self_service.update_profile(actor=Actor.for_user(root), user=alice, changes={"bio": "Potter"})
    alice.refresh_from_db()
    assert alice.bio == "Potter"


def test_image_types_by_magic_bytes() -> None:
    assert self_service.image_type(b"\x89PNG\r\n\x1a\nrest") == ("image/png", "png")
    assert self_service.image_type(b"\xff\xd8\xff\xdb") == ("image/jpeg", "jpg")
    assert self_service.image_type(b"GIF87a...") == ("image/gif", "gif")
    assert self_service.image_type(b"RIFF\0\0\0\0WEBPVP8 ") == ("image/webp", "webp")
    for other in (b"<svg/>", b"<html>", b"RIFF\0\0\0\0WAVE", b"BM", b""):
        assert self_service.image_type(other) is None


def test_own_tokens_only_on_a_web_session(alice: Any) -> None:
    token, _ = access_tokens.create_personal_access_token_unchecked(
        user=alice, name="t", scopes=["api"]
    )
    by_token = Actor(user=alice, scopes=frozenset(["api"]), token=token)
    with pytest.raises(Forbidden):
        self_service.create_own_personal_access_token(actor=by_token, name="x", scopes=["api"])
    with pytest.raises(Forbidden):
        self_service.create_own_personal_access_token(
            actor=Actor.anonymous(), name="x", scopes=["api"]
        )
    with pytest.raises(ValidationFailed):
        self_service.create_own_personal_access_token(
            actor=Actor.for_user(alice), name="x", scopes=["sudo"]
        )
    created, value = self_service.create_own_personal_access_token(
        actor=Actor.for_user(alice), name="x", scopes=["read_api"]
    )
    assert created.user_id == alice.pk
    assert value.startswith("glpat-")
