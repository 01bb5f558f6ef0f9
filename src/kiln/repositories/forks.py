"""Forks: a new project whose repository starts as a copy of another's (GitLab's
`Projects::ForkService`), and the forks of a project a user may see.

The fork is created by `kiln.projects.services.create_project` (so the target namespace, the
name and path, and the visibility follow the same rules as any new project) with
`forked_from` set in the same transaction; when that commits, the repository lifecycle copies
the source's repository (branches, tags and HEAD; `LocalGitStore.fork_repository`) instead of
creating an empty one; a fork of one branch (`branches`) then keeps that branch alone. The
source's `forks_count` counts its forks. An existing project may also be linked to a source
(`link_fork`) or let go of it (`unlink_fork`), as GitLab's fork relation endpoints do.

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
from kiln.core.errors import Conflict, Forbidden, PlainBadRequest
from kiln.core.policy import can
from kiln.gitstore import GitStoreError
from kiln.namespaces.models import Namespace, NamespaceKind
from kiln.namespaces.queries import find_namespace
from kiln.projects import services as project_services
from kiln.projects.models import Project
from kiln.projects.policies import can_read_code, feature_available
from kiln.projects.queries import ProjectFilters, list_projects_for, visible_projects_q
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


def _target_namespace(actor: Actor, namespace: Namespace | str | int | None) -> Namespace | None:
    assert actor.user is not None
    if isinstance(namespace, Namespace):
        return namespace
    if namespace is None or namespace == "":
        return Namespace.objects.filter(owner_id=actor.user.pk, kind=NamespaceKind.USER).first()
    return find_namespace(namespace)


def valid_fork_target(actor: Actor, namespace: Namespace | None) -> bool:
    """GitLab's `valid_fork_target?`: admins may fork anywhere; others into a namespace where
    they may create projects (their own, by default)."""
    if actor.user is None:
        return False
    if actor.is_admin:
        return True
    target = _target_namespace(actor, namespace)
    return target is not None and can(actor, "create_projects", target)


def source_branch_exists(project: Project, branch: str) -> bool:
    """Whether `project`'s repository has `branch` (a name git refuses is no branch)."""
    try:
        return store().find_branch(relative_path=repo_path(project), name=branch) is not None
    except GitStoreError:
        return False


def fork_project(
    *,
    actor: Actor,
    project: Project,
    namespace: Namespace | str | int | None = None,
    name: str | None = None,
    path: str | None = None,
    description: str | None = None,
    visibility: Visibility | None = None,
    branch: str | None = None,
) -> Project:
    """Fork `project` into `namespace` (a namespace, its id or full path; the actor's own by
    default). With `branch` (an existing branch of the source: the caller checked with
    `source_branch_exists`), the fork has that branch alone, as its default branch.

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
            namespace=target.pk if target is not None else str(namespace or "") or None,
            description=project.description if description is None else description,
            visibility=Visibility(min(levels)),
            default_branch=branch or project.default_branch,
            settings=_inherited_settings(project),
        )
        fork.forked_from = project
        fork.import_status = "scheduled"
        fork.save(update_fields=["forked_from", "import_status"])
        Project.objects.filter(pk=project.pk).update(forks_count=F("forks_count") + 1)
        if branch:
            # Registered after the repository lifecycle's copy (in `create_project`), so it
            # runs after it when the fork commits.
            transaction.on_commit(lambda: _keep_only_branch(fork, branch))
    return fork


# What a fork takes over from its source besides the repository (GitLab's ForkService: the
# feature access levels, CI config path and depth, shared runners, commit templates).
_INHERITED = (
    *project_services.ACCESS_LEVEL_SETTINGS,
    "shared_runners_enabled",
    "ci_config_path",
    "ci_default_git_depth",
    "suggestion_commit_message",
    "merge_commit_template",
    "squash_commit_template",
)


def _inherited_settings(project: Project) -> dict[str, object]:
    return {name: getattr(project, name) for name in _INHERITED if hasattr(project, name)}


def _keep_only_branch(fork: Project, branch: str) -> None:
    """A one-branch fork: remove the copied branches but `branch`, and point HEAD at it."""
    gitstore = store()
    path = repo_path(fork)
    try:
        if gitstore.find_branch(relative_path=path, name=branch) is None:
            return
        gitstore.set_head(relative_path=path, branch=branch)
        for other in gitstore.list_branches(relative_path=path):
            if other.name != branch:
                gitstore.delete_branch(
                    relative_path=path, name=other.name, expected_oid=other.commit.id
                )
    except GitStoreError:
        log.exception("pruning the branches of fork %s failed", fork.pk)
        return
    with transaction.atomic():
        sync_project_state(fork)


def link_fork(*, actor: Actor, project: Project, source: Project) -> Project:
    """`POST /projects/:id/fork/:forked_from_id`: mark `project` (which the actor found) as
    a fork of `source` (which the actor may see). Owners (and admins) only, who may fork
    `source` (Forbidden otherwise); `project` must be no fork yet (Conflict) nor `source`
    itself. Whether `project`'s namespace is a valid fork target is the caller's check."""
    if not can(actor, "remove_project", project) or not can_fork_project(actor, source):
        raise Forbidden()
    if project.forked_from_id is not None:
        raise Conflict("Project already forked")
    if project.pk == source.pk:
        raise PlainBadRequest("Target project cannot be equal to source project")
    with transaction.atomic():
        updated = Project.objects.filter(pk=project.pk, forked_from__isnull=True).update(
            forked_from=source
        )
        if not updated:
            raise Conflict("Project already forked")
        Project.objects.filter(pk=source.pk).update(forks_count=F("forks_count") + 1)
    project.forked_from_id = source.pk
    return project


def unlink_fork(*, actor: Actor, project: Project) -> bool:
    """`DELETE /projects/:id/fork`: `project` is no fork anymore (its source counts one
    fork less). Owners and admins only. False when it was no fork (GitLab's 304)."""
    if not can(actor, "remove_project", project):
        raise Forbidden()
    with transaction.atomic():
        source_id = (
            Project.objects.select_for_update()
            .filter(pk=project.pk)
            .values_list("forked_from_id", flat=True)
            .first()
        )
        if source_id is None:
            return False
        Project.objects.filter(pk=project.pk).update(forked_from=None)
        Project.objects.filter(pk=source_id, forks_count__gt=0).update(
            forks_count=F("forks_count") - 1
        )
    project.forked_from_id = None
    return True


def list_forks_for(
    actor: Actor, project: Project, filters: ProjectFilters | None = None
) -> QuerySet[Project]:
    """`GET /projects/:id/forks`: the direct forks of `project` the actor may see, newest
    first unless `filters` (GitLab's project list filters) say otherwise."""
    if filters is not None:
        return list_projects_for(actor, filters).filter(forked_from_id=project.pk)
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
