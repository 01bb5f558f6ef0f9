"""Project memberships: list (direct and effective), add, change, remove.

The same functions, with the same names, as `kiln.namespaces.members` (whose rules on levels,
expiry and inherited memberships apply here too), so that the API serves group and project
members with one set of endpoints. Project specifics, as GitLab: members are managed with
`admin_project_member` (Maintainer); only Owners (and admins) may grant, change or remove the
Owner level; the owner of a personal namespace stays Owner of its projects. Effective members
are the direct ones, the members of the project's group and its ancestors, the namespace owner
of a personal project, and the members of groups the project is shared with, capped at the
share's level.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from django.db.models import QuerySet

from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, Unauthorized
from kiln.core.policy import can
from kiln.namespaces import hooks
from kiln.namespaces.access import active_membership_q
from kiln.namespaces.members import (
    UNSET,
    EffectiveMember,
    add_or_update_members,
    change_member,
    create_member,
    direct_member,
    effective_member,
    filter_direct_members,
    highest_group_membership,
    merge_effective,
    users_of,
)
from kiln.namespaces.models import GroupMember
from kiln.projects.access import project_access_level
from kiln.projects.models import Project, ProjectGroupLink, ProjectMember
from kiln.projects.queries import get_project_for


def find_source_for(actor: Actor, ref: str) -> Project:
    """The project named by `ref` if the actor may see it (404 otherwise)."""
    return get_project_for(actor, ref)


def _authorize_read(actor: Actor, project: Project) -> None:
    if actor.user is None:
        raise Unauthorized()
    if not can(actor, "read_project", project):
        raise Forbidden()


def _can_manage_owners(actor: Actor, project: Project) -> bool:
    return actor.is_admin or project_access_level(actor, project) >= AccessLevel.OWNER


def _is_personal_owner(project: Project, user_id: int) -> bool:
    namespace = project.namespace
    return not namespace.is_group and namespace.owner_id == user_id


def _members(project: Project) -> QuerySet[ProjectMember]:
    return ProjectMember.objects.filter(project=project).select_related("user", "created_by")


def _inherited(project: Project, user_id: int) -> GroupMember | None:
    namespace = project.namespace
    if not namespace.is_group:
        return None
    return highest_group_membership(user_id, namespace.ancestor_ids)


def list_members_for(
    *,
    actor: Actor,
    source: Project,
    query: str | None = None,
    user_ids: Sequence[int] = (),
    skip_users: Sequence[int] = (),
) -> QuerySet[ProjectMember]:
    """Direct members of the project."""
    _authorize_read(actor, source)
    return filter_direct_members(
        _members(source), query=query, user_ids=user_ids, skip_users=skip_users
    )


def effective_members(project: Project) -> dict[int, EffectiveMember]:
    """Each user with access to the project through any membership, at their highest level.

    Four queries whatever the number of members: direct, the group's hierarchy, the shares,
    the shared groups' hierarchies.
    """
    found: dict[int, EffectiveMember] = {}
    for member in ProjectMember.objects.filter(active_membership_q(), project=project):
        merge_effective(found, member)
    namespace = project.namespace
    if namespace.is_group:
        rows = GroupMember.objects.filter(
            active_membership_q(), group_id__in=namespace.ancestor_ids
        ).select_related("group")
        for row in sorted(rows, key=lambda r: -r.group.traversal_ids.count("/")):
            merge_effective(found, row)
    elif namespace.owner_id is not None:
        owner = SimpleNamespace(
            user_id=namespace.owner_id,
            access_level=AccessLevel.OWNER,
            expires_at=None,
            created_at=project.created_at,
            created_by_id=None,
        )
        merge_effective(found, owner)
    links = list(
        ProjectGroupLink.objects.filter(active_membership_q(), project=project).select_related(
            "group"
        )
    )
    if links:
        group_ids = {i for link in links for i in link.group.ancestor_ids}
        shared = list(GroupMember.objects.filter(active_membership_q(), group_id__in=group_ids))
        for link in links:
            ancestors = set(link.group.ancestor_ids)
            for row in shared:
                if row.group_id in ancestors:
                    merge_effective(found, row, level=min(row.access_level, link.group_access))
    return found


def list_all_members_for(
    *, actor: Actor, source: Project, query: str | None = None, user_ids: Sequence[int] = ()
) -> tuple[Any, dict[int, EffectiveMember]]:
    """Effective members: (users to paginate, memberships)."""
    _authorize_read(actor, source)
    members = effective_members(source)
    return users_of(members, query, user_ids), members


def get_member_for(*, actor: Actor, source: Project, user_id: int) -> ProjectMember:
    _authorize_read(actor, source)
    return direct_member(_members(source), user_id)


def get_effective_member_for(*, actor: Actor, source: Project, user_id: int) -> EffectiveMember:
    _authorize_read(actor, source)
    return effective_member(effective_members(source), user_id)


def _check_grant(actor: Actor, project: Project, access_level: int) -> None:
    if not can(actor, "admin_project_member", project):
        raise Forbidden()
    if access_level == AccessLevel.OWNER and not _can_manage_owners(actor, project):
        raise Forbidden()


def add_member(
    *,
    actor: Actor,
    source: Project,
    user_ref: str | int,
    by_username: bool = False,
    access_level: int,
    expires_at: dt.date | None = None,
) -> ProjectMember:
    """Add one user to the project. Needs `admin_project_member` (Maintainer); the Owner level
    needs an Owner. Unknown user 404 and existing member 409 come first, as GitLab's API."""
    member = create_member(
        source.members,
        actor=actor,
        user_ref=user_ref,
        by_username=by_username,
        access_level=access_level,
        expires_at=expires_at,
        authorize=lambda: _check_grant(actor, source, access_level),
        inherited=lambda user_id: _inherited(source, user_id),
    )
    return _members(source).get(pk=member.pk)


def add_members(
    *,
    actor: Actor,
    source: Project,
    user_refs: Sequence[str],
    by_username: bool = False,
    access_level: int,
    expires_at: dt.date | None = None,
) -> dict[str, Any]:
    """Bulk add (see `kiln.namespaces.members.add_or_update_members`); an Owner's membership
    changes only by an Owner, the owner of a personal namespace's never."""
    _check_grant(actor, source, access_level)
    manage_owners = _can_manage_owners(actor, source)

    def locked(existing: ProjectMember) -> str | None:
        if _is_personal_owner(source, existing.user_id) or (
            existing.access_level == AccessLevel.OWNER and not manage_owners
        ):
            return "cannot change this member"
        return None

    return add_or_update_members(
        source.members,
        actor=actor,
        user_refs=user_refs,
        by_username=by_username,
        access_level=access_level,
        expires_at=expires_at,
        inherited=lambda user_id: _inherited(source, user_id),
        locked=locked,
    )


def update_member(
    *,
    actor: Actor,
    source: Project,
    user_id: int,
    access_level: int,
    expires_at: dt.date | Any | None = UNSET,
) -> ProjectMember:
    """Change a member's level or expiry (Maintainer; Owners' memberships need an Owner)."""
    member = direct_member(_members(source), user_id)
    _check_grant(actor, source, access_level)
    if (
        member.access_level == AccessLevel.OWNER and not _can_manage_owners(actor, source)
    ) or _is_personal_owner(source, user_id):
        raise Forbidden()
    change_member(
        member,
        access_level=access_level,
        expires_at=expires_at,
        inherited=_inherited(source, user_id),
    )
    return member


def remove_member(
    *, actor: Actor, source: Project, user_id: int, skip_subresources: bool = False
) -> None:
    """Remove a member (a user may leave by themselves). An Owner's membership needs an Owner;
    the owner of a personal namespace cannot be removed from its projects."""
    member = direct_member(_members(source), user_id)
    leaving = actor.user is not None and actor.user.pk == user_id
    if _is_personal_owner(source, user_id):
        raise Forbidden()
    if not leaving:
        if not can(actor, "admin_project_member", source):
            raise Forbidden()
        if member.access_level == AccessLevel.OWNER and not _can_manage_owners(actor, source):
            raise Forbidden()
    member.delete()


def _remove_project_memberships(namespace_ids: list[int], user_id: int) -> None:
    # A group member removed with its subresources leaves the projects below too.
    ProjectMember.objects.filter(project__namespace_id__in=namespace_ids, user_id=user_id).delete()


hooks.register_member_removal(_remove_project_memberships)
