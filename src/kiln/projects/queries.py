"""Reads of projects, already restricted to what the actor may see."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from kiln.core.access import AccessLevel, Visibility
from kiln.core.actor import Actor
from kiln.core.errors import NotFound
from kiln.core.policy import authorize
from kiln.namespaces.access import active_membership_q, member_group_traversals, subtree_q
from kiln.namespaces.models import Namespace
from kiln.namespaces.queries import find_namespace, register_membership_source
from kiln.projects.models import Project, ProjectGroupLink, ProjectMember


def _member_project_ids(actor: Actor, min_level: int = AccessLevel.GUEST) -> list[int]:
    if actor.user is None:
        return []
    key = ("member_projects", min_level)
    if key not in actor.memo:
        direct = ProjectMember.objects.filter(
            active_membership_q(), user_id=actor.user.pk, access_level__gte=min_level
        ).values_list("project_id", flat=True)
        shared = (
            ProjectGroupLink.objects.filter(active_membership_q(), group_access__gte=min_level)
            .filter(group__in=Namespace.objects.filter(subtree_q(member_group_traversals(actor))))
            .values_list("project_id", flat=True)
        )
        actor.memo[key] = sorted(set(direct) | set(shared))
    return list(actor.memo[key])


def _project_namespace_traversals(actor: Actor) -> list[str]:
    ids = _member_project_ids(actor)
    if not ids:
        return []
    return list(
        Project.objects.filter(pk__in=ids)
        .values_list("namespace__traversal_ids", flat=True)
        .distinct()
    )


register_membership_source(_project_namespace_traversals)


def member_projects_q(actor: Actor, min_level: int = AccessLevel.GUEST) -> Q:
    """Projects where the actor has at least `min_level` through any membership."""
    if actor.user is None:
        return Q(pk__in=[])
    q = Q(pk__in=_member_project_ids(actor, min_level))
    q |= Q(namespace__owner_id=actor.user.pk)
    # Group memberships below the minimum still pass through subtree; filter by level.
    from kiln.namespaces.models import GroupMember

    traversals = list(
        GroupMember.objects.filter(
            active_membership_q(), user_id=actor.user.pk, access_level__gte=min_level
        ).values_list("group__traversal_ids", flat=True)
    )
    q |= subtree_q(traversals, field="namespace__traversal_ids")
    return q


def visible_projects_q(actor: Actor) -> Q:
    if actor.is_admin:
        return Q()
    q = Q(visibility_level=Visibility.PUBLIC)
    if actor.user is not None and not actor.user.external:
        q |= Q(visibility_level__gte=Visibility.INTERNAL)
    return q | member_projects_q(actor)


def list_projects_for(actor: Actor) -> QuerySet[Project]:
    return Project.objects.filter(visible_projects_q(actor)).select_related("namespace")


def find_project(ref: str | int) -> Project | None:
    """A project by id or full path (case-insensitive), with no visibility check."""
    text = str(ref)
    qs = Project.objects.select_related("namespace", "namespace__owner")
    if text.isdigit():
        return qs.filter(pk=int(text)).first()
    namespace_path, sep, path = text.rpartition("/")
    if not sep:
        return None
    namespace = find_namespace(namespace_path)
    if namespace is None:
        return None
    return qs.annotate(lp=Lower("path")).filter(namespace=namespace, lp=path.lower()).first()


def get_project_for(actor: Actor, ref: str | int, *, action: str = "read_project") -> Project:
    """The project if the actor may see it (else 404), then checks `action` (also 404).

    Callers that must tell a visible-but-forbidden write apart (GitLab answers 403 there) call
    `kiln.core.policy.can` themselves after this.
    """
    project = find_project(ref)
    if project is None:
        raise NotFound("Project")
    authorize(actor, "read_project", project, what="Project")
    if action != "read_project":
        authorize(actor, action, project, what="Project")
    return project
