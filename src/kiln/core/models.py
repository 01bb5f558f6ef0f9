"""Instance-wide tables of the kernel: the application settings (one row).

`ApplicationSetting` holds the subset of GitLab's application settings Kiln acts on, under
GitLab's names, so `GET/PUT /api/v4/application/settings` and the code reading them speak
the same words. Read it through `kiln.core.appsettings.current()` (cached), never directly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from django.db import models
from django.utils import timezone

from kiln.core.access import Visibility

# Devise's defaults, which GitLab applies while its settings are null.
DEFAULT_MAX_LOGIN_ATTEMPTS = 10
DEFAULT_UNLOCK_MINUTES = 10

_VISIBILITY_CHOICES = [(v.value, v.label) for v in Visibility]


class ApplicationSetting(models.Model):
    """The instance's settings: exactly one row, id 1, created with GitLab's defaults."""

    SINGLETON_ID: ClassVar[int] = 1

    # Sign-up and new users.
    signup_enabled = models.BooleanField(default=True)
    require_admin_approval_after_user_signup = models.BooleanField(default=True)
    user_default_external = models.BooleanField(default=False)
    can_create_group = models.BooleanField(default=True)
    default_projects_limit = models.PositiveIntegerField(default=100_000)

    # Visibility.
    default_project_visibility = models.PositiveSmallIntegerField(
        choices=_VISIBILITY_CHOICES, default=int(Visibility.PRIVATE)
    )
    default_group_visibility = models.PositiveSmallIntegerField(
        choices=_VISIBILITY_CHOICES, default=int(Visibility.PRIVATE)
    )
    # Levels (0/10/20) non-admins may not choose for groups, projects and snippets.
    restricted_visibility_levels = models.JSONField(default=list)

    # Repositories and sizes (megabytes, as GitLab's API gives them; 0 or null: no limit).
    # Blank: "main" (the API shows null, as GitLab).
    default_branch_name = models.CharField(max_length=255, blank=True, default="")
    max_attachment_size = models.PositiveIntegerField(default=100)
    max_artifacts_size = models.PositiveIntegerField(default=100)
    max_import_size = models.PositiveIntegerField(default=0)
    receive_max_input_size = models.PositiveIntegerField(null=True, blank=True, default=None)
    repository_size_limit = models.PositiveBigIntegerField(default=0)
    # Largest file a push may bring, in MB (GitLab's push rule `max_file_size`); 0: no limit.
    max_file_size = models.PositiveIntegerField(default=0)

    # Outbound requests (webhooks, integrations, system hooks).
    allow_local_requests_from_web_hooks_and_services = models.BooleanField(default=False)
    allow_local_requests_from_system_hooks = models.BooleanField(default=True)

    # CI.
    shared_runners_enabled = models.BooleanField(default=True)
    # Kiln's own: whether `kiln serve` runs its embedded runner (not a GitLab setting).
    kiln_embedded_runner_enabled = models.BooleanField(default=True)

    # User and IP rate limits, off by default as on GitLab self-managed.
    throttle_authenticated_api_enabled = models.BooleanField(default=False)
    throttle_authenticated_api_requests_per_period = models.PositiveIntegerField(default=7200)
    throttle_authenticated_api_period_in_seconds = models.PositiveIntegerField(default=3600)
    throttle_authenticated_web_enabled = models.BooleanField(default=False)
    throttle_authenticated_web_requests_per_period = models.PositiveIntegerField(default=7200)
    throttle_authenticated_web_period_in_seconds = models.PositiveIntegerField(default=3600)
    throttle_unauthenticated_api_enabled = models.BooleanField(default=False)
    throttle_unauthenticated_api_requests_per_period = models.PositiveIntegerField(default=3600)
    throttle_unauthenticated_api_period_in_seconds = models.PositiveIntegerField(default=3600)
    throttle_unauthenticated_web_enabled = models.BooleanField(default=False)
    throttle_unauthenticated_web_requests_per_period = models.PositiveIntegerField(default=3600)
    throttle_unauthenticated_web_period_in_seconds = models.PositiveIntegerField(default=3600)
    # The plain-text body of a 429; blank means GitLab's "Retry later" (the API shows null).
    rate_limiting_response_text = models.CharField(max_length=255, blank=True, default="")

    # Sign-in lockout; null means GitLab's built-in 10 attempts and 10 minutes.
    max_login_attempts = models.PositiveIntegerField(null=True, blank=True, default=None)
    failed_login_attempts_unlock_period_in_minutes = models.PositiveIntegerField(
        null=True, blank=True, default=None
    )

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.CheckConstraint(condition=models.Q(id=1), name="application_setting_singleton"),
        ]

    def __str__(self) -> str:
        return "application settings"

    @property
    def effective_max_login_attempts(self) -> int:
        """Failed sign-ins that lock an account (GitLab's default when unset: 10)."""
        return self.max_login_attempts or DEFAULT_MAX_LOGIN_ATTEMPTS

    @property
    def effective_unlock_period(self) -> dt.timedelta:
        """How long a locked account stays locked (GitLab's default when unset: 10 minutes)."""
        minutes = self.failed_login_attempts_unlock_period_in_minutes or DEFAULT_UNLOCK_MINUTES
        return dt.timedelta(minutes=minutes)
