"""Group shapes (GitLab's Entities::Group and GroupDetail) and the `/namespaces` entries.

Presenters take a whole page: what they need beyond the rows (access levels, member and project
counts) is fetched in a fixed number of queries per page.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q
from django.http import HttpRequest

from kiln.api.v4.presenters.common import iso
from kiln.api.v4.presenters.namespaces import namespace_basic
from kiln.api.v4.presenters.projects import project_entities
from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.core.policy import can
from kiln.core.urls import base_url
from kiln.namespaces import hooks
from kiln.namespaces.access import active_membership_q, group_access_levels
from kiln.namespaces.models import GroupMember, Namespace
from kiln.projects.queries import list_projects_for

# GitLab's DEFAULT_PROJECTS_LIMIT for the projects inlined in a group's details.
PROJECTS_LIMIT = 100
# The organization every group belongs to (GitLab's default organization).
DEFAULT_ORGANIZATION_ID = 1

_MAINTAINER = [{"access_level": AccessLevel.MAINTAINER}]
_DEVELOPER = [{"access_level": AccessLevel.DEVELOPER}]
# GitLab's default_branch_protection levels as the newer `..._defaults` object.
_PROTECTION_DEFAULTS: dict[int, dict[str, Any]] = {
    0: {"allowed_to_push": _DEVELOPER, "allow_force_push": True, "allowed_to_merge": _DEVELOPER},
    1: {"allowed_to_push": _DEVELOPER, "allow_force_push": False, "allowed_to_merge": _MAINTAINER},
    2: {
        "allowed_to_push": _MAINTAINER,
        "allow_force_push": False,
        "allowed_to_merge": _MAINTAINER,
    },
    3: {"allowed_to_push": _MAINTAINER, "allow_force_push": False, "allowed_to_merge": _DEVELOPER},
    4: {
        "allowed_to_push": _MAINTAINER,
        "allow_force_push": False,
        "allowed_to_merge": _MAINTAINER,
        "developer_can_initial_push": True,
    },
}


def group_web_url(group: Namespace, request: HttpRequest | None) -> str:
    return f"{base_url(request)}/groups/{group.full_path}"


def group_entity(group: Namespace, request: HttpRequest | None) -> dict[str, Any]:
    """GitLab's Entities::Group, field for field (CE)."""
    return {
        "id": group.pk,
        "web_url": group_web_url(group, request),
        "name": group.name,
        "path": group.path,
        "description": group.description,
        "visibility": group.visibility.label,
        "share_with_group_lock": group.share_with_group_lock,
        "require_two_factor_authentication": group.require_two_factor_authentication,
        "two_factor_grace_period": group.two_factor_grace_period,
        "project_creation_level": group.project_creation_level,
        "auto_devops_enabled": group.auto_devops_enabled,
        "subgroup_creation_level": group.subgroup_creation_level,
        "emails_disabled": not group.emails_enabled,
        "emails_enabled": group.emails_enabled,
        "show_diff_preview_in_email": True,
        "mentions_disabled": group.mentions_disabled,
        "lfs_enabled": group.lfs_enabled,
        "archived": False,
        "math_rendering_limits_enabled": True,
        "lock_math_rendering_limits_enabled": False,
        "default_branch": group.default_branch or None,
        "default_branch_protection": group.default_branch_protection,
        "default_branch_protection_defaults": _PROTECTION_DEFAULTS.get(
            group.default_branch_protection, _PROTECTION_DEFAULTS[2]
        ),
        "avatar_url": None,
        "request_access_enabled": group.request_access_enabled,
        "full_name": group.full_name,
        "full_path": group.full_path,
        "created_at": iso(group.created_at),
        "parent_id": group.parent_id,
        "organization_id": DEFAULT_ORGANIZATION_ID,
        "shared_runners_setting": group.shared_runners_setting,
        "max_artifacts_size": group.max_artifacts_size,
        "marked_for_deletion_on": None,
    }


def group_entities(
    groups: Iterable[Namespace], request: HttpRequest | None
) -> list[dict[str, Any]]:
    return [group_entity(group, request) for group in groups]


def group_detail(
    group: Namespace, request: HttpRequest, actor: Actor, *, with_projects: bool = True
) -> dict[str, Any]:
    """GitLab's Entities::GroupDetail: the group, its shares and (by default) its projects."""
    data = group_entity(group, request)
    data["shared_with_groups"] = []
    if can(actor, "admin_group", group):
        # Runner registration tokens are disabled in Kiln (as by default since GitLab 17).
        data["runners_token"] = None
    if group.parent_id is None:
        data["prevent_sharing_groups_outside_hierarchy"] = False
    if with_projects:
        visible = list_projects_for(actor)
        own = list(visible.filter(namespace=group).order_by("-id")[:PROJECTS_LIMIT])
        shared = list(
            visible.filter(group_links__group=group).distinct().order_by("-id")[:PROJECTS_LIMIT]
        )
        data["projects"] = project_entities(own, request, actor)
        data["shared_projects"] = project_entities(shared, request, actor)
    return data


def namespace_entities(
    namespaces: Iterable[Namespace], request: HttpRequest | None, actor: Actor
) -> list[dict[str, Any]]:
    """GitLab's Entities::Namespace (CE): the basic fields, and for groups the actor owns,
    `members_count_with_descendants`, `root_repository_size` and `projects_count`."""
    namespaces = list(namespaces)
    groups = [n for n in namespaces if n.is_group]
    if actor.is_admin:
        owned = {g.pk for g in groups}
    else:
        levels = group_access_levels(actor, groups)
        owned = {pk for pk, level in levels.items() if level >= AccessLevel.OWNER}
    members: dict[int, set[int]] = {pk: set() for pk in owned}
    projects: dict[int, int] = dict.fromkeys(owned, 0)
    if owned:
        roots = [g for g in groups if g.pk in owned]
        subtree = Q(pk__in=[g.pk for g in roots])
        for g in roots:
            subtree |= Q(traversal_ids__startswith=g.traversal_ids + "/")
        below = dict(Namespace.objects.filter(subtree).values_list("pk", "traversal_ids"))

        def owners_of(traversal: str) -> list[int]:
            ids = {int(p) for p in traversal.split("/") if p}
            return [g.pk for g in roots if g.pk in ids]

        rows = GroupMember.objects.filter(
            active_membership_q(), group_id__in=list(below)
        ).values_list("group_id", "user_id")
        for group_id, user_id in rows:
            for root in owners_of(below[group_id]):
                members[root].add(user_id)
        for namespace_id, count in hooks.count_contents(list(below)).items():
            for root in owners_of(below.get(namespace_id, "")):
                projects[root] += count
    result = []
    for namespace in namespaces:
        data = namespace_basic(namespace, request)
        if namespace.pk in owned:
            data["members_count_with_descendants"] = len(members[namespace.pk])
            data["root_repository_size"] = None
            data["projects_count"] = projects[namespace.pk]
        result.append(data)
    return result
