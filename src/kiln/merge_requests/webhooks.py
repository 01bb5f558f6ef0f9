"""Merge request webhooks with GitLab's payload (`Gitlab::DataBuilder::MergeRequest`,
`MergeRequest#hook_attrs`), sent for every action the merge request listeners report
("open", "update", "close", "reopen", "merge", "approved", "unapproved", "approval",
"unapproval"), and the sample the hook test endpoint sends.

Payloads are built after the change committed, from the committed rows.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from kiln.accounts.models import User
from kiln.core.actor import Actor
from kiln.core.urls import base_url
from kiln.merge_requests import diffs, mergeability
from kiln.merge_requests.models import (
    MergeRequest,
    MergeRequestAssignee,
    MergeRequestReviewer,
)
from kiln.projects.models import Project
from kiln.webhooks import payloads, triggers
from kiln.webhooks.payloads import TestDataUnavailable

log = logging.getLogger(__name__)

STATE_IDS = {"opened": 1, "closed": 2, "merged": 3, "locked": 4}
# The listener's action -> GitLab's `object_attributes.action`.
ACTIONS = {
    "open": "open",
    "update": "update",
    "close": "close",
    "reopen": "reopen",
    "merge": "merge",
    "approved": "approved",
    "unapproved": "unapproved",
    "approval": "approval",
    "unapproval": "unapproval",
}


def _ts(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _labels(mr: MergeRequest) -> list[dict[str, Any]]:
    return [
        {
            "id": label.pk,
            "title": label.title,
            "color": label.color,
            "project_id": label.project_id,
            "created_at": _ts(label.created_at),
            "updated_at": _ts(label.updated_at),
            "template": False,
            "description": label.description or None,
            "type": "ProjectLabel" if label.project_id else "GroupLabel",
            "group_id": label.group_id,
        }
        for label in mr.labels.order_by("title")
    ]


def _last_commit(mr: MergeRequest) -> dict[str, Any] | None:
    version = diffs.latest_diff(mr)
    if version is None or not version.commits:
        return None
    commit = diffs.commit_from_dict(version.commits[0])
    return {
        "id": commit.id,
        "message": commit.message,
        "title": payloads.commit_title(commit.message),
        "timestamp": commit.author.date.isoformat(),
        "url": f"{payloads.project_web_url(mr.project)}/-/commit/{commit.id}",
        "author": {"name": commit.author.name, "email": commit.author.email},
    }


def hook_attrs(mr: MergeRequest) -> dict[str, Any]:
    """GitLab's `MergeRequest#hook_attrs`."""
    project = mr.project
    assignee_ids = list(
        MergeRequestAssignee.objects.filter(merge_request=mr)
        .order_by("id")
        .values_list("user_id", flat=True)
    )
    reviewer_ids = list(
        MergeRequestReviewer.objects.filter(merge_request=mr)
        .order_by("id")
        .values_list("user_id", flat=True)
    )
    return {
        "assignee_id": assignee_ids[0] if assignee_ids else None,
        "author_id": mr.author_id,
        "created_at": _ts(mr.created_at),
        "description": mr.description,
        "draft": mr.draft,
        "head_pipeline_id": None,
        "id": mr.pk,
        "iid": mr.iid,
        "last_edited_at": _ts(mr.last_edited_at),
        "last_edited_by_id": mr.updated_by_id if mr.last_edited_at else None,
        "merge_commit_sha": mr.merge_commit_sha,
        "merge_error": mr.merge_error,
        "merge_params": {
            "force_remove_source_branch": "1" if mr.force_remove_source_branch else "0"
        },
        "merge_status": mergeability.public_merge_status(mr),
        "detailed_merge_status": mergeability.detailed_merge_status(mr),
        "merge_user_id": mr.merge_user_id,
        "merge_when_pipeline_succeeds": mr.merge_when_pipeline_succeeds,
        "milestone_id": mr.milestone_id,
        "source_branch": mr.source_branch,
        "source_project_id": mr.source_project_id or mr.project_id,
        "state_id": STATE_IDS.get(mr.state, 1),
        "target_branch": mr.target_branch,
        "target_project_id": mr.project_id,
        "time_estimate": 0,
        "title": mr.title,
        "updated_at": _ts(mr.updated_at),
        "updated_by_id": mr.updated_by_id,
        "prepared_at": _ts(mr.prepared_at),
        "assignee_ids": assignee_ids,
        "blocking_discussions_resolved": mergeability.discussions_resolved(mr),
        "first_contribution": False,
        "human_time_change": None,
        "human_time_estimate": None,
        "human_total_time_spent": None,
        "labels": _labels(mr),
        "last_commit": _last_commit(mr),
        "reviewer_ids": reviewer_ids,
        "source": payloads.project_hook_attrs(project),
        "state": mr.state,
        "target": payloads.project_hook_attrs(project),
        "time_change": 0,
        "total_time_spent": 0,
        "url": f"{base_url()}/{project.full_path}/-/merge_requests/{mr.iid}",
        "work_in_progress": mr.draft,
    }


def build(mr: MergeRequest, user: User | None, action: str | None) -> dict[str, Any]:
    attrs = hook_attrs(mr)
    if action is not None:
        attrs["action"] = action
    users = {
        u.pk: u for u in User.objects.filter(pk__in=attrs["assignee_ids"] + attrs["reviewer_ids"])
    }
    assignees = [payloads.user_hook_attrs(users[i]) for i in attrs["assignee_ids"] if i in users]
    reviewers = [payloads.user_hook_attrs(users[i]) for i in attrs["reviewer_ids"] if i in users]
    project_attrs = payloads.project_hook_attrs(mr.project)
    data: dict[str, Any] = {
        "object_kind": "merge_request",
        "event_type": "merge_request",
        "user": payloads.user_hook_attrs(user),
        "project": project_attrs,
        "object_attributes": attrs,
        "labels": attrs["labels"],
        "changes": {},
        "repository": {
            "name": mr.project.name,
            "url": project_attrs["url"],
            "description": mr.project.description or None,
            "homepage": project_attrs["homepage"],
        },
        "assignees": assignees,
        "reviewers": reviewers,
    }
    return data


def _changes(mr: MergeRequest, changes: dict[str, Any]) -> dict[str, Any]:
    """GitLab's `changes`: previous and current values of what the action changed."""
    out: dict[str, Any] = {}
    for name, value in changes.items():
        if isinstance(value, dict) and set(value) == {"previous", "current"}:
            out[name] = value
    if out:
        out["updated_at"] = {"previous": None, "current": _ts(mr.updated_at)}
    return out


def send(mr: MergeRequest, action: str, actor: Actor | None, changes: dict[str, Any]) -> None:
    """The merge request listener: one `merge_request_hooks` delivery per action."""
    hook_action = ACTIONS.get(action)
    if hook_action is None:
        return
    fresh = (
        MergeRequest.objects.select_related("project", "project__namespace")
        .filter(pk=mr.pk)
        .first()
    )
    if fresh is None:
        return
    data = build(fresh, actor.user if actor is not None else None, hook_action)
    data["changes"] = _changes(fresh, changes)
    triggers.execute_project_hooks(project=fresh.project, data=data, trigger="merge_request_hooks")


def sample(project: Project, actor: Actor) -> dict[str, Any]:
    """The test endpoint's payload: the project's newest merge request (GitLab's sample)."""
    mr = (
        MergeRequest.objects.select_related("project", "project__namespace")
        .filter(project=project)
        .order_by("-id")
        .first()
    )
    if mr is None:
        raise TestDataUnavailable("Ensure the project has merge requests.")
    return build(mr, actor.user, "open")
