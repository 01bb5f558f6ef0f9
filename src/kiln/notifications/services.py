"""Writes and reads of notification settings (GitLab's `/notification_settings` API).

`global_setting_for`, `source_setting_for` answer a row (unsaved when the user never set one,
with GitLab's defaults); `update_notification_setting` validates everything first and writes
once, so a bad parameter changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction

from kiln.accounts.models import User
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, PlainBadRequest, ValidationFailed
from kiln.namespaces.models import Namespace
from kiln.notifications.models import (
    EMAIL_EVENTS,
    LEVEL_BY_NAME,
    NotificationLevel,
    NotificationSetting,
)
from kiln.projects.models import Project


def global_setting_for(user: User) -> NotificationSetting:
    """The user's global setting (level `participating` until they change it)."""
    row = NotificationSetting.objects.filter(
        user=user, project__isnull=True, namespace__isnull=True
    ).first()
    if row is None:
        row = NotificationSetting(user=user, level=NotificationLevel.PARTICIPATING)
    return row


def source_setting_for(
    user: User, *, project: Project | None = None, group: Namespace | None = None
) -> NotificationSetting:
    """The user's setting for a project or a group (level `global` until they change it)."""
    if project is not None:
        row = NotificationSetting.objects.filter(user=user, project=project).first()
        return row or NotificationSetting(user=user, project=project)
    assert group is not None
    row = NotificationSetting.objects.filter(user=user, namespace=group).first()
    return row or NotificationSetting(user=user, namespace=group)


def notification_email_of(user: User, setting: NotificationSetting | None = None) -> str:
    """Where the user's notifications go: the global setting's address, else the primary."""
    if setting is None:
        setting = global_setting_for(user)
    return setting.notification_email or user.email


def update_notification_setting(
    *,
    actor: Actor,
    project: Project | None = None,
    group: Namespace | None = None,
    level: str | None = None,
    notification_email: str | None = None,
    events: Mapping[str, bool] | None = None,
) -> NotificationSetting:
    """`PUT /notification_settings` (no project, no group) or the project's or group's.

    The caller found the project or group for the actor (404 otherwise). An unknown level
    answers GitLab's 400 (`'x' is not a valid level`); a notification email that is not one of
    the user's addresses answers 400 (`must be an email you have verified`). Unknown event
    names are ignored.
    """
    user = actor.user
    if user is None:
        raise Forbidden()
    if level is not None and level not in LEVEL_BY_NAME:
        raise PlainBadRequest(f"'{level}' is not a valid level")
    is_global = project is None and group is None
    email: str | None = None
    if is_global and notification_email is not None:
        email = notification_email.strip()
        if email and email.lower() != (user.email or "").lower():
            # Kiln keeps one (the primary) address per user: the only verified one.
            raise ValidationFailed({"notification_email": ["must be an email you have verified"]})
        if email.lower() == (user.email or "").lower():
            email = ""  # the default: follows the primary email when it changes
    flags = {name: bool(value) for name, value in (events or {}).items() if name in EMAIL_EVENTS}
    for _attempt in range(2):
        try:
            with transaction.atomic():
                return _write(user, project, group, level, email, flags)
        except IntegrityError:
            # Two first writes at once: the other created the row; update it.
            continue
    return _write(user, project, group, level, email, flags)


def _write(
    user: User,
    project: Project | None,
    group: Namespace | None,
    level: str | None,
    email: str | None,
    flags: dict[str, bool],
) -> NotificationSetting:
    if project is None and group is None:
        row = global_setting_for(user)
        locked = (
            NotificationSetting.objects.select_for_update().filter(pk=row.pk).first()
            if row.pk
            else None
        )
        row = locked or row
    else:
        row = source_setting_for(user, project=project, group=group)
        if row.pk:
            row = NotificationSetting.objects.select_for_update().get(pk=row.pk)
    if level is not None:
        row.level = LEVEL_BY_NAME[level]
    if email is not None:
        row.notification_email = email
    if flags:
        row.events = {**(row.events or {}), **flags}
    row.save()
    return row


def delete_settings_of_namespaces(namespace_ids: list[int]) -> None:
    """The settings of groups being deleted and of the projects in them (inside the caller's
    transaction; registered with `kiln.namespaces.hooks`)."""
    NotificationSetting.objects.filter(namespace_id__in=namespace_ids).delete()
    NotificationSetting.objects.filter(project__namespace_id__in=namespace_ids).delete()


def settings_entity_events(row: NotificationSetting) -> dict[str, Any]:
    """GitLab's `events` hash of a custom setting (every event, on or off)."""
    return {event: row.event_enabled(event) for event in EMAIL_EVENTS}
