"""Reads of projects, already restricted to what the actor may see.

`visible_projects_q` is the one visibility rule every list, count and lookup uses; the list
functions add GitLab's filters (`ProjectFilters`, as ProjectsFinder reads them) and order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Q, QuerySet

from kiln.core.access import AccessLevel, Visibility
from kiln.core.actor import Actor
from kiln.core.errors import NotFound
from kiln.core.policy import authorize
from kiln.core.sql import load_rows, placeholders
from kiln.namespaces.access import (
    active_membership_q,
    direct_group_levels,
    member_namespace_ids,
    member_namespaces_q,
    subtree_q,
)
from kiln.namespaces.models import Namespace
from kiln.namespaces.queries import register_membership_source
from kiln.projects.access import direct_project_memberships, level_in, reachable_shares
from kiln.projects.models import Project, ProjectGroupLink, Star, Topic

# order_by values GitLab accepts on project lists; the statistics ones are for admins only.
ORDER_BY = ("id", "name", "path", "created_at", "updated_at", "last_activity_at", "similarity",
            "star_count")  # fmt: skip
STATISTICS_ORDER_BY = ("storage_size", "repository_size", "wiki_size", "packages_size")
# Terms shorter than this match exactly, as GitLab's fuzzy search does.
MIN_CHARS_FOR_PARTIAL_MATCHING = 3


def _member_project_ids(actor: Actor, min_level: int) -> list[int]:
    """Projects reached through a direct membership or a share, at `min_level` or more."""
    if actor.user is None:
        return []
    ids = {p for p, level in direct_project_memberships(actor).items() if level >= min_level}
    # A share gives min(share level, level in the shared group): both must reach min_level.
    levels = direct_group_levels(actor)
    for project_id, group_access, traversal in reachable_shares(actor):
        if group_access >= min_level and level_in(levels, traversal) >= min_level:
            ids.add(project_id)
    return sorted(ids)


def _project_namespace_traversals(actor: Actor) -> list[str]:
    ids = _member_project_ids(actor, AccessLevel.GUEST)
    if not ids:
        return []
    return list(
        Project.objects.filter(pk__in=ids)
        .values_list("namespace__traversal_ids", flat=True)
        .distinct()
    )


register_membership_source(_project_namespace_traversals)


# Above this many namespaces, `member_projects_q` leaves matching them to the database.
MAX_LISTED_NAMESPACES = 500


def member_projects_q(actor: Actor, min_level: int = AccessLevel.GUEST) -> Q:
    """Projects where the actor has at least `min_level` through any membership: a direct
    membership or a share (listed by id), or their namespace (the actor's own, or a group at or
    below one the actor is a member of at `min_level`)."""
    if actor.user is None:
        return Q(pk__in=[])
    namespace_ids = member_namespace_ids(actor, min_level)
    if len(namespace_ids) <= MAX_LISTED_NAMESPACES:
        q = Q(namespace_id__in=namespace_ids)
    else:
        namespaces = Namespace.objects.filter(member_namespaces_q(actor, min_level))
        q = Q(namespace_id__in=namespaces.values("id"))
    if project_ids := _member_project_ids(actor, min_level):
        q |= Q(pk__in=project_ids)
    return q


def visible_projects_q(actor: Actor) -> Q:
    if actor.is_admin:
        return Q()
    if actor.user is not None and not actor.user.external:
        q = Q(visibility_level__gte=Visibility.INTERNAL)
    else:
        q = Q(visibility_level=Visibility.PUBLIC)
    return q | member_projects_q(actor)


@dataclass
class ProjectFilters:
    """GitLab's project list filters (ProjectsFinder params), already parsed."""

    archived: bool | None = None
    visibility: Visibility | None = None
    search: str | None = None
    search_namespaces: bool = False
    owned: bool = False
    membership: bool = False
    starred: bool = False
    min_access_level: int | None = None
    topics: list[str] = field(default_factory=list)
    topic_id: int | None = None
    id_after: int | None = None
    id_before: int | None = None
    last_activity_after: dt.datetime | None = None
    last_activity_before: dt.datetime | None = None
    updated_after: dt.datetime | None = None
    updated_before: dt.datetime | None = None
    with_issues_enabled: bool = False
    with_merge_requests_enabled: bool = False
    order_by: str = "created_at"
    sort: str = "desc"


def _fuzzy_q(term: str, fields: tuple[str, ...]) -> Q:
    """GitLab's fuzzy search: one of `fields` contains every word of 3+ characters; a query
    with no such word must equal one of them (case-insensitively)."""
    words = [w for w in term.split() if len(w) >= MIN_CHARS_FOR_PARTIAL_MATCHING]
    q = Q(pk__in=[])
    for name in fields:
        if not words:
            q |= Q(**{f"{name}__iexact": term.strip()})
            continue
        in_field = Q()
        for word in words:
            in_field &= Q(**{f"{name}__icontains": word})
        q |= in_field
    return q


def _apply_filters(actor: Actor, qs: QuerySet[Project], f: ProjectFilters) -> QuerySet[Project]:
    if actor.user is None and (f.owned or f.membership or f.starred or f.min_access_level):
        return qs.none()
    if f.owned:
        qs = qs.filter(member_projects_q(actor, AccessLevel.OWNER))
    if f.membership:
        qs = qs.filter(member_projects_q(actor))
    if f.min_access_level is not None and actor.user is not None:
        qs = qs.filter(member_projects_q(actor, max(f.min_access_level, AccessLevel.GUEST)))
    if f.starred and actor.user is not None:
        qs = qs.filter(stars__user_id=actor.user.pk)
    if f.archived is not None:
        qs = qs.filter(archived=f.archived)
    if f.visibility is not None:
        qs = qs.filter(visibility_level=f.visibility)
    if f.search:
        fields: tuple[str, ...] = ("path", "name", "description")
        if f.search_namespaces:
            fields += ("namespace__full_path", "namespace__full_name")
        qs = qs.filter(_fuzzy_q(f.search, fields))
    for topic in f.topics:
        qs = qs.filter(topics__name__iexact=topic)
    if f.topic_id is not None:
        qs = qs.filter(topics__id=f.topic_id)
    if f.id_after is not None:
        qs = qs.filter(pk__gt=f.id_after)
    if f.id_before is not None:
        qs = qs.filter(pk__lt=f.id_before)
    if f.last_activity_after is not None:
        qs = qs.filter(last_activity_at__gt=f.last_activity_after)
    if f.last_activity_before is not None:
        qs = qs.filter(last_activity_at__lt=f.last_activity_before)
    if f.updated_after is not None:
        qs = qs.filter(updated_at__gt=f.updated_after)
    if f.updated_before is not None:
        qs = qs.filter(updated_at__lt=f.updated_before)
    if f.with_issues_enabled:
        qs = qs.exclude(issues_access_level="disabled")
    if f.with_merge_requests_enabled:
        qs = qs.exclude(merge_requests_access_level="disabled")
    if f.topics or f.topic_id is not None:
        qs = qs.distinct()
    return _ordered(actor, qs, f)


def _ordered(actor: Actor, qs: QuerySet[Project], f: ProjectFilters) -> QuerySet[Project]:
    order_by = f.order_by
    if order_by in STATISTICS_ORDER_BY:
        # Kiln keeps no repository statistics yet: admins get a stable order, others the
        # default, as GitLab gives non-admins.
        order_by = "id" if actor.is_admin else "created_at"
    elif order_by == "similarity":
        order_by = "name" if f.search else "created_at"
    prefix = "" if f.sort == "asc" else "-"
    if order_by == "id":
        return qs.order_by(f"{prefix}id")
    # The id breaks ties in the same direction, as GitLab's tie-breaker does.
    return qs.order_by(f"{prefix}{order_by}", f"{prefix}id")


def _base(actor: Actor) -> QuerySet[Project]:
    # The namespace is part of every project's JSON; its owner only of personal projects', so
    # presenters load owners for those alone (joining users here would triple the columns).
    return Project.objects.filter(visible_projects_q(actor)).select_related("namespace")


def list_projects_for(actor: Actor, filters: ProjectFilters | None = None) -> QuerySet[Project]:
    """`GET /projects`: every project the actor may see, filtered and ordered."""
    return _apply_filters(actor, _base(actor), filters or ProjectFilters())


def list_group_projects_for(
    actor: Actor,
    group: Namespace,
    *,
    include_subgroups: bool = False,
    with_shared: bool = True,
    filters: ProjectFilters | None = None,
) -> QuerySet[Project]:
    """`GET /groups/:id/projects`. The caller checked the actor may see `group`."""
    if include_subgroups:
        where = subtree_q([group.traversal_ids], field="namespace__traversal_ids")
    else:
        where = Q(namespace_id=group.pk)
    if with_shared:
        shared = ProjectGroupLink.objects.filter(active_membership_q(), group_id=group.pk)
        where |= Q(pk__in=shared.values("project_id"))
    return _apply_filters(actor, _base(actor).filter(where), filters or ProjectFilters())


def list_user_projects_for(
    actor: Actor, user_id: int, filters: ProjectFilters | None = None
) -> QuerySet[Project]:
    """`GET /users/:id/projects`: the user's personal projects the actor may see."""
    qs = _base(actor).filter(namespace__owner_id=user_id, namespace__kind="user")
    return _apply_filters(actor, qs, filters or ProjectFilters())


def list_starred_projects_for(
    actor: Actor, user_id: int, filters: ProjectFilters | None = None
) -> QuerySet[Project]:
    """`GET /users/:id/starred_projects`: what the user starred, as far as the actor may see."""
    qs = _base(actor).filter(pk__in=Star.objects.filter(user_id=user_id).values("project_id"))
    return _apply_filters(actor, qs, filters or ProjectFilters())


def list_starrers_for(actor: Actor, project: Project, search: str | None = None) -> QuerySet[Star]:
    """Who starred `project` (the caller checked the actor may see it). Users with a private
    profile are listed only to themselves and admins, as GitLab's UsersStarProjectsFinder."""
    qs = Star.objects.filter(project_id=project.pk).select_related("user").order_by("id")
    if search:
        qs = qs.filter(Q(user__username__icontains=search) | Q(user__name__icontains=search))
    if not actor.is_admin:
        hidden = Q(user__private_profile=True)
        if actor.user is not None:
            hidden &= ~Q(user_id=actor.user.pk)
        qs = qs.exclude(hidden)
    return qs


def topic_names(project_ids: list[int]) -> dict[int, list[str]]:
    """Each project's topics by name, sorted, in one query (presenting a page needs them)."""
    if not project_ids:
        return {}
    # SQL, not the ORM: this runs for every project read, and compiling it costs the ORM
    # several times the query. Sorted here, not by the database, so every database sorts alike.
    through = Project.topics.through._meta.db_table
    sql = (
        f"SELECT pt.project_id, t.name FROM {through} pt JOIN {Topic._meta.db_table} t"  # noqa: S608
        f" ON t.id = pt.topic_id WHERE pt.project_id IN ({placeholders(len(project_ids))})"
    )
    names: dict[int, list[str]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, project_ids)
        for project_id, name in cursor.fetchall():
            names.setdefault(project_id, []).append(name)
    for found in names.values():
        found.sort()
    return names


def starred_project_ids(actor: Actor, project_ids: list[int]) -> set[int]:
    if actor.user is None or not project_ids:
        return set()
    rows = Star.objects.filter(user_id=actor.user.pk, project_id__in=project_ids)
    return set(rows.values_list("project_id", flat=True))


def projects_by_ids(ids: Sequence[int]) -> list[Project]:
    """Projects by id, in the order given (missing ids skipped), each with its namespace.

    The rows of every project read, selected with SQL (`load_rows`): compiling a select of the
    project's ~100 columns joined with its namespace costs the ORM several times what two plain
    indexed selects cost.
    """
    ids = list(dict.fromkeys(ids))
    if not ids:
        return []
    table = Project._meta.db_table
    sql = f"SELECT * FROM {table} WHERE id IN ({placeholders(len(ids))})"  # noqa: S608
    projects = {p.pk: p for p in load_rows(Project, sql, ids)}
    if not projects:
        return []
    namespace_ids = list({p.namespace_id for p in projects.values()})
    table = Namespace._meta.db_table
    sql = f"SELECT * FROM {table} WHERE id IN ({placeholders(len(namespace_ids))})"  # noqa: S608
    namespaces = {n.pk: n for n in load_rows(Namespace, sql, namespace_ids)}
    found = []
    for pk in ids:
        if (project := projects.get(pk)) is not None:
            project.namespace = namespaces[project.namespace_id]
            found.append(project)
    return found


def find_project(ref: str | int) -> Project | None:
    """A project by id or full path (case-insensitive), with no visibility check."""
    text = str(ref)
    if text.isdigit() and text.isascii():
        # Beyond a 64-bit id nothing can match (and the database would refuse the number).
        if len(text) > 18:
            return None
        return next(iter(projects_by_ids([int(text)])), None)
    namespace_path, sep, path = text.rpartition("/")
    if not sep or not namespace_path or not path:
        return None
    # Plain SQL (see `projects_by_ids`): this lookup runs on every git request and every API
    # call naming a project by path. LOWER() matches the case-insensitive unique indexes.
    table = Namespace._meta.db_table
    sql = f"SELECT * FROM {table} WHERE LOWER(full_path) = %s LIMIT 1"  # noqa: S608
    namespace = next(iter(load_rows(Namespace, sql, [namespace_path.lower()])), None)
    if namespace is None:
        return None
    table = Project._meta.db_table
    sql = f"SELECT * FROM {table} WHERE namespace_id = %s AND LOWER(path) = %s LIMIT 1"  # noqa: S608
    project = next(iter(load_rows(Project, sql, [namespace.pk, path.lower()])), None)
    if project is not None:
        project.namespace = namespace  # already loaded
    return project


def get_project_for(actor: Actor, ref: str | int, *, action: str = "read_project") -> Project:
    """The project if the actor may see it (else 404), then checks `action` (also 404).

    Callers that must tell a visible-but-forbidden write apart (GitLab answers 403 there) call
    `kiln.core.policy.can` themselves after this, or use a service that does.
    """
    project = find_project(ref)
    if project is None:
        raise NotFound("Project")
    authorize(actor, "read_project", project, what="Project")
    if action != "read_project":
        authorize(actor, action, project, what="Project")
    return project
