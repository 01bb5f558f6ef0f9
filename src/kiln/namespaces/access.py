"""Effective access levels: memberships inherited from ancestor groups, highest wins.

GitLab's rule: a member of a group is a member of every subgroup and project below it at the
same level, unless a closer membership grants more. Expired memberships count for nothing.
"""

from __future__ import annotations

from django.db.models import Max, Q
from django.utils import timezone

from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.namespaces.models import GroupMember, Namespace


def active_membership_q(prefix: str = "") -> Q:
    today = timezone.now().date()
    return Q(**{f"{prefix}expires_at__isnull": True}) | Q(**{f"{prefix}expires_at__gt": today})


def group_access_level(actor: Actor, group: Namespace) -> int:
    """The actor's effective level in `group` (0 when none). Admins are not members."""
    if actor.user is None or not group.is_group:
        return AccessLevel.NO_ACCESS
    key = ("group", group.pk, group.traversal_ids)
    if key not in actor.memo:
        level = (
            GroupMember.objects.filter(active_membership_q())
            .filter(user_id=actor.user.pk, group_id__in=group.ancestor_ids)
            .aggregate(m=Max("access_level"))["m"]
        )
        actor.memo[key] = level or AccessLevel.NO_ACCESS
    return int(actor.memo[key])


def member_group_traversals(actor: Actor) -> list[str]:
    """Traversal ids of the groups the actor is a direct, active member of."""
    if actor.user is None:
        return []
    key = ("member_groups",)
    if key not in actor.memo:
        actor.memo[key] = list(
            GroupMember.objects.filter(active_membership_q(), user_id=actor.user.pk)
            .values_list("group__traversal_ids", flat=True)
            .distinct()
        )
    return list(actor.memo[key])


def subtree_q(traversals: list[str], field: str = "traversal_ids") -> Q:
    """Namespaces at or below any of the given groups."""
    q = Q(pk__in=[])
    for traversal in traversals:
        q |= Q(**{field: traversal}) | Q(**{f"{field}__startswith": traversal + "/"})
    return q
