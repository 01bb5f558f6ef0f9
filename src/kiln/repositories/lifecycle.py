"""Repositories follow their projects: created with them, removed after them.

Model signals catch every way a project row is created or deleted (a service, a group's
deletion, a user's), so no path can leave a repository behind or a project without one. Disk
work runs after the transaction commits: a rolled-back creation leaves no repository, and a
rolled-back deletion removes none. If creating one fails anyway, `ensure_repository` creates it
on first use.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from kiln.core.actor import Actor
from kiln.core.errors import KilnError
from kiln.gitstore import GitStoreError
from kiln.projects.models import Project
from kiln.repositories.storage import repo_path, store

log = logging.getLogger(__name__)


def _created(sender: type[Project], instance: Project, created: bool, **kwargs: Any) -> None:
    if not created or kwargs.get("raw"):
        return
    from kiln.repositories.services import protect_default_branch

    protect_default_branch(instance)
    transaction.on_commit(lambda: _safely(_initialize, instance))


def _initialize(project: Project) -> None:
    """Create the repository: a fork's as a copy of its source's (kiln.repositories.forks);
    with `initialize_with_readme`, its first commit, as GitLab does (synchronously, so the
    creating request already sees a non-empty repository)."""
    from kiln.repositories.files import add_readme
    from kiln.repositories.forks import copy_source_repository
    from kiln.repositories.services import ensure_repository

    if copy_source_repository(project):
        return
    ensure_repository(project)
    if project.initialize_with_readme and project.creator is not None:
        add_readme(
            actor=Actor.for_user(project.creator),
            project=project,
            content=f"# {project.name}\n".encode(),
            message="Initial commit",
        )


def _deleted(sender: type[Project], instance: Project, **kwargs: Any) -> None:
    from kiln.repositories.forks import fork_deleted

    fork_deleted(instance)
    path = repo_path(instance)
    transaction.on_commit(lambda: _safely_remove(path))


def _safely(fn: Any, project: Project) -> None:
    try:
        fn(project)
    except (GitStoreError, KilnError, OSError):
        log.exception("repository creation failed; it is retried on first use")


def _safely_remove(path: str) -> None:
    try:
        if store().repository_exists(relative_path=path):
            store().remove_repository(relative_path=path)
    except (GitStoreError, OSError):
        log.exception("repository removal failed", extra={"relative_path": path})


def connect() -> None:
    post_save.connect(_created, sender=Project, dispatch_uid="kiln.repositories.created")
    post_delete.connect(_deleted, sender=Project, dispatch_uid="kiln.repositories.deleted")
