"""Labels of a project or a group, their per-project priorities, subscriptions, and the
history of labels added to and removed from issues and merge requests."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from kiln.namespaces.models import Namespace
from kiln.projects.models import Project


class Label(models.Model):
    """A label of exactly one project or one group (a group's labels reach its subtree)."""

    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="labels"
    )
    group = models.ForeignKey(
        Namespace, null=True, blank=True, on_delete=models.CASCADE, related_name="labels"
    )
    title = models.CharField(max_length=255)
    color = models.CharField(max_length=7)
    description = models.TextField(blank=True, default="")
    description_html = models.TextField(blank=True, default="")
    cached_markdown_version = models.PositiveIntegerField(default=0)
    archived = models.BooleanField(default=False)
    lock_on_merge = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["project", "title"], name="label_project_title"),
            models.UniqueConstraint(fields=["group", "title"], name="label_group_title"),
            models.CheckConstraint(
                condition=models.Q(project__isnull=True) | models.Q(group__isnull=True),
                name="label_one_parent",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_project_label(self) -> bool:
        return self.project_id is not None

    @property
    def text_color(self) -> str:
        """GitLab's `text_color`: dark text on light backgrounds, white otherwise."""
        color = self.color.lstrip("#")
        if len(color) == 3:
            color = "".join(c * 2 for c in color)
        try:
            r, g, b = (int(color[i : i + 2], 16) for i in (0, 2, 4))
        except ValueError:
            return "#FFFFFF"
        luminance = (r * 299 + g * 587 + b * 114) / 1000
        return "#1F1E24" if luminance > 128 else "#FFFFFF"


class LabelPriority(models.Model):
    """A label's priority in one project (group labels may be prioritized per project)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="priorities")
    priority = models.PositiveIntegerField()

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["project", "label"], name="label_priority_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.label_id}@{self.project_id}:{self.priority}"


class LabelSubscription(models.Model):
    """A user subscribed to a label, everywhere (project None) or in one project."""

    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="subscriptions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(
                fields=["label", "user", "project"], name="label_subscription_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}->{self.label_id}"


class ResourceLabelEvent(models.Model):
    """A label added to or removed from an issue or merge request (GitLab's
    resource_label_events). `issuable_type` is "Issue" or "MergeRequest"."""

    issuable_type = models.CharField(max_length=32)
    issuable_id = models.BigIntegerField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    label = models.ForeignKey(Label, null=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=8)  # "add" / "remove"
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["issuable_type", "issuable_id", "id"]),
        ]

    def __str__(self) -> str:
        return f"{self.issuable_type}:{self.issuable_id}:{self.action}:{self.label_id}"
