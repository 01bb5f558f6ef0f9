"""Issue shapes: GitLab's `Entities::Issue` (lists and single issues), related issues, issue
links, time stats and resource events. List presenters fetch assignees, labels, note counts
and votes for the whole page in a fixed number of queries."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.http import HttpRequest

from kiln import markdown
from kiln.accounts.models import User
from kiln.api.v4.presenters.common import iso, iso_date
from kiln.api.v4.presenters.labels import label_basic, milestone_entity
from kiln.api.v4.presenters.users import user_basic
from kiln.core.actor import Actor
from kiln.core.urls import base_url
from kiln.issues import queries
from kiln.issues.models import Issue, IssueAssignee, IssueLink
from kiln.issues.references import render_for, render_title_for
from kiln.issues.time_tracking import human_time
from kiln.labels.models import Label
from kiln.notes.awards import vote_counts
from kiln.notes.queries import user_notes_counts
from kiln.notes.subscriptions import is_subscribed
from kiln.projects.models import Project


def time_stats(issue: Any) -> dict[str, Any]:
    return {
        "time_estimate": issue.time_estimate,
        "total_time_spent": issue.total_time_spent,
        "human_time_estimate": human_time(issue.time_estimate),
        "human_total_time_spent": human_time(issue.total_time_spent),
    }


def _tasks(description: str) -> tuple[int, int]:
    if "[" not in description:
        return 0, 0
    try:
        tasks = markdown.list_tasks(description)
    except Exception:  # noqa: BLE001  (a task count is cosmetic; never fail a list on it)
        return 0, 0
    applicable = [t for t in tasks if t.state != "inapplicable"]
    return len(applicable), sum(1 for t in applicable if t.state == "done")


class _Batch:
    """What a page of issues needs beyond its rows, fetched once."""

    def __init__(self, issues: list[Issue], actor: Actor) -> None:
        ids = [i.pk for i in issues]
        self.assignees: dict[int, list[User]] = defaultdict(list)
        for link in (
            IssueAssignee.objects.filter(issue_id__in=ids).select_related("user").order_by("id")
        ):
            self.assignees[link.issue_id].append(link.user)
        self.labels: dict[int, list[Label]] = defaultdict(list)
        through = Issue.labels.through
        for row in through.objects.filter(issue_id__in=ids).select_related("label"):
            self.labels[row.issue_id].append(row.label)
        self.notes = user_notes_counts("Issue", ids)
        self.votes = vote_counts("Issue", ids)
        self.merge_requests = queries.merge_requests_counts(actor, ids) if ids else {}


def _references(issue: Issue, project: Project | None) -> dict[str, str]:
    full = f"{issue.project.full_path}#{issue.iid}"
    short = f"#{issue.iid}"
    relative = short if project is not None and project.pk == issue.project_id else full
    return {"short": short, "relative": relative, "full": full}


def issue_entities(
    issues: list[Issue],
    request: HttpRequest,
    actor: Actor,
    *,
    project: Project | None = None,
    with_labels_details: bool = False,
    include_subscribed: bool = False,
    render_html: bool = False,
) -> list[dict[str, Any]]:
    batch = _Batch(issues, actor)
    base = base_url(request)
    out = []
    for issue in issues:
        labels = sorted(batch.labels.get(issue.pk, []), key=lambda lb: lb.title)
        assignees = [user_basic(u, request) for u in batch.assignees.get(issue.pk, [])]
        up, down = batch.votes.get(issue.pk, (0, 0))
        count, completed = _tasks(issue.description)
        web = f"{base}/{issue.project.full_path}/-/issues/{issue.iid}"
        api = f"{base}/api/v4/projects/{issue.project_id}"
        data: dict[str, Any] = {
            "id": issue.pk,
            "iid": issue.iid,
            "project_id": issue.project_id,
            "title": issue.title,
            "description": issue.description or None,
            "state": issue.state,
            "created_at": iso(issue.created_at),
            "updated_at": iso(issue.updated_at),
            "closed_at": iso(issue.closed_at),
            "closed_by": user_basic(issue.closed_by, request) if issue.closed_by else None,
            "labels": [label_basic(lb) for lb in labels]
            if with_labels_details
            else [lb.title for lb in labels],
            "milestone": milestone_entity(issue.milestone, request) if issue.milestone else None,
            "assignees": assignees,
            "author": user_basic(issue.author, request) if issue.author else None,
            "type": "ISSUE",
            "assignee": assignees[0] if assignees else None,
            "user_notes_count": batch.notes.get(issue.pk, 0),
            "merge_requests_count": batch.merge_requests.get(issue.pk, 0),
            "upvotes": up,
            "downvotes": down,
            "due_date": iso_date(issue.due_date),
            "confidential": issue.confidential,
            "discussion_locked": issue.discussion_locked,
            "issue_type": "issue",
            "web_url": web,
            "time_stats": time_stats(issue),
            "task_completion_status": {"count": count, "completed_count": completed},
            "has_tasks": count > 0,
        }
        if count:
            data["task_status"] = f"{completed} of {count} checklist items completed"
        data["_links"] = {
            "self": f"{api}/issues/{issue.iid}",
            "notes": f"{api}/issues/{issue.iid}/notes",
            "award_emoji": f"{api}/issues/{issue.iid}/award_emoji",
            "project": api,
            "closed_as_duplicate_of": None,
        }
        data["references"] = _references(issue, project)
        data["severity"] = "UNKNOWN"
        if include_subscribed:
            data["subscribed"] = is_subscribed(actor, issue)
        data["moved_to_id"] = issue.moved_to_id
        data["imported"] = False
        data["imported_from"] = "none"
        data["service_desk_reply_to"] = None
        if render_html:
            data["title_html"] = render_title_for(
                actor, issue.title, project=issue.project, base_url=base
            )
            data["description_html"] = render_for(
                actor, issue.description, project=issue.project, base_url=base
            )
        out.append(data)
    return out


def issue_entity(
    issue: Issue,
    request: HttpRequest,
    actor: Actor,
    *,
    project: Project | None = None,
    render_html: bool = False,
) -> dict[str, Any]:
    return issue_entities(
        [issue],
        request,
        actor,
        project=project or issue.project,
        include_subscribed=True,
        render_html=render_html,
    )[0]


def linked_issue_entities(
    rows: list[tuple[Issue, IssueLink, str]],
    request: HttpRequest,
    actor: Actor,
    project: Project,
) -> list[dict[str, Any]]:
    """`GET .../links`: each related issue with `issue_link_id`, `link_type` and dates."""
    issues = [issue for issue, _, _ in rows]
    presented = issue_entities(issues, request, actor, project=project)
    out = []
    for data, (_, link, link_type) in zip(presented, rows, strict=True):
        data.update(
            {
                "issue_link_id": link.pk,
                "link_type": link_type,
                "link_created_at": iso(link.created_at),
                "link_updated_at": iso(link.updated_at),
            }
        )
        out.append(data)
    return out


def _resource_event_base(event: Any, request: HttpRequest) -> dict[str, Any]:
    return {
        "id": event.pk,
        "user": user_basic(event.user, request) if event.user else None,
        "created_at": iso(event.created_at),
        "resource_type": event.issuable_type,
        "resource_id": event.issuable_id,
    }


def label_event_entities(events: list[Any], request: HttpRequest) -> list[dict[str, Any]]:
    out = []
    for event in events:
        data = _resource_event_base(event, request)
        data["label"] = (
            {
                "id": event.label.pk,
                "name": event.label.title,
                "color": event.label.color,
                "description": event.label.description or None,
            }
            if event.label
            else None
        )
        data["action"] = event.action
        out.append(data)
    return out


def milestone_event_entities(events: list[Any], request: HttpRequest) -> list[dict[str, Any]]:
    out = []
    for event in events:
        data = _resource_event_base(event, request)
        milestone = event.milestone
        data["milestone"] = (
            {
                "id": milestone.pk,
                "iid": milestone.iid,
                "project_id": milestone.project_id,
                "title": milestone.title,
                "description": milestone.description or None,
                "state": milestone.state,
                "created_at": iso(milestone.created_at),
                "updated_at": iso(milestone.updated_at),
                "due_date": iso_date(milestone.due_date),
                "start_date": iso_date(milestone.start_date),
                "web_url": None,
            }
            if milestone
            else None
        )
        data["action"] = event.action
        data["state"] = event.state
        out.append(data)
    return out


def state_event_entities(events: list[Any], request: HttpRequest) -> list[dict[str, Any]]:
    out = []
    for event in events:
        data = _resource_event_base(event, request)
        data["state"] = event.state
        if event.source_commit:
            data["source_commit"] = event.source_commit
        data["source_merge_request"] = None
        out.append(data)
    return out
