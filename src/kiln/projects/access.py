"""A user's effective access level in a project.

The highest of: a direct project membership; a membership in the project's group or any
ancestor; a membership in a group the project is shared with (or an ancestor of it), capped at
the share's level; Owner of a personal project for the namespace's owner.

`project_access_levels` computes it for a whole page in a fixed number of queries and primes
the per-request memo on the `Actor`, so `project_access_level` (and every policy check after
it) costs nothing more for those projects.
"""

from __future__ import annotations

from collections.abc import Iterable

from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.namespaces.access import active_membership_q
from kiln.namespaces.models import GroupMember
from kiln.projects.models import Project, ProjectGroupLink, ProjectMember


def _memo_key(project: Project) -> tuple[str, int]:
    return ("project", project.pk)


def _direct_group_levels(actor: Actor) -> dict[int, int]:
    """The actor's active direct group memberships: group id -> level (memoized)."""
    assert actor.user is not None
    key = ("direct_group_levels",)
    if key not in actor.memo:
        levels: dict[int, int] = {}
        rows = GroupMember.objects.filter(active_membership_q(), user_id=actor.user.pk)
        for group_id, level in rows.values_list("group_id", "access_level"):
            levels[group_id] = max(levels.get(group_id, 0), level)
        actor.memo[key] = levels
    return dict(actor.memo[key])


def _level_in(levels: dict[int, int], traversal_ids: str) -> int:
    """The highest direct level over a group and its ancestors (inheritance)."""
    return max((levels.get(int(i), 0) for i in traversal_ids.split("/") if i), default=0)


def project_access_levels(actor: Actor, projects: Iterable[Project]) -> dict[int, int]:
    """Effective levels for many projects in at most three queries (`namespace` must be loaded)."""
    projects = list(projects)
    if actor.user is None:
        return {p.pk: AccessLevel.NO_ACCESS for p in projects}
    missing = [p for p in projects if _memo_key(p) not in actor.memo]
    if missing:
        user_id = actor.user.pk
        group_levels = _direct_group_levels(actor)
        ids = [p.pk for p in missing]
        direct: dict[int, int] = {}
        for project_id, level in ProjectMember.objects.filter(
            active_membership_q(), user_id=user_id, project_id__in=ids
        ).values_list("project_id", "access_level"):
            direct[project_id] = max(direct.get(project_id, 0), level)
        shared: dict[int, int] = {}
        if group_levels:
            links = ProjectGroupLink.objects.filter(
                active_membership_q(), project_id__in=ids
            ).values_list("project_id", "group_access", "group__traversal_ids")
            for project_id, group_access, traversal in links:
                level = min(_level_in(group_levels, traversal), group_access)
                shared[project_id] = max(shared.get(project_id, 0), level)
        for project in missing:
            namespace = project.namespace
            if namespace.is_group:
                level = _level_in(group_levels, namespace.traversal_ids)
            else:
                level = AccessLevel.OWNER if namespace.owner_id == user_id else 0
            level = max(level, direct.get(project.pk, 0), shared.get(project.pk, 0))
            actor.memo[_memo_key(project)] = int(level)
    return {p.pk: int(actor.memo[_memo_key(p)]) for p in projects}


def project_access_level(actor: Actor, project: Project) -> int:
    return project_access_levels(actor, [project])[project.pk]


def forget_project_access(actor: Actor, project: Project) -> None:
    """Drop memoized levels after a write that changes them (transfer, share)."""
    actor.memo.pop(_memo_key(project), None)
    actor.memo.pop(("direct_group_levels",), None)
    for key in [k for k in actor.memo if isinstance(k, tuple) and k[:1] == ("member_projects",)]:
        actor.memo.pop(key, None)


def group_member_levels(actor: Actor, traversals: Iterable[str]) -> dict[str, int | None]:
    """For `permissions.group_access`: the highest membership over each group's ancestors."""
    if actor.user is None:
        return dict.fromkeys(traversals)
    levels = _direct_group_levels(actor)
    return {t: (_level_in(levels, t) or None) for t in traversals}


def direct_project_levels(actor: Actor, project_ids: list[int]) -> dict[int, int]:
    """For `permissions.project_access`: the actor's own (direct, active) memberships."""
    if actor.user is None or not project_ids:
        return {}
    rows = ProjectMember.objects.filter(
        active_membership_q(), user_id=actor.user.pk, project_id__in=project_ids
    ).values_list("project_id", "access_level")
    return dict(rows)
