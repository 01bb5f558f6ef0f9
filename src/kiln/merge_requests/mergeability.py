"""Can this merge request be merged, and if not, why: GitLab's merge checks.

Two kinds of checks, as GitLab splits them (and the merge API answers them differently):

- state checks (`mergeable_state?`; a failure is 405 Method Not Allowed): open, not a draft,
  has commits and both branches, discussions resolved (when the project requires it), the
  pipeline (when required), approvals;
- git checks (`mergeable_git_state?`; a failure is 422 "Branch cannot be merged"): no
  conflicts, and for fast-forward and semi-linear projects a source rebased on the target.

`merge_status` (can_be_merged / cannot_be_merged) is the stored result of the conflict check,
recomputed in the background after pushes to either branch (`check_mergeability`);
`detailed_merge_status` names the first failing check.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiln.gitstore import GitStoreError
from kiln.merge_requests import hooks, planning
from kiln.merge_requests.models import MergeRequest, MergeRequestState, MergeStatus
from kiln.repositories.storage import repo_path, store

# Pipeline statuses that count as passed; "skipped" only when the project allows it.
_PASSED = frozenset({"success"})


def approvals_required(mr: MergeRequest) -> int:
    from kiln.merge_requests.approvals import settings_for

    return settings_for(mr.project).approvals_before_merge


def approvals_given(mr: MergeRequest) -> int:
    cached = getattr(mr, "_approvals_count", None)
    if cached is not None:
        return int(cached)
    count = mr.approvals.count()
    mr._approvals_count = count  # type: ignore[attr-defined]
    return count


def is_approved(mr: MergeRequest) -> bool:
    return approvals_given(mr) >= approvals_required(mr)


def needs_rebase(mr: MergeRequest) -> bool:
    """Fast-forward and semi-linear projects merge only a source that contains the target.

    The latest diff version records both: its merge base equals the target's head exactly
    when the source is rebased (versions are refreshed on pushes to either branch).
    """
    if mr.project.merge_method not in ("ff", "rebase_merge"):
        return False
    if not mr.diff_start_sha:
        return False
    return mr.diff_base_sha != mr.diff_start_sha


def ci_status(mr: MergeRequest) -> str | None:
    """None when the pipeline does not block; else "ci_must_pass" or "ci_still_running"."""
    project = mr.project
    if not project.only_allow_merge_if_pipeline_succeeds:
        return None
    pipeline = hooks.head_pipeline(project, mr.diff_head_sha, mr.source_branch)
    if pipeline is None:
        return "ci_must_pass"
    if pipeline.status in _PASSED:
        return None
    if pipeline.status == "skipped" and project.allow_merge_on_skipped_pipeline:
        return None
    if pipeline.status in hooks.ACTIVE_STATUSES:
        return "ci_still_running"
    return "ci_must_pass"


def discussions_resolved(mr: MergeRequest) -> bool:
    """GitLab's `mergeable_discussions_state?` (true unless the project requires it)."""
    if not mr.project.only_allow_merge_if_all_discussions_are_resolved:
        return True
    return planning.discussions_resolved(mr)


@dataclass(frozen=True)
class StateCheck:
    """The first failing state check (GitLab's identifier), or None when all pass."""

    failure: str | None

    @property
    def ok(self) -> bool:
        return self.failure is None


def state_check(mr: MergeRequest, *, skip_ci: bool = False) -> StateCheck:
    if mr.state != MergeRequestState.OPENED:
        return StateCheck("not_open")
    if mr.draft:
        return StateCheck("draft_status")
    if mr.branch_missing or mr.commits_count == 0:
        return StateCheck("commits_status")
    if not discussions_resolved(mr):
        return StateCheck("discussions_not_resolved")
    if not skip_ci and (ci := ci_status(mr)) is not None:
        return StateCheck(ci)
    if not is_approved(mr):
        return StateCheck("not_approved")
    return StateCheck(None)


def detailed_merge_status(mr: MergeRequest) -> str:
    """GitLab's `detailed_merge_status` from stored facts (no git call)."""
    if mr.state != MergeRequestState.OPENED:
        return "not_open"
    if mr.merge_status == MergeStatus.UNCHECKED:
        return "unchecked"
    if mr.merge_status in (MergeStatus.CHECKING, MergeStatus.CANNOT_BE_MERGED_RECHECK):
        return "checking"
    state = state_check(mr)
    if not state.ok:
        assert state.failure is not None
        return state.failure
    if mr.merge_status == MergeStatus.CANNOT_BE_MERGED:
        return "conflict"
    if needs_rebase(mr):
        return "need_rebase"
    return "mergeable"


def public_merge_status(mr: MergeRequest) -> str:
    """GitLab's `public_merge_status`: "checking" while a check is pending or running."""
    if mr.merge_status in (MergeStatus.CHECKING, MergeStatus.CANNOT_BE_MERGED_RECHECK):
        return MergeStatus.CHECKING
    return mr.merge_status


def conflicts(mr: MergeRequest, *, target_head: str) -> tuple[str, ...]:
    """Paths that conflict when merging the reviewed head into `target_head` (no ref moves)."""
    return store().find_conflicts(
        relative_path=repo_path(mr.project), source=mr.diff_head_sha, target=target_head
    )


def check_mergeability(mr: MergeRequest) -> str:
    """Recompute and store `merge_status` for an open merge request; returns it.

    Both branches must exist and the reviewed head must merge into the target without
    conflicts. The update is conditional on the head checked, so a check that raced a push
    never overwrites the newer state.
    """
    if mr.state != MergeRequestState.OPENED:
        return mr.merge_status
    path = repo_path(mr.project)
    gitstore = store()
    source = gitstore.find_branch(relative_path=path, name=mr.source_branch)
    target = gitstore.find_branch(relative_path=path, name=mr.target_branch)
    missing = source is None or target is None
    status = MergeStatus.CANNOT_BE_MERGED
    if not missing and mr.diff_head_sha:
        assert target is not None
        try:
            found = conflicts(mr, target_head=target.commit.id)
        except GitStoreError:
            found = ("(unknown)",)
        status = MergeStatus.CAN_BE_MERGED if not found else MergeStatus.CANNOT_BE_MERGED
    MergeRequest.objects.filter(pk=mr.pk, diff_head_sha=mr.diff_head_sha).update(
        merge_status=status, branch_missing=missing
    )
    mr.merge_status, mr.branch_missing = status, missing
    return status
