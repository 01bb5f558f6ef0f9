"""Transferring a project to another namespace (GitLab's `Projects::TransferService`)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q

from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, PlainBadRequest
from kiln.core.policy import can
from kiln.namespaces.queries import get_namespace_for
from kiln.projects.access import forget_project_access
from kiln.projects.models import Project
from kiln.projects.observers import project_moved_after_commit
from kiln.projects.policies import can_transfer_into
from kiln.projects.services import ensure_owner_membership, path_taken, render_description


class TransferFailed(PlainBadRequest):
    """`{"message": "Failed to transfer project {:new_namespace=>[\"<why>\"]}"}` (400)."""

    reason = "transfer_failed"

    def __init__(self, why: str) -> None:
        escaped = why.replace("\\", "\\\\").replace('"', '\\"')
        super().__init__(f'Failed to transfer project {{:new_namespace=>["{escaped}"]}}')


def transfer_project(*, actor: Actor, project: Project, namespace: str | int) -> Project:
    """Move the project to another namespace (id or full path), as GitLab's TransferService.

    Needs `change_namespace` (Owner of the project; 403 otherwise). The target must be visible
    (404 "Namespace Not Found"), and the actor must be allowed to put projects there (its owner
    for a personal namespace; Maintainer with `create_projects` in a group). The project's
    visibility drops to the target group's when it was higher. The repository does not move:
    its storage key never changes. Once committed, the project's listeners hear that it moved
    (its members are emailed the new location).
    """
    if not can(actor, "change_namespace", project):
        raise Forbidden()
    target = get_namespace_for(actor, namespace)
    if target.pk == project.namespace_id:
        raise TransferFailed("Project is already in this namespace.")
    if not can_transfer_into(actor, target):
        raise TransferFailed("You don't have permission to transfer projects into that namespace.")
    clash = Project.objects.filter(namespace_id=target.pk).filter(
        Q(name=project.name) | Q(path__iexact=project.path)
    )
    if clash.exists() or path_taken(target, project.path, exclude=project):
        raise TransferFailed("Project with same name or path in target namespace already exists")
    old_full_path = project.full_path
    try:
        with transaction.atomic():
            locked = Project.objects.select_for_update().get(pk=project.pk)
            locked.namespace = target
            fields = ["namespace", "updated_at"]
            if target.is_group and locked.visibility_level > target.visibility_level:
                locked.visibility_level = target.visibility_level
                fields.append("visibility_level")
            locked.description_html = render_description(locked)
            fields.append("description_html")
            locked.save(update_fields=fields)
            ensure_owner_membership(locked, actor)
            project_moved_after_commit(locked, old_full_path, actor)
    except IntegrityError:
        raise TransferFailed(
            "Project with same name or path in target namespace already exists"
        ) from None
    forget_project_access(actor, project)
    project.refresh_from_db()
    project.namespace = target
    return project
