"""A user's effective access level in a project.

The highest of: a direct project membership; a membership in the project's group or any
ancestor; a membership in a group the project is shared with, capped at the share's level;
Owner of a personal project for the namespace's owner.
"""

from __future__ import annotations

from django.db.models import Max

from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.namespaces.access import active_membership_q, group_access_level
from kiln.projects.models import Project, ProjectGroupLink, ProjectMember


def project_access_level(actor: Actor, project: Project) -> int:
    if actor.user is None:
        return AccessLevel.NO_ACCESS
    key = ("project", project.pk)
    if key in actor.memo:
        return int(actor.memo[key])
    namespace = project.namespace
    if not namespace.is_group:
        level = AccessLevel.OWNER if namespace.owner_id == actor.user.pk else 0
    else:
        level = group_access_level(actor, namespace)
    direct = (
        ProjectMember.objects.filter(active_membership_q(), project_id=project.pk)
        .filter(user_id=actor.user.pk)
        .aggregate(m=Max("access_level"))["m"]
    )
    level = max(level, direct or 0)
    if level < AccessLevel.OWNER:
        links = ProjectGroupLink.objects.filter(
            active_membership_q(), project_id=project.pk
        ).select_related("group")
        for link in links:
            shared = min(group_access_level(actor, link.group), link.group_access)
            level = max(level, shared)
    actor.memo[key] = level
    return int(level)
