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

FEATURE_ACCESS_LEVELS = ("disabled", "private", "enabled", "public")


def _feature_level(default: str = "enabled") -> models.CharField[str, str]:
    return models.CharField(max_length=8, default=default)


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
    # GitLab's import state, which forks go through too: "none" (neither imported nor
    # forked), "scheduled" (the fork's copy is waiting for its creation to commit),
    # "finished", "failed" (with `import_error`, shown to those who administer the project).
    import_status = models.CharField(max_length=16, default="none")
    import_error = models.TextField(null=True, blank=True)  # noqa: DJ001 (GitLab shows null)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    last_activity_at = models.DateTimeField(default=timezone.now)
    # Stored for the repository issue: creating the repository will honour it.
    initialize_with_readme = models.BooleanField(default=False)
    repository_object_format = models.CharField(max_length=8, default="sha1")
    # Rendered Markdown of `description`, refreshed by the services when it changes.
    description_html = models.TextField(blank=True, default="")
    # Feature access levels, as GitLab's ProjectFeature: "disabled", "private" (members
    # only), "enabled" (everyone who can see the project), "public" (pages and packages).
    # The old `*_enabled` booleans of the API are derived from these.
    issues_access_level = _feature_level()
    repository_access_level = _feature_level()
    merge_requests_access_level = _feature_level()
    forking_access_level = _feature_level()
    wiki_access_level = _feature_level()
    builds_access_level = _feature_level()
    snippets_access_level = _feature_level()
    pages_access_level = _feature_level()
    analytics_access_level = _feature_level()
    container_registry_access_level = _feature_level()
    security_and_compliance_access_level = _feature_level("private")
    releases_access_level = _feature_level()
    environments_access_level = _feature_level()
    feature_flags_access_level = _feature_level()
    infrastructure_access_level = _feature_level()
    monitor_access_level = _feature_level()
    model_experiments_access_level = _feature_level()
    model_registry_access_level = _feature_level()
    package_registry_access_level = _feature_level()
    # Settings GitLab exposes on the project (more arrive with the features that use them).
    request_access_enabled = models.BooleanField(default=True)
    lfs_enabled = models.BooleanField(default=True)
    shared_runners_enabled = models.BooleanField(default=True)
    group_runners_enabled = models.BooleanField(default=True)
    public_jobs = models.BooleanField(default=True)
    service_desk_enabled = models.BooleanField(default=False)
    emails_enabled = models.BooleanField(default=True)
    show_default_award_emojis = models.BooleanField(default=True)
    show_diff_preview_in_email = models.BooleanField(default=True)
    enforce_auth_checks_on_uploads = models.BooleanField(default=True)
    warn_about_potentially_unwanted_characters = models.BooleanField(default=True)
    resolve_outdated_diff_discussions = models.BooleanField(default=False)
    printing_merge_request_link_enabled = models.BooleanField(default=True)
    autoclose_referenced_issues = models.BooleanField(default=True)
    # Merge settings.
    only_allow_merge_if_pipeline_succeeds = models.BooleanField(default=False)
    allow_merge_on_skipped_pipeline = models.BooleanField(default=False)
    only_allow_merge_if_all_discussions_are_resolved = models.BooleanField(default=False)
    remove_source_branch_after_merge = models.BooleanField(default=True)
    merge_method = models.CharField(max_length=16, default="merge")
    squash_option = models.CharField(max_length=16, default="default_off")
    # Unset ("") reads as null in the API, as GitLab's nil.
    suggestion_commit_message = models.CharField(max_length=255, blank=True, default="")
    merge_commit_template = models.TextField(blank=True, default="")
    squash_commit_template = models.TextField(blank=True, default="")
    issue_branch_template = models.TextField(blank=True, default="")
    # CI/CD settings.
    ci_config_path = models.CharField(max_length=255, blank=True, default="")
    build_timeout = models.PositiveIntegerField(default=3600)
    build_git_strategy = models.CharField(max_length=8, default="fetch")
    auto_cancel_pending_pipelines = models.CharField(max_length=16, default="enabled")
    ci_default_git_depth = models.PositiveIntegerField(null=True, blank=True, default=20)
    ci_forward_deployment_enabled = models.BooleanField(default=True)
    ci_forward_deployment_rollback_allowed = models.BooleanField(default=True)
    ci_separated_caches = models.BooleanField(default=True)
    ci_allow_fork_pipelines_to_run_in_parent_project = models.BooleanField(default=True)
    ci_job_token_scope_enabled = models.BooleanField(default=False)
    ci_push_repository_for_job_token_allowed = models.BooleanField(default=False)
    ci_pipeline_variables_minimum_override_role = models.CharField(
        max_length=16, default="developer"
    )
    ci_delete_pipelines_in_seconds = models.PositiveIntegerField(null=True, blank=True)
    keep_latest_artifact = models.BooleanField(default=True)
    restrict_user_defined_variables = models.BooleanField(default=False)
    auto_devops_enabled = models.BooleanField(default=False)
    auto_devops_deploy_strategy = models.CharField(max_length=24, default="continuous")
    # Only administrators may set it (GitLab's `update_max_artifacts_size`).
    max_artifacts_size = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(
                "namespace", Lower("path"), name="project_namespace_path_ci_unique"
            ),
            # GitLab: a name is unique in its namespace (case-sensitively).
            models.UniqueConstraint(
                fields=["namespace", "name"], name="project_namespace_name_unique"
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

    @property
    def path_with_namespace(self) -> str:
        return self.full_path

    # The API's old feature flags, derived from the access levels that replaced them.
    @property
    def issues_enabled(self) -> bool:
        return self.issues_access_level != "disabled"

    @property
    def merge_requests_enabled(self) -> bool:
        return self.merge_requests_access_level != "disabled"

    @property
    def wiki_enabled(self) -> bool:
        return self.wiki_access_level != "disabled"

    @property
    def jobs_enabled(self) -> bool:
        return self.builds_access_level != "disabled"

    @property
    def snippets_enabled(self) -> bool:
        return self.snippets_access_level != "disabled"

    @property
    def container_registry_enabled(self) -> bool:
        return self.container_registry_access_level != "disabled"

    @property
    def packages_enabled(self) -> bool:
        return self.package_registry_access_level != "disabled"


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
