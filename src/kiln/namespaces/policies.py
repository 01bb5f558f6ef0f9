"""Who may do what to a group (GitLab's group permissions table, the subset Kiln has).

Reading follows visibility (public: anyone; internal: signed-in users who are not external;
private: members, members of something inside, admins). Everything else needs a level in the
group, inherited from ancestors. Admins may do everything a policy allows an Owner to do.
"""

from __future__ import annotations

from kiln.core import policy
from kiln.core.access import AccessLevel, Visibility
from kiln.core.actor import Actor
from kiln.namespaces.access import group_access_level
from kiln.namespaces.models import Namespace

# action -> minimum effective access level in the group
_LEVELS: dict[str, int] = {
    "read_namespace_via_membership": AccessLevel.GUEST,
    "admin_group": AccessLevel.OWNER,
    "admin_group_member": AccessLevel.OWNER,
    "change_visibility_level": AccessLevel.OWNER,
    "remove_group": AccessLevel.OWNER,
    "transfer_group": AccessLevel.OWNER,
}

# GitLab's `project_creation_level` / `subgroup_creation_level` values.
PROJECT_CREATION_LEVELS: dict[str, int | None] = {
    "noone": None,
    "owner": AccessLevel.OWNER,
    "maintainer": AccessLevel.MAINTAINER,
    "developer": AccessLevel.DEVELOPER,
    "administrator": None,
}
SUBGROUP_CREATION_LEVELS: dict[str, int] = {
    "owner": AccessLevel.OWNER,
    "maintainer": AccessLevel.MAINTAINER,
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


def can_create_group(actor: Actor) -> bool:
    """Creating a top-level group: `can_create_group` users who are not external, and admins."""
    user = actor.user
    if user is None:
        return False
    return actor.is_admin or (bool(user.can_create_group) and not user.external)


def _personal_rule(actor: Actor, action: str, namespace: Namespace) -> bool:
    # A personal namespace: its owner (and admins) manage it; anyone may see it exists.
    if action == "read_group":
        return True
    return actor.is_admin or (actor.user is not None and namespace.owner_id == actor.user.pk)


def group_rule(actor: Actor, action: str, group: Namespace) -> bool:
    if not group.is_group:
        return _personal_rule(actor, action, group)
    if action == "read_group":
        return can_read_group(actor, group)
    if actor.user is None or not can_read_group(actor, group):
        return False
    level = AccessLevel.OWNER if actor.is_admin else group_access_level(actor, group)
    if action == "read_group_member":
        # GitLab: anyone who can read a group may read its members, unless it is private and
        # they have no access to it (seeing a private group through a project inside is not
        # enough).
        return group.visibility_level != Visibility.PRIVATE or level >= AccessLevel.GUEST
    if action == "create_projects":
        if actor.is_admin:
            return True
        required = PROJECT_CREATION_LEVELS.get(group.project_creation_level, AccessLevel.DEVELOPER)
        return required is not None and level >= required
    if action == "create_subgroup":
        required = SUBGROUP_CREATION_LEVELS.get(group.subgroup_creation_level, AccessLevel.OWNER)
        return level >= required
    if action not in _LEVELS:
        raise LookupError(f"unknown group action {action!r}")
    return level >= _LEVELS[action]


policy.register(Namespace, group_rule)
