"""Groups: the overview (`/<full_path>`), new group or subgroup (`/groups/new`), members
(`/groups/<full_path>/-/group_members`) and settings (`/groups/<full_path>/-/edit`, with
transfer and delete).

The services of `kiln.namespaces` decide: creating needs `can_create_group` (or the parent's
`create_subgroup`), settings, transfer and deletion an Owner, members an Owner to manage; the
last Owner is never removed. What the actor may not see or do answers 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from kiln.core import appsettings
from kiln.core.access import AccessLevel
from kiln.core.errors import Forbidden, KilnError, NotFound
from kiln.core.policy import can
from kiln.namespaces import groups as group_services
from kiln.namespaces import members as group_members
from kiln.namespaces.models import Namespace
from kiln.namespaces.policies import can_create_group
from kiln.namespaces.queries import find_namespace, get_group_for, search_groups_for
from kiln.projects.queries import ProjectFilters, list_group_projects_for
from kiln.web.context import actor_for, group_or_404
from kiln.web.views.forms import (
    form_errors,
    level_choices,
    refuse_unless,
    visibility_choices,
    visibility_from,
)
from kiln.web.views.members import add_member_from, member_table, update_member_from

PER_PAGE = 20


def _group_url(group: Namespace) -> str:
    return f"/groups/{group.full_path}"


# --- overview -------------------------------------------------------------------------------


def show(request: HttpRequest, full_path: str) -> HttpResponse:
    group = group_or_404(request, full_path)
    actor = actor_for(request)
    search = request.GET.get("filter", "").strip()[:255]
    subgroups = search_groups_for(actor, parent=group, search=search or None, order_by="name")
    projects = list_group_projects_for(
        actor,
        group,
        with_shared=False,
        filters=ProjectFilters(search=search or None, order_by="name", sort="asc"),
    )
    page = Paginator(projects, PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "group": group,
        "nav": "overview",
        "search": search,
        "subgroups": list(subgroups[:100]),
        "projects": page,
        "can_create_project": actor.user is not None and can(actor, "create_projects", group),
        "can_create_subgroup": actor.user is not None and can(actor, "create_subgroup", group),
        "can_admin": actor.user is not None and can(actor, "admin_group", group),
    }
    return render(request, "web/groups/show.html", context)


def redirect_to_overview(request: HttpRequest, full_path: str) -> HttpResponse:
    """`/groups/<path>`: GitLab's old group URL, now the group's own path."""
    group = group_or_404(request, full_path)
    return HttpResponseRedirect(f"/{group.full_path}")


# --- new group ------------------------------------------------------------------------------


def _new_page(
    request: HttpRequest, parent: Namespace | None, form: dict[str, Any], errors: list[str]
) -> HttpResponse:
    context = {
        "parent": parent,
        "form": form,
        "errors": errors,
        "visibilities": visibility_choices(form.get("visibility_level")),
    }
    return render(request, "web/groups/new.html", context)


@require_http_methods(["GET", "POST"])
def new(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    if actor.user is None:
        return HttpResponseRedirect(f"/users/sign_in?redirect_to={request.get_full_path()}")
    parent_ref = (request.POST.get("parent_id") or request.GET.get("parent_id") or "").strip()
    parent = None
    if parent_ref:
        if not parent_ref.isdigit():
            raise Http404("parent")
        try:
            parent = get_group_for(actor, int(parent_ref))
        except (NotFound, Forbidden) as exc:
            raise Http404("parent") from exc
        refuse_unless(can(actor, "create_subgroup", parent))
    else:
        refuse_unless(can_create_group(actor))
    default_level = appsettings.current().default_group_visibility
    if parent is not None:
        default_level = min(default_level, parent.visibility_level)
    form: dict[str, Any] = {
        "name": "",
        "path": "",
        "description": "",
        "visibility_level": default_level,
    }
    if request.method == "GET":
        return _new_page(request, parent, form, [])
    post = request.POST
    form.update(
        name=post.get("name", "").strip(),
        path=post.get("path", "").strip(),
        description=post.get("description", ""),
    )
    errors: list[str] = []
    try:
        level = visibility_from(post)
    except ValueError:
        errors.append("Visibility level is not included in the list")
        level = None
    if level is not None:
        form["visibility_level"] = int(level)
    if not errors:
        try:
            group = group_services.create_group(
                actor=actor,
                name=form["name"],
                path=form["path"],
                parent=parent,
                description=form["description"],
                visibility_level=int(level) if level is not None else default_level,
            )
        except (NotFound, Forbidden):
            raise
        except KilnError as exc:
            errors = form_errors(exc)
        else:
            messages.success(request, f"Group '{group.name}' was successfully created.")
            return HttpResponseRedirect(f"/{group.full_path}")
    return _new_page(request, parent, form, errors)


# --- members --------------------------------------------------------------------------------


def _members_page(
    request: HttpRequest, group: Namespace, errors: list[str], form: dict[str, str]
) -> HttpResponse:
    actor = actor_for(request)
    rows, effective, query = member_table(request, group_members, group)
    can_manage = can(actor, "admin_group_member", group)
    # The service refuses to demote or remove the last Owner; the page does not offer it.
    owners = sum(1 for m in effective.values() if m.access_level == AccessLevel.OWNER)
    for row in rows:
        last_owner = row["direct_level"] == AccessLevel.OWNER and owners <= 1
        row["editable"] = can_manage and row["direct"] and not last_owner
        row["leavable"] = row["direct"] and not last_owner and actor.user_id == row["user"].pk
        row["last_owner"] = last_owner
    context = {
        "group": group,
        "nav": "members",
        "rows": rows,
        "search": query,
        "can_manage": can_manage,
        "levels": level_choices(),
        "errors": errors,
        "form": form,
        "action": f"{_group_url(group)}/-/group_members",
        "kind": "group",
    }
    return render(request, "web/groups/members.html", context)


def _readable_members_group(request: HttpRequest, full_path: str) -> Namespace:
    group = group_or_404(request, full_path)
    actor = actor_for(request)
    if actor.user is None or not can(actor, "read_group_member", group):
        raise Http404(full_path)
    return group


@require_http_methods(["GET", "POST"])
def members(request: HttpRequest, full_path: str) -> HttpResponse:
    group = _readable_members_group(request, full_path)
    actor = actor_for(request)
    if request.method == "GET":
        return _members_page(request, group, [], {})
    refuse_unless(can(actor, "admin_group_member", group))
    errors, form = add_member_from(actor, group_members, group, request.POST)
    if errors:
        return _members_page(request, group, errors, form)
    messages.success(request, f"{form['username']} was added to the group.")
    return HttpResponseRedirect(f"{_group_url(group)}/-/group_members")


@require_POST
def update_member(request: HttpRequest, full_path: str, user_id: str) -> HttpResponse:
    uid = int(user_id)
    group = _readable_members_group(request, full_path)
    actor = actor_for(request)
    refuse_unless(can(actor, "admin_group_member", group))
    # The group page's role form changes the role only (an expiry it sends is not read).
    errors = update_member_from(actor, group_members, group, uid, request.POST, with_expiry=False)
    if errors:
        return _members_page(request, group, errors, {})
    messages.success(request, "The member's role was updated.")
    return HttpResponseRedirect(f"{_group_url(group)}/-/group_members")


@require_POST
def remove_member(request: HttpRequest, full_path: str, user_id: str) -> HttpResponse:
    uid = int(user_id)
    group = group_or_404(request, full_path)
    actor = actor_for(request)
    if actor.user is None:
        raise Http404(full_path)
    group_members.remove_member(actor=actor, source=group, user_id=uid)
    if actor.user_id == uid:
        messages.success(request, f"You left the '{group.name}' group.")
        return HttpResponseRedirect("/dashboard/groups")
    messages.success(request, "The member was removed from the group.")
    return HttpResponseRedirect(f"{_group_url(group)}/-/group_members")


# --- settings -------------------------------------------------------------------------------


def _edit_form(group: Namespace) -> dict[str, Any]:
    return {
        "name": group.name,
        "path": group.path,
        "description": group.description,
        "visibility_level": group.visibility_level,
    }


def _transfer_targets(request: HttpRequest, group: Namespace) -> list[Namespace]:
    actor = actor_for(request)
    if actor.is_admin:
        candidates = search_groups_for(actor, all_available=True, order_by="path")
    else:
        candidates = search_groups_for(actor, min_access_level=AccessLevel.MAINTAINER)
    prefix = group.traversal_ids + "/"
    return [
        g
        for g in candidates.order_by("full_path")[:500]
        if g.pk not in (group.pk, group.parent_id)
        and not g.traversal_ids.startswith(prefix)
        and can(actor, "create_subgroup", g)
    ]


def _edit_page(
    request: HttpRequest, group: Namespace, form: dict[str, Any], errors: list[str]
) -> HttpResponse:
    actor = actor_for(request)
    context = {
        "group": group,
        "nav": "settings",
        "form": form,
        "errors": errors,
        "visibilities": visibility_choices(form.get("visibility_level")),
        "can_change_visibility": can(actor, "change_visibility_level", group),
        "can_remove": can(actor, "remove_group", group),
        "can_transfer": can(actor, "admin_group", group),
        "targets": _transfer_targets(request, group),
        "can_be_top_level": group.parent_id is not None and can_create_group(actor),
    }
    return render(request, "web/groups/edit.html", context)


@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, full_path: str) -> HttpResponse:
    group = group_or_404(request, full_path, "admin_group")
    actor = actor_for(request)
    form = _edit_form(group)
    if request.method == "GET":
        return _edit_page(request, group, form, [])
    post = request.POST
    changes: dict[str, Any] = {}
    errors: list[str] = []
    for key in ("name", "path", "description"):
        if key in post:
            value = post[key] if key == "description" else post[key].strip()
            form[key] = value
            if value != getattr(group, key):
                changes[key] = value
    try:
        level = visibility_from(post)
    except ValueError:
        errors.append("Visibility level is not included in the list")
        level = None
    if level is not None:
        form["visibility_level"] = int(level)
        if level != group.visibility_level:
            changes["visibility_level"] = int(level)
    if not errors and changes:
        try:
            group = group_services.update_group(actor=actor, group=group, **changes)
        except (NotFound, Forbidden):
            raise
        except KilnError as exc:
            errors = form_errors(exc)
    if errors:
        group.refresh_from_db()
        return _edit_page(request, group, form, errors)
    messages.success(request, f"Group '{group.name}' was successfully updated.")
    return HttpResponseRedirect(f"{_group_url(group)}/-/edit")


@require_POST
def transfer(request: HttpRequest, full_path: str) -> HttpResponse:
    group = group_or_404(request, full_path, "admin_group")
    actor = actor_for(request)
    target = request.POST.get("new_parent_group_id", "").strip()
    errors: list[str] = []
    new_parent: Namespace | None = None
    if request.POST.get("confirm", "") != group.full_path:
        errors.append(f"Type {group.full_path} to confirm the transfer.")
    elif target and target != "top":
        found = find_namespace(target) if target.isdigit() else None
        if found is None or not found.is_group or not can(actor, "read_group", found):
            errors.append("Parent group not found.")
        else:
            new_parent = found
    elif not target:
        errors.append("Choose where to move the group.")
    if not errors:
        try:
            group = group_services.transfer_group(actor=actor, group=group, new_parent=new_parent)
        except (NotFound, Forbidden):
            raise
        except KilnError as exc:
            errors = form_errors(exc)
    if errors:
        return _edit_page(request, group, _edit_form(group), errors)
    messages.success(request, f"Group '{group.name}' was successfully transferred.")
    return HttpResponseRedirect(f"{_group_url(group)}/-/edit")


@require_POST
def delete(request: HttpRequest, full_path: str) -> HttpResponse:
    group = group_or_404(request, full_path, "admin_group")
    actor = actor_for(request)
    refuse_unless(can(actor, "remove_group", group))
    if request.POST.get("confirm", "") != group.full_path:
        errors = [f"Type {group.full_path} to confirm the deletion."]
        return _edit_page(request, group, _edit_form(group), errors)
    name, parent = group.name, group.parent
    group_services.delete_group(actor=actor, group=group)
    messages.success(request, f"Group '{name}' was deleted.")
    target = f"/{parent.full_path}" if parent is not None else "/dashboard/groups"
    return HttpResponseRedirect(target)
