"""What a push does to the open merge requests of its branches (GitLab's
`MergeRequests::RefreshService`): the push listener hands pushes that touch such branches to
the background worker, which writes new diff versions, notes the added commits, resets
approvals, re-evaluates diff notes, closes merge requests whose source branch was deleted and
marks merged those whose head the target branch now contains.
"""

from __future__ import annotations

import html
import logging
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from kiln.core.actor import Actor
from kiln.gitstore import GitStoreError
from kiln.merge_requests import diffs, hooks, planning
from kiln.merge_requests.approvals import reset_approvals, settings_for
from kiln.merge_requests.models import MergeRequest, MergeRequestState
from kiln.merge_requests.services import refresh_diff
from kiln.repositories.models import Push
from kiln.repositories.storage import repo_path, store

log = logging.getLogger(__name__)

# Commits listed in an "added N commits" system note.
NOTE_COMMITS_SHOWN = 15


def refresh_after_push(pushes: list[Push]) -> None:
    """The push listener: hand pushes that touch branches of open merge requests to the
    background worker (new diff versions, system notes, approvals, mergeability)."""
    wanted: list[int] = []
    for push in pushes:
        if not push.is_branch:
            continue
        branch = push.ref_name
        touched = MergeRequest.objects.filter(
            Q(source_branch=branch) | Q(target_branch=branch),
            project_id=push.project_id,
            state=MergeRequestState.OPENED,
        ).exists()
        if touched:
            wanted.append(push.pk)
    if not wanted:
        return
    from kiln.merge_requests.tasks import refresh_merge_requests_after_push

    try:
        refresh_merge_requests_after_push.enqueue(wanted)
    except Exception:
        log.exception("could not schedule the merge request refresh", extra={"pushes": wanted})


def process_push(push: Push) -> None:
    """What one push does to the open merge requests of its branch (GitLab's RefreshService).

    Source pushes: a new diff version, "added N commits", approvals reset (when the project
    says so), diff notes re-evaluated, mergeability rechecked; a deleted source branch closes
    its merge requests. Target pushes: merge requests whose head the target now contains are
    marked merged; the others get a new version and a recheck.
    """
    branch = push.ref_name
    deleted = push.after == "0" * len(push.after)
    actor = Actor(user=push.author) if push.author is not None else Actor()
    opened = MergeRequest.objects.select_related("project", "project__namespace").filter(
        project_id=push.project_id, state=MergeRequestState.OPENED
    )
    for mr in opened.filter(source_branch=branch).order_by("id"):
        if deleted:
            _close_for_missing_source(actor, mr)
            continue
        _refresh_source(actor, mr)
    for mr in opened.filter(target_branch=branch).exclude(source_branch=branch).order_by("id"):
        if deleted:
            refresh_diff(mr)
            continue
        if _merged_manually(actor, mr, push.after):
            continue
        refresh_diff(mr)


def _close_for_missing_source(actor: Actor, mr: MergeRequest) -> None:
    with transaction.atomic():
        updated = MergeRequest.objects.filter(pk=mr.pk, state=MergeRequestState.OPENED).update(
            state=MergeRequestState.CLOSED,
            closed_at=timezone.now(),
            closed_by=actor.user,
            branch_missing=True,
            merge_when_pipeline_succeeds=False,
            updated_at=timezone.now(),
        )
        if updated:
            mr.refresh_from_db()
            planning.system_note(actor, mr, "closed", "closed")
            planning.record_state_event(actor, mr, "closed")
            hooks.notify_after_commit(mr, "close", actor)


def _refresh_source(actor: Actor, mr: MergeRequest) -> None:
    previous = diffs.latest_diff(mr)
    old_ids = {c["id"] for c in previous.commits} if previous is not None else set()
    old_head = mr.diff_head_sha
    written = refresh_diff(mr)
    if not written:
        return
    version = diffs.latest_diff(mr)
    assert version is not None
    new_commits = [c for c in version.commits if c["id"] not in old_ids]
    with transaction.atomic():
        if new_commits:
            planning.system_note(actor, mr, _commits_note(mr, new_commits, previous), "commit")
        if mr.diff_head_sha != old_head:
            if mr.merge_when_pipeline_succeeds:
                from kiln.merge_requests.merging import abort_auto_merge

                abort_auto_merge(mr, "the source branch was updated")
            if settings_for(mr.project).reset_approvals_on_push:
                reset_approvals(mr=mr)
            MergeRequest.objects.filter(pk=mr.pk).update(merge_error=None)
            planning.move_diff_notes(mr, version)
            planning.mark_outdated_diff_notes(mr, actor)
            hooks.notify_after_commit(mr, "update", actor, {"oldrev": old_head})


def _commits_note(mr: MergeRequest, commits: list[dict[str, Any]], previous: Any) -> str:
    count = len(commits)
    noun = "commit" if count == 1 else "commits"
    items = "".join(
        f"<li>{c['id'][:8]} - {html.escape(str(c.get('message', '')).split(chr(10), 1)[0])}</li>"
        for c in commits[:NOTE_COMMITS_SHOWN]
    )
    if count > NOTE_COMMITS_SHOWN:
        items += f"<li>and {count - NOTE_COMMITS_SHOWN} more</li>"
    body = f"added {count} {noun}\n\n<ul>{items}</ul>"
    if previous is not None:
        path = f"/{mr.project.full_path}/-/merge_requests/{mr.iid}/diffs"
        body += (
            f"\n\n[Compare with previous version]({path}?diff_id={previous.pk + 0}"
            f"&start_sha={previous.head_commit_sha})"
        )
    return body


def _merged_manually(actor: Actor, mr: MergeRequest, target_head: str) -> bool:
    """GitLab marks a merge request merged when its head reached the target by other means."""
    head = mr.diff_head_sha
    if not head or mr.commits_count == 0:
        return False
    path = repo_path(mr.project)
    try:
        contained = store().is_ancestor(relative_path=path, ancestor=head, descendant=target_head)
    except GitStoreError:
        return False
    if not contained:
        return False
    with transaction.atomic():
        updated = MergeRequest.objects.filter(pk=mr.pk, state=MergeRequestState.OPENED).update(
            state=MergeRequestState.MERGED,
            merged_at=timezone.now(),
            merged_by=actor.user,
            merge_user=actor.user,
            merge_when_pipeline_succeeds=False,
            updated_at=timezone.now(),
        )
        if updated:
            mr.refresh_from_db()
            planning.system_note(actor, mr, f"merged manually (commit {head[:8]})", "merged")
            planning.record_state_event(actor, mr, "merged")
            hooks.notify_after_commit(mr, "merge", actor)
    return bool(updated)
