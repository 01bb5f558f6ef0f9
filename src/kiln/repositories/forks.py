"""Forks: a new project whose repository starts as a copy of another's (GitLab's
`Projects::ForkService`), and the forks of a project a user may see.

The fork is created by `kiln.projects.services.create_project` (so the target namespace, the
name and path, and the visibility follow the same rules as any new project) with
`forked_from` set in the same transaction; when that commits, the repository lifecycle copies
the source's repository (branches, tags and HEAD; `LocalGitStore.fork_repository`) instead of
creating an empty one. The source's `forks_count` counts its forks.

A fork goes through GitLab's import states: `scheduled` when created, `finished` once copied,
`failed` (with GitLab's `import_error`) when the copy failed; the fork then keeps an empty
repository, and its API entity and home page say that it failed.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F, QuerySet

from kiln.core.access import Visibility
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden
from kiln.gitstore import GitStoreError
from kiln.namespaces.models import Namespace, NamespaceKind
from kiln.namespaces.queries import find_namespace
from kiln.projects import services as project_services
from kiln.projects.models import Project
from kiln.projects.policies import can_read_code, feature_available
from kiln.projects.queries import visible_projects_q
from kiln.repositories.services import sync_project_state
from kiln.repositories.storage import repo_path, store

log = logging.getLogger(__name__)


def can_fork_project(actor: Actor, project: Project) -> bool:
    """GitLab's `fork_project`: a signed-in user who can read the code, when forking is
    enabled for them (`forking_access_level`)."""
    return (
        actor.user is not None
        and can_read_code(actor, project)
        and feature_available(actor, project, project.forking_access_level)
    )


def _target_namespace(actor: Actor, namespace: str | int | None) -> Namespace | None:
    assert actor.user is not None
    if namespace is None or namespace == "":
        return Namespace.objects.filter(owner_id=actor.user.pk, kind=NamespaceKind.USER).first()
    return find_namespace(namespace)


def fork_project(
    *,
    actor: Actor,
    project: Project,
    namespace: str | int | None = None,
    name: str | None = None,
    path: str | None = None,
    description: str | None = None,
    visibility: Visibility | None = None,
) -> Project:
    """Fork `project` into `namespace` (id or full path; the actor's own by default).

    The caller found `project` for the actor (so they may read it); Forbidden when they may
    not fork it. Name, path and description default to the source's. The fork is never more
    visible than its source or its namespace (GitLab takes the lowest of those and the one
    asked for). Everything else (may the actor create projects there, is the path taken) is
    `create_project`'s `{"namespace": ["is not valid"]}`, `{"path": ["has already been
    taken"]}`...
    """
    if not can_fork_project(actor, project):
        raise Forbidden()
    levels = [project.visibility_level]
    target = _target_namespace(actor, namespace)
    if target is not None:
        levels.append(target.visibility_level)
    if visibility is not None:
        levels.append(int(visibility))
    with transaction.atomic():
        fork = project_services.create_project(
            actor=actor,
            name=name or project.name,
            path=path or project.path,
            namespace=namespace,
            description=project.description if description is None else description,
            visibility=Visibility(min(levels)),
            default_branch=project.default_branch,
        )
        fork.forked_from = project
        fork.import_status = "scheduled"
        fork.save(update_fields=["forked_from", "import_status"])
        Project.objects.filter(pk=project.pk).update(forks_count=F("forks_count") + 1)
    return fork


def list_forks_for(actor: Actor, project: Project) -> QuerySet[Project]:
    """`GET /projects/:id/forks`: the direct forks of `project` the actor may see, newest
    first."""
    return (
        Project.objects.filter(visible_projects_q(actor), forked_from_id=project.pk)
        .select_related("namespace")
        .order_by("-created_at", "-id")
    )


# -- the repository lifecycle's part (kiln.repositories.lifecycle) -----------------------------


def copy_source_repository(project: Project) -> bool:
    """For a new fork: its repository as a copy of its source's. False when `project` is no
    fork, its source has no repository, or the copy failed (the caller then creates an empty
    one); a failed copy marks the fork's import `failed`."""
    source_id = (
        Project.objects.filter(pk=project.pk).values_list("forked_from_id", flat=True).first()
    )
    if source_id is None:
        return False
    source = Project.objects.select_related("namespace").filter(pk=source_id).first()
    if source is None or not store().repository_exists(relative_path=repo_path(source)):
        _set_import_status(project, "finished")
        return False
    try:
        store().fork_repository(
            source_relative_path=repo_path(source), relative_path=repo_path(project)
        )
    except (GitStoreError, OSError):
        log.exception("fork repository copy failed", extra={"project_id": project.pk})
        # GitLab's words, without its disk paths (its worker retries; the copy here runs once).
        _set_import_status(
            project,
            "failed",
            f"Every fork attempt has failed: Unable to fork project {project.pk}: "
            "Failed to create fork repository. Please try again.",
        )
        return False
    with transaction.atomic():
        sync_project_state(project)
        _set_import_status(project, "finished")
    return True


def _set_import_status(project: Project, status: str, error: str | None = None) -> None:
    Project.objects.filter(pk=project.pk).update(import_status=status, import_error=error)
    project.import_status, project.import_error = status, error


def fork_deleted(project: Project) -> None:
    """A fork is gone: its source counts one fork less."""
    if project.forked_from_id is not None:
        Project.objects.filter(pk=project.forked_from_id, forks_count__gt=0).update(
            forks_count=F("forks_count") - 1
        )
