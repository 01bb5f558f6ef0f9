"""Which GitStore serves repositories, and where a project's repository lives in it."""

from __future__ import annotations

import functools

from django.conf import settings

from kiln.gitstore import GitStore, LocalGitStore, hashed_relative_path
from kiln.projects.models import Project


@functools.cache
def store() -> GitStore:
    return LocalGitStore(settings.REPOSITORIES_DIR)


def repo_path(project: Project) -> str:
    """The project's repository, by its fixed key (renames never move it)."""
    return hashed_relative_path(project.repository_key)
