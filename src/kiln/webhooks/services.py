"""Writes on hooks: create, update, delete, URL variables, custom headers, test, resend.

Who may: Maintainers of the project (project hooks), Owners of the group (group hooks),
administrators (system hooks and everything). The caller found the project or group with a
visibility check (404 when hidden); here a visible parent the actor may not manage is 403, as
GitLab's `authorize_admin_project` / `authorize! :admin_group` answer.

Validation gives GitLab's answers: a URL that is malformed, refused by the URL policy (local
addresses, unless the admin setting allows them) or that names a missing URL variable is
422 "Invalid url given"; a bad branch filter 422 "Invalid branch filter given"; bad custom
headers 422 "Custom headers validation failed"; other attributes
`{"message": {"attr": ["..."]}}` with 422.

Secrets never follow a URL to a new destination: when the URL changes, the token, URL
variables and custom headers not sent again with it are dropped (GitLab resets them likewise).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import re2
from django.db import transaction

from kiln.core.actor import Actor
from kiln.core.errors import (
    Forbidden,
    NotFound,
    PlainBadRequest,
    Unprocessable,
    ValidationFailed,
)
from kiln.core.policy import can
from kiln.gitstore import InvalidRef, validate_branch_name
from kiln.namespaces.models import Namespace
from kiln.projects.models import Project
from kiln.webhooks import delivery, execution, payloads
from kiln.webhooks.models import BranchFilterStrategy, HookKind, WebHook, WebHookLog

# Event columns each kind of hook may set (GitLab's API parameters for it).
PROJECT_EVENTS = (
    "push_events",
    "tag_push_events",
    "issues_events",
    "confidential_issues_events",
    "note_events",
    "confidential_note_events",
    "merge_requests_events",
    "job_events",
    "pipeline_events",
    "wiki_page_events",
    "deployment_events",
    "feature_flag_events",
    "releases_events",
    "milestone_events",
    "emoji_events",
    "resource_access_token_events",
    "resource_deploy_token_events",
    "vulnerability_events",
)
GROUP_EVENTS = (*PROJECT_EVENTS, "subgroup_events", "member_events", "project_events")
SYSTEM_EVENTS = (
    "push_events",
    "tag_push_events",
    "merge_requests_events",
    "repository_update_events",
)
EVENTS_BY_KIND = {
    HookKind.PROJECT: PROJECT_EVENTS,
    HookKind.GROUP: GROUP_EVENTS,
    HookKind.SYSTEM: SYSTEM_EVENTS,
}
TEXT_ATTRIBUTES = (
    "url",
    "token",
    "name",
    "description",
    "push_events_branch_filter",
    "branch_filter_strategy",
    "custom_webhook_template",
)
# The `test/:trigger` values and the hook scope each one sends as.
TEST_TRIGGERS = {
    "push_events": "push_hooks",
    "tag_push_events": "tag_push_hooks",
    "issues_events": "issue_hooks",
    "confidential_issues_events": "confidential_issue_hooks",
    "note_events": "note_hooks",
    "merge_requests_events": "merge_request_hooks",
    "job_events": "job_hooks",
    "pipeline_events": "pipeline_hooks",
    "wiki_page_events": "wiki_page_hooks",
    "releases_events": "release_hooks",
    "emoji_events": "emoji_hooks",
    "resource_access_token_events": "resource_access_token_hooks",
}

MAX_NAME = 255
MAX_DESCRIPTION = 2048
MAX_TEMPLATE = 4096
MAX_BRANCH_FILTER = 4000
MAX_MAP_ENTRIES = 20
MAX_VALUE = 2048
_HEADER_NAME = re.compile(r"^[A-Za-z]+[0-9]*(?:[._-][A-Za-z0-9]+)*$")
_VARIABLE_NAME = re.compile(r"^[A-Za-z]+[0-9]*(?:[._-][A-Za-z0-9]+)*$")
# Headers that frame the request: a receiver would see a different request than the log.
_FORBIDDEN_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


class HookValidationFailed(ValidationFailed):
    """GitLab's `render_validation_error!(hook, 422)`."""

    status = 422


INVALID_URL = "Invalid url given"
INVALID_BRANCH_FILTER = "Invalid branch filter given"
INVALID_CUSTOM_HEADERS = "Custom headers validation failed"


# -- who may -------------------------------------------------------------------------------


def can_manage(actor: Actor, hook: WebHook) -> bool:
    if hook.kind == HookKind.PROJECT and hook.project is not None:
        return can(actor, "admin_project", hook.project)
    if hook.kind == HookKind.GROUP and hook.group is not None:
        return can(actor, "admin_group", hook.group)
    return actor.is_admin


def authorize_project(actor: Actor, project: Project) -> None:
    """403 unless the actor maintains `project` (which it can see: the caller checked)."""
    if not can(actor, "admin_project", project):
        raise Forbidden()


def authorize_group(actor: Actor, group: Namespace) -> None:
    if not can(actor, "admin_group", group):
        raise Forbidden()


def authorize_system(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden()


def authorize_hook(actor: Actor, hook: WebHook) -> None:
    if not can_manage(actor, hook):
        raise Forbidden()


# -- validation -------------------------------------------------------------------------------


def _pairs_errors(values: Mapping[str, object], name_re: re.Pattern[str]) -> bool:
    if len(values) > MAX_MAP_ENTRIES:
        return True
    for key, value in values.items():
        if not isinstance(value, str):
            return True
        if not name_re.match(key) or len(key) > 255:
            return True
        if not value or len(value) > MAX_VALUE or any(c in value for c in "\r\n\x00"):
            return True
    return False


def _check_branch_filter(hook: WebHook) -> None:
    if hook.branch_filter_strategy == BranchFilterStrategy.ALL_BRANCHES:
        hook.push_events_branch_filter = None
        return
    value = hook.push_events_branch_filter
    if value is None:
        return
    if hook.branch_filter_strategy == BranchFilterStrategy.REGEX:
        if len(value) > MAX_BRANCH_FILTER:
            raise Unprocessable(INVALID_BRANCH_FILTER)
        try:
            re2.compile(value)
        except re2.error:
            raise Unprocessable(INVALID_BRANCH_FILTER) from None
        return
    # Wildcard: whitespace squished, then a valid branch name once `*` are letters.
    squished = " ".join(value.split())
    hook.push_events_branch_filter = squished
    if not squished:
        return
    if len(squished) > MAX_BRANCH_FILTER:
        raise Unprocessable(INVALID_BRANCH_FILTER)
    try:
        validate_branch_name(squished.replace("*", "x"))
    except InvalidRef:
        raise Unprocessable(INVALID_BRANCH_FILTER) from None


def _check_url(hook: WebHook) -> None:
    url = hook.url
    if not url or not url.strip():
        raise Unprocessable(INVALID_URL)
    try:
        interpolated = execution.interpolated_url(url, hook.url_variables or {})
        delivery.validate_url(interpolated, allow_local=execution.allow_local_requests(hook))
    except (execution.HookConfigurationError, delivery.BlockedUrl):
        raise Unprocessable(INVALID_URL) from None


def _validate(hook: WebHook) -> None:
    if _pairs_errors(hook.url_variables or {}, _VARIABLE_NAME):
        raise HookValidationFailed({"url_variables": ["must be a valid json schema"]})
    if _pairs_errors(hook.custom_headers or {}, _HEADER_NAME) or any(
        key.lower() in _FORBIDDEN_HEADERS for key in hook.custom_headers or {}
    ):
        raise Unprocessable(INVALID_CUSTOM_HEADERS)
    _check_url(hook)
    _check_branch_filter(hook)
    errors: dict[str, list[str]] = {}
    if "\n" in (hook.token or "") or "\r" in (hook.token or ""):
        errors["token"] = ["is invalid"]
    for attr, limit in (("name", MAX_NAME), ("description", MAX_DESCRIPTION)):
        if len(getattr(hook, attr) or "") > limit:
            errors[attr] = [f"is too long (maximum is {limit} characters)"]
    if len(hook.custom_webhook_template or "") > MAX_TEMPLATE:
        errors["custom_webhook_template"] = [f"is too long (maximum is {MAX_TEMPLATE} characters)"]
    if errors:
        raise HookValidationFailed(errors)


def _assign(hook: WebHook, attrs: Mapping[str, Any]) -> None:
    """Set the given attributes (keys checked against the hook's kind by the caller)."""
    allowed = set(EVENTS_BY_KIND[HookKind(hook.kind)]) | {"enable_ssl_verification"}
    old_url = hook.url
    old_destination = _destination(hook)
    for name, value in attrs.items():
        if name in allowed:
            setattr(hook, name, bool(value))
        elif name in TEXT_ATTRIBUTES:
            setattr(hook, name, value if value is not None else _empty(name))
    url_changed = hook.pk is not None and "url" in attrs and hook.url != old_url
    variables = dict(attrs.get("url_variables") or {})
    if url_changed:
        hook.url_variables = variables
        if "token" not in attrs:
            hook.token = ""
    elif variables:
        hook.url_variables = {**(hook.url_variables or {}), **variables}
    headers = dict(attrs.get("custom_headers") or {})
    if hook.pk is not None and _destination(hook) != old_destination:
        hook.custom_headers = headers
    elif headers:
        hook.custom_headers = {**(hook.custom_headers or {}), **headers}


def _empty(name: str) -> Any:
    if name in ("push_events_branch_filter",):
        return None
    if name == "branch_filter_strategy":
        return BranchFilterStrategy.WILDCARD
    return ""


def _destination(hook: WebHook) -> str | None:
    try:
        return execution.interpolated_url(hook.url or "", hook.url_variables or {})
    except execution.HookConfigurationError:
        return None


# -- create, update, delete -------------------------------------------------------------------


def _create(hook: WebHook, attrs: Mapping[str, Any]) -> WebHook:
    _assign(hook, attrs)
    _validate(hook)
    with transaction.atomic():
        hook.save()
    return hook


def create_project_hook(*, actor: Actor, project: Project, attrs: Mapping[str, Any]) -> WebHook:
    authorize_project(actor, project)
    return _create(WebHook(kind=HookKind.PROJECT, project=project), attrs)


def create_group_hook(*, actor: Actor, group: Namespace, attrs: Mapping[str, Any]) -> WebHook:
    authorize_group(actor, group)
    return _create(WebHook(kind=HookKind.GROUP, group=group), attrs)


def create_system_hook(*, actor: Actor, attrs: Mapping[str, Any]) -> WebHook:
    authorize_system(actor)
    # GitLab's SystemHook defaults: repository updates on, pushes off.
    hook = WebHook(kind=HookKind.SYSTEM, push_events=False, repository_update_events=True)
    return _create(hook, attrs)


def update_hook(*, actor: Actor, hook: WebHook, attrs: Mapping[str, Any]) -> WebHook:
    authorize_hook(actor, hook)
    if not attrs:
        raise PlainBadRequest("No parameters provided")
    _assign(hook, attrs)
    _validate(hook)
    with transaction.atomic():
        hook.save()
    return hook


def delete_hook(*, actor: Actor, hook: WebHook) -> None:
    authorize_hook(actor, hook)
    with transaction.atomic():
        hook.delete()


def set_url_variable(*, actor: Actor, hook: WebHook, key: str, value: str) -> WebHook:
    authorize_hook(actor, hook)
    before = _destination(hook)
    hook.url_variables = {**(hook.url_variables or {}), key: value}
    if _destination(hook) != before:
        hook.custom_headers = {}  # headers never follow the URL to a new destination
    _validate(hook)
    hook.save(update_fields=["url_variables", "custom_headers", "updated_at"])
    return hook


def delete_url_variable(*, actor: Actor, hook: WebHook, key: str) -> WebHook:
    authorize_hook(actor, hook)
    variables = dict(hook.url_variables or {})
    if key not in variables:
        raise NotFound()
    del variables[key]
    hook.url_variables = variables
    _validate(hook)
    hook.save(update_fields=["url_variables", "updated_at"])
    return hook


def set_custom_header(*, actor: Actor, hook: WebHook, key: str, value: str) -> WebHook:
    authorize_hook(actor, hook)
    hook.custom_headers = {**(hook.custom_headers or {}), key: value}
    _validate(hook)
    hook.save(update_fields=["custom_headers", "updated_at"])
    return hook


def delete_custom_header(*, actor: Actor, hook: WebHook, key: str) -> WebHook:
    authorize_hook(actor, hook)
    headers = dict(hook.custom_headers or {})
    if key not in headers:
        raise NotFound()
    del headers[key]
    hook.custom_headers = headers
    hook.save(update_fields=["custom_headers", "updated_at"])
    return hook


# -- test and resend --------------------------------------------------------------------------


def _test_project(hook: WebHook) -> Project:
    if hook.project is not None:
        return hook.project
    assert hook.group is not None
    project = (
        Project.objects.select_related("namespace")
        .filter(namespace=hook.group, empty_repo=False)
        .order_by("pk")
        .first()
    )
    if project is None:
        raise Unprocessable("Ensure the group has a project with commits.")
    return project


def test_hook(*, actor: Actor, hook: WebHook, trigger: str) -> execution.Outcome:
    """Send a sample of `trigger` (e.g. "push_events") now, even to a disabled hook, as
    GitLab's test button does; the outcome re-enables or backs off the hook like any event."""
    authorize_hook(actor, hook)
    scope = TEST_TRIGGERS.get(trigger)
    if scope is None:
        raise Unprocessable("Testing not available for this hook")
    try:
        data = payloads.sample_for(trigger, _test_project(hook), actor)
    except payloads.TestDataUnavailable as missing:
        raise Unprocessable(str(missing)) from None
    outcome = execution.execute(hook, data, scope, force=True)
    execution.record_outcome(hook.pk, ok=outcome.ok)
    return outcome


test_hook.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def test_system_hook(*, actor: Actor, hook: WebHook) -> dict[str, Any]:
    """GitLab's `POST /hooks/:id`: sends a sample `project_create` event and returns it."""
    authorize_system(actor)
    data = dict(payloads.SYSTEM_HOOK_TEST_DATA)
    execution.execute(hook, data, "system_hooks", force=True)
    return data


test_system_hook.__test__ = False  # type: ignore[attr-defined]


def resend_event(*, actor: Actor, hook: WebHook, entry: WebHookLog) -> execution.Outcome:
    """Send a logged event again (same payload and Idempotency-Key) while the hook's URL is
    the one it was sent to."""
    authorize_hook(actor, hook)
    if entry.web_hook_id != hook.pk:
        raise NotFound()
    if entry.url_digest != execution.url_digest(hook.url):
        raise Unprocessable("The hook URL has changed, and this log entry cannot be retried")
    data = entry.request_data if isinstance(entry.request_data, dict) else {}
    outcome = execution.execute(hook, data, entry.trigger, idempotency_key=entry.idempotency_key)
    if outcome.skipped:
        raise Unprocessable("Hook disabled")
    execution.record_outcome(hook.pk, ok=outcome.ok)
    if outcome.status is None:
        raise Unprocessable(outcome.message)
    return outcome
