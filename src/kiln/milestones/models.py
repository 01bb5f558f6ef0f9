"""Milestones of a project or a group, and the history of milestones set on issuables."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from kiln.namespaces.models import Namespace
from kiln.projects.models import Project


class MilestoneState(models.TextChoices):
    ACTIVE = "active"
    CLOSED = "closed"


class Milestone(models.Model):
    """A milestone of exactly one project or one group; `iid` counts per project or group."""

    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="milestones"
    )
    group = models.ForeignKey(
        Namespace, null=True, blank=True, on_delete=models.CASCADE, related_name="milestones"
    )
    iid = models.PositiveIntegerField()
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    description_html = models.TextField(blank=True, default="")
    cached_markdown_version = models.PositiveIntegerField(default=0)
    state = models.CharField(
        max_length=8, choices=MilestoneState.choices, default=MilestoneState.ACTIVE
    )
    start_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["project", "title"], name="milestone_project_title"),
            models.UniqueConstraint(fields=["group", "title"], name="milestone_group_title"),
            models.UniqueConstraint(fields=["project", "iid"], name="milestone_project_iid"),
            models.UniqueConstraint(fields=["group", "iid"], name="milestone_group_iid"),
            models.CheckConstraint(
                condition=models.Q(project__isnull=True) | models.Q(group__isnull=True),
                name="milestone_one_parent",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def expired(self) -> bool:
        return self.due_date is not None and self.due_date < dt.date.today()

    @property
    def is_active(self) -> bool:
        return self.state == MilestoneState.ACTIVE


class MilestoneCounter(models.Model):
    """The last milestone iid given out in a project or a group (locked while allocating)."""

    project = models.OneToOneField(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    group = models.OneToOneField(
        Namespace, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    last_iid = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"p{self.project_id}g{self.group_id}:{self.last_iid}"


class ResourceMilestoneEvent(models.Model):
    """A milestone set on (`add`) or removed from (`remove`) an issue or merge request."""

    issuable_type = models.CharField(max_length=32)
    issuable_id = models.BigIntegerField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    milestone = models.ForeignKey(Milestone, null=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=8)
    state = models.CharField(max_length=8, default=MilestoneState.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["issuable_type", "issuable_id", "id"]),
        ]

    def __str__(self) -> str:
        return f"{self.issuable_type}:{self.issuable_id}:{self.action}:{self.milestone_id}"
