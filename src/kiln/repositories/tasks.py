"""Background work on repositories: maintenance after pushes (commit-graph, bitmaps, repack)."""

from __future__ import annotations

from django_tasks import task

from kiln.projects.models import Project
from kiln.repositories.storage import repo_path, store


@task()
def repository_maintenance(project_id: int) -> None:
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return
    path = repo_path(project)
    if store().repository_exists(relative_path=path):
        store().maintenance(relative_path=path)
