"""Protected branches and tags, and the record of each push."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from kiln.projects.models import Project


class ProtectionLevel(models.IntegerChoices):
    """Who a protection rule lets through, as GitLab's protected branch access levels."""

    NO_ONE = 0, "No one"
    DEVELOPER = 30, "Developers + Maintainers"
    MAINTAINER = 40, "Maintainers"
    ADMIN = 60, "Admins"


class ProtectedBranch(models.Model):
    """A rule protecting branches whose name matches `name` (`*` is a wildcard)."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="protected_branches"
    )
    name = models.CharField(max_length=255)
    push_access_level = models.PositiveSmallIntegerField(
        choices=ProtectionLevel.choices, default=ProtectionLevel.MAINTAINER
    )
    merge_access_level = models.PositiveSmallIntegerField(
        choices=ProtectionLevel.choices, default=ProtectionLevel.MAINTAINER
    )
    unprotect_access_level = models.PositiveSmallIntegerField(
        choices=ProtectionLevel.choices, default=ProtectionLevel.MAINTAINER
    )
    allow_force_push = models.BooleanField(default=False)
    code_owner_approval_required = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["project", "name"], name="protected_branch_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.project_id}:{self.name}"


class ProtectedTag(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="protected_tags")
    name = models.CharField(max_length=255)
    create_access_level = models.PositiveSmallIntegerField(
        choices=ProtectionLevel.choices, default=ProtectionLevel.MAINTAINER
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["project", "name"], name="protected_tag_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.project_id}:{self.name}"


class Push(models.Model):
    """One ref updated by one push (git or web), for events, webhooks and CI."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="pushes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    ref = models.CharField(max_length=1024)
    before = models.CharField(max_length=64)
    after = models.CharField(max_length=64)
    commit_count = models.PositiveIntegerField(default=0)
    # The newest commits (at most 20), as GitLab's push payloads carry them.
    commits = models.JSONField(default=list)
    protocol = models.CharField(max_length=8, default="http")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.project_id}:{self.ref}:{self.after[:8]}"

    @property
    def is_branch(self) -> bool:
        return self.ref.startswith("refs/heads/")

    @property
    def is_tag(self) -> bool:
        return self.ref.startswith("refs/tags/")

    @property
    def ref_name(self) -> str:
        for prefix in ("refs/heads/", "refs/tags/"):
            if self.ref.startswith(prefix):
                return self.ref[len(prefix) :]
        return self.ref
