"""Reads of merge requests, already restricted to what the actor may see.

`readable_projects_q` (policies) is the one rule lists, counts and lookups share: a merge
request of a project whose merge requests the actor may not read is absent, and a lookup by
iid answers 404 exactly as for one that does not exist. Filters are GitLab's
MergeRequestsFinder parameters.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, NotFound, Unauthorized
from kiln.merge_requests.models import (
    MergeRequest,
    MergeRequestAssignee,
    MergeRequestClosingIssue,
    MergeRequestDiff,
    MergeRequestLabel,
    MergeRequestReviewer,
    MergeRequestState,
)
from kiln.merge_requests.policies import can_read_merge_requests, readable_projects_q
from kiln.namespaces.access import subtree_q
from kiln.namespaces.models import Namespace
from kiln.projects.models import Project

ORDER_BY = ("created_at", "updated_at", "title", "merged_at", "label_priority",
            "milestone_due", "popularity", "priority")  # fmt: skip
# Values GitLab reads as "no filter value" and "some value" in id and name filters.
NONE, ANY = "none", "any"


@dataclass
class MergeRequestFilters:
    """GitLab's merge request list parameters, already parsed."""

    state: str = "all"
    order_by: str = "created_at"
    sort: str = "desc"
    milestone: str | None = None
    labels: list[str] | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    updated_after: dt.datetime | None = None
    updated_before: dt.datetime | None = None
    author_id: int | None = None
    author_username: str | None = None
    # An id, or "none" / "any".
    assignee: str | None = None
    assignee_username: list[str] | None = None
    reviewer: str | None = None
    reviewer_username: str | None = None
    merge_user_id: int | None = None
    merge_user_username: str | None = None
    source_branch: str | None = None
    target_branch: str | None = None
    search: str | None = None
    search_in: list[str] = field(default_factory=lambda: ["title", "description"])
    draft: bool | None = None
    iids: list[int] | None = None
    scope: str = "all"
    not_labels: list[str] | None = None
    not_milestone: str | None = None
    not_author_id: int | None = None
    not_author_username: str | None = None
    not_assignee_id: int | None = None
    not_assignee_username: str | None = None
    not_reviewer_id: int | None = None
    not_reviewer_username: str | None = None
    non_archived: bool | None = None


_RELATED = (
    "project",
    "project__namespace",
    "author",
    "milestone",
    "merged_by",
    "merge_user",
    "closed_by",
)


def _base(actor: Actor) -> QuerySet[MergeRequest]:
    return MergeRequest.objects.filter(readable_projects_q(actor)).select_related(*_RELATED)


def visible_merge_requests(actor: Actor) -> QuerySet[MergeRequest]:
    """Every merge request the actor may read (no filter, no order)."""
    return _base(actor)


def _people_q(model: type, ids_or_names: Q) -> Q:
    rows = model.objects.filter(ids_or_names, merge_request_id=OuterRef("pk"))  # type: ignore[attr-defined]
    return Q(Exists(rows))


def _labels_q(names: list[str]) -> Q:
    q = Q()
    lowered = [n.lower() for n in names]
    if lowered == [NONE]:
        return ~Q(Exists(MergeRequestLabel.objects.filter(merge_request_id=OuterRef("pk"))))
    if lowered == [ANY]:
        return Q(Exists(MergeRequestLabel.objects.filter(merge_request_id=OuterRef("pk"))))
    for name in names:
        q &= Q(
            Exists(
                MergeRequestLabel.objects.filter(merge_request_id=OuterRef("pk"), label__title=name)
            )
        )
    return q


def _milestone_q(value: str) -> Q:
    lowered = value.lower()
    today = dt.date.today()
    if lowered == NONE:
        return Q(milestone__isnull=True)
    if lowered == ANY:
        return Q(milestone__isnull=False)
    if lowered == "upcoming":
        return Q(milestone__due_date__gte=today, milestone__state="active")
    if lowered == "started":
        return Q(milestone__start_date__lte=today, milestone__state="active")
    return Q(milestone__title=value)


def _user_filter(value: str | None, model: type) -> Q | None:
    if value is None:
        return None
    lowered = value.lower()
    if lowered == NONE:
        return ~_people_q(model, Q())
    if lowered == ANY:
        return _people_q(model, Q())
    if value.isdigit():
        return _people_q(model, Q(user_id=int(value)))
    return Q(pk__in=[])


def _apply(
    actor: Actor, qs: QuerySet[MergeRequest], f: MergeRequestFilters
) -> QuerySet[MergeRequest]:
    if f.state != "all":
        qs = qs.filter(state=f.state)
    if f.scope in ("created_by_me", "created-by-me"):
        qs = qs.filter(author_id=actor.user_id) if actor.user else qs.none()
    elif f.scope in ("assigned_to_me", "assigned-to-me"):
        if actor.user is None:
            return qs.none()
        qs = qs.filter(_people_q(MergeRequestAssignee, Q(user_id=actor.user.pk)))
    if f.iids:
        qs = qs.filter(iid__in=f.iids)
    if f.author_id is not None:
        qs = qs.filter(author_id=f.author_id)
    if f.author_username:
        qs = qs.filter(author__username__iexact=f.author_username)
    if (q := _user_filter(f.assignee, MergeRequestAssignee)) is not None:
        qs = qs.filter(q)
    for name in f.assignee_username or []:
        qs = qs.filter(_people_q(MergeRequestAssignee, Q(user__username__iexact=name)))
    if (q := _user_filter(f.reviewer, MergeRequestReviewer)) is not None:
        qs = qs.filter(q)
    if f.reviewer_username:
        lowered = f.reviewer_username.lower()
        if lowered in (NONE, ANY):
            qs = qs.filter(_user_filter(lowered, MergeRequestReviewer) or Q())
        else:
            qs = qs.filter(
                _people_q(MergeRequestReviewer, Q(user__username__iexact=f.reviewer_username))
            )
    if f.merge_user_id is not None:
        qs = qs.filter(merge_user_id=f.merge_user_id)
    if f.merge_user_username:
        qs = qs.filter(merge_user__username__iexact=f.merge_user_username)
    if f.source_branch:
        qs = qs.filter(source_branch=f.source_branch)
    if f.target_branch:
        qs = qs.filter(target_branch=f.target_branch)
    if f.labels:
        qs = qs.filter(_labels_q(f.labels))
    if f.milestone:
        qs = qs.filter(_milestone_q(f.milestone))
    if f.draft is not None:
        qs = qs.filter(draft=f.draft)
    if f.created_after is not None:
        qs = qs.filter(created_at__gte=f.created_after)
    if f.created_before is not None:
        qs = qs.filter(created_at__lte=f.created_before)
    if f.updated_after is not None:
        qs = qs.filter(updated_at__gte=f.updated_after)
    if f.updated_before is not None:
        qs = qs.filter(updated_at__lte=f.updated_before)
    if f.search:
        term = f.search.strip()
        if term.startswith("!") and term[1:].isdigit():
            qs = qs.filter(iid=int(term[1:]))
        else:
            sq = Q(pk__in=[])
            if "title" in f.search_in:
                sq |= Q(title__icontains=term)
            if "description" in f.search_in:
                sq |= Q(description__icontains=term)
            qs = qs.filter(sq)
    qs = _apply_not(qs, f)
    if f.non_archived:
        qs = qs.filter(project__archived=False)
    return _ordered(qs, f)


def _apply_not(qs: QuerySet[MergeRequest], f: MergeRequestFilters) -> QuerySet[MergeRequest]:
    if f.not_labels:
        for name in f.not_labels:
            qs = qs.exclude(
                Exists(
                    MergeRequestLabel.objects.filter(
                        merge_request_id=OuterRef("pk"), label__title=name
                    )
                )
            )
    if f.not_milestone:
        qs = qs.exclude(_milestone_q(f.not_milestone))
    if f.not_author_id is not None:
        qs = qs.exclude(author_id=f.not_author_id)
    if f.not_author_username:
        qs = qs.exclude(author__username__iexact=f.not_author_username)
    if f.not_assignee_id is not None:
        qs = qs.exclude(_people_q(MergeRequestAssignee, Q(user_id=f.not_assignee_id)))
    if f.not_assignee_username:
        qs = qs.exclude(
            _people_q(MergeRequestAssignee, Q(user__username__iexact=f.not_assignee_username))
        )
    if f.not_reviewer_id is not None:
        qs = qs.exclude(_people_q(MergeRequestReviewer, Q(user_id=f.not_reviewer_id)))
    if f.not_reviewer_username:
        qs = qs.exclude(
            _people_q(MergeRequestReviewer, Q(user__username__iexact=f.not_reviewer_username))
        )
    return qs


def _ordered(qs: QuerySet[MergeRequest], f: MergeRequestFilters) -> QuerySet[MergeRequest]:
    prefix = "" if f.sort == "asc" else "-"
    order_by = (
        f.order_by
        if f.order_by in ("created_at", "updated_at", "title", "merged_at")
        else "created_at"
    )
    return qs.order_by(f"{prefix}{order_by}", f"{prefix}id")


def list_project_merge_requests_for(
    actor: Actor, project: Project, filters: MergeRequestFilters | None = None
) -> QuerySet[MergeRequest]:
    """`GET /projects/:id/merge_requests`: 403 when the project is visible but its merge
    requests are not (the caller found the project with a visibility check)."""
    if not can_read_merge_requests(actor, project):
        raise Forbidden()
    # The check above is the whole visibility rule for one project's merge requests: no
    # subquery over every readable project for each row.
    qs = MergeRequest.objects.filter(project=project).select_related(*_RELATED)
    return _apply(actor, qs, filters or MergeRequestFilters())


def list_group_merge_requests_for(
    actor: Actor, group: Namespace, filters: MergeRequestFilters | None = None
) -> QuerySet[MergeRequest]:
    """`GET /groups/:id/merge_requests`: the group's and its subgroups' projects (the caller
    checked the actor may see the group)."""
    qs = _base(actor).filter(
        subtree_q([group.traversal_ids], field="project__namespace__traversal_ids")
    )
    f = filters or MergeRequestFilters()
    if f.non_archived is None:
        f.non_archived = True
    return _apply(actor, qs, f)


def list_merge_requests_for(
    actor: Actor, filters: MergeRequestFilters | None = None
) -> QuerySet[MergeRequest]:
    """`GET /merge_requests`: defaults to what the actor created; anonymous callers must ask
    for `scope=all` (401 otherwise), as GitLab's `authenticate! unless scope == 'all'`."""
    f = filters or MergeRequestFilters(scope="created_by_me")
    if actor.user is None and f.scope != "all":
        raise Unauthorized()
    return _apply(actor, _base(actor), f)


def get_merge_request_for(actor: Actor, project: Project, iid: int | str) -> MergeRequest:
    """One merge request of a project the actor found; 404 when missing or not readable."""
    if not can_read_merge_requests(actor, project):
        raise Forbidden()
    text = str(iid)
    if not text.isdigit() or len(text) > 18:
        raise NotFound("Merge Request")
    # The check above is the visibility rule; the project is the caller's (not joined again).
    related = [name for name in _RELATED if not name.startswith("project")]
    found = list(
        MergeRequest.objects.filter(project=project, iid=int(text))
        .select_related(*related)
        .order_by()[:1]
    )
    if not found:
        raise NotFound("Merge Request")
    mr = found[0]
    mr.project = project
    return mr


def get_version_for(mr: MergeRequest, version_id: int | str) -> MergeRequestDiff:
    text = str(version_id)
    if not text.isdigit() or len(text) > 18:
        raise NotFound("Merge Request Diff")
    version = MergeRequestDiff.objects.filter(merge_request=mr, pk=int(text)).first()
    if version is None:
        raise NotFound("Merge Request Diff")
    return version


def list_versions(mr: MergeRequest) -> QuerySet[MergeRequestDiff]:
    return MergeRequestDiff.objects.filter(merge_request=mr).order_by("-id")


def visible_ids(actor: Actor) -> QuerySet[Any]:
    """Ids of every merge request the actor may read (a subquery for notes, todos, events)."""
    return MergeRequest.objects.filter(readable_projects_q(actor)).values("pk")


def events_visibility_q(actor: Actor) -> Q:
    """Activity events about merge requests (and notes on them): only for their readers."""
    return Q(subject_id__in=visible_ids(actor))


def closing_merge_requests_counts(actor: Actor, issue_ids: list[int]) -> dict[int, int]:
    """Per issue, the open or merged merge requests the actor may read that close it (the
    issues package's `merge_requests_count`), in one query."""
    # Most issues of a page are closed by no merge request: find those that are first (one
    # indexed lookup), so the visibility filter below runs only when there is something to count.
    closed = set(
        MergeRequestClosingIssue.objects.filter(issue_id__in=issue_ids).values_list(
            "issue_id", flat=True
        )
    )
    if not closed:
        return {}
    rows = (
        MergeRequestClosingIssue.objects.filter(
            readable_projects_q(actor, prefix="merge_request__project__"),
            issue_id__in=sorted(closed),
            merge_request__state__in=(MergeRequestState.OPENED, MergeRequestState.MERGED),
        )
        .values("issue_id")
        .annotate(n=Count("merge_request_id", distinct=True))
    )
    return {row["issue_id"]: row["n"] for row in rows}
