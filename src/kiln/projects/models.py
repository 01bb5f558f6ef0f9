"""Projects and what hangs directly off one: members, group shares, topics, stars."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from kiln.core.access import AccessLevel, Visibility
from kiln.namespaces.models import Namespace

_MEMBER_LEVELS = [(level.value, level.name.lower()) for level in AccessLevel.member_levels()]


class Topic(models.Model):
    name = models.CharField(max_length=255)
    title = models.CharField(max_length=255, blank=True, default="")
    description = models.TextField(blank=True, default="")

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(Lower("name"), name="topic_name_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Project(models.Model):
    name = models.CharField(max_length=255)
    path = models.CharField(max_length=255)
    namespace = models.ForeignKey(Namespace, on_delete=models.PROTECT, related_name="projects")
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    description = models.TextField(blank=True, default="")
    visibility_level = models.PositiveSmallIntegerField(
        choices=[(v.value, v.label) for v in Visibility], default=Visibility.PRIVATE
    )
    default_branch = models.CharField(max_length=255, default="main")
    archived = models.BooleanField(default=False)
    # The repository's key in gitstore (its hashed path derives from it); fixed at creation
    # so renames and transfers never move repositories on disk.
    repository_key = models.CharField(max_length=64, unique=True)
    empty_repo = models.BooleanField(default=True)
    topics = models.ManyToManyField(Topic, related_name="projects", blank=True)
    star_count = models.PositiveIntegerField(default=0)
    forks_count = models.PositiveIntegerField(default=0)
    forked_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="forks"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    last_activity_at = models.DateTimeField(default=timezone.now)
    # Settings GitLab exposes on the project (more arrive with the features that use them).
    request_access_enabled = models.BooleanField(default=True)
    issues_enabled = models.BooleanField(default=True)
    merge_requests_enabled = models.BooleanField(default=True)
    wiki_enabled = models.BooleanField(default=True)
    jobs_enabled = models.BooleanField(default=True)
    snippets_enabled = models.BooleanField(default=True)
    container_registry_enabled = models.BooleanField(default=True)
    packages_enabled = models.BooleanField(default=True)
    lfs_enabled = models.BooleanField(default=True)
    shared_runners_enabled = models.BooleanField(default=True)
    public_jobs = models.BooleanField(default=True)
    only_allow_merge_if_pipeline_succeeds = models.BooleanField(default=False)
    only_allow_merge_if_all_discussions_are_resolved = models.BooleanField(default=False)
    remove_source_branch_after_merge = models.BooleanField(default=True)
    merge_method = models.CharField(max_length=16, default="merge")
    squash_option = models.CharField(max_length=16, default="default_off")
    ci_config_path = models.CharField(max_length=255, blank=True, default="")
    build_timeout = models.PositiveIntegerField(default=3600)
    auto_cancel_pending_pipelines = models.CharField(max_length=16, default="enabled")
    emails_enabled = models.BooleanField(default=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(
                "namespace", Lower("path"), name="project_namespace_path_ci_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.full_path

    @property
    def visibility(self) -> Visibility:
        return Visibility(self.visibility_level)

    @property
    def full_path(self) -> str:
        return f"{self.namespace.full_path}/{self.path}"

    @property
    def name_with_namespace(self) -> str:
        return f"{self.namespace.full_name} / {self.name}"


class ProjectMember(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_memberships"
    )
    access_level = models.PositiveSmallIntegerField(choices=_MEMBER_LEVELS)
    expires_at = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["project", "user"], name="project_member_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@p{self.project_id}:{self.access_level}"


class ProjectGroupLink(models.Model):
    """A project shared with a group: the group's members get at most `group_access`."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="group_links")
    group = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="project_links")
    group_access = models.PositiveSmallIntegerField(choices=_MEMBER_LEVELS)
    expires_at = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["project", "group"], name="project_group_link_unique"),
        ]

    def __str__(self) -> str:
        return f"p{self.project_id}->g{self.group_id}"


class Star(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="stars")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["user", "project"], name="star_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}*{self.project_id}"
