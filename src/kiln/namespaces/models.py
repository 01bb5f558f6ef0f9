"""Namespaces (a user's or a group's) and group memberships.

Groups nest; `traversal_ids` ("1/5/9": ids from the root down to this group) lets one query
find ancestors and descendants, and `full_path` is kept denormalized for routing. Both are
rewritten by the services when a group moves.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from kiln.core.access import AccessLevel, Visibility


class NamespaceKind(models.TextChoices):
    USER = "user"
    GROUP = "group"


class Namespace(models.Model):
    name = models.CharField(max_length=255)
    path = models.CharField(max_length=255)
    kind = models.CharField(max_length=8, choices=NamespaceKind.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="namespace",
    )
    full_path = models.CharField(max_length=2048)
    full_name = models.CharField(max_length=4096)
    traversal_ids = models.CharField(max_length=512, db_index=True, default="")
    visibility_level = models.PositiveSmallIntegerField(
        choices=[(v.value, v.label) for v in Visibility], default=Visibility.PRIVATE
    )
    description = models.TextField(blank=True, default="")
    request_access_enabled = models.BooleanField(default=True)
    share_with_group_lock = models.BooleanField(default=False)
    require_two_factor_authentication = models.BooleanField(default=False)
    lfs_enabled = models.BooleanField(default=True)
    mentions_disabled = models.BooleanField(default=False)
    project_creation_level = models.CharField(max_length=32, default="developer")
    subgroup_creation_level = models.CharField(max_length=32, default="maintainer")
    emails_enabled = models.BooleanField(default=True)
    default_branch = models.CharField(max_length=255, blank=True, default="")
    # Group settings GitLab's API reads and writes; Kiln stores them for clients that round-trip.
    two_factor_grace_period = models.PositiveIntegerField(default=48)
    auto_devops_enabled = models.BooleanField(null=True, blank=True, default=None)
    default_branch_protection = models.PositiveSmallIntegerField(default=2)
    shared_runners_setting = models.CharField(max_length=64, default="enabled")
    # Only administrators may set it (GitLab's `update_max_artifacts_size`).
    max_artifacts_size = models.PositiveIntegerField(null=True, blank=True, default=None)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(Lower("full_path"), name="namespace_full_path_ci_unique"),
        ]
        indexes: ClassVar[list[Any]] = [models.Index(fields=["parent", "path"])]

    def __str__(self) -> str:
        return self.full_path

    @property
    def is_group(self) -> bool:
        return self.kind == NamespaceKind.GROUP

    @property
    def visibility(self) -> Visibility:
        return Visibility(self.visibility_level)

    @property
    def ancestor_ids(self) -> list[int]:
        """Ids from the root group down to and including this one."""
        return [int(part) for part in self.traversal_ids.split("/") if part]

    @property
    def depth(self) -> int:
        return len(self.ancestor_ids)


class GroupMember(models.Model):
    group = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="group_memberships"
    )
    access_level = models.PositiveSmallIntegerField(
        choices=[(level.value, level.name.lower()) for level in AccessLevel.member_levels()]
    )
    expires_at = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["group", "user"], name="group_member_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.group_id}:{self.access_level}"
