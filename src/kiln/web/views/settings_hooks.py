"""A project's webhooks (`/-/hooks`): list, add, edit, delete, test, and the delivery logs
with their retry. The form helpers here (`hook_form`, `hook_attrs`, `event_rows`...) also serve
the admin area's system hooks. Maintainers only (404 otherwise)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.views.decorators.http import require_http_methods, require_POST

from kiln.core.errors import (
    Forbidden,
    KilnError,
    NotFound,
)
from kiln.projects.models import Project
from kiln.web.context import actor_for, project_or_404
from kiln.web.views.forms import checked, form_errors, redirect
from kiln.web.views.settings import settings_base, settings_page
from kiln.webhooks import queries as hook_queries
from kiln.webhooks import services as hook_services
from kiln.webhooks.models import BranchFilterStrategy, HookKind, WebHook

# --- webhooks (project hooks here; system hooks reuse the form in the admin area) -------------

# The events a project hook's form offers, with GitLab's labels.
PROJECT_HOOK_EVENTS = [
    ("push_events", "Push events"),
    ("tag_push_events", "Tag push events"),
    ("issues_events", "Issues events"),
    ("confidential_issues_events", "Confidential issues events"),
    ("note_events", "Comments"),
    ("confidential_note_events", "Confidential comments"),
    ("merge_requests_events", "Merge request events"),
    ("job_events", "Job events"),
    ("pipeline_events", "Pipeline events"),
    ("wiki_page_events", "Wiki page events"),
    ("deployment_events", "Deployment events"),
    ("releases_events", "Releases events"),
    ("milestone_events", "Milestone events"),
    ("emoji_events", "Emoji events"),
]
SYSTEM_HOOK_EVENTS = [
    ("repository_update_events", "Repository update events"),
    ("push_events", "Push events"),
    ("tag_push_events", "Tag push events"),
    ("merge_requests_events", "Merge request events"),
]
BRANCH_FILTER_STRATEGIES = [
    (BranchFilterStrategy.ALL_BRANCHES.value, "All branches"),
    (BranchFilterStrategy.WILDCARD.value, "Wildcard pattern"),
    (BranchFilterStrategy.REGEX.value, "Regular expression"),
]


def hook_attrs(post: QueryDict, events: list[tuple[str, str]], *, editing: bool) -> dict[str, Any]:
    """The hook attributes a form posted: every event box (unchecked is off), the URL, the
    token (kept when left blank on edit), name, description, SSL verification, branch filter."""
    attrs: dict[str, Any] = {name: checked(post, name) for name, _ in events}
    attrs["url"] = post.get("url", "").strip()
    token = post.get("token", "")
    if token or not editing:
        attrs["token"] = token
    for name in ("name", "description"):
        if name in post:
            attrs[name] = post.get(name, "")
    attrs["enable_ssl_verification"] = checked(post, "enable_ssl_verification")
    strategy = post.get("branch_filter_strategy")
    if strategy in {s for s, _ in BRANCH_FILTER_STRATEGIES}:
        attrs["branch_filter_strategy"] = strategy
        attrs["push_events_branch_filter"] = post.get("push_events_branch_filter", "") or None
    return attrs


def hook_form(hook: WebHook | None, events: list[tuple[str, str]]) -> dict[str, Any]:
    if hook is None:
        defaults = WebHook(kind=HookKind.PROJECT)
        values = {name: getattr(defaults, name) for name, _ in events}
        return {
            **values,
            "url": "",
            "name": "",
            "description": "",
            "enable_ssl_verification": True,
            "branch_filter_strategy": BranchFilterStrategy.ALL_BRANCHES.value,
            "push_events_branch_filter": "",
        }
    values = {name: getattr(hook, name) for name, _ in events}
    return {
        **values,
        "url": hook.url,
        "name": hook.name,
        "description": hook.description,
        "enable_ssl_verification": hook.enable_ssl_verification,
        "branch_filter_strategy": hook.branch_filter_strategy,
        "push_events_branch_filter": hook.push_events_branch_filter or "",
        "has_token": bool(hook.token),
    }


def event_fields(form: Mapping[str, Any], events: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {"name": name, "label": label, "checked": bool(form.get(name))} for name, label in events
    ]


def posted_hook_form(post: QueryDict, events: list[tuple[str, str]]) -> dict[str, Any]:
    form: dict[str, Any] = {name: checked(post, name) for name, _ in events}
    for name in ("url", "name", "description", "branch_filter_strategy"):
        form[name] = post.get(name, "")
    form["push_events_branch_filter"] = post.get("push_events_branch_filter", "")
    form["enable_ssl_verification"] = checked(post, "enable_ssl_verification")
    return form


def event_rows(events: Iterable[Any]) -> list[dict[str, Any]]:
    rows = []
    for entry in events:
        code = entry.status_code
        rows.append(
            {
                "entry": entry,
                "ok": code is not None and 200 <= code <= 299,
                "status": entry.response_status,
                "trigger": entry.trigger.replace("_hooks", "").replace("_", " ").capitalize(),
                "duration": f"{entry.execution_duration:.2f}",
            }
        )
    return rows


def test_triggers(events: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, label) for name, label in events if name in hook_services.TEST_TRIGGERS]


def _hooks_page(
    request: HttpRequest, project: Project, form: dict[str, Any], errors: list[str]
) -> HttpResponse:
    actor = actor_for(request)
    hooks = list(hook_queries.list_project_hooks(actor, project))
    context = {
        "hooks": [
            {
                "hook": hook,
                "events": [label for name, label in PROJECT_HOOK_EVENTS if getattr(hook, name)],
            }
            for hook in hooks
        ],
        "form": form,
        "errors": errors,
        "event_fields": event_fields(form, PROJECT_HOOK_EVENTS),
        "strategies": BRANCH_FILTER_STRATEGIES,
        "triggers": test_triggers(PROJECT_HOOK_EVENTS),
        "hooks_base": f"{settings_base(project)}/-/hooks",
    }
    return settings_page(request, "web/settings/hooks.html", project, "hooks", context)


@require_http_methods(["GET", "POST"])
def hooks(request: HttpRequest, full_path: str) -> HttpResponse:
    project = project_or_404(request, full_path, "admin_project")
    if request.method == "GET":
        return _hooks_page(request, project, hook_form(None, PROJECT_HOOK_EVENTS), [])
    attrs = hook_attrs(request.POST, PROJECT_HOOK_EVENTS, editing=False)
    try:
        hook_services.create_project_hook(actor=actor_for(request), project=project, attrs=attrs)
    except (NotFound, Forbidden):
        raise
    except KilnError as exc:
        form = posted_hook_form(request.POST, PROJECT_HOOK_EVENTS)
        return _hooks_page(request, project, form, form_errors(exc))
    messages.success(request, "Webhook was created.")
    return redirect(f"{settings_base(project)}/-/hooks")


def _project_hook(request: HttpRequest, full_path: str, hook_id: int) -> tuple[Project, WebHook]:
    project = project_or_404(request, full_path, "admin_project")
    return project, hook_queries.get_project_hook(actor_for(request), project, hook_id)


def _hook_edit_page(
    request: HttpRequest,
    project: Project,
    hook: WebHook,
    form: dict[str, Any],
    errors: list[str],
) -> HttpResponse:
    actor = actor_for(request)
    logs = hook_queries.list_hook_events(actor, hook)[:20]
    context = {
        "hook": hook,
        "form": form,
        "errors": errors,
        "event_fields": event_fields(form, PROJECT_HOOK_EVENTS),
        "strategies": BRANCH_FILTER_STRATEGIES,
        "triggers": test_triggers(PROJECT_HOOK_EVENTS),
        "hook_base": f"{settings_base(project)}/-/hooks/{hook.pk}",
        "hooks_base": f"{settings_base(project)}/-/hooks",
        "deliveries": event_rows(logs),
    }
    return settings_page(request, "web/settings/hook_edit.html", project, "hooks", context)


@require_http_methods(["GET", "POST"])
def hook_edit(request: HttpRequest, full_path: str, hook_id: int) -> HttpResponse:
    project, hook = _project_hook(request, full_path, hook_id)
    if request.method == "GET":
        return _hook_edit_page(request, project, hook, hook_form(hook, PROJECT_HOOK_EVENTS), [])
    attrs = hook_attrs(request.POST, PROJECT_HOOK_EVENTS, editing=True)
    try:
        hook_services.update_hook(actor=actor_for(request), hook=hook, attrs=attrs)
    except (NotFound, Forbidden):
        raise
    except KilnError as exc:
        hook.refresh_from_db()
        form = posted_hook_form(request.POST, PROJECT_HOOK_EVENTS)
        return _hook_edit_page(request, project, hook, form, form_errors(exc))
    messages.success(request, "Webhook was updated.")
    return redirect(f"{settings_base(project)}/-/hooks/{hook.pk}/edit")


@require_POST
def hook_delete(request: HttpRequest, full_path: str, hook_id: int) -> HttpResponse:
    project, hook = _project_hook(request, full_path, hook_id)
    hook_services.delete_hook(actor=actor_for(request), hook=hook)
    messages.success(request, "Webhook was deleted.")
    return redirect(f"{settings_base(project)}/-/hooks")


def flash_outcome(request: HttpRequest, status: int | None, message: str) -> None:
    if status is not None and 200 <= status <= 299:
        messages.success(request, f"Hook executed successfully: HTTP {status}")
    elif status is not None:
        messages.error(request, f"Hook executed successfully but returned HTTP {status} {message}")
    else:
        messages.error(request, f"Hook execution failed: {message}")


@require_POST
def hook_test(request: HttpRequest, full_path: str, hook_id: int) -> HttpResponse:
    project, hook = _project_hook(request, full_path, hook_id)
    trigger = request.POST.get("trigger", "push_events")
    back = request.POST.get("back") == "edit"
    try:
        outcome = hook_services.test_hook(actor=actor_for(request), hook=hook, trigger=trigger)
    except (NotFound, Forbidden):
        raise
    except KilnError as exc:
        messages.error(request, exc.message)
    else:
        flash_outcome(request, outcome.status, outcome.message)
    if back:
        return redirect(f"{settings_base(project)}/-/hooks/{hook.pk}/edit")
    return redirect(f"{settings_base(project)}/-/hooks")


def hook_log_context(entry: Any) -> dict[str, Any]:
    import json

    return {
        "entry": entry,
        "ok": entry.status_code is not None and 200 <= entry.status_code <= 299,
        "request_headers": entry.request_headers,
        "request_body": json.dumps(entry.request_data, indent=2, sort_keys=True),
        "response_headers": entry.response_headers,
    }


def hook_log(request: HttpRequest, full_path: str, hook_id: int, log_id: int) -> HttpResponse:
    project, hook = _project_hook(request, full_path, hook_id)
    entry = hook_queries.get_hook_event(actor_for(request), hook, log_id)
    context = {
        "hook": hook,
        "hook_base": f"{settings_base(project)}/-/hooks/{hook.pk}",
        **hook_log_context(entry),
    }
    return settings_page(request, "web/settings/hook_log.html", project, "hooks", context)


@require_POST
def hook_log_retry(request: HttpRequest, full_path: str, hook_id: int, log_id: int) -> HttpResponse:
    project, hook = _project_hook(request, full_path, hook_id)
    actor = actor_for(request)
    entry = hook_queries.get_hook_event(actor, hook, log_id)
    try:
        outcome = hook_services.resend_event(actor=actor, hook=hook, entry=entry)
    except (NotFound, Forbidden):
        raise
    except KilnError as exc:
        messages.error(request, exc.message)
    else:
        flash_outcome(request, outcome.status, outcome.message)
    return redirect(f"{settings_base(project)}/-/hooks/{hook.pk}/edit")
