"""A project's settings: general (`/-/settings/general`: name, description, visibility,
default branch, archive, transfer, delete) here, and the page helpers every settings page
shares. The other pages: repository (`/-/settings/repository`: default branch, protected
branches and tags) in `settings_repository`, merge requests (`/-/settings/merge_requests`)
in `settings_merge_requests`, webhooks (`/-/hooks`) in `settings_hooks`. The members page
(`/-/project_members`), under the same tabs, is in `kiln.web.views.members`.

Every page needs `admin_project` (Maintainer). Each action calls the same service as the API,
which enforces the level it needs (Owner for visibility, archive, transfer and delete); what the
actor may not do answers 404. Validation messages are the services' own, shown next to the form
(`kiln.web.views.forms`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.core.errors import (
    Forbidden,
    KilnError,
    NotFound,
)
from kiln.core.policy import can
from kiln.gitstore import GitStoreError
from kiln.namespaces.models import Namespace, NamespaceKind
from kiln.namespaces.queries import search_groups_for
from kiln.projects import services as project_services
from kiln.projects.models import Project
from kiln.projects.queries import topic_names
from kiln.projects.transfer import transfer_project
from kiln.repositories import queries as repo_queries
from kiln.web.context import actor_for, project_or_404
from kiln.web.views.forms import (
    form_errors,
    redirect,
    refuse_unless,
    visibility_choices,
    visibility_from,
)

# --- project pages ------------------------------------------------------------------------


def settings_base(project: Project) -> str:
    return f"/{project.full_path}"


def settings_page(
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
        "base": settings_base(project),
        "can_admin": can(actor, "admin_project", project),
        **context,
    }
    return render(request, template, full)


def branch_names(project: Project) -> list[str]:
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
        "branches": branch_names(project),
        "can_change_visibility": can(actor, "change_visibility_level", project),
        "can_rename": can(actor, "rename_project", project),
        "can_archive": can(actor, "archive_project", project),
        "can_transfer": can(actor, "change_namespace", project),
        "can_remove": can(actor, "remove_project", project),
        "targets": transfer_targets(actor, exclude=project.namespace_id)
        if can(actor, "change_namespace", project)
        else [],
    }
    return settings_page(request, "web/settings/general.html", project, "general", context)


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
    if new_branch and not project.empty_repo and new_branch not in branch_names(project):
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
    return redirect(f"{settings_base(project)}/-/settings/general")


@require_POST
def archive(request: HttpRequest, full_path: str) -> HttpResponse:
    project = project_or_404(request, full_path, "admin_project")
    project_services.archive_project(actor=actor_for(request), project=project)
    messages.success(request, "Project archived. The repository is now read-only.")
    return redirect(f"{settings_base(project)}/-/settings/general")


@require_POST
def unarchive(request: HttpRequest, full_path: str) -> HttpResponse:
    project = project_or_404(request, full_path, "admin_project")
    project_services.unarchive_project(actor=actor_for(request), project=project)
    messages.success(request, "Project unarchived.")
    return redirect(f"{settings_base(project)}/-/settings/general")


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
