"""Notes on issues, merge requests and commits, grouped into discussions; and what any
noteable carries the same way: award emoji, subscriptions, todos.

A note belongs to its noteable through `noteable_type` + `noteable_id` (`commit_id` for
commits): the noteable packages sit on both sides of this one in the layers. Every note has a
`discussion_id`; an individual note (`note_type` None) is a discussion of one.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from kiln.projects.models import Project

# GitLab's Note::MAX_NOTE_LENGTH.
BODY_MAX_LENGTH = 1_000_000


class NoteType(models.TextChoices):
    DISCUSSION = "DiscussionNote"
    DIFF = "DiffNote"


class Note(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="notes")
    noteable_type = models.CharField(max_length=32)
    noteable_id = models.BigIntegerField(null=True, blank=True)
    commit_id = models.CharField(max_length=64, blank=True, default="")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    body_html = models.TextField(blank=True, default="")
    cached_markdown_version = models.PositiveIntegerField(default=0)
    # GitLab's `type`: NULL for an individual note (the API shows null), so NULL it is here.
    note_type = models.CharField(  # noqa: DJ001
        max_length=16, null=True, blank=True, choices=NoteType.choices
    )
    discussion_id = models.CharField(max_length=40, db_index=True)
    system = models.BooleanField(default=False)
    # GitLab's system_note_metadata.action ("assignee", "label", "closed", ...).
    system_action = models.CharField(max_length=48, blank=True, default="")
    internal = models.BooleanField(default=False)
    # System notes: what they point at, for visibility (a cross reference from a
    # confidential issue is only shown to those who may see that issue):
    # {"type": "Issue", "id": 12} or {"type": "Commit", "project_id": 3, "sha": "..."}.
    metadata = models.JSONField(null=True, blank=True)
    # Diff notes: GitLab's position hash (base/start/head sha, paths, lines).
    position = models.JSONField(null=True, blank=True)
    original_position = models.JSONField(null=True, blank=True)
    line_code = models.CharField(max_length=255, blank=True, default="")
    resolvable = models.BooleanField(default=False)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_edited_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["noteable_type", "noteable_id", "created_at"]),
            models.Index(fields=["project", "commit_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.noteable_type}:{self.noteable_id or self.commit_id}:{self.pk}"

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None

    @property
    def is_individual(self) -> bool:
        return self.note_type is None


class AwardEmoji(models.Model):
    """An emoji a user awarded to an issue, a merge request or a note."""

    awardable_type = models.CharField(max_length=32)
    awardable_id = models.BigIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(
                fields=["awardable_type", "awardable_id", "user", "name"],
                name="award_emoji_unique",
            ),
        ]
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["awardable_type", "awardable_id", "name"]),
        ]

    def __str__(self) -> str:
        return f"{self.awardable_type}:{self.awardable_id}:{self.name}"


class Subscription(models.Model):
    """A user's explicit (un)subscription from an issue or merge request's notifications.
    Without a row, participants are subscribed implicitly (GitLab's `subscribed?`)."""

    subscribable_type = models.CharField(max_length=32)
    subscribable_id = models.BigIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    subscribed = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(
                fields=["subscribable_type", "subscribable_id", "user"],
                name="subscription_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}->{self.subscribable_type}:{self.subscribable_id}"


class TodoAction(models.IntegerChoices):
    """GitLab's Todo action numbers (the API shows their names)."""

    ASSIGNED = 1, "assigned"
    MENTIONED = 2, "mentioned"
    BUILD_FAILED = 3, "build_failed"
    MARKED = 4, "marked"
    APPROVAL_REQUIRED = 5, "approval_required"
    UNMERGEABLE = 6, "unmergeable"
    DIRECTLY_ADDRESSED = 7, "directly_addressed"
    MERGE_TRAIN_REMOVED = 8, "merge_train_removed"
    REVIEW_REQUESTED = 9, "review_requested"
    MEMBER_ACCESS_REQUESTED = 10, "member_access_requested"
    REVIEW_SUBMITTED = 11, "review_submitted"


class Todo(models.Model):
    """Something for `user` to do about a target (an issue, a merge request, a commit)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    target_type = models.CharField(max_length=32)
    target_id = models.BigIntegerField(null=True, blank=True)
    commit_id = models.CharField(max_length=64, blank=True, default="")
    # The note that caused a mention, if any (notes sit above this package: an id, no FK).
    note_id = models.BigIntegerField(null=True, blank=True)
    action = models.PositiveSmallIntegerField(choices=TodoAction.choices)
    state = models.CharField(max_length=8, default="pending")
    body = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["user", "state", "id"]),
            models.Index(fields=["target_type", "target_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.target_type}:{self.target_id}:{self.action}"
