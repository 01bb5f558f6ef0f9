"""A user's effective access level in a project.

The highest of: a direct project membership; a membership in the project's group or any
ancestor; a membership in a group the project is shared with (or an ancestor of it), capped at
the share's level; Owner of a personal project for the namespace's owner.

Everything here is memoized on the `Actor` for one request (never longer: a membership change
or a revoked token takes effect on the next request). What a request needs is loaded once:

- the actor's direct group memberships (`kiln.namespaces.access.direct_group_memberships`);
- direct project memberships: all of them when a list filters by membership anyway
  (`direct_project_memberships`), else only those of the projects at hand;
- shares: those reaching the actor's groups when a list needs them (`reachable_shares`), else
  every share of the projects at hand (`project_shares`, which presenters reuse).

`project_access_levels` computes levels for a whole page in a fixed number of queries and
primes the memo, so `project_access_level` (and every policy check after it) costs nothing more.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.core.sql import fetch_rows, placeholders
from kiln.namespaces.access import (
    direct_group_levels,
    forget_group_memberships,
    member_group_traversals,
)
from kiln.namespaces.models import Namespace
from kiln.projects.models import Project, ProjectGroupLink, ProjectMember

# Memo keys (per request, on the Actor).
_ALL_DIRECT = ("direct_project_memberships",)
_REACHABLE_SHARES = ("reachable_shares",)


def _level_key(project_id: int) -> tuple[str, int]:
    return ("project", project_id)


def _direct_key(project_id: int) -> tuple[str, int]:
    return ("direct_project", project_id)


def _shares_key(project_id: int) -> tuple[str, int]:
    return ("project_shares", project_id)


@dataclass(frozen=True)
class GroupShare:
    """A project shared with a group, with what access checks and presenters need of the group."""

    id: int
    project_id: int
    group_id: int
    group_access: int
    expires_at: dt.date | None
    group_name: str
    group_full_path: str
    group_traversal_ids: str
    group_visibility_level: int

    def is_active(self, today: dt.date) -> bool:
        return self.expires_at is None or self.expires_at > today


def level_in(levels: dict[int, int], traversal_ids: str) -> int:
    """The highest direct level over a group and its ancestors (inheritance)."""
    return max((levels.get(int(i), 0) for i in traversal_ids.split("/") if i), default=0)


# The reads below run on most API requests, so they are written as SQL: the ORM spends ~10x
# the CPU of the query itself compiling these. Same rules as `active_membership_q` and
# `subtree_q`; plain SQL that SQLite and PostgreSQL both run. Values are always parameters.
_MEMBER = ProjectMember._meta.db_table
_LINK = ProjectGroupLink._meta.db_table
_NAMESPACE = Namespace._meta.db_table
_ACTIVE = "(expires_at IS NULL OR expires_at > %s)"
_ACTIVE_LINK = "(l.expires_at IS NULL OR l.expires_at > %s)"


def direct_project_memberships(actor: Actor) -> dict[int, int]:
    """Every active direct project membership of the actor: project id -> level (memoized).

    For lists, which filter by membership anyway; single reads ask only for their project.
    """
    if actor.user is None:
        return {}
    if _ALL_DIRECT not in actor.memo:
        levels: dict[int, int] = {}
        sql = f"SELECT project_id, access_level FROM {_MEMBER} WHERE user_id = %s AND {_ACTIVE}"  # noqa: S608
        for project_id, level in fetch_rows(sql, [actor.user.pk, timezone.now().date()]):
            levels[project_id] = max(levels.get(project_id, 0), level)
        actor.memo[_ALL_DIRECT] = levels
    return dict(actor.memo[_ALL_DIRECT])


def reachable_shares(actor: Actor) -> list[tuple[int, int, str]]:
    """Active shares with a group at or below one the actor is a direct member of, as
    (project id, share level, group traversal ids) (memoized)."""
    if actor.user is None:
        return []
    if _REACHABLE_SHARES not in actor.memo:
        traversals = member_group_traversals(actor)
        rows: list[tuple[int, int, str]] = []
        if traversals:
            # At or below: the group's traversal ids equal, or start with, a member group's.
            # They hold only digits and "/", so nothing in them is a LIKE wildcard.
            below = " OR ".join(
                ["n.traversal_ids = %s OR n.traversal_ids LIKE %s"] * len(traversals)
            )
            params: list[Any] = [timezone.now().date()]
            for traversal in traversals:
                params += [traversal, traversal + "/%"]
            sql = (
                f"SELECT l.project_id, l.group_access, n.traversal_ids FROM {_LINK} l"  # noqa: S608
                f" JOIN {_NAMESPACE} n ON n.id = l.group_id WHERE {_ACTIVE_LINK} AND ({below})"
            )
            rows = [(int(p), int(level), str(t)) for p, level, t in fetch_rows(sql, params)]
        actor.memo[_REACHABLE_SHARES] = rows
    return list(actor.memo[_REACHABLE_SHARES])


def project_shares(actor: Actor, project_ids: Iterable[int]) -> dict[int, list[GroupShare]]:
    """Every share of the given projects (expired ones too), oldest first, in one query for
    those not loaded yet in this request."""
    ids = list(dict.fromkeys(project_ids))
    missing = [i for i in ids if _shares_key(i) not in actor.memo]
    if missing:
        found: dict[int, list[GroupShare]] = {i: [] for i in missing}
        sql = (
            "SELECT l.id, l.project_id, l.group_id, l.group_access, l.expires_at, n.name,"  # noqa: S608
            f" n.full_path, n.traversal_ids, n.visibility_level FROM {_LINK} l JOIN {_NAMESPACE} n"
            f" ON n.id = l.group_id WHERE l.project_id IN ({placeholders(len(missing))})"
            " ORDER BY l.id"
        )
        for row in fetch_rows(sql, missing):
            found[row[1]].append(GroupShare(*row))
        for project_id, shares in found.items():
            actor.memo[_shares_key(project_id)] = shares
    return {i: list(actor.memo[_shares_key(i)]) for i in ids}


def _direct_levels(actor: Actor, project_ids: list[int]) -> dict[int, int]:
    """The actor's direct level in each project (0 when none)."""
    assert actor.user is not None
    if _ALL_DIRECT in actor.memo:
        every = actor.memo[_ALL_DIRECT]
        return {i: every.get(i, 0) for i in project_ids}
    missing = [i for i in project_ids if _direct_key(i) not in actor.memo]
    if missing:
        found = dict.fromkeys(missing, 0)
        sql = (
            f"SELECT project_id, access_level FROM {_MEMBER} WHERE user_id = %s AND {_ACTIVE}"  # noqa: S608
            f" AND project_id IN ({placeholders(len(missing))})"
        )
        for project_id, level in fetch_rows(sql, [actor.user.pk, timezone.now().date(), *missing]):
            found[project_id] = max(found[project_id], level)
        for project_id, level in found.items():
            actor.memo[_direct_key(project_id)] = level
    return {i: actor.memo[_direct_key(i)] for i in project_ids}


def _shared_levels(
    actor: Actor, project_ids: list[int], group_levels: dict[int, int]
) -> dict[int, int]:
    """The best level each project's active shares give the actor (0 when none)."""
    shared = dict.fromkeys(project_ids, 0)
    if not group_levels:
        return shared  # a share reaches only members of a group
    if _REACHABLE_SHARES in actor.memo:
        rows = [r for r in actor.memo[_REACHABLE_SHARES] if r[0] in shared]
    else:
        today = timezone.now().date()
        rows = [
            (s.project_id, s.group_access, s.group_traversal_ids)
            for shares in project_shares(actor, project_ids).values()
            for s in shares
            if s.is_active(today)
        ]
    for project_id, group_access, traversal in rows:
        level = min(level_in(group_levels, traversal), group_access)
        shared[project_id] = max(shared[project_id], level)
    return shared


def project_access_levels(actor: Actor, projects: Iterable[Project]) -> dict[int, int]:
    """Effective levels for many projects in at most three queries (`namespace` must be loaded)."""
    projects = list(projects)
    if actor.user is None:
        return {p.pk: AccessLevel.NO_ACCESS for p in projects}
    memo = actor.memo
    missing = [p for p in projects if _level_key(p.pk) not in memo]
    if missing:
        user_id = actor.user.pk
        group_levels = direct_group_levels(actor)
        ids = [p.pk for p in missing]
        direct = _direct_levels(actor, ids)
        shared = _shared_levels(actor, ids, group_levels)
        for project in missing:
            namespace = project.namespace
            if namespace.is_group:
                level = level_in(group_levels, namespace.traversal_ids)
            else:
                level = AccessLevel.OWNER if namespace.owner_id == user_id else 0
            level = max(level, direct[project.pk], shared[project.pk])
            memo[_level_key(project.pk)] = int(level)
    return {p.pk: int(memo[_level_key(p.pk)]) for p in projects}


def project_access_level(actor: Actor, project: Project) -> int:
    if actor.user is None:
        return AccessLevel.NO_ACCESS
    level = actor.memo.get(_level_key(project.pk))
    if level is not None:
        return int(level)
    return project_access_levels(actor, [project])[project.pk]


def forget_project_access(actor: Actor, project: Project) -> None:
    """Drop memoized levels after a write that changes them (transfer, share)."""
    memo = actor.memo
    for key in (
        _level_key(project.pk),
        _direct_key(project.pk),
        _shares_key(project.pk),
        _ALL_DIRECT,
        _REACHABLE_SHARES,
    ):
        memo.pop(key, None)
    forget_group_memberships(actor)


def group_member_levels(actor: Actor, traversals: Iterable[str]) -> dict[str, int | None]:
    """For `permissions.group_access`: the highest membership over each group's ancestors."""
    if actor.user is None:
        return dict.fromkeys(traversals)
    levels = direct_group_levels(actor)
    return {t: (level_in(levels, t) or None) for t in traversals}


def direct_project_levels(actor: Actor, project_ids: list[int]) -> dict[int, int]:
    """For `permissions.project_access`: the actor's own (direct, active) memberships."""
    if actor.user is None or not project_ids:
        return {}
    return {i: level for i, level in _direct_levels(actor, project_ids).items() if level}
