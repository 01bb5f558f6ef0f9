"""Self-service account writes: sign-up and approval, passwords (change, reset by email),
profile, preferences, avatar, and a user's own personal access tokens.

As in `kiln.accounts.services` (whose validation these share): services take the acting
`actor` first and authorize unless their docstring says the caller does; each write runs in
one transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from kiln.accounts.access_tokens import create_personal_access_token_unchecked, max_token_expiry
from kiln.accounts.models import (
    COLOR_MODES,
    DIFF_VIEWS,
    PersonalAccessToken,
    TokenScope,
    User,
    UserAvatar,
    UserState,
)
from kiln.accounts.services import (
    create_user_unchecked,
    delete_user,
    email_errors,
    email_format_errors,
    password_errors,
    profile_errors,
    set_state,
    username_errors,
)
from kiln.core import appsettings
from kiln.core.actor import Actor
from kiln.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PlainForbidden,
    ValidationFailed,
    add_errors,
)
from kiln.core.names import name_errors
from kiln.core.policy import can
from kiln.namespaces.models import Namespace

log = logging.getLogger(__name__)

SIGNUP_DISABLED = "Sign-up is disabled."
PASSWORD_CONFIRMATION_MISMATCH = "doesn't match Password"  # noqa: S105 (a message)
INVALID_CURRENT_PASSWORD = "You must provide a valid current password"  # noqa: S105 (a message)
NOT_PENDING_APPROVAL = "The user you are trying to approve is not pending approval"


@dataclass(frozen=True)
class Registration:
    """A new self-registered user, and whether an administrator must approve them first."""

    user: User
    pending_approval: bool


def register_user(
    *, username: str, first_name: str, last_name: str, email: str, password: str
) -> Registration:
    """`/users/sign_up`: anyone may register while the instance allows sign-up.

    Every problem is a field error (`ValidationFailed`), a taken username or email too, so the
    form can show them all at once. With `require_admin_approval_after_user_signup` the account
    starts blocked, pending approval, and cannot sign in until an administrator approves it.
    """
    settings = appsettings.current()
    if not settings.signup_enabled:
        raise PlainForbidden(SIGNUP_DISABLED)
    errors: dict[str, list[str]] = {}
    add_errors(errors, "first_name", name_errors(first_name, max_length=127))
    add_errors(errors, "last_name", name_errors(last_name, max_length=127))
    add_errors(errors, "username", username_errors(username))
    add_errors(errors, "email", email_errors(email))
    add_errors(errors, "password", password_errors(password))
    if errors:
        raise ValidationFailed(errors)
    pending = settings.require_admin_approval_after_user_signup
    try:
        with transaction.atomic():
            user = create_user_unchecked(
                username=username,
                name=f"{first_name.strip()} {last_name.strip()}",
                email=email,
                password=password,
                external=settings.user_default_external,
            )
            if pending:
                set_state(user, UserState.BLOCKED_PENDING_APPROVAL)
    except Conflict as exc:  # lost a race with another sign-up
        field = "email" if str(exc).startswith("Email") else "username"
        raise ValidationFailed({field: ["has already been taken"]}) from None
    log.info("user signed up", extra={"user_id": user.pk, "pending_approval": pending})
    return Registration(user, pending)


def approve_user(*, actor: Actor, user: User) -> User:
    """GitLab's `Users::ApproveService`: admins only; the user must be pending approval."""
    if not actor.is_admin:
        raise Forbidden()
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.state != UserState.BLOCKED_PENDING_APPROVAL:
            raise Conflict(NOT_PENDING_APPROVAL)
        set_state(locked, UserState.ACTIVE)
    user.state = UserState.ACTIVE
    return user


def reject_user(*, actor: Actor, user: User) -> None:
    """GitLab's `Users::RejectService`: deletes a user still pending approval; admins only."""
    if not actor.is_admin:
        raise Forbidden()
    if user.state != UserState.BLOCKED_PENDING_APPROVAL:
        raise Conflict("You can only reject a user that is pending approval")
    delete_user(actor=actor, user=user)


def _new_password_errors(password: str, confirmation: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    add_errors(errors, "password", password_errors(password))
    if password != confirmation:
        add_errors(errors, "password_confirmation", [PASSWORD_CONFIRMATION_MISMATCH])
    return errors


def change_password(
    *, actor: Actor, user: User, current_password: str, password: str, confirmation: str
) -> User:
    """`/-/user_settings/password`: the user themselves, who must give the current password.

    A new password changes the session hash, so every other session of the user ends (the
    caller keeps its own with `update_session_auth_hash`).
    """
    if actor.user is None or actor.user.pk != user.pk:
        raise NotFound("User")
    if len(current_password) > 1024 or not check_password(current_password, user.password):
        raise ValidationFailed({"current_password": [INVALID_CURRENT_PASSWORD]})
    errors = _new_password_errors(password, confirmation)
    if errors:
        raise ValidationFailed(errors)
    user.password = make_password(password)
    User.objects.filter(pk=user.pk).update(password=user.password, updated_at=timezone.now())
    log.info("password changed", extra={"user_id": user.pk})
    return user


def password_reset_token(user: User) -> str:
    """The `reset_password_token` of a reset link: the user's id and Django's token, which
    expires after PASSWORD_RESET_TIMEOUT and stops working once the password (or the last
    sign-in) changes, so it serves once."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return f"{uid}.{default_token_generator.make_token(user)}"


def user_for_reset_token(value: str) -> User | None:
    """The user a valid, unexpired, unused reset token is for; else None."""
    if not value or len(value) > 200 or value.count(".") != 1:
        return None
    uid, token = value.split(".")
    try:
        pk = int(urlsafe_base64_decode(uid).decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return None
    user = User.objects.filter(pk=pk).first()
    if user is None or not default_token_generator.check_token(user, token):
        return None
    return user


def send_password_reset(*, email: str, base_url: str) -> None:
    """Mail a reset link to the account with this email, if there is one; the caller answers
    the same either way (GitLab's paranoid mode), so nobody learns which emails exist."""
    if email_format_errors(email):
        return
    user = User.objects.filter(email__iexact=email, bot=False).first()
    if user is None:
        return
    link = f"{base_url}/users/password/edit?reset_password_token={password_reset_token(user)}"
    body = (
        f"Hello, {user.name}!\n\n"
        "Someone, hopefully you, has requested to reset the password for your Kiln account "
        f"({user.username}).\n\nChange your password: {link}\n\n"
        "If you did not request this, ignore this email: your password stays the same until "
        "you open the link above and create a new one.\n"
    )
    try:
        send_mail("Reset password instructions", body, None, [user.email])
    except OSError:
        log.exception("could not send the password reset email", extra={"user_id": user.pk})


def reset_password(*, token: str, password: str, confirmation: str) -> User:
    """Set a new password through a reset link; the token then no longer works. A reset also
    lifts a sign-in lockout, as Devise does."""
    user = user_for_reset_token(token)
    if user is None:
        raise ValidationFailed({"reset_password_token": ["is invalid"]})
    errors = _new_password_errors(password, confirmation)
    if errors:
        raise ValidationFailed(errors)
    user.password = make_password(password)
    user.failed_attempts = 0
    user.locked_at = None
    user.save(update_fields=["password", "failed_attempts", "locked_at", "updated_at"])
    log.info("password reset", extra={"user_id": user.pk})
    return user


# What a user may change on their own profile page (admin-only attributes excluded).
SELF_PROFILE_FIELDS = frozenset(
    [
        "name",
        "public_email",
        "commit_email",
        "bio",
        "location",
        "organization",
        "job_title",
        "website_url",
        "pronouns",
        "linkedin",
        "twitter",
        "discord",
        "github",
        "private_profile",
    ]
)


def update_profile(*, actor: Actor, user: User, changes: Mapping[str, Any]) -> User:
    """`/-/profile`: the user (or an admin) changes the profile attributes in `changes`."""
    if not can(actor, "update_user", user):
        raise NotFound("User")
    unknown = set(changes) - SELF_PROFILE_FIELDS
    if unknown:
        raise TypeError(f"unknown profile attributes: {sorted(unknown)}")
    errors: dict[str, list[str]] = {}
    if "name" in changes:
        add_errors(errors, "name", name_errors(changes["name"] or ""))
    profile = {k: v for k, v in changes.items() if k != "name"}
    for field, messages in profile_errors(profile, email=user.email).items():
        add_errors(errors, field, messages)
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        for field, value in changes.items():
            setattr(locked, field, value)
        locked.save()
        if "name" in changes:
            Namespace.objects.filter(owner=locked).update(name=locked.name, full_name=locked.name)
    return locked


def update_preferences(
    *, actor: Actor, user: User, color_mode: str | None = None, diff_view: str | None = None
) -> User:
    """`/-/profile/preferences`: colour mode (light, dark, system) and diff view."""
    if not can(actor, "update_user", user):
        raise NotFound("User")
    ids = {name: number for number, name in COLOR_MODES.items()}
    errors: dict[str, list[str]] = {}
    if color_mode is not None and color_mode not in ids:
        add_errors(errors, "color_mode", ["is not included in the list"])
    if diff_view is not None and diff_view not in DIFF_VIEWS:
        add_errors(errors, "diff_view", ["is not included in the list"])
    if errors:
        raise ValidationFailed(errors)
    fields = ["updated_at"]
    if color_mode is not None:
        user.color_mode_id = ids[color_mode]
        fields.append("color_mode_id")
    if diff_view is not None:
        user.diff_view = diff_view
        fields.append("diff_view")
    user.save(update_fields=fields)
    return user


# Avatars: GitLab's limit, and the image types accepted, recognized by their first bytes
# (never by the name or the type the browser claims: an SVG or HTML file is refused).
AVATAR_MAX_BYTES = 200 * 1024
AVATAR_TYPES_MESSAGE = (
    "file format is not supported. Please try one of the following supported formats: "
    "png, jpg, jpeg, gif, webp"
)


def image_type(data: bytes) -> tuple[str, str] | None:
    """(content type, extension) of a PNG, JPEG, GIF or WebP image by its magic bytes."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png", "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", "jpg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif", "gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    return None


def set_avatar(*, actor: Actor, user: User, data: bytes) -> User:
    """Upload a new avatar for `user` (themselves or an admin)."""
    if not can(actor, "update_user", user):
        raise NotFound("User")
    if len(data) > AVATAR_MAX_BYTES:
        raise ValidationFailed({"avatar": ["is too big (should be at most 200 KiB)"]})
    kind = image_type(data)
    if kind is None:
        raise ValidationFailed({"avatar": [AVATAR_TYPES_MESSAGE]})
    content_type, ext = kind
    with transaction.atomic():
        UserAvatar.objects.update_or_create(
            user=user,
            defaults={
                "content_type": content_type,
                "data": data,
                "digest": hashlib.sha256(data).hexdigest(),
            },
        )
        User.objects.filter(pk=user.pk).update(avatar_ext=ext, updated_at=timezone.now())
    user.avatar_ext = ext
    return user


def remove_avatar(*, actor: Actor, user: User) -> User:
    if not can(actor, "update_user", user):
        raise NotFound("User")
    with transaction.atomic():
        UserAvatar.objects.filter(user=user).delete()
        User.objects.filter(pk=user.pk).update(avatar_ext="", updated_at=timezone.now())
    user.avatar_ext = ""
    return user


# Scopes only administrators may give their own tokens.
ADMIN_ONLY_SCOPES = frozenset({TokenScope.SUDO.value, TokenScope.ADMIN_MODE.value})


def create_own_personal_access_token(
    *,
    actor: Actor,
    name: str,
    scopes: Iterable[str],
    expires_at: dt.date | None = None,
    description: str = "",
) -> tuple[PersonalAccessToken, str]:
    """`/-/user_settings/personal_access_tokens`: a signed-in user's new token, on a web
    session only (a token cannot mint tokens). Without an expiry it gets the longest lifetime
    allowed (365 days); a later one is refused, as GitLab does."""
    if actor.user is None or actor.scopes is not None or actor.sudoer is not None:
        raise Forbidden()
    scopes = list(scopes)
    if not actor.is_admin and ADMIN_ONLY_SCOPES & set(scopes):
        raise ValidationFailed({"scopes": ["can only contain available scopes"]})
    limit = max_token_expiry()
    if expires_at is not None and expires_at > limit:
        raise ValidationFailed({"expires_at": [f"must be before {limit}"]})
    return create_personal_access_token_unchecked(
        user=actor.user,
        name=name,
        scopes=scopes,
        expires_at=expires_at or limit,
        description=description,
    )
