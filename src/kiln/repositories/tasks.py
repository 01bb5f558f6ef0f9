"""Background work on repositories: what reacts to a push, and maintenance after pushes
(commit-graph, bitmaps, repack) when the repository needs it (`GitStore.optimize`)."""

from __future__ import annotations

from django_tasks import task

from kiln.projects.models import Project
from kiln.repositories.models import Push
from kiln.repositories.storage import repo_path, store


@task()
def repository_maintenance(project_id: int) -> None:
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return
    path = repo_path(project)
    if store().repository_exists(relative_path=path):
        store().optimize(relative_path=path)


@task()
def process_pushes(push_ids: list[int]) -> None:
    """Run the push listeners (CI, merge requests, issues, events, webhooks) on saved pushes."""
    from kiln.repositories.services import notify_push_listeners

    pushes = list(
        Push.objects.filter(pk__in=push_ids).select_related("project", "author").order_by("pk")
    )
    if pushes:
        notify_push_listeners(pushes)
