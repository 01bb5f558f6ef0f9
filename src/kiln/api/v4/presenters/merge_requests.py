"""Merge request shapes, field for field as GitLab's entities give them: MergeRequestSimple,
MergeRequestBasic (lists), MergeRequest (one), MergeRequestChanges, MergeRequestDiff
versions, approvals and the project's approval settings.

`merge_request_entities` presents a whole page: users, labels, note counts, votes and
discussion states come in a fixed number of queries whatever the page size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, prefetch_related_objects
from django.http import HttpRequest

from kiln.api.v4.presenters import issues as issue_presenters
from kiln.api.v4.presenters.common import iso
from kiln.api.v4.presenters.labels import label_basic, milestone_entity
from kiln.api.v4.presenters.repository import commit_entity, diff_entity
from kiln.api.v4.presenters.todos import register_target_presenter
from kiln.api.v4.presenters.users import user_basic
from kiln.core.actor import Actor
from kiln.core.policy import can
from kiln.core.urls import base_url
from kiln.markdown import list_tasks
from kiln.markdown.tasks import TASK_DONE, TASK_INAPPLICABLE
from kiln.merge_requests import diffs, hooks, mergeability, planning
from kiln.merge_requests.approvals import ApprovalView
from kiln.merge_requests.merging import can_merge
from kiln.merge_requests.models import (
    MergeRequest,
    MergeRequestApproval,
    MergeRequestDiff,
    MergeRequestDiffFile,
    MergeRequestSettings,
)
from kiln.merge_requests.queries import visible_merge_requests
from kiln.namespaces.models import Namespace
from kiln.projects.models import Project


@dataclass
class PageContext:
    """What a page of merge requests is presented with (fetched once for the page)."""

    request: HttpRequest | None
    actor: Actor
    # The project or group the list was asked for (`references.relative`).
    project: Project | None = None
    group: Namespace | None = None
    notes_counts: dict[int, int] = field(default_factory=dict)
    votes: dict[int, tuple[int, int]] = field(default_factory=dict)
    with_labels_details: bool = False


def _url(request: HttpRequest | None, mr: MergeRequest) -> str:
    return f"{base_url(request)}/{mr.project.full_path}/-/merge_requests/{mr.iid}"


def _references(mr: MergeRequest, ctx: PageContext) -> dict[str, str]:
    short = f"!{mr.iid}"
    full = f"{mr.project.full_path}{short}"
    if ctx.project is not None and ctx.project.pk == mr.project_id:
        relative = short
    elif ctx.group is not None and mr.project.full_path.startswith(ctx.group.full_path + "/"):
        relative = mr.project.full_path[len(ctx.group.full_path) + 1 :] + short
    else:
        relative = full
    return {"short": short, "relative": relative, "full": full}


def _task_status(description: str) -> dict[str, int]:
    """GitLab's `task_completion_status` (inapplicable tasks are not counted)."""
    if "[" not in description:
        return {"count": 0, "completed_count": 0}
    tasks = [t for t in list_tasks(description) if t.state != TASK_INAPPLICABLE]
    done = sum(1 for t in tasks if t.state == TASK_DONE)
    return {"count": len(tasks), "completed_count": done}


def _time_stats() -> dict[str, Any]:
    # Time tracking is not kept for merge requests yet: GitLab's zero values.
    return {
        "time_estimate": 0,
        "total_time_spent": 0,
        "human_time_estimate": None,
        "human_total_time_spent": None,
    }


def _user(user: Any, request: HttpRequest | None) -> dict[str, Any] | None:
    return user_basic(user, request) if user is not None else None


def simple_entity(mr: MergeRequest, ctx: PageContext) -> dict[str, Any]:
    """GitLab's `MergeRequestSimple` (`view=simple`)."""
    return {
        "id": mr.pk,
        "iid": mr.iid,
        "project_id": mr.project_id,
        "title": mr.title,
        "description": mr.description,
        "state": mr.state,
        "created_at": iso(mr.created_at),
        "updated_at": iso(mr.updated_at),
        "web_url": _url(ctx.request, mr),
    }


def basic_entity(mr: MergeRequest, ctx: PageContext) -> dict[str, Any]:
    """GitLab's `MergeRequestBasic`. `assignees`, `reviewer_rows` and `labels` must be
    prefetched (see `merge_request_entities`)."""
    request = ctx.request
    assignees = [user_basic(u, request) for u in mr.assignees.all()]
    reviewers = [user_basic(r.user, request) for r in mr.reviewer_rows.all()]
    labels = sorted(mr.labels.all(), key=lambda label: label.title)
    up, down = ctx.votes.get(mr.pk, (0, 0))
    detailed = mergeability.detailed_merge_status(mr)
    merged_by = _user(mr.merged_by, request)
    data: dict[str, Any] = {
        "id": mr.pk,
        "iid": mr.iid,
        "project_id": mr.project_id,
        "title": mr.title,
        "description": mr.description,
        "state": mr.state,
        "created_at": iso(mr.created_at),
        "updated_at": iso(mr.updated_at),
        "merged_by": merged_by,
        "merge_user": _user(mr.merge_user, request) or merged_by,
        "merged_at": iso(mr.merged_at),
        "merge_after": None,
        "prepared_at": iso(mr.prepared_at),
        "closed_by": _user(mr.closed_by, request),
        "closed_at": iso(mr.closed_at),
        "target_branch": mr.target_branch,
        "source_branch": mr.source_branch,
        "user_notes_count": ctx.notes_counts.get(mr.pk, 0),
        "upvotes": up,
        "downvotes": down,
        "author": _user(mr.author, request),
        "assignees": assignees,
        "assignee": assignees[0] if assignees else None,
        "reviewers": reviewers,
        "source_project_id": mr.source_project_id or mr.project_id,
        "target_project_id": mr.project_id,
        "labels": (
            [label_basic(label) for label in labels]
            if ctx.with_labels_details
            else [label.title for label in labels]
        ),
        "draft": mr.draft,
        "imported": False,
        "imported_from": "none",
        "work_in_progress": mr.draft,
        "milestone": milestone_entity(mr.milestone, request) if mr.milestone else None,
        "merge_when_pipeline_succeeds": mr.merge_when_pipeline_succeeds,
        "merge_status": mergeability.public_merge_status(mr),
        "detailed_merge_status": detailed,
        "sha": mr.diff_head_sha or None,
        "merge_commit_sha": mr.merge_commit_sha,
        "squash_commit_sha": mr.squash_commit_sha,
        "discussion_locked": mr.discussion_locked,
        "should_remove_source_branch": mr.should_remove_source_branch,
        "force_remove_source_branch": mr.force_remove_source_branch,
        "reference": _references(mr, ctx)["short"]
        if ctx.project is not None and ctx.project.pk == mr.project_id
        else _references(mr, ctx)["full"],
        "references": _references(mr, ctx),
        "web_url": _url(request, mr),
        "time_stats": _time_stats(),
        "squash": mr.squash,
        "squash_on_merge": _squash_on_merge(mr),
        "task_completion_status": _task_status(mr.description),
        "has_conflicts": mr.merge_status == "cannot_be_merged",
        "blocking_discussions_resolved": mergeability.discussions_resolved(mr),
    }
    return data


def _squash_on_merge(mr: MergeRequest) -> bool:
    option = mr.project.squash_option
    if option == "always":
        return True
    if option == "never":
        return False
    return mr.squash


def _prefetch(mrs: Sequence[MergeRequest]) -> None:
    prefetch_related_objects(list(mrs), "assignees", "reviewer_rows__user", "labels")
    milestones = [mr.milestone for mr in mrs if mr.milestone is not None]
    prefetch_related_objects(milestones, "project__namespace", "group")


def _prime_approvals(mrs: Sequence[MergeRequest]) -> None:
    """Approval counts and the projects' approval settings for a page, in two queries."""
    if not mrs:
        return
    counts = dict(
        MergeRequestApproval.objects.filter(merge_request_id__in=[mr.pk for mr in mrs])
        .values("merge_request_id")
        .annotate(n=Count("pk"))
        .values_list("merge_request_id", "n")
    )
    project_ids = {mr.project_id for mr in mrs}
    rows = {
        s.project_id: s for s in MergeRequestSettings.objects.filter(project_id__in=project_ids)
    }
    for mr in mrs:
        mr._approvals_count = counts.get(mr.pk, 0)  # type: ignore[attr-defined]
        settings = rows.get(mr.project_id) or MergeRequestSettings(project_id=mr.project_id)
        mr.project._mr_settings = settings  # type: ignore[attr-defined]


def page_context(
    mrs: Sequence[MergeRequest],
    request: HttpRequest | None,
    actor: Actor,
    *,
    project: Project | None = None,
    group: Namespace | None = None,
    with_labels_details: bool = False,
) -> PageContext:
    ids = [mr.pk for mr in mrs]
    _prime_approvals(mrs)
    return PageContext(
        request=request,
        actor=actor,
        project=project,
        group=group,
        notes_counts=planning.user_notes_counts(ids),
        votes=planning.vote_counts(ids),
        with_labels_details=with_labels_details,
    )


def merge_request_entities(
    mrs: Sequence[MergeRequest],
    request: HttpRequest | None,
    actor: Actor,
    *,
    project: Project | None = None,
    group: Namespace | None = None,
    simple: bool = False,
    with_labels_details: bool = False,
) -> list[dict[str, Any]]:
    """A page of `MergeRequestBasic` (or `MergeRequestSimple`)."""
    mrs = list(mrs)
    if simple:
        ctx = PageContext(request=request, actor=actor, project=project, group=group)
        return [simple_entity(mr, ctx) for mr in mrs]
    _prefetch(mrs)
    ctx = page_context(
        mrs, request, actor, project=project, group=group, with_labels_details=with_labels_details
    )
    return [basic_entity(mr, ctx) for mr in mrs]


def pipeline_basic(info: hooks.PipelineInfo | None) -> dict[str, Any] | None:
    if info is None:
        return None
    return {
        "id": info.id,
        "iid": info.iid,
        "project_id": info.extra.get("project_id"),
        "sha": info.sha,
        "ref": info.ref,
        "status": info.status,
        "source": info.source,
        "created_at": iso(info.created_at),
        "updated_at": iso(info.updated_at),
        "web_url": info.web_url,
        **{k: v for k, v in info.extra.items() if k not in ("project_id", "detail")},
    }


def head_pipeline_entity(info: hooks.PipelineInfo | None) -> dict[str, Any] | None:
    """GitLab's full `Pipeline` entity, as a merge request's `head_pipeline`."""
    data = pipeline_basic(info)
    if data is None or info is None:
        return data
    detail = dict(info.extra.get("detail") or {})
    for name in ("started_at", "finished_at", "committed_at"):
        if name in detail:
            detail[name] = iso(detail[name])
    data.update(detail)
    from urllib.parse import urlsplit

    from kiln.api.v4.presenters.ci import detailed_status

    data["detailed_status"] = detailed_status(info.status, urlsplit(info.web_url).path)
    return data


def merge_request_entity(
    mr: MergeRequest,
    request: HttpRequest | None,
    actor: Actor,
    *,
    render_html: bool = False,
    include_diverged_commits_count: bool = False,
    include_rebase_in_progress: bool = False,
) -> dict[str, Any]:
    """GitLab's `MergeRequest` entity (one merge request, and the answers of writes)."""
    _prefetch([mr])
    ctx = page_context([mr], request, actor, project=mr.project)
    data = basic_entity(mr, ctx)
    project = mr.project
    if render_html:
        from kiln.issues.references import render_for, render_title_for

        data["title_html"] = render_title_for(actor, mr.title, project=project)
        data["description_html"] = render_for(actor, mr.description, project=project)
    pipeline = head = None
    if can(actor, "read_code", project):
        info = hooks.head_pipeline(project, mr.diff_head_sha, mr.source_branch)
        pipeline, head = pipeline_basic(info), head_pipeline_entity(info)
    data.update(
        {
            "subscribed": planning.is_subscribed(actor, mr) if actor.user is not None else False,
            "changes_count": diffs.real_size(mr.changes_count, mr.changes_overflow),
            "latest_build_started_at": None,
            "latest_build_finished_at": None,
            "first_deployed_to_production_at": None,
            "pipeline": pipeline,
            "head_pipeline": head,
            "diff_refs": diff_refs(mr),
            "merge_error": mr.merge_error,
            "first_contribution": False,
            "user": {"can_merge": can_merge(actor, mr)},
        }
    )
    if include_rebase_in_progress:
        data["rebase_in_progress"] = mr.rebase_in_progress
    if include_diverged_commits_count:
        data["diverged_commits_count"] = _diverged_commits_count(mr)
    return data


def _diverged_commits_count(mr: MergeRequest) -> int:
    """Commits of the target the source lacks (0 for merge requests no longer open)."""
    if not mr.is_open or not mr.diff_head_sha:
        return 0
    from kiln.repositories.storage import repo_path, store

    path = repo_path(mr.project)
    branch = store().find_branch(relative_path=path, name=mr.target_branch)
    if branch is None:
        return 0
    comparison = store().compare(
        relative_path=path, from_revision=mr.diff_head_sha, to_revision=branch.commit.id
    )
    return len(comparison.commits)


def diff_refs(mr: MergeRequest) -> dict[str, str | None] | None:
    if not mr.diff_head_sha:
        return None
    return {
        "base_sha": mr.diff_base_sha or None,
        "head_sha": mr.diff_head_sha or None,
        "start_sha": mr.diff_start_sha or None,
    }


def changes_entity(
    mr: MergeRequest,
    rows: list[MergeRequestDiffFile],
    request: HttpRequest | None,
    actor: Actor,
    *,
    unidiff: bool = False,
) -> dict[str, Any]:
    """GitLab's `MergeRequestChanges`: the merge request, its `changes` and `overflow`."""
    data = merge_request_entity(mr, request, actor)
    data["changes"] = [diff_entity(diffs.file_to_diff(row), unidiff=unidiff) for row in rows]
    data["overflow"] = mr.changes_overflow
    return data


def diff_file_entities(rows: list[MergeRequestDiffFile], *, unidiff: bool) -> list[dict[str, Any]]:
    return [diff_entity(diffs.file_to_diff(row), unidiff=unidiff) for row in rows]


def version_entity(version: MergeRequestDiff) -> dict[str, Any]:
    """GitLab's `MergeRequestDiff` (a version in `/versions`)."""
    return {
        "id": version.pk,
        "head_commit_sha": version.head_commit_sha,
        "base_commit_sha": version.base_commit_sha,
        "start_commit_sha": version.start_commit_sha,
        "created_at": iso(version.created_at),
        "merge_request_id": version.merge_request_id,
        "state": version.state,
        "real_size": diffs.real_size(version.files_count, version.state == "overflow"),
        "patch_id_sha": version.patch_id_sha,
    }


def version_full_entity(
    version: MergeRequestDiff,
    rows: list[MergeRequestDiffFile],
    project: Project,
    request: HttpRequest | None,
    *,
    unidiff: bool = False,
) -> dict[str, Any]:
    """GitLab's `MergeRequestDiffFull`: the version with its commits and diffs."""
    data = version_entity(version)
    data["commits"] = [
        commit_entity(commit, project, request) for commit in diffs.version_commits(version)
    ]
    data["diffs"] = diff_file_entities(rows, unidiff=unidiff)
    return data


def approvals_entity(
    mr: MergeRequest, view: ApprovalView, request: HttpRequest | None
) -> dict[str, Any]:
    """`/approvals`: GitLab's `MergeRequestApprovals` with the Premium counts Kiln keeps."""
    return {
        "id": mr.pk,
        "iid": mr.iid,
        "project_id": mr.project_id,
        "title": mr.title,
        "description": mr.description,
        "state": mr.state,
        "created_at": iso(mr.created_at),
        "updated_at": iso(mr.updated_at),
        "merge_status": mergeability.public_merge_status(mr),
        "approved": view.approved,
        "approvals_required": view.required,
        "approvals_left": view.left,
        "require_password_to_approve": False,
        "approved_by": [
            {"user": user_basic(a.user, request), "approved_at": iso(a.created_at)}
            for a in view.approvals
        ],
        "suggested_approvers": [],
        "approvers": [],
        "approver_groups": [],
        "user_has_approved": view.user_has_approved,
        "user_can_approve": view.user_can_approve,
        "approval_rules_left": [],
        "has_approval_rules": view.required > 0,
        "merge_request_approvers_available": True,
        "multiple_approval_rules_available": False,
        "invalid_approvers_rules": [],
    }


def approval_state_entity(
    mr: MergeRequest, view: ApprovalView, request: HttpRequest | None
) -> dict[str, Any]:
    """`/approval_state`: one rule, "All Members", with the project's required count."""
    approved_by = [user_basic(a.user, request) for a in view.approvals]
    return {
        "approval_rules_overwritten": False,
        "rules": [
            {
                "id": mr.project_id,
                "name": "All Members",
                "rule_type": "any_approver",
                "eligible_approvers": [],
                "approvals_required": view.required,
                "users": [],
                "groups": [],
                "contains_hidden_groups": False,
                "approved_by": approved_by,
                "source_rule": None,
                "approved": view.approved,
                "overridden": False,
            }
        ],
    }


def approval_settings_entity(settings: MergeRequestSettings) -> dict[str, Any]:
    """`/projects/:id/approvals`: the project's approval configuration."""
    return {
        "approvers": [],
        "approver_groups": [],
        "approvals_before_merge": settings.approvals_before_merge,
        "reset_approvals_on_push": settings.reset_approvals_on_push,
        "selective_code_owner_removals": settings.selective_code_owner_removals,
        "disable_overriding_approvers_per_merge_request": (
            settings.disable_overriding_approvers_per_merge_request
        ),
        "merge_requests_author_approval": settings.merge_requests_author_approval,
        "merge_requests_disable_committers_approval": (
            settings.merge_requests_disable_committers_approval
        ),
        "require_password_to_approve": settings.require_password_to_approve,
        "require_reauthentication_to_approve": settings.require_password_to_approve,
    }


def reviewer_entities(mr: MergeRequest, request: HttpRequest | None) -> list[dict[str, Any]]:
    """`/reviewers`: each reviewer with their review state."""
    rows = mr.reviewer_rows.select_related("user").order_by("id")
    return [
        {"user": user_basic(r.user, request), "state": r.state, "created_at": iso(r.created_at)}
        for r in rows
    ]


def issue_entities(
    issues: Sequence[Any], request: HttpRequest, actor: Actor
) -> list[dict[str, Any]]:
    """`/closes_issues`: the issues presenter's `Issue` shape (GitLab's `IssueBasic`)."""
    return issue_presenters.issue_entities(list(issues), request, actor)


def _todo_targets(
    ids: list[int], request: HttpRequest, actor: Actor
) -> dict[int, tuple[dict[str, Any], str]]:
    """Todo targets: the merge requests (as `MergeRequestBasic`) the actor may still read."""
    rows = list(visible_merge_requests(actor).filter(pk__in=ids))
    presented = merge_request_entities(rows, request, actor)
    return {mr.pk: (data, data["web_url"]) for mr, data in zip(rows, presented, strict=True)}


register_target_presenter("MergeRequest", _todo_targets)
