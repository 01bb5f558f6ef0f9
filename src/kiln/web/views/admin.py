"""The admin area (`/admin`): counts, users, groups, projects, instance settings, system hooks.

Administrators only: everyone else (anonymous users too) gets the 404 page, as GitLab answers.
The accounts services, `kiln.core.appsettings` and the webhooks services check again.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from kiln.accounts import self_service
from kiln.accounts import services as account_services
from kiln.accounts.models import User, UserState
from kiln.accounts.queries import UserFilters, list_users_for
from kiln.core import appsettings
from kiln.core.access import Visibility
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, KilnError, NotFound, PlainForbidden
from kiln.namespaces.queries import search_groups_for
from kiln.projects.queries import ProjectFilters, list_projects_for
from kiln.web.context import actor_for
from kiln.web.views.forms import checked, form_errors, int_or_none
from kiln.web.views.settings_hooks import (
    SYSTEM_HOOK_EVENTS,
    event_fields,
    event_rows,
    hook_attrs,
    hook_form,
    hook_log_context,
    posted_hook_form,
)
from kiln.webhooks import queries as hook_queries
from kiln.webhooks import services as hook_services
from kiln.webhooks.models import WebHook

PER_PAGE = 20
View = Callable[..., HttpResponse]


def admin_only(view: View) -> View:
    """404 unless the signed-in user is an active administrator."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not actor_for(request).is_admin:
            raise Http404("admin")
        return view(request, *args, **kwargs)

    return wrapped


def _render(request: HttpRequest, template: str, nav: str, context: dict[str, Any]) -> HttpResponse:
    return render(request, template, {"nav": nav, **context})


def _query(**params: str) -> str:
    """The list's filters, to keep across pages: "&filter=...&name=..." (empty ones left out)."""
    kept = {key: value for key, value in params.items() if value}
    return "&" + urlencode(kept) if kept else ""


def _page(request: HttpRequest, items: Any) -> Any:
    return Paginator(items, PER_PAGE).get_page(request.GET.get("page"))


# --- dashboard ------------------------------------------------------------------------------


@admin_only
def dashboard(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    users = list_users_for(actor, UserFilters())
    groups = search_groups_for(actor, all_available=True, order_by="id", sort="desc")
    projects = list_projects_for(actor)
    context = {
        "counts": {
            "projects": projects.count(),
            "users": users.count(),
            "groups": groups.count(),
            "active_users": users.filter(state=UserState.ACTIVE).count(),
            "blocked_users": users.filter(state=UserState.BLOCKED).count(),
            "pending_users": users.filter(state=UserState.BLOCKED_PENDING_APPROVAL).count(),
            "admins": users.filter(is_admin=True).count(),
        },
        "latest_users": list(users[:5]),
        "latest_groups": list(groups[:5]),
        "latest_projects": list(projects.order_by("-created_at", "-id")[:5]),
    }
    return _render(request, "web/admin/dashboard.html", "overview", context)


# --- users ----------------------------------------------------------------------------------

USER_TABS = [
    ("", "All"),
    ("admins", "Administrators"),
    ("blocked", "Blocked"),
    ("blocked_pending_approval", "Pending approval"),
    ("deactivated", "Deactivated"),
    ("external", "External"),
]


@admin_only
def users(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    search = request.GET.get("search_query", "").strip()[:255]
    tab = request.GET.get("filter", "")
    filters = UserFilters(
        search=search or None,
        admins=tab == "admins",
        blocked=tab == "blocked",
        external=tab == "external",
    )
    found = list_users_for(actor, filters)
    if tab in ("blocked_pending_approval", "deactivated"):
        found = found.filter(state=tab)
    context = {
        "page": _page(request, found),
        "search": search,
        "query": _query(filter=tab, search_query=search),
        "tab": tab,
        "tabs": USER_TABS,
    }
    return _render(request, "web/admin/users.html", "users", context)


def _user_or_404(username: str) -> User:
    user = User.objects.filter(username__iexact=username).first() if len(username) < 256 else None
    if user is None:
        raise Http404(username)
    return user


@admin_only
def user_show(request: HttpRequest, username: str) -> HttpResponse:
    person = _user_or_404(username)
    return _render(request, "web/admin/user.html", "users", {"person": person})


_USER_FLAGS = ("is_admin", "external", "can_create_group", "private_profile")


def _user_form(person: User | None) -> dict[str, Any]:
    if person is None:
        return {
            "name": "",
            "username": "",
            "email": "",
            "is_admin": False,
            "external": appsettings.current().user_default_external,
            "can_create_group": appsettings.current().can_create_group,
            "private_profile": False,
            "projects_limit": appsettings.current().default_projects_limit,
        }
    return {
        "name": person.name,
        "username": person.username,
        "email": person.email,
        "is_admin": person.is_admin,
        "external": person.external,
        "can_create_group": person.can_create_group,
        "private_profile": person.private_profile,
        "projects_limit": person.projects_limit,
    }


def _posted_user(post: QueryDict) -> tuple[dict[str, Any], dict[str, Any]]:
    """(values to show again, changes for the service)."""
    form: dict[str, Any] = {
        key: post.get(key, "").strip() for key in ("name", "username", "email", "projects_limit")
    }
    for flag in _USER_FLAGS:
        form[flag] = checked(post, flag)
    changes: dict[str, Any] = {k: form[k] for k in ("name", "username", "email")}
    changes.update({flag: form[flag] for flag in _USER_FLAGS})
    limit = int_or_none(form["projects_limit"])
    changes["projects_limit"] = limit if limit is not None else form["projects_limit"]
    return form, changes


@admin_only
@require_http_methods(["GET", "POST"])
def user_new(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    form = _user_form(None)
    errors: list[str] = []
    if request.method == "POST":
        form, changes = _posted_user(request.POST)
        password = request.POST.get("password", "")
        try:
            person = account_services.create_user(
                actor=actor,
                username=changes.pop("username"),
                name=changes.pop("name"),
                email=changes.pop("email"),
                password=password or None,
                force_random_password=not password,
                skip_confirmation=True,
                **changes,
            )
        except (NotFound, Forbidden):
            raise
        except KilnError as exc:
            errors = form_errors(exc)
        else:
            messages.success(request, "User was successfully created.")
            return HttpResponseRedirect(f"/admin/users/{person.username}")
    context = {"form": form, "errors": errors, "person": None}
    return _render(request, "web/admin/user_form.html", "users", context)


@admin_only
@require_http_methods(["GET", "POST"])
def user_edit(request: HttpRequest, username: str) -> HttpResponse:
    actor = actor_for(request)
    person = _user_or_404(username)
    form = _user_form(person)
    errors: list[str] = []
    if request.method == "POST":
        form, changes = _posted_user(request.POST)
        password = request.POST.get("password", "")
        if password:
            changes["password"] = password
        if person.pk == actor.user_id and not changes.get("is_admin"):
            # GitLab keeps an administrator from removing their own access by accident.
            changes["is_admin"] = True
        try:
            person = account_services.update_user(actor=actor, user=person, changes=changes)
        except (NotFound, Forbidden):
            raise
        except KilnError as exc:
            errors = form_errors(exc)
        else:
            messages.success(request, "User was successfully updated.")
            return HttpResponseRedirect(f"/admin/users/{person.username}")
    context = {"form": form, "errors": errors, "person": person}
    return _render(request, "web/admin/user_form.html", "users", context)


_STATE_ACTIONS: dict[str, tuple[Callable[..., Any], str]] = {
    "block": (account_services.block_user, "Successfully blocked"),
    "unblock": (account_services.unblock_user, "Successfully unblocked"),
    "deactivate": (account_services.deactivate_user, "Successfully deactivated"),
    "activate": (account_services.activate_user, "Successfully activated"),
    "approve": (self_service.approve_user, "Successfully approved"),
}


@admin_only
@require_POST
def user_state(request: HttpRequest, username: str, action: str) -> HttpResponse:
    actor = actor_for(request)
    person = _user_or_404(username)
    service, done = _STATE_ACTIONS[action]
    try:
        service(actor=actor, user=person)
    except PlainForbidden as exc:
        messages.error(request, exc.message)
    except Forbidden as exc:
        messages.error(request, exc.message.removeprefix("403 Forbidden - "))
    except KilnError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return HttpResponseRedirect(f"/admin/users/{person.username}")


@admin_only
@require_POST
def user_delete(request: HttpRequest, username: str) -> HttpResponse:
    actor = actor_for(request)
    person = _user_or_404(username)
    if request.POST.get("confirm", "") != person.username:
        messages.error(request, f"Type {person.username} to confirm the deletion.")
        return HttpResponseRedirect(f"/admin/users/{person.username}")
    if person.pk == actor.user_id:
        messages.error(request, "You cannot delete your own account here.")
        return HttpResponseRedirect(f"/admin/users/{person.username}")
    try:
        account_services.delete_user(actor=actor, user=person)
    except (NotFound, Forbidden):
        raise
    except KilnError as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(f"/admin/users/{person.username}")
    messages.success(request, f"The user {person.username} was deleted.")
    return HttpResponseRedirect("/admin/users")


# --- groups and projects ----------------------------------------------------------------------


@admin_only
def groups(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    search = request.GET.get("name", "").strip()[:255]
    found = search_groups_for(
        actor, all_available=True, search=search or None, order_by="id", sort="desc"
    )
    context = {"page": _page(request, found), "search": search, "query": _query(name=search)}
    return _render(request, "web/admin/groups.html", "groups", context)


@admin_only
def projects(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    search = request.GET.get("name", "").strip()[:255]
    found = list_projects_for(actor, ProjectFilters(search=search or None, search_namespaces=True))
    context = {"page": _page(request, found), "search": search, "query": _query(name=search)}
    return _render(request, "web/admin/projects.html", "projects", context)


# --- application settings ---------------------------------------------------------------------

SETTING_SECTIONS: list[tuple[str, str, list[str]]] = [
    (
        "signup",
        "Sign-up restrictions",
        ["signup_enabled", "require_admin_approval_after_user_signup", "user_default_external"],
    ),
    (
        "signin",
        "Sign-in restrictions",
        ["max_login_attempts", "failed_login_attempts_unlock_period_in_minutes"],
    ),
    (
        "account",
        "Account and limit",
        [
            "can_create_group",
            "default_projects_limit",
            "max_attachment_size",
            "max_artifacts_size",
            "max_import_size",
            "receive_max_input_size",
            "repository_size_limit",
        ],
    ),
    (
        "visibility",
        "Visibility and access controls",
        ["default_project_visibility", "default_group_visibility", "restricted_visibility_levels"],
    ),
    ("repository", "Repository", ["default_branch_name"]),
    (
        "outbound",
        "Outbound requests",
        [
            "allow_local_requests_from_web_hooks_and_services",
            "allow_local_requests_from_system_hooks",
        ],
    ),
    ("ci", "Continuous integration", ["shared_runners_enabled", "kiln_embedded_runner_enabled"]),
    (
        "rate_limits",
        "User and IP rate limits",
        [
            "throttle_unauthenticated_api_enabled",
            "throttle_unauthenticated_api_requests_per_period",
            "throttle_unauthenticated_api_period_in_seconds",
            "throttle_unauthenticated_web_enabled",
            "throttle_unauthenticated_web_requests_per_period",
            "throttle_unauthenticated_web_period_in_seconds",
            "throttle_authenticated_api_enabled",
            "throttle_authenticated_api_requests_per_period",
            "throttle_authenticated_api_period_in_seconds",
            "throttle_authenticated_web_enabled",
            "throttle_authenticated_web_requests_per_period",
            "throttle_authenticated_web_period_in_seconds",
            "rate_limiting_response_text",
        ],
    ),
]
SETTING_LABELS = {
    "signup_enabled": "Sign-up enabled",
    "require_admin_approval_after_user_signup": "Require admin approval for new sign-ups",
    "user_default_external": "Newly registered users are external by default",
    "max_login_attempts": "Maximum sign-in attempts before the account locks",
    "failed_login_attempts_unlock_period_in_minutes": "Locked account unlock period (minutes)",
    "can_create_group": "Allow new users to create top-level groups",
    "default_projects_limit": "Default projects limit",
    "max_attachment_size": "Maximum attachment size (MiB)",
    "max_artifacts_size": "Maximum artifacts size (MiB)",
    "max_import_size": "Maximum import size (MiB, 0 for no limit)",
    "receive_max_input_size": "Maximum push size (MiB)",
    "repository_size_limit": "Size limit per repository (MiB, 0 for no limit)",
    "default_project_visibility": "Default project visibility",
    "default_group_visibility": "Default group visibility",
    "restricted_visibility_levels": "Restricted visibility levels",
    "default_branch_name": "Initial default branch name",
    "allow_local_requests_from_web_hooks_and_services": (
        "Allow requests to the local network from webhooks and integrations"
    ),
    "allow_local_requests_from_system_hooks": (
        "Allow requests to the local network from system hooks"
    ),
    "shared_runners_enabled": "Enable instance runners for new projects",
    "kiln_embedded_runner_enabled": "Run the embedded runner in `kiln serve`",
    "throttle_unauthenticated_api_enabled": "Enable unauthenticated API request rate limit",
    "throttle_unauthenticated_api_requests_per_period": (
        "Maximum unauthenticated API requests per period per IP"
    ),
    "throttle_unauthenticated_api_period_in_seconds": (
        "Unauthenticated API rate limit period in seconds"
    ),
    "throttle_unauthenticated_web_enabled": "Enable unauthenticated web request rate limit",
    "throttle_unauthenticated_web_requests_per_period": (
        "Maximum unauthenticated web requests per period per IP"
    ),
    "throttle_unauthenticated_web_period_in_seconds": (
        "Unauthenticated web rate limit period in seconds"
    ),
    "throttle_authenticated_api_enabled": "Enable authenticated API request rate limit",
    "throttle_authenticated_api_requests_per_period": (
        "Maximum authenticated API requests per period per user"
    ),
    "throttle_authenticated_api_period_in_seconds": (
        "Authenticated API rate limit period in seconds"
    ),
    "throttle_authenticated_web_enabled": "Enable authenticated web request rate limit",
    "throttle_authenticated_web_requests_per_period": (
        "Maximum authenticated web requests per period per user"
    ),
    "throttle_authenticated_web_period_in_seconds": (
        "Authenticated web rate limit period in seconds"
    ),
    "rate_limiting_response_text": "Plain-text response to send to clients that hit a rate limit",
}
_VISIBILITIES = [(int(v), v.label.capitalize()) for v in Visibility]


def _setting_fields(setting: Any, posted: dict[str, Any] | None) -> list[dict[str, Any]]:
    sections = []
    for key, title, names in SETTING_SECTIONS:
        fields = []
        for name in names:
            kind = appsettings.FIELDS[name].kind
            given = posted is not None and name in posted
            value = posted[name] if posted is not None and given else getattr(setting, name)
            field: dict[str, Any] = {
                "name": name,
                "label": SETTING_LABELS.get(name, name.replace("_", " ").capitalize()),
                "kind": kind,
                "value": "" if value is None else value,
            }
            if kind == "visibility":
                field["choices"] = [
                    {"value": v, "label": label, "selected": str(v) == str(value)}
                    for v, label in _VISIBILITIES
                ]
            elif kind == "levels":
                chosen = {str(v) for v in (value or [])}
                field["choices"] = [
                    {"value": v, "label": label, "checked": str(v) in chosen}
                    for v, label in _VISIBILITIES
                ]
            fields.append(field)
        sections.append({"key": key, "title": title, "fields": fields})
    return sections


def _parse_settings(post: QueryDict) -> dict[str, Any]:
    """The posted values, typed as the API's schema would give them (the service validates)."""
    changes: dict[str, Any] = {}
    for _, _, names in SETTING_SECTIONS:
        for name in names:
            kind = appsettings.FIELDS[name].kind
            if kind == "bool":
                changes[name] = checked(post, name)
            elif kind == "levels":
                changes[name] = post.getlist(name)
            elif name not in post:
                continue
            elif kind in ("int", "int?"):
                raw = post.get(name, "").strip()
                number = int_or_none(raw)
                changes[name] = number if number is not None else (raw or None)
            else:
                changes[name] = post.get(name, "")
    return changes


@admin_only
@require_http_methods(["GET", "POST"])
def application_settings(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    errors: list[str] = []
    posted: dict[str, Any] | None = None
    if request.method == "POST":
        posted = _parse_settings(request.POST)
        try:
            appsettings.update_application_settings(actor=actor, changes=posted)
        except (NotFound, Forbidden):
            raise
        except KilnError as exc:
            errors = form_errors(exc)
        else:
            messages.success(request, "Application settings saved successfully.")
            return HttpResponseRedirect("/admin/application_settings")
    context = {
        "sections": _setting_fields(appsettings.current(), posted),
        "errors": errors,
    }
    return _render(request, "web/admin/application_settings.html", "settings", context)


# --- system hooks -------------------------------------------------------------------------------


def _hooks_page(
    request: HttpRequest, actor: Actor, form: dict[str, Any], errors: list[str]
) -> HttpResponse:
    found = list(hook_queries.list_system_hooks(actor))
    context = {
        "hooks": [
            {
                "hook": hook,
                "events": [label for name, label in SYSTEM_HOOK_EVENTS if getattr(hook, name)],
            }
            for hook in found
        ],
        "form": form,
        "errors": errors,
        "event_fields": event_fields(form, SYSTEM_HOOK_EVENTS),
        "strategies": [],
    }
    return _render(request, "web/admin/hooks.html", "hooks", context)


def _system_hook_defaults() -> dict[str, Any]:
    form = hook_form(None, SYSTEM_HOOK_EVENTS)
    form.update(push_events=False, repository_update_events=True)
    return form


@admin_only
@require_http_methods(["GET", "POST"])
def hooks(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    if request.method == "GET":
        return _hooks_page(request, actor, _system_hook_defaults(), [])
    attrs = hook_attrs(request.POST, SYSTEM_HOOK_EVENTS, editing=False)
    attrs.pop("branch_filter_strategy", None)
    attrs.pop("push_events_branch_filter", None)
    try:
        hook_services.create_system_hook(actor=actor, attrs=attrs)
    except (NotFound, Forbidden):
        raise
    except KilnError as exc:
        form = posted_hook_form(request.POST, SYSTEM_HOOK_EVENTS)
        return _hooks_page(request, actor, form, form_errors(exc))
    messages.success(request, "System hook was successfully created.")
    return HttpResponseRedirect("/admin/hooks")


def _system_hook(request: HttpRequest, hook_id: int) -> tuple[Actor, WebHook]:
    actor = actor_for(request)
    return actor, hook_queries.get_system_hook(actor, hook_id)


def _hook_edit_page(
    request: HttpRequest, actor: Actor, hook: WebHook, form: dict[str, Any], errors: list[str]
) -> HttpResponse:
    context = {
        "hook": hook,
        "form": form,
        "errors": errors,
        "event_fields": event_fields(form, SYSTEM_HOOK_EVENTS),
        "strategies": [],
        "hook_base": f"/admin/hooks/{hook.pk}",
        "deliveries": event_rows(hook_queries.list_hook_events(actor, hook)[:20]),
    }
    return _render(request, "web/admin/hook_edit.html", "hooks", context)


@admin_only
@require_http_methods(["GET", "POST"])
def hook_edit(request: HttpRequest, hook_id: int) -> HttpResponse:
    actor, hook = _system_hook(request, hook_id)
    if request.method == "GET":
        return _hook_edit_page(request, actor, hook, hook_form(hook, SYSTEM_HOOK_EVENTS), [])
    attrs = hook_attrs(request.POST, SYSTEM_HOOK_EVENTS, editing=True)
    attrs.pop("branch_filter_strategy", None)
    attrs.pop("push_events_branch_filter", None)
    try:
        hook_services.update_hook(actor=actor, hook=hook, attrs=attrs)
    except (NotFound, Forbidden):
        raise
    except KilnError as exc:
        hook.refresh_from_db()
        form = posted_hook_form(request.POST, SYSTEM_HOOK_EVENTS)
        return _hook_edit_page(request, actor, hook, form, form_errors(exc))
    messages.success(request, "System hook was successfully updated.")
    return HttpResponseRedirect(f"/admin/hooks/{hook.pk}/edit")


@admin_only
@require_POST
def hook_delete(request: HttpRequest, hook_id: int) -> HttpResponse:
    actor, hook = _system_hook(request, hook_id)
    hook_services.delete_hook(actor=actor, hook=hook)
    messages.success(request, "System hook was successfully deleted.")
    return HttpResponseRedirect("/admin/hooks")


@admin_only
@require_POST
def hook_test(request: HttpRequest, hook_id: int) -> HttpResponse:
    actor, hook = _system_hook(request, hook_id)
    hook_services.test_system_hook(actor=actor, hook=hook)
    latest = hook_queries.list_hook_events(actor, hook).first()
    if latest is not None and latest.status_code is not None and 200 <= latest.status_code < 300:
        messages.success(request, f"Hook executed successfully: HTTP {latest.status_code}")
    elif latest is not None:
        messages.error(request, f"Hook execution failed: {latest.response_status}")
    else:
        messages.error(request, "Hook execution failed: nothing was sent")
    return HttpResponseRedirect(f"/admin/hooks/{hook.pk}/edit")


@admin_only
def hook_log(request: HttpRequest, hook_id: int, log_id: int) -> HttpResponse:
    actor, hook = _system_hook(request, hook_id)
    entry = hook_queries.get_hook_event(actor, hook, log_id)
    context = {"hook": hook, "hook_base": f"/admin/hooks/{hook.pk}", **hook_log_context(entry)}
    return _render(request, "web/admin/hook_log.html", "hooks", context)


@admin_only
@require_POST
def hook_log_retry(request: HttpRequest, hook_id: int, log_id: int) -> HttpResponse:
    actor, hook = _system_hook(request, hook_id)
    entry = hook_queries.get_hook_event(actor, hook, log_id)
    try:
        outcome = hook_services.resend_event(actor=actor, hook=hook, entry=entry)
    except (NotFound, Forbidden):
        raise
    except KilnError as exc:
        messages.error(request, exc.message)
    else:
        if outcome.ok:
            messages.success(request, f"Hook executed successfully: HTTP {outcome.status}")
        else:
            messages.error(request, f"Hook execution failed: {outcome.message}")
    return HttpResponseRedirect(f"/admin/hooks/{hook.pk}/edit")
