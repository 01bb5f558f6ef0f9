"""Background work for merge requests: mergeability checks, refreshes after pushes, rebases."""

from __future__ import annotations

from django_tasks import task

from kiln.merge_requests import mergeability, merging, pushes
from kiln.merge_requests.models import MergeRequest
from kiln.repositories.models import Push


@task()
def check_merge_request_mergeability(mr_id: int) -> None:
    """Recompute `merge_status` (conflicts, missing branches) for one merge request."""
    mr = MergeRequest.objects.select_related("project", "project__namespace").filter(pk=mr_id)
    found = mr.first()
    if found is not None:
        mergeability.check_mergeability(found)


@task()
def refresh_merge_requests_after_push(push_ids: list[int]) -> None:
    """New diff versions, notes, approval resets and rechecks for the pushed branches."""
    for push in Push.objects.select_related("author").filter(pk__in=push_ids).order_by("id"):
        pushes.process_push(push)


@task()
def rebase_merge_request_task(mr_id: int, user_id: int | None) -> None:
    merging.run_rebase(mr_id, user_id)
