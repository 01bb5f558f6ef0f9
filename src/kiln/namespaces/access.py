"""Effective access levels: memberships inherited from ancestor groups, highest wins.

GitLab's rule: a member of a group is a member of every subgroup and project below it at the
same level, unless a closer membership grants more. Expired memberships count for nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Max, Q
from django.utils import timezone

from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.namespaces.models import GroupMember, Namespace

HUMAN_ACCESS = {
    AccessLevel.GUEST: "Guest",
    AccessLevel.PLANNER: "Planner",
    AccessLevel.REPORTER: "Reporter",
    AccessLevel.DEVELOPER: "Developer",
    AccessLevel.MAINTAINER: "Maintainer",
    AccessLevel.OWNER: "Owner",
}


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


def group_access_levels(actor: Actor, groups: Iterable[Namespace]) -> dict[int, int]:
    """Effective levels for many groups in one query (and primes the per-request memo)."""
    groups = [g for g in groups if g.is_group]
    if actor.user is None or not groups:
        return {g.pk: AccessLevel.NO_ACCESS for g in groups}
    missing = [g for g in groups if ("group", g.pk, g.traversal_ids) not in actor.memo]
    if missing:
        ancestor_ids = {i for g in missing for i in g.ancestor_ids}
        direct: dict[int, int] = {}
        rows = (
            GroupMember.objects.filter(active_membership_q())
            .filter(user_id=actor.user.pk, group_id__in=ancestor_ids)
            .values_list("group_id", "access_level")
        )
        for group_id, level in rows:
            direct[group_id] = max(direct.get(group_id, 0), level)
        for g in missing:
            level = max((direct.get(i, 0) for i in g.ancestor_ids), default=0)
            actor.memo[("group", g.pk, g.traversal_ids)] = level
    return {g.pk: int(actor.memo[("group", g.pk, g.traversal_ids)]) for g in groups}


def member_group_traversals(actor: Actor, min_level: int = AccessLevel.GUEST) -> list[str]:
    """Traversal ids of the groups the actor is a direct, active member of (at `min_level`)."""
    if actor.user is None:
        return []
    key = ("member_groups", min_level)
    if key not in actor.memo:
        actor.memo[key] = list(
            GroupMember.objects.filter(
                active_membership_q(), user_id=actor.user.pk, access_level__gte=min_level
            )
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


def ancestors_ids_q(traversals: Iterable[str]) -> Q:
    """Namespaces that are any of the given groups or their ancestors."""
    ids = {int(p) for t in traversals for p in t.split("/") if p}
    return Q(pk__in=sorted(ids)) if ids else Q(pk__in=[])
