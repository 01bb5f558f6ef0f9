"""Personal access tokens: creating (with GitLab's validation), revoking, rotating (and
revoking a rotated token's whole family when a revoked one is used again), and authenticating
a request's token. Values are shown once; only digests are stored (`kiln.accounts.tokens`)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from kiln.accounts import tokens
from kiln.accounts.models import PersonalAccessToken, TokenScope, User
from kiln.core.actor import Actor
from kiln.core.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    Unauthorized,
    Unprocessable,
    ValidationFailed,
    add_errors,
)
from kiln.core.names import name_errors
from kiln.core.policy import can
from kiln.core.sql import load_rows

log = logging.getLogger(__name__)

# `POST /users/:id/personal_access_tokens` without `expires_at` (GitLab: the maximum lifetime).
MAX_TOKEN_LIFETIME_DAYS = 365

# `rotate` without `expires_at`.
ROTATION_EXPIRY = dt.timedelta(weeks=1)


class TokenExpired(Unauthorized):
    """GitLab's answer for an expired token (an OAuth 2 bearer error body)."""

    reason = "token_expired"

    def __init__(self) -> None:
        super().__init__("Token is expired. You can either do re-authorization or token refresh.")

    def body(self) -> dict[str, Any]:
        return {"error": "invalid_token", "error_description": self.message}


class TokenRevoked(Unauthorized):
    """GitLab's answer for a revoked token; carries the token for the rotation-chain rule."""

    reason = "token_revoked"

    def __init__(self, token: PersonalAccessToken) -> None:
        super().__init__("Token was revoked. You have to re-authorize from the user.")
        self.token = token

    def body(self) -> dict[str, Any]:
        return {"error": "invalid_token", "error_description": self.message}


def create_personal_access_token_unchecked(
    *,
    user: User,
    name: str,
    scopes: Iterable[str],
    expires_at: dt.date | None = None,
    value: str | None = None,
    description: str = "",
    previous: PersonalAccessToken | None = None,
) -> tuple[PersonalAccessToken, str]:
    """A new token for `user`; returns the row and the value, shown once. Caller authorized."""
    scopes = list(dict.fromkeys(scopes))
    errors: dict[str, list[str]] = {}
    add_errors(errors, "name", name_errors(name))
    valid = set(TokenScope.values)
    if not scopes:
        add_errors(errors, "scopes", ["can't be blank"])
    elif [s for s in scopes if s not in valid]:
        add_errors(errors, "scopes", ["can only contain available scopes"])
    if expires_at is not None:
        today = timezone.now().date()
        if expires_at <= today:
            add_errors(errors, "expires_at", ["must be in the future"])
    if len(description) > 255 or "\x00" in description:
        add_errors(errors, "description", ["is too long (maximum is 255 characters)"])
    if errors:
        raise ValidationFailed(errors)
    value = value or tokens.generate()
    token = PersonalAccessToken.objects.create(
        user=user,
        name=name,
        scopes=scopes,
        expires_at=expires_at,
        token_digest=tokens.digest(value),
        description=description,
        previous=previous,
    )
    return token, value


def _full_messages(errors: Mapping[str, list[str]]) -> str:
    """Rails' `errors.full_messages.to_sentence`: "Expires at must be before 2026-01-01"."""
    messages = [
        f"{field.replace('_', ' ').capitalize()} {message}"
        for field, items in errors.items()
        for message in items
    ]
    if len(messages) <= 1:
        return "".join(messages)
    return ", ".join(messages[:-1]) + " and " + messages[-1]


def max_token_expiry() -> dt.date:
    return timezone.now().date() + dt.timedelta(days=MAX_TOKEN_LIFETIME_DAYS)


def create_personal_access_token(
    *,
    actor: Actor,
    user: User,
    name: str,
    scopes: Iterable[str],
    expires_at: dt.date | None = None,
    description: str = "",
) -> tuple[PersonalAccessToken, str]:
    """`POST /users/:id/personal_access_tokens`: admins only. Without `expires_at` the token
    gets the longest lifetime allowed (365 days), as GitLab requires an expiry."""
    if not actor.is_admin:
        raise Forbidden()
    limit = max_token_expiry()
    if expires_at is not None and expires_at > limit:
        raise Unprocessable(_full_messages({"expires_at": [f"must be before {limit}"]}))
    try:
        return create_personal_access_token_unchecked(
            user=user,
            name=name,
            scopes=scopes,
            expires_at=expires_at or limit,
            description=description,
        )
    except ValidationFailed as exc:
        raise Unprocessable(_full_messages(exc.errors)) from None


def revoke_personal_access_token(*, actor: Actor, token: PersonalAccessToken) -> None:
    """Revoke a token (its owner or an admin); others get GitLab's bare 400."""
    if not can(actor, "revoke_token", token):
        raise BadRequest()
    PersonalAccessToken.objects.filter(pk=token.pk).update(revoked=True)
    token.revoked = True


def rotate_personal_access_token(
    *,
    actor: Actor,
    token: PersonalAccessToken,
    expires_at: dt.date | None = None,
    keep_token_lifetime: bool = False,
) -> tuple[PersonalAccessToken, str]:
    """Revoke `token` and issue its successor (same name, scopes, description), expiring in a
    week unless `expires_at` says otherwise. With `keep_token_lifetime` (the settings page's
    Rotate, as GitLab's), the successor lives as long as `token` was given to live.
    The caller checked the actor may rotate it."""
    if not can(actor, "rotate_token", token):
        raise NotFound()
    if keep_token_lifetime and token.expires_at is not None:
        lifetime = token.expires_at - token.created_at.date()
        expires_at = timezone.now().date() + lifetime
    expiry = expires_at or (timezone.now() + ROTATION_EXPIRY).date()
    limit = max_token_expiry()
    if expiry > limit:
        raise BadRequest(_full_messages({"expires_at": [f"must be before {limit}"]}))
    with transaction.atomic():
        locked = PersonalAccessToken.objects.select_for_update().get(pk=token.pk)
        if locked.revoked:
            raise BadRequest("Token already revoked")
        PersonalAccessToken.objects.filter(pk=locked.pk).update(revoked=True)
        try:
            return create_personal_access_token_unchecked(
                user=locked.user,
                name=locked.name,
                scopes=locked.scopes,
                expires_at=expiry,
                description=locked.description,
                previous=locked,
            )
        except ValidationFailed as exc:
            raise BadRequest(_full_messages(exc.errors)) from None


def revoke_token_family(*, token: PersonalAccessToken) -> int:
    """Revoke every token rotated from `token`, directly or not (GitLab's
    `RevokeTokenFamilyService`): an old token presented again after its rotation has leaked,
    so its successors are no longer trusted. Returns how many were revoked."""
    revoked = 0
    with transaction.atomic():
        current: int | None = token.pk
        seen: set[int] = set()
        while current is not None and current not in seen:
            seen.add(current)
            child = PersonalAccessToken.objects.filter(previous_id=current).first()
            if child is None:
                break
            if not child.revoked:
                revoked += PersonalAccessToken.objects.filter(pk=child.pk).update(revoked=True)
            current = child.pk
    if revoked:
        log.warning("revoked a rotated token family", extra={"token_id": token.pk})
    return revoked


def find_token(value: str) -> PersonalAccessToken | None:
    """The token row for a presented value, whatever its state, or None."""
    if not value or len(value) > 512:
        return None
    digest = tokens.digest(value)
    # Every authenticated API request comes here, so the rows are read with SQL: compiling the
    # ORM's join of token and user (~60 columns) costs several times two indexed selects
    # (table names come from the models; values are always parameters).
    table = PersonalAccessToken._meta.db_table
    sql = f"SELECT * FROM {table} WHERE token_digest = %s"  # noqa: S608
    token = next(iter(load_rows(PersonalAccessToken, sql, [digest])), None)
    if token is None or not tokens.matches(value, token.token_digest):
        return None
    sql = f"SELECT * FROM {User._meta.db_table} WHERE id = %s"  # noqa: S608
    user = next(iter(load_rows(User, sql, [token.user_id])), None)
    if user is None:  # deleted between the two reads
        return None
    token.user = user
    return token


def authenticate_token(
    value: str, *, lookup: tuple[str, PersonalAccessToken | None] | None = None
) -> PersonalAccessToken:
    """The active token for `value`; else 401 (with GitLab's bodies for expired and revoked
    tokens). Records last use at most once a minute, and the owner's activity once a day.

    `lookup`: what `find_token` already answered for a value earlier in this request (the rate
    limiter's), reused when it is for the same value. Never kept beyond one request, so a
    revoked token fails on the next one.
    """
    token = lookup[1] if lookup is not None and lookup[0] == value else find_token(value)
    if token is None:
        raise Unauthorized()
    if token.is_expired:
        raise TokenExpired()
    if token.revoked:
        raise TokenRevoked(token)
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        PersonalAccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    today = now.date()
    if token.user.last_activity_on != today:
        User.objects.filter(pk=token.user_id).update(last_activity_on=today)
        token.user.last_activity_on = today
    return token
