"""A project's members page (`/<full_path>/-/project_members`), and what it has in common
with a group's (`/groups/<full_path>/-/group_members`, in `groups`): the table of effective
members, the invite form and the role form, over the member services that take the project or
the group as `source` (`kiln.projects.members`, `kiln.namespaces.members`).

Each page adds what differs: who may manage, which rows may be changed or left, and where to go
afterwards. Anyone who may see a project's members may read its page; the services decide the
rest, and what the actor may not do answers 404.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.views.decorators.http import require_http_methods, require_POST

from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, KilnError, NotFound, Unauthorized, ValidationFailed
from kiln.core.policy import can
from kiln.namespaces.access import HUMAN_ACCESS
from kiln.namespaces.members import UNSET, EffectiveMember, MemberService, attach_users
from kiln.projects import members as project_members
from kiln.projects.models import Project
from kiln.web.context import actor_for, project_or_404
from kiln.web.views.forms import (
    date_or_none,
    form_errors,
    int_or_none,
    level_choices,
    refuse_unless,
)
from kiln.web.views.settings import settings_base, settings_page

# The table shows this many members; the search narrows it.
SHOWN = 200


# --- what the group and project members pages share -----------------------------------------


def member_rows(members: Iterable[Any], direct: Mapping[int, Any]) -> list[dict[str, Any]]:
    rows = []
    for member in members:
        rows.append(
            {
                "user": member.user,
                "access_level": member.access_level,
                "role": HUMAN_ACCESS.get(AccessLevel(member.access_level), "Custom"),
                "expires_at": member.expires_at,
                "direct": member.user_id in direct,
                "direct_level": direct[member.user_id].access_level
                if member.user_id in direct
                else None,
            }
        )
    return rows


def member_table(
    request: HttpRequest, service: MemberService, source: Any
) -> tuple[list[dict[str, Any]], dict[int, EffectiveMember], str]:
    """The rows of the effective members matching `?search=` (the first `SHOWN`), every
    effective membership, and the search as typed."""
    actor = actor_for(request)
    query = request.GET.get("search", "").strip()[:255]
    try:
        users, effective = service.list_all_members_for(
            actor=actor, source=source, query=query or None
        )
    except Unauthorized:
        raise Http404() from None
    page = attach_users(list(users[:SHOWN]), effective)
    direct = {m.user_id: m for m in service.list_members_for(actor=actor, source=source)}
    return member_rows(page, direct), effective, query


def add_member_from(
    actor: Actor, service: MemberService, source: Any, post: QueryDict
) -> tuple[list[str], dict[str, str]]:
    """Add the member the invite form names: (errors to show, the form to show them with);
    no errors when the member was added. The caller checked that the actor may manage."""
    username = post.get("username", "").strip().removeprefix("@")
    form = {"username": username, "access_level": post.get("access_level", "")}
    level = int_or_none(post.get("access_level"))
    try:
        if not username:
            raise ValidationFailed({"username": ["can't be blank"]})
        if level is None:
            raise ValidationFailed({"access_level": ["is not included in the list"]})
        service.add_member(
            actor=actor,
            source=source,
            user_ref=username,
            by_username=True,
            access_level=level,
            expires_at=date_or_none(post.get("expires_at")),
        )
    except Forbidden:
        raise
    except NotFound:
        return [f"User {username} not found."], form
    except KilnError as exc:
        return form_errors(exc), form
    return [], form


def update_member_from(
    actor: Actor,
    service: MemberService,
    source: Any,
    user_id: int,
    post: QueryDict,
    *,
    with_expiry: bool,
) -> list[str]:
    """Change a member's role as the role form says (and the expiry, when `with_expiry` and
    the form has one): the errors to show, none when changed. The caller checked that the
    actor may manage."""
    level = int_or_none(post.get("access_level"))
    try:
        if level is None:
            raise ValidationFailed({"access_level": ["is not included in the list"]})
        expires = UNSET
        if with_expiry and "expires_at" in post:
            expires = date_or_none(post.get("expires_at"))
        service.update_member(
            actor=actor, source=source, user_id=user_id, access_level=level, expires_at=expires
        )
    except (Forbidden, NotFound):
        raise
    except KilnError as exc:
        return form_errors(exc)
    return []


# --- a project's members --------------------------------------------------------------------


def _project_members_page(
    request: HttpRequest, project: Project, errors: list[str], form: Mapping[str, str]
) -> HttpResponse:
    actor = actor_for(request)
    rows, _, query = member_table(request, project_members, project)
    can_manage = can(actor, "admin_project_member", project)
    manage_owners = actor.is_admin or (can_manage and can(actor, "manage_owners", project))
    levels = [
        level
        for level in AccessLevel.member_levels()
        if level != AccessLevel.OWNER or manage_owners
    ]
    for row in rows:
        personal_owner = (
            not project.namespace.is_group and project.namespace.owner_id == row["user"].pk
        )
        row["editable"] = (
            can_manage
            and row["direct"]
            and not personal_owner
            and (row["direct_level"] != AccessLevel.OWNER or manage_owners)
        )
        row["leavable"] = row["direct"] and not personal_owner and actor.user_id == row["user"].pk
    context = {
        "rows": rows,
        "search": query,
        "can_manage": can_manage,
        "levels": level_choices(levels),
        "errors": errors,
        "form": form,
        "action": f"{settings_base(project)}/-/project_members",
        "kind": "project",
    }
    return settings_page(request, "web/settings/project_members.html", project, "members", context)


@require_http_methods(["GET", "POST"])
def project_members_page(request: HttpRequest, full_path: str) -> HttpResponse:
    project = project_or_404(request, full_path)
    actor = actor_for(request)
    if actor.user is None or not can(actor, "read_project_member", project):
        raise Http404(full_path)
    if request.method == "GET":
        return _project_members_page(request, project, [], {})
    refuse_unless(can(actor, "admin_project_member", project))
    errors, form = add_member_from(actor, project_members, project, request.POST)
    if errors:
        return _project_members_page(request, project, errors, form)
    messages.success(request, f"{form['username']} was added to the project.")
    return HttpResponseRedirect(f"{settings_base(project)}/-/project_members")


@require_POST
def update_project_member(request: HttpRequest, full_path: str, user_id: int) -> HttpResponse:
    project = project_or_404(request, full_path)
    actor = actor_for(request)
    refuse_unless(can(actor, "admin_project_member", project))
    errors = update_member_from(
        actor, project_members, project, user_id, request.POST, with_expiry=True
    )
    if errors:
        return _project_members_page(request, project, errors, {})
    messages.success(request, "The member's role was updated.")
    return HttpResponseRedirect(f"{settings_base(project)}/-/project_members")


@require_POST
def remove_project_member(request: HttpRequest, full_path: str, user_id: int) -> HttpResponse:
    project = project_or_404(request, full_path)
    actor = actor_for(request)
    if actor.user is None:
        raise Http404(full_path)
    project_members.remove_member(actor=actor, source=project, user_id=user_id)
    if actor.user_id == user_id:
        messages.success(request, f"You left the '{project.name}' project.")
        return HttpResponseRedirect("/dashboard/projects")
    messages.success(request, "The member was removed from the project.")
    return HttpResponseRedirect(f"{settings_base(project)}/-/project_members")
