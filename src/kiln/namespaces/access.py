"""Effective access levels: memberships inherited from ancestor groups, highest wins.

GitLab's rule: a member of a group is a member of every subgroup and project below it at the
same level, unless a closer membership grants more. Expired memberships count for nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Max, Q
from django.utils import timezone

from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.core.sql import fetch_rows
from kiln.namespaces.models import GroupMember, Namespace

HUMAN_ACCESS = {
    AccessLevel.GUEST: "Guest",
    AccessLevel.PLANNER: "Planner",
    AccessLevel.REPORTER: "Reporter",
    AccessLevel.DEVELOPER: "Developer",
    AccessLevel.MAINTAINER: "Maintainer",
    AccessLevel.OWNER: "Owner",
}
# Memo key (per request, on the Actor) of the actor's direct group memberships.
_GROUP_MEMBERSHIPS = ("direct_group_memberships",)


def active_membership_q(prefix: str = "") -> Q:
    today = timezone.now().date()
    return Q(**{f"{prefix}expires_at__isnull": True}) | Q(**{f"{prefix}expires_at__gt": today})


# Read on every signed-in API request, so written as SQL: the ORM spends ~10x the CPU of the
# query itself compiling it. Same rule as `active_membership_q`; portable (SQLite, PostgreSQL).
_GROUP_MEMBERSHIPS_SQL = (
    "SELECT m.group_id, m.access_level, n.traversal_ids"  # noqa: S608
    f" FROM {GroupMember._meta.db_table} m JOIN {Namespace._meta.db_table} n ON n.id = m.group_id"
    " WHERE m.user_id = %s AND (m.expires_at IS NULL OR m.expires_at > %s)"
)


def direct_group_memberships(actor: Actor) -> list[tuple[int, int, str]]:
    """The actor's active direct group memberships as (group id, level, group traversal ids),
    loaded once per request: every inherited level and membership filter derives from them."""
    if actor.user is None:
        return []
    if _GROUP_MEMBERSHIPS not in actor.memo:
        today = timezone.now().date()
        rows = fetch_rows(_GROUP_MEMBERSHIPS_SQL, [actor.user.pk, today])
        actor.memo[_GROUP_MEMBERSHIPS] = [(int(g), int(level), str(t)) for g, level, t in rows]
    return list(actor.memo[_GROUP_MEMBERSHIPS])


def forget_group_memberships(actor: Actor) -> None:
    """Drop the memoized memberships (and what derives from them) after a write."""
    actor.memo.pop(_GROUP_MEMBERSHIPS, None)
    for key in [
        k for k in actor.memo if isinstance(k, tuple) and k[:1] == ("member_namespace_ids",)
    ]:
        actor.memo.pop(key, None)


def direct_group_levels(actor: Actor) -> dict[int, int]:
    """The actor's active direct group memberships: group id -> level."""
    levels: dict[int, int] = {}
    for group_id, level, _ in direct_group_memberships(actor):
        levels[group_id] = max(levels.get(group_id, 0), level)
    return levels


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
    found = [t for _, level, t in direct_group_memberships(actor) if level >= min_level]
    return list(dict.fromkeys(found))


def member_namespaces_q(actor: Actor, min_level: int = AccessLevel.GUEST) -> Q:
    """Namespaces whose projects the actor reaches through the namespace itself: their personal
    namespace, and every group at or below one they are a direct member of at `min_level`."""
    if actor.user is None:
        return Q(pk__in=[])
    return Q(owner_id=actor.user.pk) | subtree_q(member_group_traversals(actor, min_level))


def member_namespace_ids(actor: Actor, min_level: int = AccessLevel.GUEST) -> list[int]:
    """The ids of `member_namespaces_q` (memoized per request), read with SQL: listing them
    lets project queries filter on `namespace_id` alone, without joining and matching paths,
    which costs the ORM several times less to compile."""
    if actor.user is None:
        return []
    key = ("member_namespace_ids", min_level)
    if key not in actor.memo:
        traversals = member_group_traversals(actor, min_level)
        # Traversal ids hold only digits and "/": nothing in them is a LIKE wildcard.
        below = "".join(" OR traversal_ids = %s OR traversal_ids LIKE %s" for _ in traversals)
        params: list[Any] = [actor.user.pk]
        for traversal in traversals:
            params += [traversal, traversal + "/%"]
        sql = f"SELECT id FROM {Namespace._meta.db_table} WHERE owner_id = %s{below}"  # noqa: S608
        actor.memo[key] = sorted(int(row[0]) for row in fetch_rows(sql, params))
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
