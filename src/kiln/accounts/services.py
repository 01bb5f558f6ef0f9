"""Writes to accounts: users, SSH keys, sign-in and seeding (personal access tokens are in
`kiln.accounts.access_tokens`; self-service pages in `kiln.accounts.self_service`).

Services take the acting `actor` first and authorize, unless their docstring says the
caller does. Validation errors raise `ValidationFailed` with GitLab's messages; GitLab's
other answers (409 for a taken username or email, 403 with its own words) are raised as the
matching `kiln.core.errors` types. Each write runs in one transaction.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.core.management.color import no_style
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.db.models.functions import Lower
from django.utils import timezone

from kiln.accounts import keys as ssh_keys
from kiln.accounts.access_tokens import create_personal_access_token_unchecked
from kiln.accounts.models import (
    SSHKey,
    SSHKeyUsage,
    User,
    UserState,
)
from kiln.core import appsettings
from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PlainForbidden,
    ValidationFailed,
    add_errors,
)
from kiln.core.names import name_errors, namespace_path_errors
from kiln.core.policy import can
from kiln.namespaces.access import active_membership_q
from kiln.namespaces.groups import delete_group
from kiln.namespaces.hooks import run_before_namespace_destroy
from kiln.namespaces.models import GroupMember, Namespace
from kiln.namespaces.services import create_personal_namespace, rename_personal_namespace

log = logging.getLogger(__name__)

# GitLab's (Devise's) defaults; the live values come from the application settings.

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128
MAX_INT = 2**31 - 1
# GitLab's `deactivate_dormant_users_period` default: users active more recently than this
# cannot be deactivated.
DORMANT_PERIOD_DAYS = 90

USERNAME_TAKEN_BY_NAMESPACE = "A user, alias, or group already exists with that username."
SOLE_OWNER_MESSAGE = "User cannot be removed while is the sole-owner of a group"

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\Z")
_DISCORD = re.compile(r"\d{17,20}\Z")
# GitLab's theme and color scheme ids.
THEME_IDS = range(1, 12)
COLOR_SCHEME_IDS = range(1, 7)


# --- validation helpers -------------------------------------------------------------------


def email_format_errors(email: str) -> list[str]:
    """Devise's email check (`/\\A[^@\\s]+@[^@\\s]+\\z/`), and the column's length."""
    if not email:
        return ["can't be blank"]
    errors = []
    if len(email) > 255:
        errors.append("is too long (maximum is 255 characters)")
    if not _EMAIL.match(email) or "\x00" in email:
        errors.append("is invalid")
    return errors


def password_errors(password: str) -> list[str]:
    if len(password) < PASSWORD_MIN_LENGTH:
        return [f"is too short (minimum is {PASSWORD_MIN_LENGTH} characters)"]
    if len(password) > PASSWORD_MAX_LENGTH:
        return [f"is too long (maximum is {PASSWORD_MAX_LENGTH} characters)"]
    return []


def username_format_errors(username: str) -> list[str]:
    if not username:
        return ["can't be blank"]
    return namespace_path_errors(username, top_level=True)


def _username_taken_by_user(username: str, *, exclude: User | None = None) -> bool:
    users = User.objects.annotate(lu=Lower("username")).filter(lu=username.lower())
    if exclude is not None:
        users = users.exclude(pk=exclude.pk)
    return users.exists()


def _username_taken_by_namespace(username: str, *, exclude: User | None = None) -> bool:
    taken = Namespace.objects.annotate(lp=Lower("full_path")).filter(lp=username.lower())
    if exclude is not None:
        taken = taken.exclude(owner=exclude)
    return taken.exists()


def _email_taken(email: str, *, exclude: User | None = None) -> bool:
    others = User.objects.filter(email__iexact=email)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    return others.exists()


def username_errors(username: str, *, exclude_user: User | None = None) -> list[str]:
    """Format, reserved names and case-insensitive uniqueness against users and namespaces."""
    errors = username_format_errors(username)
    if _username_taken_by_user(username, exclude=exclude_user) or _username_taken_by_namespace(
        username, exclude=exclude_user
    ):
        errors.append("has already been taken")
    return errors


def email_errors(email: str, *, exclude_user: User | None = None) -> list[str]:
    errors = email_format_errors(email)
    if not errors and _email_taken(email, exclude=exclude_user):
        errors.append("has already been taken")
    return errors


# Profile attributes a user create or update may set: name -> maximum length.
_TEXT_FIELDS: dict[str, int] = {
    "bio": 255,
    "location": 255,
    "organization": 255,
    "job_title": 255,
    "website_url": 255,
    "pronouns": 50,
    "linkedin": 255,
    "twitter": 255,
    "discord": 255,
    "github": 255,
    "note": 10_000,
}
_BOOL_FIELDS = ("can_create_group", "private_profile")
PROFILE_FIELDS = frozenset(
    [
        *_TEXT_FIELDS,
        *_BOOL_FIELDS,
        "projects_limit",
        "theme_id",
        "color_scheme_id",
        "public_email",
        "commit_email",
    ]
)


def profile_errors(fields: Mapping[str, Any], *, email: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name, value in fields.items():
        if name in _TEXT_FIELDS:
            if not isinstance(value, str):
                add_errors(errors, name, ["is invalid"])
            elif len(value) > _TEXT_FIELDS[name]:
                add_errors(
                    errors, name, [f"is too long (maximum is {_TEXT_FIELDS[name]} characters)"]
                )
            elif "\x00" in value:
                add_errors(errors, name, ["is invalid"])
            elif name == "discord" and value and not _DISCORD.match(value):
                add_errors(errors, name, ["must contain only a discord user ID."])
        elif name in _BOOL_FIELDS:
            if not isinstance(value, bool):
                add_errors(errors, name, ["is invalid"])
        elif name == "projects_limit":
            if not isinstance(value, int) or isinstance(value, bool):
                add_errors(errors, name, ["is not a number"])
            elif value < 0:
                add_errors(errors, name, ["must be greater than or equal to 0"])
            elif value > MAX_INT:
                add_errors(errors, name, [f"must be less than or equal to {MAX_INT}"])
        elif name == "theme_id":
            if value not in THEME_IDS:
                add_errors(errors, name, [f"{value} is not a valid theme"])
        elif name == "color_scheme_id":
            if value not in COLOR_SCHEME_IDS:
                add_errors(errors, name, [f"{value} is not a valid color scheme"])
        elif name in ("public_email", "commit_email"):
            # Kiln has no secondary emails: the only verified address is the primary one.
            if value and (not isinstance(value, str) or value.lower() != email.lower()):
                add_errors(errors, name, ["must be an email you have verified"])
        else:
            raise TypeError(f"unknown user attribute {name!r}")
    return errors


def _apply_rights_and_limits(user: User, *, explicit: Iterable[str]) -> None:
    """GitLab's `ensure_user_rights_and_limits`: external users create neither groups nor
    projects; others get the instance defaults unless the request set the value."""
    given = set(explicit)
    if user.external:
        user.can_create_group = False
        user.projects_limit = 0
        return
    settings = appsettings.current()
    if "can_create_group" not in given:
        user.can_create_group = settings.can_create_group
    if "projects_limit" not in given:
        user.projects_limit = settings.default_projects_limit


# --- users ----------------------------------------------------------------------------------


@transaction.atomic
def create_user_unchecked(
    *,
    username: str,
    name: str,
    email: str,
    password: str | None,
    is_admin: bool = False,
    external: bool = False,
    require_password: bool = False,
    **fields: Any,
) -> User:
    """Create a user and their personal namespace. The caller has authorized the creation.

    `password=None` leaves the account without a usable password (unless `require_password`,
    which makes it a validation error). Besides the profile
    attributes, `fields` may carry `id` (seeding), `created_by` and `confirmed_at`.
    A username or email another user has is a 409, as GitLab answers.
    """
    pk = fields.pop("id", None)
    created_by = fields.pop("created_by", None)
    confirmed_at = fields.pop("confirmed_at", timezone.now())
    errors: dict[str, list[str]] = {}
    add_errors(errors, "username", username_format_errors(username))
    add_errors(errors, "name", name_errors(name))
    add_errors(errors, "email", email_format_errors(email))
    if password is not None:
        add_errors(errors, "password", password_errors(password))
    elif require_password:
        add_errors(errors, "password", ["can't be blank"])
    for field, messages in profile_errors(fields, email=email).items():
        add_errors(errors, field, messages)
    username_valid = "username" not in errors
    user_taken = username_valid and _username_taken_by_user(username)
    if username_valid and not user_taken and _username_taken_by_namespace(username):
        add_errors(errors, "base", [USERNAME_TAKEN_BY_NAMESPACE])
    if _email_taken(email):
        raise Conflict("Email has already been taken")
    if user_taken:
        raise Conflict("Username has already been taken")
    if errors:
        raise ValidationFailed(errors)
    user = User(
        username=username,
        name=name,
        email=email,
        is_admin=is_admin,
        external=external,
        created_by=created_by,
        confirmed_at=confirmed_at,
        **fields,
    )
    if pk is not None:
        user.pk = pk
    _apply_rights_and_limits(user, explicit=fields)
    user.password = make_password(password)  # None gives an unusable password
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        # Lost a race with a concurrent create of the same username.
        raise Conflict("Username has already been taken") from None
    create_personal_namespace(user=user)
    return user


def create_user(
    *,
    actor: Actor,
    username: str,
    name: str,
    email: str,
    password: str | None,
    reset_password: bool = False,
    force_random_password: bool = False,
    skip_confirmation: bool = False,
    **fields: Any,
) -> User:
    """`POST /users`: admins only. `reset_password`/`force_random_password` win over
    `password` and set a random one (Kiln sends no email, so the user resets it later)."""
    if not actor.is_admin:
        raise Forbidden()
    if reset_password or force_random_password:
        password = secrets.token_urlsafe(24)
    return create_user_unchecked(
        username=username,
        name=name,
        email=email,
        password=password,
        require_password=True,
        created_by=actor.user,
        confirmed_at=timezone.now() if skip_confirmation else None,
        **fields,
    )


_UPDATABLE = PROFILE_FIELDS | {
    "username",
    "name",
    "email",
    "password",
    "is_admin",
    "external",
}


def update_user(*, actor: Actor, user: User, changes: Mapping[str, Any]) -> User:
    """`PUT /users/:id`: admins only. Only the keys present in `changes` change.

    A new username renames the personal namespace; a username or email another user has is
    a 409, as GitLab answers; a username a group holds is a validation error.
    """
    if not actor.is_admin:
        raise Forbidden()
    unknown = set(changes) - _UPDATABLE
    if unknown:
        raise TypeError(f"unknown user attributes: {sorted(unknown)}")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        email = changes.get("email")
        if email is not None and _email_taken(email, exclude=user):
            raise Conflict("Email has already been taken")
        username = changes.get("username")
        if username is not None and _username_taken_by_user(username, exclude=user):
            raise Conflict("Username has already been taken")
        errors: dict[str, list[str]] = {}
        if username is not None:
            add_errors(errors, "username", username_format_errors(username))
            if "username" not in errors and _username_taken_by_namespace(username, exclude=user):
                add_errors(errors, "base", [USERNAME_TAKEN_BY_NAMESPACE])
        if "name" in changes:
            add_errors(errors, "name", name_errors(changes["name"] or ""))
        if email is not None:
            add_errors(errors, "email", email_format_errors(email))
        if changes.get("password") is not None:
            add_errors(errors, "password", password_errors(changes["password"]))
        profile = {k: v for k, v in changes.items() if k in PROFILE_FIELDS}
        for field, messages in profile_errors(profile, email=email or user.email).items():
            add_errors(errors, field, messages)
        if errors:
            raise ValidationFailed(errors)
        old_username = user.username
        for field, value in changes.items():
            if field == "password":
                if value is not None:
                    user.password = make_password(value)
            elif value is not None or field in _TEXT_FIELDS:
                setattr(user, field, "" if value is None else value)
        if "external" in changes and changes["external"] is not None:
            _apply_rights_and_limits(user, explicit=profile)
        user.save()
        if user.username != old_username:
            rename_personal_namespace(user=user, username=user.username)
        if "name" in changes:
            # TODO(namespaces): a `rename_personal_namespace(name=...)` in the namespaces
            # services; until then the personal namespace's name follows here.
            Namespace.objects.filter(owner=user).update(name=user.name, full_name=user.name)
    return user


def solo_owned_group_ids(user: User) -> list[int]:
    """Groups where `user` is the only Owner, counting Owners of the group and its ancestors
    (GitLab's `solo_owned_groups`)."""
    owned = list(
        GroupMember.objects.filter(
            active_membership_q(), user_id=user.pk, access_level=AccessLevel.OWNER
        ).values_list("group_id", "group__traversal_ids")
    )
    if not owned:
        return []
    ancestor_ids = {int(p) for _, traversal in owned for p in traversal.split("/") if p}
    owners: dict[int, set[int]] = {}
    for group_id, user_id in GroupMember.objects.filter(
        active_membership_q(), group_id__in=ancestor_ids, access_level=AccessLevel.OWNER
    ).values_list("group_id", "user_id"):
        owners.setdefault(group_id, set()).add(user_id)
    solo = []
    for group_id, traversal in owned:
        chain = [int(p) for p in traversal.split("/") if p]
        everyone = set().union(*(owners.get(g, set()) for g in chain))
        if everyone == {user.pk}:
            solo.append(group_id)
    return solo


def delete_user(*, actor: Actor, user: User, hard_delete: bool = False) -> None:
    """`DELETE /users/:id`: admins only. Deletes the personal namespace and its projects.

    A user who is the sole Owner of a group cannot be removed (409) unless `hard_delete`,
    which also deletes those groups (and everything in them), as GitLab does.
    """
    if not actor.is_admin:
        raise Forbidden()
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        solo = solo_owned_group_ids(user)
        if solo and not hard_delete:
            raise Conflict(SOLE_OWNER_MESSAGE)
        if solo:
            groups = {g.pk: g for g in Namespace.objects.filter(pk__in=solo)}
            # Deleting a group takes its subgroups along: delete only the topmost ones.
            for group in groups.values():
                if not any(a in groups for a in group.ancestor_ids[:-1]):
                    delete_group(actor=actor, group=group)
        personal = list(Namespace.objects.filter(owner=user).values_list("pk", flat=True))
        run_before_namespace_destroy(personal)
        Namespace.objects.filter(pk__in=personal).delete()
        user.delete()
    log.info("user deleted", extra={"user_id": user.pk, "hard_delete": hard_delete})


def set_state(user: User, state: str) -> None:
    User.objects.filter(pk=user.pk).update(state=state, updated_at=timezone.now())
    user.state = state


def block_user(*, actor: Actor, user: User) -> bool | None:
    """`POST /users/:id/block`: True when blocked now, None when it already was."""
    if not actor.is_admin:
        raise Forbidden()
    if actor.user is not None and actor.user.pk == user.pk:
        raise Forbidden("The API initiating user cannot be blocked by the API")
    if user.is_blocked:
        return None
    set_state(user, UserState.BLOCKED)
    return True


def unblock_user(*, actor: Actor, user: User) -> bool:
    """`POST /users/:id/unblock`: True when unblocked; False when there was nothing to do
    (GitLab answers `false` with 201 for an active user)."""
    if not actor.is_admin:
        raise Forbidden()
    if user.state == UserState.DEACTIVATED:
        raise Forbidden("Deactivated users cannot be unblocked by the API")
    if user.state == UserState.ACTIVE:
        return False
    set_state(user, UserState.ACTIVE)
    return True


def _recently_active(user: User) -> bool:
    cutoff = timezone.now() - dt.timedelta(days=DORMANT_PERIOD_DAYS)
    if user.last_activity_on is not None and user.last_activity_on > cutoff.date():
        return True
    return user.current_sign_in_at is not None and user.current_sign_in_at > cutoff


def deactivate_user(*, actor: Actor, user: User) -> bool | None:
    """`POST /users/:id/deactivate`: None when already deactivated; refused (403) for blocked
    users and users active in the last 90 days, as GitLab's `DeactivateService`."""
    if not actor.is_admin:
        raise Forbidden()
    if user.state == UserState.DEACTIVATED:
        return None
    if user.is_blocked:
        raise PlainForbidden("Error occurred. A blocked user cannot be deactivated")
    if _recently_active(user):
        raise PlainForbidden(
            f"The user you are trying to deactivate has been active in the past "
            f"{DORMANT_PERIOD_DAYS} days and cannot be deactivated"
        )
    set_state(user, UserState.DEACTIVATED)
    return True


def activate_user(*, actor: Actor, user: User) -> bool:
    """`POST /users/:id/activate`: a blocked user must be unblocked instead (403)."""
    if not actor.is_admin:
        raise Forbidden()
    if user.is_blocked:
        raise PlainForbidden("Error occurred. A blocked user must be unblocked to be activated")
    if user.state != UserState.ACTIVE:
        set_state(user, UserState.ACTIVE)
    return True


# --- SSH keys -------------------------------------------------------------------------------


def add_ssh_key(
    *,
    actor: Actor,
    user: User,
    title: str,
    key: str,
    expires_at: dt.datetime | None = None,
    usage_type: str = SSHKeyUsage.AUTH_AND_SIGNING,
) -> SSHKey:
    """Add a public key to `user` (the user themselves or an admin). Fingerprints are unique
    in the instance: a key belongs to one account only."""
    if not can(actor, "manage_ssh_keys", user):
        raise NotFound("User")
    if usage_type not in SSHKeyUsage.values:
        raise ValidationFailed({"usage_type": ["is not included in the list"]})
    errors: dict[str, list[str]] = {}
    add_errors(errors, "title", name_errors(title))
    text = ssh_keys.sanitize(key)
    parsed, key_problems = ssh_keys.key_errors(text)
    for field, messages in key_problems.items():
        add_errors(errors, field, messages)
    if expires_at is not None and expires_at <= timezone.now():
        add_errors(errors, "key", ["has expired"])
    if (
        parsed is not None
        and SSHKey.objects.filter(fingerprint_sha256=parsed.fingerprint_sha256).exists()
    ):
        add_errors(errors, "fingerprint_sha256", ["has already been taken"])
    if errors or parsed is None:
        raise ValidationFailed(errors)
    try:
        with transaction.atomic():
            return SSHKey.objects.create(
                user=user,
                title=title,
                key=parsed.text,
                key_type=parsed.algorithm,
                fingerprint_sha256=parsed.fingerprint_sha256,
                fingerprint_md5=parsed.fingerprint_md5,
                usage_type=usage_type,
                expires_at=expires_at,
            )
    except IntegrityError:
        raise ValidationFailed({"fingerprint_sha256": ["has already been taken"]}) from None


def delete_ssh_key(*, actor: Actor, key: SSHKey) -> None:
    if not can(actor, "manage_ssh_keys", key.user):
        raise NotFound("Key")
    SSHKey.objects.filter(pk=key.pk).delete()


# --- sign-in --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    """The outcome of a password sign-in: the user, or why not (`invalid`, `locked`,
    `blocked`, `pending_approval`, `deactivated`)."""

    user: User | None
    failure: str = ""


def _find_login(login: str) -> User | None:
    return (
        User.objects.filter(username__iexact=login).first()
        or User.objects.filter(email__iexact=login).first()
    )


def sign_in_with_password(
    *, login: str, password: str, ip: str | None = None, reactivate: bool = True
) -> SignIn:
    """Check a username (or email) and password, as Devise's lockable does for GitLab.

    Every failure counts, even while locked; the attempt that reaches the limit locks the
    account for the unlock period; an expired lock is lifted first. Blocked users never get
    in. A deactivated user signing in on the web is activated again (`reactivate`), as GitLab.
    """
    if not login or not password or len(password) > 1024 or len(login) > 255:
        return SignIn(None, "invalid")
    user = _find_login(login)
    if user is None:
        make_password(password)  # take as long as a wrong password would
        return SignIn(None, "invalid")
    settings = appsettings.current()
    now = timezone.now()
    try:
        ip = str(ipaddress.ip_address(ip)) if ip else None
    except ValueError:
        ip = None
    correct = check_password(password, user.password)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.locked_at is not None and now - locked.locked_at >= (
            settings.effective_unlock_period
        ):
            locked.locked_at = None
            locked.failed_attempts = 0
        if not correct or locked.locked_at is not None:
            locked.failed_attempts += 1
            if (
                locked.locked_at is None
                and locked.failed_attempts >= settings.effective_max_login_attempts
            ):
                locked.locked_at = now
            locked.save(update_fields=["failed_attempts", "locked_at"])
            return SignIn(None, "locked" if locked.locked_at is not None else "invalid")
        if locked.state == UserState.BLOCKED_PENDING_APPROVAL:
            return SignIn(None, "pending_approval")
        if locked.is_blocked:
            return SignIn(None, "blocked")
        if locked.state == UserState.DEACTIVATED and not reactivate:
            return SignIn(None, "deactivated")
        if locked.state != UserState.ACTIVE and locked.state != UserState.DEACTIVATED:
            return SignIn(None, "blocked")
        locked.state = UserState.ACTIVE
        locked.failed_attempts = 0
        locked.locked_at = None
        locked.sign_in_count += 1
        locked.last_sign_in_at = locked.current_sign_in_at
        locked.current_sign_in_at = now
        locked.last_sign_in_ip = locked.current_sign_in_ip
        locked.current_sign_in_ip = ip
        locked.save(
            update_fields=[
                "state",
                "failed_attempts",
                "locked_at",
                "sign_in_count",
                "last_sign_in_at",
                "current_sign_in_at",
                "last_sign_in_ip",
                "current_sign_in_ip",
                "updated_at",
            ]
        )
    return SignIn(locked)


def authenticate_password(username: str, password: str) -> User | None:
    """The active user for a username (or email) and password, honouring the lockout; else
    None. Used by git over HTTP, which never reactivates a deactivated account."""
    return sign_in_with_password(login=username, password=password, reactivate=False).user


# --- seeding --------------------------------------------------------------------------------


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
