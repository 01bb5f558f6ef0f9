"""A user's notification settings: one global row, and one per project or group they set.

GitLab's `NotificationSetting`: a level (the same numbers as GitLab's enum) and, for the
`custom` level, which email events are on. Without a row the level is `global` for a project
or group (defer to the closest group, then to the global setting) and `participating` for
the global setting itself.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kiln.namespaces.models import Namespace
from kiln.projects.models import Project


class NotificationLevel(models.IntegerChoices):
    """GitLab's `NotificationSetting.levels` (the API shows the names)."""

    DISABLED = 0, "disabled"
    PARTICIPATING = 1, "participating"
    WATCH = 2, "watch"
    GLOBAL = 3, "global"
    MENTION = 4, "mention"
    CUSTOM = 5, "custom"


LEVEL_BY_NAME: dict[str, int] = {label: int(value) for value, label in NotificationLevel.choices}

# GitLab's `NotificationSetting::EMAIL_EVENTS` (Community Edition), in GitLab's order.
EMAIL_EVENTS: tuple[str, ...] = (
    "new_release",
    "new_note",
    "new_issue",
    "reopen_issue",
    "close_issue",
    "reassign_issue",
    "issue_due",
    "new_merge_request",
    "push_to_merge_request",
    "reopen_merge_request",
    "close_merge_request",
    "reassign_merge_request",
    "change_reviewer_merge_request",
    "merge_merge_request",
    "failed_pipeline",
    "fixed_pipeline",
    "success_pipeline",
    "moved_project",
    "merge_when_pipeline_succeeds",
)

# Events a custom setting has on unless turned off (GitLab: "more like mentions").
EVENTS_ON_BY_DEFAULT = frozenset({"failed_pipeline", "fixed_pipeline"})

# Events `watch` does not include (GitLab's `EXCLUDED_WATCHER_EVENTS`).
EXCLUDED_WATCHER_EVENTS = frozenset({"push_to_merge_request", "issue_due", "success_pipeline"})


class NotificationSetting(models.Model):
    """Global (no project, no group), or for one project, or for one group."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    namespace = models.ForeignKey(
        Namespace, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    level = models.PositiveSmallIntegerField(
        choices=NotificationLevel.choices, default=NotificationLevel.GLOBAL
    )
    # The custom events that were set: {"new_note": true, ...}; a missing one is off (on for
    # EVENTS_ON_BY_DEFAULT).
    events = models.JSONField(default=dict, blank=True)
    # Global row only: where notifications go (blank: the user's primary email).
    notification_email = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(project__isnull=True, namespace__isnull=True),
                name="notification_setting_global_unique",
            ),
            models.UniqueConstraint(
                fields=["user", "project"],
                condition=Q(project__isnull=False),
                name="notification_setting_project_unique",
            ),
            models.UniqueConstraint(
                fields=["user", "namespace"],
                condition=Q(namespace__isnull=False),
                name="notification_setting_group_unique",
            ),
            models.CheckConstraint(
                condition=Q(project__isnull=True) | Q(namespace__isnull=True),
                name="notification_setting_one_source",
            ),
        ]

    def __str__(self) -> str:
        source = (
            f"project:{self.project_id}"
            if self.project_id
            else (f"group:{self.namespace_id}" if self.namespace_id else "global")
        )
        return f"{self.user_id}:{source}:{self.level_name}"

    @property
    def is_global_row(self) -> bool:
        return self.project_id is None and self.namespace_id is None

    @property
    def level_name(self) -> str:
        return NotificationLevel(self.level).label

    def event_enabled(self, event: str) -> bool:
        value = (self.events or {}).get(event)
        if value is None:
            return event in EVENTS_ON_BY_DEFAULT
        return bool(value)
