"""A project's settings: general (`/-/settings/general`), repository (`/-/settings/repository`:
default branch, protected branches and tags), merge requests (`/-/settings/merge_requests`) and
webhooks (`/-/hooks`). The members page (`/-/project_members`), under the same tabs, is in
`kiln.web.views.members`.

Every page needs `admin_project` (Maintainer). Each action calls the same service as the API,
which enforces the level it needs (Owner for visibility, archive, transfer and delete); what the
actor may not do answers 404. Validation messages are the services' own, shown next to the form.

The small form helpers here (`form_errors`, `checked`, ...) serve the members, groups, new
project and admin views too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from kiln.core.access import AccessLevel, Visibility
from kiln.core.actor import Actor
from kiln.core.errors import (
    Forbidden,
    KilnError,
    NotFound,
    ValidationFailed,
)
from kiln.core.policy import can
from kiln.gitstore import GitStoreError
from kiln.merge_requests import approvals
from kiln.namespaces.access import HUMAN_ACCESS
from kiln.namespaces.models import Namespace, NamespaceKind
from kiln.namespaces.queries import search_groups_for
from kiln.projects import services as project_services
from kiln.projects.models import Project
from kiln.projects.queries import topic_names
from kiln.projects.transfer import transfer_project
from kiln.repositories import branches as branch_services
from kiln.repositories import queries as repo_queries
from kiln.repositories.models import ProtectedBranch, ProtectedTag, ProtectionLevel
from kiln.web.context import actor_for, project_or_404
from kiln.webhooks import queries as hook_queries
from kiln.webhooks import services as hook_services
from kiln.webhooks.models import BranchFilterStrategy, HookKind, WebHook

# --- form helpers (shared with the groups, new project and admin views) ---------------------

_FIELD_LABELS = {
    "project_namespace.name": "Name",
    "base": "",
    "visibility_level": "Visibility level",
    "namespace": "Namespace",
    "parent_id": "Parent group",
}
VISIBILITY_HELP = {
    Visibility.PRIVATE: "Access must be granted explicitly to each user.",
    Visibility.INTERNAL: "Any signed-in user except external users can access it.",
    Visibility.PUBLIC: "Anyone can access it, without signing in.",
}


def _label(key: str) -> str:
    if key in _FIELD_LABELS:
        return _FIELD_LABELS[key]
    return key.replace("_", " ").capitalize()


def form_errors(exc: KilnError) -> list[str]:
    """A service's refusal as sentences to show above the form ("Path has already been taken")."""
    if isinstance(exc, ValidationFailed):
        found = []
        for key, messages_ in exc.errors.items():
            label = _label(key)
            for message in messages_:
                found.append(f"{label} {message}".strip())
        return found or ["The change could not be saved."]
    return [exc.message or "The change could not be saved."]


def checked(form: QueryDict, name: str) -> bool:
    """A checkbox: present (any value but "0"/"false") means on."""
    return form.get(name, "0") not in ("", "0", "false", "off")


def int_or_none(value: str | None) -> int | None:
    text = (value or "").strip()
    if not text or not text.lstrip("-").isdigit() or len(text) > 18:
        return None
    return int(text)


def visibility_choices(current: int | None = None) -> list[dict[str, Any]]:
    return [
        {
            "value": int(v),
            "label": v.label.capitalize(),
            "help": VISIBILITY_HELP[v],
            "checked": current == int(v),
        }
        for v in (Visibility.PRIVATE, Visibility.INTERNAL, Visibility.PUBLIC)
    ]


def visibility_from(form: QueryDict, name: str = "visibility_level") -> Visibility | None:
    """The posted visibility; None when absent; ValueError when not a level."""
    raw = form.get(name)
    if raw is None or raw == "":
        return None
    level = int_or_none(raw)
    if level is None or level not in Visibility._value2member_map_:
        raise ValueError(raw)
    return Visibility(level)


def level_choices(levels: Iterable[int] | None = None) -> list[tuple[int, str]]:
    chosen = list(levels) if levels is not None else list(AccessLevel.member_levels())
    return [(int(level), HUMAN_ACCESS[AccessLevel(level)]) for level in chosen]


def date_or_none(value: str | None) -> dt.date | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed({"expires_at": ["is invalid"]}) from None


def redirect(url: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(url)


def refuse_unless(allowed: bool) -> None:
    """404 for an action the actor may not take (the service would refuse it as well)."""
    if not allowed:
        raise Http404()


# --- project pages ------------------------------------------------------------------------


def _base(project: Project) -> str:
    return f"/{project.full_path}"


def _page(
    request: HttpRequest,
    template: str,
    project: Project,
    tab: str,
    context: Mapping[str, Any],
    *,
    nav: str = "settings",
) -> HttpResponse:
    actor = actor_for(request)
    full = {
        "project": project,
        "nav": nav,
        "tab": tab,
        "base": _base(project),
        "can_admin": can(actor, "admin_project", project),
        **context,
    }
    return render(request, template, full)


def _branch_names(project: Project) -> list[str]:
    if project.empty_repo:
        return []
    try:
        return [b.name for b in repo_queries.list_branches(project)]
    except (GitStoreError, KilnError, OSError):
        return []


def transfer_targets(actor: Actor, exclude: int | None = None) -> list[Namespace]:
    """Namespaces the actor may put projects into: their own, and groups where they may create
    (and, for a transfer, move) projects."""
    found: list[Namespace] = []
    if actor.user is None:
        return found
    own = Namespace.objects.filter(owner_id=actor.user.pk, kind=NamespaceKind.USER).first()
    if own is not None:
        found.append(own)
    if actor.is_admin:
        groups = search_groups_for(actor, all_available=True, order_by="path")
    else:
        groups = search_groups_for(actor, min_access_level=AccessLevel.DEVELOPER, order_by="path")
    for group in groups.order_by("full_path")[:500]:
        if can(actor, "create_projects", group):
            found.append(group)
    return [n for n in found if n.pk != exclude]


def _general_form(project: Project) -> dict[str, Any]:
    return {
        "name": project.name,
        "path": project.path,
        "description": project.description,
        "topics": ", ".join(topic_names([project.pk]).get(project.pk, [])),
        "visibility_level": project.visibility_level,
        "default_branch": project.default_branch,
    }


def _general(
    request: HttpRequest, project: Project, form: dict[str, Any], errors: list[str]
) -> HttpResponse:
    actor = actor_for(request)
    context = {
        "form": form,
        "errors": errors,
        "visibilities": visibility_choices(form.get("visibility_level")),
        "branches": _branch_names(project),
        "can_change_visibility": can(actor, "change_visibility_level", project),
        "can_rename": can(actor, "rename_project", project),
        "can_archive": can(actor, "archive_project", project),
        "can_transfer": can(actor, "change_namespace", project),
        "can_remove": can(actor, "remove_project", project),
        "targets": transfer_targets(actor, exclude=project.namespace_id)
        if can(actor, "change_namespace", project)
        else [],
    }
    return _page(request, "web/settings/general.html", project, "general", context)


@require_http_methods(["GET", "POST"])
def general(request: HttpRequest, full_path: str) -> HttpResponse:
    project = project_or_404(request, full_path, "admin_project")
    actor = actor_for(request)
    if request.method == "GET":
        return _general(request, project, _general_form(project), [])
    post = request.POST
    form = _general_form(project)
    kwargs: dict[str, Any] = {}
    errors: list[str] = []
    for key in ("name", "path", "description", "default_branch"):
        if key in post:
            value = post[key] if key == "description" else post[key].strip()
            form[key] = value
            if value != getattr(project, key):
                kwargs[key] = value
    if "topics" in post:
        form["topics"] = post["topics"]
        kwargs["topics"] = [t.strip() for t in post["topics"].split(",") if t.strip()]
    try:
        level = visibility_from(post)
    except ValueError:
        errors.append("Visibility level is not included in the list")
        level = None
    if level is not None:
        form["visibility_level"] = int(level)
        if level != project.visibility_level:
            kwargs["visibility"] = level
    new_branch = kwargs.get("default_branch")
    if new_branch and not project.empty_repo and new_branch not in _branch_names(project):
        errors.append("Default branch does not exist")
    if not errors:
        try:
            project = project_services.update_project(actor=actor, project=project, **kwargs)
        except (NotFound, Forbidden):
            raise
        except KilnError as exc:
            errors = form_errors(exc)
    if errors:
        project.refresh_from_db()
        return _general(request, project, form, errors)
    messages.success(request, f"Project '{project.name}' was successfully updated.")
    return redirect(f"{_base(project)}/-/settings/general")


@require_POST
def archive(request: HttpRequest, full_path: str) -> HttpResponse:
    project = project_or_404(request, full_path, "admin_project")
    project_services.archive_project(actor=actor_for(request), project=project)
    messages.success(request, "Project archived. The repository is now read-only.")
    return redirect(f"{_base(project)}/-/settings/general")


@require_POST
def unarchive(request: HttpRequest, full_path: str) -> HttpResponse:
    project = project_or_404(request, full_path, "admin_project")
    project_services.unarchive_project(actor=actor_for(request), project=project)
    messages.success(request, "Project unarchived.")
    return redirect(f"{_base(project)}/-/settings/general")


@require_POST
def transfer(request: HttpRequest, full_path: str) -> HttpResponse:
    project = project_or_404(request, full_path, "admin_project")
    actor = actor_for(request)
    refuse_unless(can(actor, "change_namespace", project))
    target = request.POST.get("new_namespace_id", "").strip()
    confirm = request.POST.get("confirm", "")
    errors: list[str] = []
    if not target:
        errors.append("Choose a namespace to transfer the project to.")
    elif confirm != project.full_path:
        errors.append(f"Type {project.full_path} to confirm the transfer.")
    else:
        try:
            project = transfer_project(actor=actor, project=project, namespace=target)
        except Forbidden:
            raise
        except NotFound:
            errors.append("Namespace not found.")
        except KilnError as exc:
            errors = form_errors(exc)
    if errors:
        return _general(request, project, _general_form(project), errors)
    messages.success(request, f"Project '{project.name}' was successfully transferred.")
    return redirect(f"/{project.namespace.full_path}/{project.path}/-/settings/general")


@require_POST
def delete(request: HttpRequest, full_path: str) -> HttpResponse:
    project = project_or_404(request, full_path, "admin_project")
    actor = actor_for(request)
    refuse_unless(can(actor, "remove_project", project))
    if request.POST.get("confirm", "") != project.full_path:
        errors = [f"Type {project.full_path} to confirm the deletion."]
        return _general(request, project, _general_form(project), errors)
    name = project.name
    project_services.delete_project(actor=actor, project=project)
    messages.success(request, f"Project '{name}' was deleted.")
    return redirect("/dashboard/projects")


# --- repository: default branch, protected branches and tags ---------------------------------

PROTECTION_CHOICES = [
    (int(ProtectionLevel.MAINTAINER), "Maintainers"),
    (int(ProtectionLevel.DEVELOPER), "Developers + Maintainers"),
    (int(ProtectionLevel.NO_ONE), "No one"),
]
_PROTECTION_VALUES = {value for value, _ in PROTECTION_CHOICES} | {int(ProtectionLevel.ADMIN)}
_PROTECTION_LABELS = dict(ProtectionLevel.choices)


def _protection_level(value: str | None, default: int) -> int:
    level = int_or_none(value)
    if value is None or value == "":
        return default
    if level is None or level not in _PROTECTION_VALUES:
        raise ValidationFailed({"access_level": ["is not included in the list"]})
    return level


def _repository(
    request: HttpRequest, project: Project, errors: list[str], form: Mapping[str, Any]
) -> HttpResponse:
    branches = repo_queries.list_protected_branches(project)
    tags = repo_queries.list_protected_tags(project)
    context = {
        "errors": errors,
        "form": form,
        "branch_names": _branch_names(project),
        "protected_branches": [
            {
                "rule": rule,
                "push": _PROTECTION_LABELS.get(rule.push_access_level, "?"),
                "merge": _PROTECTION_LABELS.get(rule.merge_access_level, "?"),
            }
            for rule in branches
        ],
        "protected_tags": [
            {"rule": rule, "create": _PROTECTION_LABELS.get(rule.create_access_level, "?")}
            for rule in tags
        ],
        "protection_choices": PROTECTION_CHOICES,
    }
    return _page(request, "web/settings/repository.html", project, "repository", context)


@require_http_methods(["GET", "POST"])
def repository(request: HttpRequest, full_path: str) -> HttpResponse:
    project = project_or_404(request, full_path, "admin_project")
    if request.method == "GET":
        return _repository(request, project, [], {})
    branch = request.POST.get("default_branch", "").strip()
    errors: list[str] = []
    if not branch:
        errors.append("Default branch can't be blank")
    elif not project.empty_repo and branch not in _branch_names(project):
        errors.append("Default branch does not exist")
    else:
        try:
            project_services.update_project(
                actor=actor_for(request), project=project, default_branch=branch
            )
        except (NotFound, Forbidden):
            raise
        except KilnError as exc:
            errors = form_errors(exc)
    if errors:
        project.refresh_from_db()
        return _repository(request, project, errors, {})
    messages.success(request, f"Default branch changed to '{branch}'.")
    return redirect(f"{_base(project)}/-/settings/repository")


@require_POST
def protect_branch(request: HttpRequest, full_path: str) -> HttpResponse:
    project = project_or_404(request, full_path, "admin_project")
    post = request.POST
    name = post.get("name", "").strip()
    form = {"branch_name": name}
    try:
        branch_services.create_protected_branch(
            actor=actor_for(request),
            project=project,
            name=name,
            push_access_level=_protection_level(
                post.get("push_access_level"), ProtectionLevel.MAINTAINER
            ),
            merge_access_level=_protection_level(
                post.get("merge_access_level"), ProtectionLevel.MAINTAINER
            ),
            allow_force_push=checked(post, "allow_force_push"),
        )
    except (NotFound, Forbidden):
        raise
    except branch_services.RecordInvalid as exc:
        return _repository(request, project, list(exc.messages), form)
    except KilnError as exc:
        return _repository(request, project, form_errors(exc), form)
    messages.success(request, f"Branch '{name}' is protected.")
    return redirect(f"{_base(project)}/-/settings/repository")


def _rule(model: type[ProtectedBranch] | type[ProtectedTag], project: Project, rule_id: int) -> Any:
    rule = model.objects.filter(project=project, pk=rule_id).first()
    if rule is None:
        raise Http404()
    return rule


@require_POST
def update_protected_branch(request: HttpRequest, full_path: str, rule_id: int) -> HttpResponse:
    project = project_or_404(request, full_path, "admin_project")
    rule = _rule(ProtectedBranch, project, rule_id)
    post = request.POST
    try:
        changes = {
            "push_access_level": _protection_level(
                post.get("push_access_level"), rule.push_access_level
            ),
            "merge_access_level": _protection_level(
                post.get("merge_access_level"), rule.merge_access_level
            ),
            "allow_force_push": checked(post, "allow_force_push"),
        }
        branch_services.update_protected_branch(
            actor=actor_for(request), project=project, rule=rule, changes=changes
        )
    except (NotFound, Forbidden):
        raise
    except KilnError as exc:
        return _repository(request, project, form_errors(exc), {})
    messages.success(request, f"Protection of '{rule.name}' was updated.")
    return redirect(f"{_base(project)}/-/settings/repository")


@require_POST
def unprotect_branch(request: HttpRequest, full_path: str, rule_id: int) -> HttpResponse:
    project = project_or_404(request, full_path, "admin_project")
    rule = _rule(ProtectedBranch, project, rule_id)
    branch_services.delete_protected_branch(actor=actor_for(request), project=project, rule=rule)
    messages.success(request, f"Branch '{rule.name}' is no longer protected.")
    return redirect(f"{_base(project)}/-/settings/repository")


@require_POST
def protect_tag(request: HttpRequest, full_path: str) -> HttpResponse:
    project = project_or_404(request, full_path, "admin_project")
    name = request.POST.get("name", "").strip()
    try:
        branch_services.create_protected_tag(
            actor=actor_for(request),
            project=project,
            name=name,
            create_access_level=_protection_level(
                request.POST.get("create_access_level"), ProtectionLevel.MAINTAINER
            ),
        )
    except (NotFound, Forbidden):
        raise
    except branch_services.RecordInvalid as exc:
        return _repository(request, project, list(exc.messages), {"tag_name": name})
    except KilnError as exc:
        return _repository(request, project, form_errors(exc), {"tag_name": name})
    messages.success(request, f"Tag '{name}' is protected.")
    return redirect(f"{_base(project)}/-/settings/repository")


@require_POST
def unprotect_tag(request: HttpRequest, full_path: str, rule_id: int) -> HttpResponse:
    project = project_or_404(request, full_path, "admin_project")
    rule = _rule(ProtectedTag, project, rule_id)
    branch_services.delete_protected_tag(actor=actor_for(request), project=project, rule=rule)
    messages.success(request, f"Tag '{rule.name}' is no longer protected.")
    return redirect(f"{_base(project)}/-/settings/repository")


# --- merge requests ---------------------------------------------------------------------------

MERGE_METHODS = [
    ("merge", "Merge commit", "Every merge creates a merge commit."),
    (
        "rebase_merge",
        "Merge commit with semi-linear history",
        "Every merge creates a merge commit; merging is possible only when the source branch "
        "is up to date with the target.",
    ),
    ("ff", "Fast-forward merge", "No merge commits are created; the target is fast-forwarded."),
]
SQUASH_OPTIONS = [
    ("never", "Do not allow", "Squashing is never performed and the checkbox is hidden."),
    ("default_off", "Allow", "Checkbox is visible and unselected by default."),
    ("default_on", "Encourage", "Checkbox is visible and selected by default."),
    ("always", "Require", "Squashing is always performed; the checkbox is shown but locked."),
]
_MR_FLAGS = (
    "only_allow_merge_if_all_discussions_are_resolved",
    "only_allow_merge_if_pipeline_succeeds",
    "remove_source_branch_after_merge",
)


def _mr_form(project: Project) -> dict[str, Any]:
    mr_settings = approvals.settings_for(project)
    form: dict[str, Any] = {
        "merge_method": project.merge_method,
        "squash_option": project.squash_option,
        "approvals_before_merge": mr_settings.approvals_before_merge,
        "reset_approvals_on_push": mr_settings.reset_approvals_on_push,
        "merge_requests_author_approval": mr_settings.merge_requests_author_approval,
    }
    for flag in _MR_FLAGS:
        form[flag] = getattr(project, flag)
    return form


@require_http_methods(["GET", "POST"])
def merge_requests(request: HttpRequest, full_path: str) -> HttpResponse:
    project = project_or_404(request, full_path, "admin_project")
    actor = actor_for(request)
    errors: list[str] = []
    form = _mr_form(project)
    if request.method == "POST":
        post = request.POST
        method = post.get("merge_method", project.merge_method)
        squash = post.get("squash_option", project.squash_option)
        if method not in {m for m, _, _ in MERGE_METHODS}:
            errors.append("Merge method is not included in the list")
        if squash not in {s for s, _, _ in SQUASH_OPTIONS}:
            errors.append("Squash option is not included in the list")
        required = int_or_none(post.get("approvals_before_merge", "0") or "0")
        if required is None or not 0 <= required <= approvals.MAX_APPROVALS_REQUIRED:
            errors.append(
                f"Approvals required must be a number from 0 to {approvals.MAX_APPROVALS_REQUIRED}"
            )
        settings: dict[str, Any] = {flag: checked(post, flag) for flag in _MR_FLAGS}
        settings |= {"merge_method": method, "squash_option": squash}
        form.update(settings)
        form["approvals_before_merge"] = post.get("approvals_before_merge", "")
        form["reset_approvals_on_push"] = checked(post, "reset_approvals_on_push")
        form["merge_requests_author_approval"] = checked(post, "merge_requests_author_approval")
        if not errors:
            try:
                project_services.update_project(actor=actor, project=project, settings=settings)
                approvals.update_settings(
                    actor=actor,
                    project=project,
                    changes={
                        "approvals_before_merge": required,
                        "reset_approvals_on_push": form["reset_approvals_on_push"],
                        "merge_requests_author_approval": form["merge_requests_author_approval"],
                    },
                )
            except (NotFound, Forbidden):
                raise
            except KilnError as exc:
                errors = form_errors(exc)
        if not errors:
            messages.success(request, "Merge request settings were saved.")
            return redirect(f"{_base(project)}/-/settings/merge_requests")
        project.refresh_from_db()
    context = {
        "form": form,
        "errors": errors,
        "merge_methods": MERGE_METHODS,
        "squash_options": SQUASH_OPTIONS,
    }
    return _page(request, "web/settings/merge_requests.html", project, "merge_requests", context)


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
        "hooks_base": f"{_base(project)}/-/hooks",
    }
    return _page(request, "web/settings/hooks.html", project, "hooks", context)


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
    return redirect(f"{_base(project)}/-/hooks")


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
        "hook_base": f"{_base(project)}/-/hooks/{hook.pk}",
        "hooks_base": f"{_base(project)}/-/hooks",
        "deliveries": event_rows(logs),
    }
    return _page(request, "web/settings/hook_edit.html", project, "hooks", context)


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
    return redirect(f"{_base(project)}/-/hooks/{hook.pk}/edit")


@require_POST
def hook_delete(request: HttpRequest, full_path: str, hook_id: int) -> HttpResponse:
    project, hook = _project_hook(request, full_path, hook_id)
    hook_services.delete_hook(actor=actor_for(request), hook=hook)
    messages.success(request, "Webhook was deleted.")
    return redirect(f"{_base(project)}/-/hooks")


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
        return redirect(f"{_base(project)}/-/hooks/{hook.pk}/edit")
    return redirect(f"{_base(project)}/-/hooks")


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
        "hook_base": f"{_base(project)}/-/hooks/{hook.pk}",
        **hook_log_context(entry),
    }
    return _page(request, "web/settings/hook_log.html", project, "hooks", context)


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
    return redirect(f"{_base(project)}/-/hooks/{hook.pk}/edit")


__all__ = [
    "checked",
    "date_or_none",
    "form_errors",
    "int_or_none",
    "level_choices",
    "refuse_unless",
    "transfer_targets",
    "visibility_choices",
    "visibility_from",
]
