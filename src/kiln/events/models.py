"""One row per thing someone did, for activity feeds (GitLab's `events` table)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from kiln.projects.models import Project


class EventAction(models.TextChoices):
    """GitLab's Event action names (the API shows `action_name`, e.g. "pushed to")."""

    CREATED = "created"
    UPDATED = "updated"
    CLOSED = "closed"
    REOPENED = "reopened"
    PUSHED = "pushed"
    COMMENTED = "commented"
    MERGED = "merged"
    JOINED = "joined"
    LEFT = "left"
    DESTROYED = "destroyed"
    EXPIRED = "expired"
    APPROVED = "approved"


class Event(models.Model):
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=16, choices=EventAction.choices)
    # "Issue", "MergeRequest", "Milestone", "Note", "DiscussionNote", "DiffNote", or "".
    target_type = models.CharField(max_length=32, blank=True, default="")
    target_id = models.BigIntegerField(null=True, blank=True)
    target_iid = models.BigIntegerField(null=True, blank=True)
    target_title = models.CharField(max_length=255, blank=True, default="")
    # What decides who may see the event: the target itself, or for a note its noteable
    # ("Issue", 12); "Push" for pushes. Rules per subject type live in kiln.events.queries.
    subject_type = models.CharField(max_length=32, blank=True, default="")
    subject_id = models.BigIntegerField(null=True, blank=True)
    # For notes on commits: the commit; for pushes: GitLab's push_data.
    data = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["project", "id"]),
            models.Index(fields=["author", "id"]),
            models.Index(fields=["subject_type", "subject_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.author_id}:{self.action}:{self.target_type}:{self.target_id}"
