"""Helpers for the notification tests: members with levels, and reading the outbox."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Any

import gitlab

MAINTAINER, DEVELOPER, REPORTER, GUEST = 40, 30, 20, 10


def member(project: Any, user: Any, level: int = DEVELOPER) -> None:
    project.members.create({"user_id": user.pk, "access_level": level})


def set_level(ugl: gitlab.Gitlab, project_id: int, level: str, **events: bool) -> None:
    setting = ugl.projects.get(project_id).notificationsettings.get()
    setting.level = level
    for name, value in events.items():
        setattr(setting, name, value)
    setting.save()


def mails_to(outbox: list[Any], user: Any) -> list[Any]:
    return [m for m in outbox if m.to == [user.email]]


def recipients(outbox: list[Any]) -> set[str]:
    return {address for m in outbox for address in m.to}


def header(message: Any, name: str) -> str:
    return str(message.message()[name] or "")


def set_custom(ugl: gitlab.Gitlab, project_id: int, *, on: AbstractSet[str] = frozenset()) -> None:
    """The custom level on the project with exactly the `on` email events (the others off,
    `failed_pipeline` and `fixed_pipeline` too)."""
    from kiln.notifications.models import EMAIL_EVENTS

    set_level(ugl, project_id, "custom", **{name: name in on for name in EMAIL_EVENTS})


def set_custom_all_but(ugl: gitlab.Gitlab, project_id: int, event: str) -> None:
    from kiln.notifications.models import EMAIL_EVENTS

    set_custom(ugl, project_id, on=set(EMAIL_EVENTS) - {event})


def root_email() -> str:
    from kiln.accounts.models import User

    return str(User.objects.get(pk=1).email)
