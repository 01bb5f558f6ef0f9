"""Who may do what to a group (GitLab's group permissions table, the subset Kiln has)."""

from __future__ import annotations

from kiln.core import policy
from kiln.core.access import AccessLevel, Visibility
from kiln.core.actor import Actor
from kiln.namespaces.access import group_access_level
from kiln.namespaces.models import Namespace

# action -> minimum access level in the group
_LEVELS: dict[str, int] = {
    "read_group_member": AccessLevel.GUEST,
    "create_projects": AccessLevel.DEVELOPER,
    "create_subgroup": AccessLevel.MAINTAINER,
    "admin_group": AccessLevel.OWNER,
    "admin_group_member": AccessLevel.OWNER,
    "change_visibility_level": AccessLevel.OWNER,
    "remove_group": AccessLevel.OWNER,
    "transfer_group": AccessLevel.OWNER,
}

_CREATION_LEVELS = {
    "noone": None,
    "owner": AccessLevel.OWNER,
    "maintainer": AccessLevel.MAINTAINER,
    "developer": AccessLevel.DEVELOPER,
}


def visibility_allows(actor: Actor, visibility: int) -> bool:
    """Whether the visibility alone lets the actor see the thing, membership aside."""
    if visibility >= Visibility.PUBLIC:
        return True
    if visibility >= Visibility.INTERNAL:
        return actor.user is not None and not actor.user.external
    return False


def can_read_group(actor: Actor, group: Namespace) -> bool:
    if actor.is_admin or visibility_allows(actor, group.visibility_level):
        return True
    if group_access_level(actor, group) >= AccessLevel.GUEST:
        return True
    # Members of something inside a private group may see the group itself, as on GitLab.
    from kiln.namespaces.queries import has_membership_below

    return has_membership_below(actor, group)


def group_rule(actor: Actor, action: str, group: Namespace) -> bool:
    if not group.is_group:
        # A personal namespace: its owner (and admins) manage it.
        owner = actor.user is not None and group.owner_id == actor.user.pk
        if action == "read_group":
            return True
        return owner or actor.is_admin
    if action == "read_group":
        return can_read_group(actor, group)
    if actor.user is None or not can_read_group(actor, group):
        return False
    if action == "create_projects":
        required = _CREATION_LEVELS.get(group.project_creation_level, AccessLevel.DEVELOPER)
        if actor.is_admin:
            return True
        return required is not None and group_access_level(actor, group) >= required
    if action == "create_subgroup":
        required = _CREATION_LEVELS.get(group.subgroup_creation_level, AccessLevel.MAINTAINER)
        if actor.is_admin:
            return True
        return required is not None and group_access_level(actor, group) >= required
    if action not in _LEVELS:
        raise LookupError(f"unknown group action {action!r}")
    return actor.is_admin or group_access_level(actor, group) >= _LEVELS[action]


policy.register(Namespace, group_rule)
