"""A project's repository settings (`/-/settings/repository`): the default branch, and the
protected branches and tags it posts to (`/-/protected_branches`, `/-/protected_tags`).
Maintainers only (404 otherwise); the rules are `kiln.repositories.branches`' services'."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods, require_POST

from kiln.core.errors import (
    Forbidden,
    KilnError,
    NotFound,
    ValidationFailed,
)
from kiln.projects import services as project_services
from kiln.projects.models import Project
from kiln.repositories import branches as branch_services
from kiln.repositories import queries as repo_queries
from kiln.repositories.models import ProtectedBranch, ProtectedTag, ProtectionLevel
from kiln.web.context import actor_for, project_or_404
from kiln.web.views.forms import checked, form_errors, int_or_none, redirect
from kiln.web.views.settings import branch_names, settings_base, settings_page

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
        "branch_names": branch_names(project),
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
    return settings_page(request, "web/settings/repository.html", project, "repository", context)


@require_http_methods(["GET", "POST"])
def repository(request: HttpRequest, full_path: str) -> HttpResponse:
    project = project_or_404(request, full_path, "admin_project")
    if request.method == "GET":
        return _repository(request, project, [], {})
    branch = request.POST.get("default_branch", "").strip()
    errors: list[str] = []
    if not branch:
        errors.append("Default branch can't be blank")
    elif not project.empty_repo and branch not in branch_names(project):
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
    return redirect(f"{settings_base(project)}/-/settings/repository")


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
    return redirect(f"{settings_base(project)}/-/settings/repository")


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
    return redirect(f"{settings_base(project)}/-/settings/repository")


@require_POST
def unprotect_branch(request: HttpRequest, full_path: str, rule_id: int) -> HttpResponse:
    project = project_or_404(request, full_path, "admin_project")
    rule = _rule(ProtectedBranch, project, rule_id)
    branch_services.delete_protected_branch(actor=actor_for(request), project=project, rule=rule)
    messages.success(request, f"Branch '{rule.name}' is no longer protected.")
    return redirect(f"{settings_base(project)}/-/settings/repository")


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
    return redirect(f"{settings_base(project)}/-/settings/repository")


@require_POST
def unprotect_tag(request: HttpRequest, full_path: str, rule_id: int) -> HttpResponse:
    project = project_or_404(request, full_path, "admin_project")
    rule = _rule(ProtectedTag, project, rule_id)
    branch_services.delete_protected_tag(actor=actor_for(request), project=project, rule=rule)
    messages.success(request, f"Tag '{rule.name}' is no longer protected.")
    return redirect(f"{settings_base(project)}/-/settings/repository")
