"""Merge requests, their diff versions, approvals, reviewers, and per-project MR settings."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from kiln.projects.models import Project

# GitLab's limits (MergeRequest validations): titles of 255 characters, descriptions of 1 MiB.
TITLE_MAX = 255
DESCRIPTION_MAX = 1_048_576

# GitLab's draft prefixes ("Draft:", "[Draft]", "(Draft)"), case-insensitive, at the start.
DRAFT_PREFIX = re.compile(r"^\s*(?:\[draft\]|\(draft\)|draft:|draft\s+-)\s*", re.IGNORECASE)


def is_draft_title(title: str) -> bool:
    return DRAFT_PREFIX.match(title) is not None


def draftless_title(title: str) -> str:
    """The title without its draft prefixes (GitLab's `draftless_title`)."""
    while (match := DRAFT_PREFIX.match(title)) is not None and match.end() > 0:
        title = title[match.end() :]
    return title


class MergeRequestState(models.TextChoices):
    OPENED = "opened"
    CLOSED = "closed"
    MERGED = "merged"
    # Transient while a merge runs: a second merge of the same MR sees it and is refused.
    LOCKED = "locked"


class MergeStatus(models.TextChoices):
    UNCHECKED = "unchecked"
    CHECKING = "checking"
    CAN_BE_MERGED = "can_be_merged"
    CANNOT_BE_MERGED = "cannot_be_merged"
    CANNOT_BE_MERGED_RECHECK = "cannot_be_merged_recheck"


class ReviewState(models.TextChoices):
    UNREVIEWED = "unreviewed"
    REVIEWED = "reviewed"
    REQUESTED_CHANGES = "requested_changes"
    APPROVED = "approved"
    UNAPPROVED = "unapproved"
    REVIEW_STARTED = "review_started"


class MergeRequestSettings(models.Model):
    """A project's merge request approval settings (GitLab's `/projects/:id/approvals`).

    Kept here rather than on `Project` so the projects package needs no knowledge of review.
    A project without a row has the defaults below.
    """

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, primary_key=True, related_name="merge_request_settings"
    )
    approvals_before_merge = models.PositiveSmallIntegerField(default=0)
    reset_approvals_on_push = models.BooleanField(default=True)
    merge_requests_author_approval = models.BooleanField(default=False)
    merge_requests_disable_committers_approval = models.BooleanField(default=False)
    disable_overriding_approvers_per_merge_request = models.BooleanField(default=False)
    require_password_to_approve = models.BooleanField(default=False)
    selective_code_owner_removals = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"mr-settings:{self.project_id}"


class MergeRequestIidCounter(models.Model):
    """The last iid given to a merge request of a project (locked while the next is taken)."""

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    last_value = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"mr-iid:{self.project_id}:{self.last_value}"


class MergeRequest(models.Model):
    # The target project. Forks come later: `source_project` is the same project for now.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="merge_requests")
    source_project = models.ForeignKey(
        Project, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    iid = models.PositiveIntegerField()
    title = models.CharField(max_length=TITLE_MAX)
    description = models.TextField(blank=True, default="")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(
        max_length=8, choices=MergeRequestState.choices, default=MergeRequestState.OPENED
    )
    # Derived from the title by the services (GitLab derives it on read); stored to filter.
    draft = models.BooleanField(default=False)
    source_branch = models.CharField(max_length=255)
    target_branch = models.CharField(max_length=255)
    merge_status = models.CharField(
        max_length=32, choices=MergeStatus.choices, default=MergeStatus.UNCHECKED
    )
    merge_error = models.TextField(null=True, blank=True)  # noqa: DJ001 (GitLab shows null)
    # The latest diff version's refs, copied here so lists need no join.
    diff_head_sha = models.CharField(max_length=64, blank=True, default="")
    diff_base_sha = models.CharField(max_length=64, blank=True, default="")
    diff_start_sha = models.CharField(max_length=64, blank=True, default="")
    changes_count = models.PositiveIntegerField(null=True, blank=True)
    changes_overflow = models.BooleanField(default=False)
    commits_count = models.PositiveIntegerField(default=0)
    # Set by the mergeability check: the source or the target branch no longer exists.
    branch_missing = models.BooleanField(default=False)
    merge_commit_sha = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 (GitLab shows null)
    squash_commit_sha = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 (GitLab shows null)
    squash = models.BooleanField(default=False)
    # GitLab's merge_params: `force_remove_source_branch` (set at creation, from the project's
    # `remove_source_branch_after_merge` unless given) and `should_remove_source_branch` (set
    # when merging or when set to auto-merge).
    force_remove_source_branch = models.BooleanField(null=True, blank=True)
    should_remove_source_branch = models.BooleanField(null=True, blank=True)
    merge_commit_message = models.TextField(null=True, blank=True)  # noqa: DJ001 (GitLab shows null)
    squash_commit_message = models.TextField(null=True, blank=True)  # noqa: DJ001 (GitLab shows null)
    merge_when_pipeline_succeeds = models.BooleanField(default=False)
    merge_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    merged_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    milestone = models.ForeignKey(
        "milestones.Milestone",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merge_requests",
    )
    labels = models.ManyToManyField(
        "labels.Label", blank=True, related_name="merge_requests", through="MergeRequestLabel"
    )
    assignees = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="assigned_merge_requests",
        through="MergeRequestAssignee",
    )
    reviewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="review_requested_merge_requests",
        through="MergeRequestReviewer",
    )
    discussion_locked = models.BooleanField(null=True, blank=True)
    allow_collaboration = models.BooleanField(default=False)
    rebase_in_progress = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_edited_at = models.DateTimeField(null=True, blank=True)
    prepared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["project", "iid"], name="merge_request_project_iid"),
        ]
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["project", "state", "source_branch"]),
            models.Index(fields=["project", "state", "target_branch"]),
            models.Index(fields=["author", "state"]),
            models.Index(fields=["created_at"]),
            models.Index(fields=["project", "created_at", "id"], name="mr_project_created"),
        ]

    def __str__(self) -> str:
        return f"{self.project_id}!{self.iid}"

    @property
    def is_open(self) -> bool:
        return self.state == MergeRequestState.OPENED

    @property
    def is_merged(self) -> bool:
        return self.state == MergeRequestState.MERGED

    @property
    def remove_source_branch(self) -> bool:
        """GitLab's `remove_source_branch?`: the merge-time choice, else the creation-time one."""
        if self.should_remove_source_branch is not None:
            return self.should_remove_source_branch
        return bool(self.force_remove_source_branch)


class MergeRequestLabel(models.Model):
    merge_request = models.ForeignKey(MergeRequest, on_delete=models.CASCADE, related_name="+")
    label = models.ForeignKey("labels.Label", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["merge_request", "label"], name="mr_label_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.merge_request_id}~{self.label_id}"


class MergeRequestAssignee(models.Model):
    merge_request = models.ForeignKey(MergeRequest, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["merge_request", "user"], name="mr_assignee_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.merge_request_id}@{self.user_id}"


class MergeRequestReviewer(models.Model):
    merge_request = models.ForeignKey(
        MergeRequest, on_delete=models.CASCADE, related_name="reviewer_rows"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(
        max_length=24, choices=ReviewState.choices, default=ReviewState.UNREVIEWED
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["merge_request", "user"], name="mr_reviewer_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.merge_request_id}?{self.user_id}:{self.state}"


class MergeRequestApproval(models.Model):
    merge_request = models.ForeignKey(
        MergeRequest, on_delete=models.CASCADE, related_name="approvals"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The head the approval was given for (approvals may be reset when it changes).
    sha = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["merge_request", "user"], name="mr_approval_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.merge_request_id}+{self.user_id}"


class DiffState(models.TextChoices):
    COLLECTED = "collected"
    OVERFLOW = "overflow"
    WITHOUT_FILES = "without_files"
    EMPTY = "empty"


class MergeRequestDiff(models.Model):
    """One version of a merge request's changes: what `base...head` was after a push."""

    merge_request = models.ForeignKey(MergeRequest, on_delete=models.CASCADE, related_name="diffs")
    base_commit_sha = models.CharField(max_length=64, blank=True, default="")
    start_commit_sha = models.CharField(max_length=64, blank=True, default="")
    head_commit_sha = models.CharField(max_length=64, blank=True, default="")
    state = models.CharField(max_length=16, choices=DiffState.choices, default=DiffState.COLLECTED)
    files_count = models.PositiveIntegerField(default=0)
    commits_count = models.PositiveIntegerField(default=0)
    # The commits of this version, newest first, as plain dicts (see `diffs.commit_to_dict`).
    commits = models.JSONField(default=list)
    patch_id_sha = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.merge_request_id}@{self.head_commit_sha[:8]}"


class MergeRequestDiffFile(models.Model):
    """One file of a diff version, in git's order (`relative_order`)."""

    merge_request_diff = models.ForeignKey(
        MergeRequestDiff, on_delete=models.CASCADE, related_name="files"
    )
    relative_order = models.PositiveIntegerField()
    old_path = models.TextField()
    new_path = models.TextField()
    old_id = models.CharField(max_length=64, blank=True, default="")
    new_id = models.CharField(max_length=64, blank=True, default="")
    a_mode = models.CharField(max_length=8)
    b_mode = models.CharField(max_length=8)
    new_file = models.BooleanField(default=False)
    renamed_file = models.BooleanField(default=False)
    deleted_file = models.BooleanField(default=False)
    binary = models.BooleanField(default=False)
    too_large = models.BooleanField(default=False)
    diff = models.TextField(blank=True, default="")

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(
                fields=["merge_request_diff", "relative_order"], name="mr_diff_file_order"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.merge_request_diff_id}:{self.new_path}"


class MergeRequestClosingIssue(models.Model):
    """An issue the merge request says it closes ("Closes #12" in its text or commits); kept
    current on every change so issue lists can count their merge requests in one query."""

    merge_request = models.ForeignKey(
        MergeRequest, on_delete=models.CASCADE, related_name="closing_issue_links"
    )
    issue = models.ForeignKey("issues.Issue", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["merge_request", "issue"], name="mr_closing_issue"),
        ]

    def __str__(self) -> str:
        return f"{self.merge_request_id}->{self.issue_id}"
