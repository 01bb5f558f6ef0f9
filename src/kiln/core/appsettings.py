"""The instance's application settings: a cached read for every request, and the one write.

`current()` is on the hot path (the rate limiter asks it on every request), so the row is kept
in process memory. A change must reach every process quickly:

- in the process that saved, the cache is dropped at once (and again after commit);
- on the same host, other processes compare a shared generation number (a few bytes of shared
  memory that `kiln.ops` plugs in with `use_change_signal`) and reload when it moved;
- across hosts, the cache lives at most `CACHE_SECONDS`, like GitLab's per-process cache of
  its settings.

The returned row is shared between threads: treat it as read-only.
"""

from __future__ import annotations

import threading
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from django.db import IntegrityError, connection, transaction
from django.db.models.signals import post_delete, post_migrate, post_save

from kiln.core.access import Visibility
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, ValidationFailed
from kiln.core.models import ApplicationSetting

CACHE_SECONDS = 10.0
MAX_INT = 2**31 - 1
MAX_BIGINT = 2**63 - 1


class ChangeSignal(Protocol):
    """A number shared by the processes of one host, moved whenever the settings change."""

    def generation(self) -> int: ...

    def bump(self) -> None: ...


class _LocalSignal:
    def __init__(self) -> None:
        self._value = 0

    def generation(self) -> int:
        return self._value

    def bump(self) -> None:
        self._value += 1


@dataclass(frozen=True)
class _Cached:
    value: ApplicationSetting
    generation: int
    expires: float


_signal: ChangeSignal = _LocalSignal()
_cached: _Cached | None = None
_load_lock = threading.Lock()


def use_change_signal(signal: ChangeSignal) -> None:
    """Share invalidations with the other processes of this host (see kiln.ops.shared)."""
    global _signal, _cached
    _signal = signal
    _cached = None


def _load() -> ApplicationSetting:
    setting = ApplicationSetting.objects.filter(pk=ApplicationSetting.SINGLETON_ID).first()
    if setting is not None:
        return setting
    try:
        # A savepoint, so a race with another process creating the row leaves the caller's
        # transaction usable.
        with transaction.atomic():
            return ApplicationSetting.objects.create(pk=ApplicationSetting.SINGLETON_ID)
    except IntegrityError:
        return ApplicationSetting.objects.get(pk=ApplicationSetting.SINGLETON_ID)


def current() -> ApplicationSetting:
    """The settings row (created with GitLab's defaults on first access), cached."""
    global _cached
    generation = _signal.generation()
    cached = _cached
    if cached is not None and cached.generation == generation and time.monotonic() < cached.expires:
        return cached.value
    if connection.in_atomic_block:
        # Inside a transaction the row may be uncommitted (or rolled back later): read it
        # fresh and keep it out of the cache other threads share.
        return _load()
    with _load_lock:
        cached = _cached
        if (
            cached is not None
            and cached.generation == generation
            and time.monotonic() < cached.expires
        ):
            return cached.value
        value = _load()
        _cached = _Cached(value, generation, time.monotonic() + CACHE_SECONDS)
        return value


def invalidate() -> None:
    """Forget the cached row here and tell the other processes of this host."""
    global _cached
    _cached = None
    _signal.bump()


def _forget_local() -> None:
    global _cached
    _cached = None


def _on_change(**kwargs: Any) -> None:
    # Drop the local copy now; tell other processes only once the change is visible to them.
    _forget_local()
    transaction.on_commit(invalidate)


def _on_flush(**kwargs: Any) -> None:
    # `flush` (the test suite between tests) and migrations empty or change the table.
    invalidate()


post_save.connect(_on_change, sender=ApplicationSetting, dispatch_uid="kiln-appsettings-save")
post_delete.connect(_on_change, sender=ApplicationSetting, dispatch_uid="kiln-appsettings-del")
post_migrate.connect(_on_flush, dispatch_uid="kiln-appsettings-migrate")


# What `update_application_settings` accepts, with GitLab's validation of each.
# kind: "bool"; "int" (presence + numericality); "int?" (may be null); "text?"; "visibility";
# "levels"; "branch?".
@dataclass(frozen=True)
class Field:
    kind: str
    minimum: int = 0
    maximum: int = MAX_INT
    max_length: int = 255


_POSITIVE = Field("int", minimum=1)
_NON_NEGATIVE = Field("int", minimum=0)
_BOOL = Field("bool")

FIELDS: dict[str, Field] = {
    "signup_enabled": _BOOL,
    "require_admin_approval_after_user_signup": _BOOL,
    "user_default_external": _BOOL,
    "can_create_group": _BOOL,
    "default_projects_limit": _NON_NEGATIVE,
    "default_project_visibility": Field("visibility"),
    "default_group_visibility": Field("visibility"),
    "restricted_visibility_levels": Field("levels"),
    "default_branch_name": Field("branch?"),
    "max_attachment_size": _POSITIVE,
    "max_artifacts_size": _POSITIVE,
    "max_import_size": _NON_NEGATIVE,
    "receive_max_input_size": Field("int?", minimum=1),
    "repository_size_limit": Field("int", minimum=0, maximum=MAX_BIGINT),
    "max_file_size": Field("int", minimum=0, maximum=MAX_INT),
    "allow_local_requests_from_web_hooks_and_services": _BOOL,
    "allow_local_requests_from_system_hooks": _BOOL,
    "shared_runners_enabled": _BOOL,
    "kiln_embedded_runner_enabled": _BOOL,
    "throttle_authenticated_api_enabled": _BOOL,
    "throttle_authenticated_api_requests_per_period": _POSITIVE,
    "throttle_authenticated_api_period_in_seconds": _POSITIVE,
    "throttle_authenticated_web_enabled": _BOOL,
    "throttle_authenticated_web_requests_per_period": _POSITIVE,
    "throttle_authenticated_web_period_in_seconds": _POSITIVE,
    "throttle_unauthenticated_api_enabled": _BOOL,
    "throttle_unauthenticated_api_requests_per_period": _POSITIVE,
    "throttle_unauthenticated_api_period_in_seconds": _POSITIVE,
    "throttle_unauthenticated_web_enabled": _BOOL,
    "throttle_unauthenticated_web_requests_per_period": _POSITIVE,
    "throttle_unauthenticated_web_period_in_seconds": _POSITIVE,
    "rate_limiting_response_text": Field("text?"),
    "max_login_attempts": Field("int?", minimum=1),
    "failed_login_attempts_unlock_period_in_minutes": Field("int?", minimum=1),
}


def _int_errors(value: Any, field: Field) -> list[str]:
    if value is None:
        if field.kind == "int?":
            return []
        return ["can't be blank", "is not a number"]
    if isinstance(value, bool) or not isinstance(value, int):
        return ["is not a number"]
    if value < field.minimum:
        if field.minimum == 0:
            return ["must be greater than or equal to 0"]
        return [f"must be greater than {field.minimum - 1}"]
    if value > field.maximum:
        return [f"must be less than or equal to {field.maximum}"]
    return []


def visibility_level(value: Any) -> int | None:
    """A visibility level from its name or number ("public", "20", 20), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value in Visibility._value2member_map_ else None
    if isinstance(value, str):
        text = value.strip().lower()
        if text.isdigit():
            return visibility_level(int(text))
        try:
            return int(Visibility.from_label(text))
        except ValueError:
            return None
    return None


def _branch_name_errors(value: str) -> list[str]:
    from kiln.gitstore.errors import InvalidRef
    from kiln.gitstore.refs import validate_branch_name

    if len(value) > 255:
        return ["is too long (maximum is 255 characters)"]
    # git accepts bidi overrides and zero-width characters; Kiln refuses them in names, as
    # they make one branch look like another.
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs") for ch in value):
        return ["is invalid"]
    try:
        validate_branch_name(value)
    except InvalidRef:
        return ["is invalid"]
    return []


def _clean(name: str, field: Field, value: Any) -> tuple[Any, list[str]]:
    """The value to store for one attribute, and its validation errors (GitLab's words)."""
    kind = field.kind
    if kind == "bool":
        if not isinstance(value, bool):
            return value, ["must be a boolean value"]
        return value, []
    if kind in ("int", "int?"):
        return value, _int_errors(value, field)
    if kind == "visibility":
        level = visibility_level(value)
        if level is None:
            return value, ["is not included in the list"]
        return level, []
    if kind == "levels":
        items = [] if value is None else value
        if not isinstance(items, list):
            items = [items]
        levels: list[int] = []
        errors: list[str] = []
        for item in items:
            level = visibility_level(item)
            if level is None:
                errors.append(f"'{item}' is not a valid visibility level")
            elif level not in levels:
                levels.append(level)
        return sorted(levels), errors
    if kind in ("text?", "branch?"):
        if value is None or (isinstance(value, str) and not value.strip()):
            return "", []
        if not isinstance(value, str):
            return value, ["is invalid"]
        if kind == "branch?":
            return value, _branch_name_errors(value)
        if len(value) > field.max_length:
            return value, [f"is too long (maximum is {field.max_length} characters)"]
        return value, []
    raise AssertionError(f"unknown field kind {kind!r} for {name}")


def update_application_settings(*, actor: Actor, changes: Mapping[str, Any]) -> ApplicationSetting:
    """Change the settings named in `changes` (keys of `FIELDS`); admins only.

    Validates every attribute first and writes nothing unless all are valid, as GitLab's
    `ApplicationSettings::UpdateService` does.
    """
    if not actor.is_admin:
        raise Forbidden()
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in changes.items():
        field = FIELDS.get(name)
        if field is None:
            raise KeyError(name)
        cleaned[name], problems = _clean(name, field, value)
        if problems:
            errors[name] = problems
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        current()  # make sure the row exists
        setting = ApplicationSetting.objects.select_for_update().get(
            pk=ApplicationSetting.SINGLETON_ID
        )
        for name, value in cleaned.items():
            setattr(setting, name, value)
        setting.save()
    return setting
