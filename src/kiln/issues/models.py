"""Issues, their links, iid counters and state events.

Tables that serve both issues and merge requests (state events, internal ids) carry
`*_type` + `*_id` columns instead of foreign keys, as GitLab's polymorphic associations do:
the merge request package writes them without this package knowing its model. Award emoji,
subscriptions and todos live in kiln.notes (below), for the same reason.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from kiln.labels.models import Label
from kiln.milestones.models import Milestone
from kiln.projects.models import Project

TITLE_MAX_LENGTH = 255
# GitLab's Issuable::DESCRIPTION_LENGTH_MAX (1 megabyte of characters).
DESCRIPTION_MAX_LENGTH = 1_048_576


class IssueState(models.TextChoices):
    OPENED = "opened"
    CLOSED = "closed"


class InternalId(models.Model):
    """The last iid given out per project and usage ("issues", "merge_requests"); the row is
    locked (select_for_update) while allocating, so concurrent creations never share one."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    usage = models.CharField(max_length=32)
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["project", "usage"], name="internal_id_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.project_id}:{self.usage}:{self.last_value}"


class Issue(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="issues")
    iid = models.PositiveIntegerField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    description = models.TextField(blank=True, default="")
    # Rendered without a viewer (references resolved as the public sees them would leak
    # nothing, but a viewer may see more): the cache holds the viewer-independent render
    # only; see kiln.issues.rendering.
    description_html = models.TextField(blank=True, default="")
    cached_markdown_version = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=8, choices=IssueState.choices, default=IssueState.OPENED)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confidential = models.BooleanField(default=False)
    discussion_locked = models.BooleanField(null=True, blank=True, default=None)
    due_date = models.DateField(null=True, blank=True)
    milestone = models.ForeignKey(
        Milestone, null=True, blank=True, on_delete=models.SET_NULL, related_name="issues"
    )
    labels = models.ManyToManyField(Label, related_name="issues", blank=True)
    assignees = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="IssueAssignee", related_name="assigned_issues"
    )
    moved_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    duplicated_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    time_estimate = models.PositiveIntegerField(default=0)
    total_time_spent = models.PositiveIntegerField(default=0)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_edited_at = models.DateTimeField(null=True, blank=True)
    last_edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["project", "iid"], name="issue_project_iid"),
        ]
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["project", "state", "created_at"]),
            # The default list order (newest first) of a project's issues, page by page.
            models.Index(fields=["project", "created_at", "id"], name="issue_project_created"),
            models.Index(fields=["author", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.project_id}#{self.iid}"

    @property
    def is_open(self) -> bool:
        return self.state == IssueState.OPENED


class IssueAssignee(models.Model):
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="assignee_links")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["issue", "user"], name="issue_assignee_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.issue_id}@{self.user_id}"


class IssueLinkType(models.TextChoices):
    RELATES_TO = "relates_to"
    BLOCKS = "blocks"
    IS_BLOCKED_BY = "is_blocked_by"


class IssueLink(models.Model):
    """`source` relates to / blocks `target` (`is_blocked_by` is stored reversed as blocks)."""

    source = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="links_out")
    target = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="links_in")
    link_type = models.CharField(
        max_length=16, choices=IssueLinkType.choices, default=IssueLinkType.RELATES_TO
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["source", "target"], name="issue_link_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}-{self.link_type}->{self.target_id}"


class ResourceStateEvent(models.Model):
    """An issuable opened, closed, reopened, merged or locked (resource_state_events)."""

    issuable_type = models.CharField(max_length=32)
    issuable_id = models.BigIntegerField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(max_length=16)
    source_commit = models.CharField(max_length=64, blank=True, default="")
    # The merge request that closed an issue (merge requests sit above: an id, no FK).
    source_merge_request_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["issuable_type", "issuable_id", "id"]),
        ]

    def __str__(self) -> str:
        return f"{self.issuable_type}:{self.issuable_id}:{self.state}"
