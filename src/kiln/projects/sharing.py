"""Sharing a project with a group (GitLab's `Projects::GroupLinks::CreateService` and
`DestroyService`): the group's members get up to the share's level in the project."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction

from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.core.errors import Conflict, Forbidden, KilnError, NotFound, PlainBadRequest
from kiln.core.policy import can
from kiln.namespaces.access import group_access_level
from kiln.namespaces.models import Namespace, NamespaceKind
from kiln.projects.access import forget_project_access
from kiln.projects.models import Project, ProjectGroupLink


class ShareTargetNotFound(KilnError):
    """GitLab's group-link services answer a group the actor may not share with as
    `{"message": "Not Found"}` (404), without the usual "404 ... Not Found" wording."""

    status = 404
    reason = "not_found"

    def __init__(self) -> None:
        super().__init__("Not Found")


def _share_locked(namespace: Namespace) -> bool:
    if not namespace.is_group:
        return False
    return Namespace.objects.filter(
        pk__in=namespace.ancestor_ids, share_with_group_lock=True
    ).exists()


def share_project(
    *,
    actor: Actor,
    project: Project,
    group_id: int,
    group_access: int,
    expires_at: dt.date | None = None,
) -> ProjectGroupLink:
    """`POST /projects/:id/share`: give a group's members up to `group_access` in the project.

    Needs `admin_project` (Maintainer; 403). Refused when the project's group (or an ancestor)
    locks sharing (400), when the actor is not a member of the group (GitLab's 404 "Not
    Found"), when granting Owner without being an Owner (403), and (409) for the project's own
    group or an ancestor of it, or a group it is already shared with.
    """
    if not can(actor, "admin_project", project):
        raise Forbidden()
    if _share_locked(project.namespace):
        raise PlainBadRequest("The project sharing with group is disabled")
    group = Namespace.objects.filter(pk=group_id, kind=NamespaceKind.GROUP).first()
    if group is None or not (
        actor.is_admin or group_access_level(actor, group) >= AccessLevel.GUEST
    ):
        raise ShareTargetNotFound()
    if group_access == AccessLevel.OWNER and not can(actor, "manage_owners", project):
        raise Forbidden()
    if project.namespace.is_group and group.pk in project.namespace.ancestor_ids:
        raise Conflict("Project cannot be shared with the group it is in or one of its ancestors.")
    try:
        with transaction.atomic():
            link = ProjectGroupLink.objects.create(
                project=project, group=group, group_access=group_access, expires_at=expires_at
            )
    except IntegrityError:
        raise Conflict("Group already shared with this group") from None
    forget_project_access(actor, project)
    return link


def unshare_project(*, actor: Actor, project: Project, group_id: int) -> None:
    """`DELETE /projects/:id/share/:group_id`. Needs `admin_project`; an Owner share needs an
    Owner. A missing share answers 404 "Group Link Not Found"."""
    if not can(actor, "admin_project", project):
        raise Forbidden()
    link = ProjectGroupLink.objects.filter(project_id=project.pk, group_id=group_id).first()
    if link is None:
        raise NotFound("Group Link")
    if link.group_access == AccessLevel.OWNER and not can(actor, "manage_owners", project):
        raise Forbidden()
    link.delete()
    forget_project_access(actor, project)
