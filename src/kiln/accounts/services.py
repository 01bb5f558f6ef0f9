"""Writes to accounts: users, personal access tokens, SSH keys, sign-in.

Services take the acting `actor` first and authorize, unless their docstring says the
caller does. Validation errors raise `ValidationFailed` with GitLab's messages.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Model
from django.db.models.functions import Lower
from django.utils import timezone

from kiln.accounts import tokens
from kiln.accounts.models import PersonalAccessToken, TokenScope, User, UserState
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, Unauthorized, ValidationFailed
from kiln.core.names import name_errors, namespace_path_errors
from kiln.namespaces.models import Namespace
from kiln.namespaces.services import create_personal_namespace

log = logging.getLogger(__name__)

LOCKOUT_ATTEMPTS = 10
LOCKOUT_DURATION = dt.timedelta(minutes=10)


def username_errors(username: str, *, exclude_user: User | None = None) -> list[str]:
    errors = namespace_path_errors(username, top_level=True)
    taken = Namespace.objects.annotate(lp=Lower("full_path")).filter(lp=username.lower())
    users = User.objects.annotate(lu=Lower("username")).filter(lu=username.lower())
    if exclude_user is not None:
        taken = taken.exclude(owner=exclude_user)
        users = users.exclude(pk=exclude_user.pk)
    if users.exists() or taken.exists():
        errors.append("has already been taken")
    return errors


def email_errors(email: str, *, exclude_user: User | None = None) -> list[str]:
    if not email or "@" not in email or len(email) > 255 or any(c.isspace() for c in email):
        return ["is invalid"]
    others = User.objects.filter(email__iexact=email)
    if exclude_user is not None:
        others = others.exclude(pk=exclude_user.pk)
    return ["has already been taken"] if others.exists() else []


@transaction.atomic
def create_user_unchecked(
    *,
    username: str,
    name: str,
    email: str,
    password: str | None,
    is_admin: bool = False,
    external: bool = False,
    **fields: object,
) -> User:
    """Create a user and their personal namespace. The caller has authorized the creation."""
    errors: dict[str, list[str]] = {}
    if e := username_errors(username):
        errors["username"] = e
    if e := name_errors(name):
        errors["name"] = e
    if e := email_errors(email):
        errors["email"] = e
    if password is not None and len(password) < 8:
        errors["password"] = ["is too short (minimum is 8 characters)"]
    if errors:
        raise ValidationFailed(errors)
    user = User(
        username=username, name=name, email=email, is_admin=is_admin, external=external, **fields
    )
    user.password = make_password(password)  # None gives an unusable password
    user.save()
    create_personal_namespace(user=user)
    return user


def create_user(
    *, actor: Actor, username: str, name: str, email: str, password: str | None, **fields: Any
) -> User:
    if not actor.is_admin:
        raise Forbidden()
    return create_user_unchecked(
        username=username, name=name, email=email, password=password, **fields
    )


def create_personal_access_token_unchecked(
    *,
    user: User,
    name: str,
    scopes: Iterable[str],
    expires_at: dt.date | None = None,
    value: str | None = None,
    description: str = "",
) -> tuple[PersonalAccessToken, str]:
    """A new token for `user`; returns the row and the value, shown once. Caller authorized."""
    scopes = list(dict.fromkeys(scopes))
    errors: dict[str, list[str]] = {}
    if e := name_errors(name):
        errors["name"] = e
    valid = set(TokenScope.values)
    if not scopes:
        errors["scopes"] = ["can't be blank"]
    elif bad := [s for s in scopes if s not in valid]:
        errors["scopes"] = [f"can only contain available scopes: {', '.join(bad)} not allowed"]
    if expires_at is not None and expires_at <= timezone.now().date():
        errors["expires_at"] = ["must be in the future"]
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
    )
    return token, value


def find_token(value: str) -> PersonalAccessToken | None:
    """The token row for a presented value, whatever its state, or None."""
    if not value or len(value) > 512:
        return None
    digest = tokens.digest(value)
    token = PersonalAccessToken.objects.select_related("user").filter(token_digest=digest).first()
    if token is None or not tokens.matches(value, token.token_digest):
        return None
    return token


def authenticate_token(value: str) -> PersonalAccessToken:
    """The active token for `value`, else Unauthorized. Records last use (at most each minute)."""
    token = find_token(value)
    if token is None or not token.is_active:
        raise Unauthorized()
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        PersonalAccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def authenticate_password(username: str, password: str) -> User | None:
    """The user for a username (or email) and password, honouring the lockout; else None.

    After LOCKOUT_ATTEMPTS failures the account is locked for LOCKOUT_DURATION, as GitLab's
    `failed_attempts`/`locked_at` do; a success resets the count.
    """
    if not username or not password or len(password) > 1024:
        return None
    user = (
        User.objects.filter(username__iexact=username).first()
        or User.objects.filter(email__iexact=username).first()
    )
    if user is None:
        # Hash anyway so a missing user takes as long as a wrong password.
        make_password(password)
        return None
    now = timezone.now()
    if user.locked_at is not None and now - user.locked_at < LOCKOUT_DURATION:
        return None
    if not check_password(password, user.password):
        with transaction.atomic():
            locked = User.objects.select_for_update().get(pk=user.pk)
            locked.failed_attempts += 1
            if locked.failed_attempts >= LOCKOUT_ATTEMPTS:
                locked.locked_at = now
                locked.failed_attempts = 0
            locked.save(update_fields=["failed_attempts", "locked_at"])
        return None
    if user.state != UserState.ACTIVE:
        return None
    User.objects.filter(pk=user.pk).update(
        failed_attempts=0,
        locked_at=None,
        last_sign_in_at=user.current_sign_in_at,
        current_sign_in_at=now,
    )
    return user


def _reset_sequences(*models: type[Model]) -> None:
    """After inserting an explicit id, move PostgreSQL's sequence past it (no-op on SQLite)."""
    statements = connection.ops.sequence_reset_sql(no_style(), list(models))
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


@transaction.atomic
def seed_root(*, password: str, token_value: str, email: str = "admin@example.com") -> bool:
    """Create the administrator `root` (id 1) and its api+sudo token, once. True if created."""
    if User.objects.filter(pk=1).exists() or User.objects.filter(username__iexact="root").exists():
        return False
    user = create_user_unchecked(
        username="root",
        name="Administrator",
        email=email,
        password=password,
        is_admin=True,
        id=1,
    )
    create_personal_access_token_unchecked(
        user=user, name="root-token", scopes=["api", "sudo", "admin_mode"], value=token_value
    )
    _reset_sequences(User)
    log.info("seeded the administrator", extra={"user_id": user.pk})
    return True
