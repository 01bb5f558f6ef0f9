"""Webhooks (project, group and system hooks in one table) and the log of their deliveries.

One table with a `kind`, as GitLab's `web_hooks` table with its `type` column: the three kinds
share every column and the delivery code, and differ in who manages them, which events they
may subscribe to and which admin setting lets them reach local addresses.

The URL, the secret token, the URL variables and the custom headers are encrypted at rest
(see kiln.webhooks.encryption); the token is sent back to the receiver in `X-Gitlab-Token`, so
it must stay readable to Kiln, but it never appears in an API response or a delivery log.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.db.models import Q
from django.utils import timezone

from kiln.namespaces.models import Namespace
from kiln.projects.models import Project
from kiln.webhooks.encryption import EncryptedJSONField, EncryptedTextField


class HookKind(models.TextChoices):
    PROJECT = "project"
    GROUP = "group"
    SYSTEM = "system"


class BranchFilterStrategy(models.TextChoices):
    WILDCARD = "wildcard"
    REGEX = "regex"
    ALL_BRANCHES = "all_branches"


def _flag(default: bool = False) -> models.BooleanField[bool, bool]:
    return models.BooleanField(default=default)


class WebHook(models.Model):
    kind = models.CharField(max_length=16, choices=HookKind.choices)
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="hooks"
    )
    group = models.ForeignKey(
        Namespace, null=True, blank=True, on_delete=models.CASCADE, related_name="hooks"
    )
    # May hold `{name}` references to `url_variables` and basic-auth credentials.
    url = EncryptedTextField()
    token = EncryptedTextField(blank=True, default="")
    url_variables = EncryptedJSONField(blank=True, default=dict)
    custom_headers = EncryptedJSONField(blank=True, default=dict)
    name = models.CharField(max_length=255, blank=True, default="")
    description = models.TextField(blank=True, default="")

    # Events, with GitLab's column names (`*_events`) and defaults.
    push_events = _flag(True)
    # GitLab's API tells a filter never set (null) from an empty one ("").
    push_events_branch_filter = models.TextField(null=True, blank=True, default=None)  # noqa: DJ001
    branch_filter_strategy = models.CharField(
        max_length=16, choices=BranchFilterStrategy.choices, default=BranchFilterStrategy.WILDCARD
    )
    tag_push_events = _flag()
    issues_events = _flag()
    confidential_issues_events = _flag()
    note_events = _flag()
    confidential_note_events = _flag()
    merge_requests_events = _flag()
    job_events = _flag()
    pipeline_events = _flag()
    wiki_page_events = _flag()
    deployment_events = _flag()
    feature_flag_events = _flag()
    releases_events = _flag()
    milestone_events = _flag()
    emoji_events = _flag()
    resource_access_token_events = _flag()
    resource_deploy_token_events = _flag()
    vulnerability_events = _flag()
    member_events = _flag()
    subgroup_events = _flag()
    project_events = _flag()
    repository_update_events = _flag()

    enable_ssl_verification = _flag(True)
    # GitLab's custom payload template (`{{a.b}}` placeholders); empty sends the event as is.
    custom_webhook_template = models.TextField(blank=True, default="")

    # Auto-disabling (GitLab's WebHooks::AutoDisabling): consecutive failed deliveries, and
    # until when the hook rests after the grace failures.
    recent_failures = models.PositiveSmallIntegerField(default=0)
    disabled_until = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.CheckConstraint(
                condition=(
                    Q(kind=HookKind.PROJECT, project__isnull=False, group__isnull=True)
                    | Q(kind=HookKind.GROUP, group__isnull=False, project__isnull=True)
                    | Q(kind=HookKind.SYSTEM, group__isnull=True, project__isnull=True)
                ),
                name="web_hook_kind_matches_parent",
            ),
        ]
        indexes: ClassVar[list[Any]] = [models.Index(fields=["kind"])]

    def __str__(self) -> str:
        return f"{self.kind} hook {self.pk}"


class WebHookLog(models.Model):
    """One delivery attempt: what was sent and what came back (capped), as GitLab's log."""

    web_hook = models.ForeignKey(WebHook, on_delete=models.CASCADE, related_name="logs")
    trigger = models.CharField(max_length=64)
    # The hook's URL template with any basic-auth credentials masked.
    url = models.TextField()
    # A digest of the hook's URL when sent: a resend goes out only while it is unchanged.
    url_digest = models.CharField(max_length=64)
    request_headers = models.JSONField(default=dict)
    request_data = models.JSONField(default=dict)
    response_headers = models.JSONField(default=dict)
    response_body = models.TextField(blank=True, default="")
    # The HTTP status, or GitLab's "internal error" when nothing came back.
    response_status = models.CharField(max_length=32)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    execution_duration = models.FloatField(default=0.0)
    internal_error_message = models.TextField(blank=True, default="")
    idempotency_key = models.CharField(max_length=64, blank=True, default="")
    attempt = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes: ClassVar[list[Any]] = [models.Index(fields=["web_hook", "created_at"])]

    def __str__(self) -> str:
        return f"{self.web_hook_id}:{self.trigger}:{self.response_status}"
