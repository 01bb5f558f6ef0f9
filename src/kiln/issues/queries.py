"""Reads of issues, restricted to what the actor may see.

`visible_issues_q` is the one rule every list, count, reference, todo and event uses: the
project is visible, its issues feature is available to the actor, and a confidential issue
is shown only to its author, its assignees, Planners and above in its project, and admins.
The list functions add GitLab's IssuesFinder filters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.core.errors import NotFound
from kiln.issues.models import Issue, IssueAssignee, IssueState
from kiln.issues.policies import PLANNING_LEVEL
from kiln.namespaces.models import Namespace
from kiln.notes.models import AwardEmoji
from kiln.projects.access import project_access_level
from kiln.projects.models import Project
from kiln.projects.policies import feature_available
from kiln.projects.queries import member_projects_q, visible_projects_q

NONE, ANY = "none", "any"
ORDER_BY = (
    "created_at",
    "updated_at",
    "priority",
    "due_date",
    "relative_position",
    "label_priority",
    "milestone_due",
    "popularity",
    "weight",
    "title",
)


def _projects_with_issues_q(actor: Actor) -> Q:
    """Projects (as a Q on Project) whose issues the actor may read."""
    if actor.is_admin:
        return ~Q(issues_access_level="disabled")
    open_feature = Q(issues_access_level__in=["enabled", "public"]) & visible_projects_q(actor)
    members_only = Q(issues_access_level="private") & member_projects_q(actor, AccessLevel.GUEST)
    return open_feature | members_only


def visible_issues_q(actor: Actor) -> Q:
    """Issues the actor may read, as a Q on Issue."""
    projects = Project.objects.filter(_projects_with_issues_q(actor)).values("pk")
    q = Q(project_id__in=projects)
    if actor.is_admin:
        return q
    if actor.user is None:
        return q & Q(confidential=False)
    planners = Project.objects.filter(member_projects_q(actor, PLANNING_LEVEL)).values("pk")
    assigned = IssueAssignee.objects.filter(user_id=actor.user.pk).values("issue_id")
    may_see_confidential = (
        Q(confidential=False)
        | Q(project_id__in=planners)
        | Q(author_id=actor.user.pk)
        | Q(pk__in=assigned)
    )
    return q & may_see_confidential


def visible_in_project_q(actor: Actor, project: Project) -> Q:
    """`visible_issues_q` for the issues of one project: the same rule, with the project's part
    decided here once instead of by subqueries over every project for each issue row."""
    if not feature_available(actor, project, project.issues_access_level):
        return Q(pk__in=[])
    q = Q(project_id=project.pk)
    if actor.is_admin:
        return q
    if actor.user is None:
        return q & Q(confidential=False)
    if project_access_level(actor, project) >= PLANNING_LEVEL:
        return q
    assigned = IssueAssignee.objects.filter(user_id=actor.user.pk).values("issue_id")
    return q & (Q(confidential=False) | Q(author_id=actor.user.pk) | Q(pk__in=assigned))


def visible_issue_ids(actor: Actor) -> QuerySet[Any]:
    """A subquery of the ids of every issue the actor may read."""
    return Issue.objects.filter(visible_issues_q(actor)).values("pk")


# What presenting an issue reads besides its row (one join, not one query per issue).
ISSUE_RELATED = (
    "project",
    "project__namespace",
    "author",
    "closed_by",
    "milestone",
    "milestone__project",
    "milestone__project__namespace",
    "milestone__group",
)


def _find_in_project(project: Project, iid: int | str) -> Issue | None:
    text = str(iid)
    if not text.isdigit() or len(text) > 9:
        return None
    # The project (and a milestone's, when it is the same) is the one the caller holds: not
    # joined again, which also keeps this hot query's SQL small to compile.
    found = list(
        Issue.objects.select_related("author", "closed_by", "milestone", "milestone__group")
        .filter(project_id=project.pk, iid=int(text))
        .order_by()[:1]
    )
    if not found:
        return None
    issue = found[0]
    issue.project = project
    if issue.milestone is not None and issue.milestone.project_id == project.pk:
        issue.milestone.project = project
    return issue


def get_issue_for(actor: Actor, project: Project, iid: int | str, *, what: str = "") -> Issue:
    """The issue by iid in a project the caller found visible; "404 Not found" when missing
    or invisible (confidential, feature unavailable), exactly alike."""
    from kiln.issues.policies import can_read_issue

    issue = _find_in_project(project, iid)
    if issue is None or not can_read_issue(actor, issue):
        raise NotFound(what)
    issue.project = project
    return issue


def find_issue_for(actor: Actor, project: Project, iid: int | str) -> Issue | None:
    try:
        return get_issue_for(actor, project, iid)
    except NotFound:
        return None


def get_issue_by_id_for(actor: Actor, issue_id: int) -> Issue:
    issue = (
        Issue.objects.select_related("project", "project__namespace")
        .filter(visible_issues_q(actor), pk=issue_id)
        .first()
    )
    if issue is None:
        raise NotFound()
    return issue


@dataclass
class IssueFilters:
    """GitLab's IssuesFinder parameters, already parsed. Wildcards are NONE / ANY."""

    state: str = "all"
    scope: str = "all"
    labels: list[str] | None = None
    milestone: str | None = None
    milestone_wildcard: str | None = None  # none / any / upcoming / started
    iids: list[int] = field(default_factory=list)
    search: str | None = None
    search_in: tuple[str, ...] = ("title", "description")
    author_id: int | None = None
    author_username: str | None = None
    assignee_id: int | str | None = None
    assignee_usernames: list[str] = field(default_factory=list)
    my_reaction_emoji: str | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    updated_after: dt.datetime | None = None
    updated_before: dt.datetime | None = None
    confidential: bool | None = None
    closed_by_id: int | None = None
    due_date: str | None = None
    issue_type: str | None = None
    non_archived: bool = False
    # not[...]
    not_labels: list[str] = field(default_factory=list)
    not_milestone: str | None = None
    not_iids: list[int] = field(default_factory=list)
    not_author_id: int | None = None
    not_author_username: str | None = None
    not_assignee_id: int | None = None
    not_assignee_usernames: list[str] = field(default_factory=list)
    not_my_reaction_emoji: str | None = None
    order_by: str = "created_at"
    sort: str = "desc"


def _labels_q(names: Sequence[str]) -> Q:
    lowered = [n.lower() for n in names]
    through = Issue.labels.through
    if lowered and lowered[0] in ("none", "no label", "no+label"):
        return ~Q(pk__in=through.objects.values("issue_id"))
    if lowered and lowered[0] == "any":
        return Q(pk__in=through.objects.values("issue_id"))
    q = Q()
    for name in names:
        q &= Q(pk__in=through.objects.filter(label__title=name).values("issue_id"))
    return q


def _milestone_q(title: str | None, wildcard: str | None) -> Q:
    today = timezone.localdate()
    kind = (wildcard or "").lower()
    if title is not None and title.lower() in (
        "none",
        "any",
        "upcoming",
        "started",
        "#upcoming",
        "#started",
    ):
        kind = title.lower().lstrip("#")
        title = None
    if kind == "none":
        return Q(milestone__isnull=True)
    if kind == "any":
        return Q(milestone__isnull=False)
    if kind == "upcoming":
        return Q(milestone__due_date__gt=today, milestone__state="active")
    if kind == "started":
        return Q(milestone__start_date__lte=today, milestone__state="active") & (
            Q(milestone__due_date__isnull=True) | Q(milestone__due_date__gte=today)
        )
    if title is not None:
        return Q(milestone__title=title)
    return Q()


def _username_ids(usernames: Sequence[str]) -> list[int]:
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    q = Q(pk__in=[])
    for name in usernames:
        q |= Q(username__iexact=name)
    return list(user_model.objects.filter(q).values_list("pk", flat=True))


def _assignee_q(assignee_id: int | str | None, usernames: Sequence[str]) -> Q:
    assigned = IssueAssignee.objects.values("issue_id")
    if isinstance(assignee_id, str):
        if assignee_id == NONE:
            return ~Q(pk__in=assigned)
        if assignee_id == ANY:
            return Q(pk__in=assigned)
    if isinstance(assignee_id, int):
        return Q(pk__in=assigned.filter(user_id=assignee_id))
    q = Q()
    if usernames:
        ids = _username_ids(usernames)
        if len(ids) < len(usernames):
            return Q(pk__in=[])
        for user_id in ids:
            q &= Q(pk__in=IssueAssignee.objects.filter(user_id=user_id).values("issue_id"))
    return q


def _reaction_q(actor: Actor, emoji: str) -> Q:
    awards = AwardEmoji.objects.filter(awardable_type="Issue", user_id=actor.user_id or 0)
    lowered = emoji.lower()
    if lowered == NONE:
        return ~Q(pk__in=awards.values("awardable_id"))
    if lowered == ANY:
        return Q(pk__in=awards.values("awardable_id"))
    return Q(pk__in=awards.filter(name=emoji).values("awardable_id"))


def _due_date_q(value: str) -> Q:
    today = timezone.localdate()
    if value == "0":
        return Q(due_date__isnull=True)
    if value == "any":
        return Q(due_date__isnull=False)
    if value == "today":
        return Q(due_date=today)
    if value == "tomorrow":
        return Q(due_date=today + dt.timedelta(days=1))
    if value == "overdue":
        return Q(due_date__lt=today)
    if value == "week":
        start = today - dt.timedelta(days=today.weekday())
        return Q(due_date__gte=start, due_date__lte=start + dt.timedelta(days=6))
    if value == "month":
        start = today.replace(day=1)
        end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        return Q(due_date__gte=start, due_date__lte=end)
    if value == "next_month_and_previous_two_weeks":
        start = today - dt.timedelta(days=14)
        next_month = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        end = (next_month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        return Q(due_date__gte=start, due_date__lte=end)
    return Q()


def _author_q(author_id: int | None, username: str | None) -> Q | None:
    if author_id is not None:
        return Q(author_id=author_id)
    if username is not None:
        ids = _username_ids([username])
        return Q(author_id__in=ids)
    return None


def apply_filters(actor: Actor, qs: QuerySet[Issue], f: IssueFilters) -> QuerySet[Issue]:
    if f.state in (IssueState.OPENED, IssueState.CLOSED):
        qs = qs.filter(state=f.state)
    if f.scope in ("created_by_me", "created-by-me"):
        qs = qs.filter(author_id=actor.user_id) if actor.user else qs.none()
    elif f.scope in ("assigned_to_me", "assigned-to-me"):
        if actor.user is None:
            return qs.none()
        qs = qs.filter(
            pk__in=IssueAssignee.objects.filter(user_id=actor.user.pk).values("issue_id")
        )
    if f.labels:
        qs = qs.filter(_labels_q(f.labels))
    if f.milestone is not None or f.milestone_wildcard is not None:
        qs = qs.filter(_milestone_q(f.milestone, f.milestone_wildcard))
    if f.iids:
        qs = qs.filter(iid__in=f.iids)
    if f.search:
        term = Q()
        if "title" in f.search_in:
            term |= Q(title__icontains=f.search)
        if "description" in f.search_in:
            term |= Q(description__icontains=f.search)
        qs = qs.filter(term) if term else qs
    if (author := _author_q(f.author_id, f.author_username)) is not None:
        qs = qs.filter(author)
    if f.assignee_id is not None or f.assignee_usernames:
        qs = qs.filter(_assignee_q(f.assignee_id, f.assignee_usernames))
    if f.my_reaction_emoji and actor.user is not None:
        qs = qs.filter(_reaction_q(actor, f.my_reaction_emoji))
    if f.created_after is not None:
        qs = qs.filter(created_at__gte=f.created_after)
    if f.created_before is not None:
        qs = qs.filter(created_at__lte=f.created_before)
    if f.updated_after is not None:
        qs = qs.filter(updated_at__gte=f.updated_after)
    if f.updated_before is not None:
        qs = qs.filter(updated_at__lte=f.updated_before)
    if f.confidential is not None:
        qs = qs.filter(confidential=f.confidential)
    if f.closed_by_id is not None:
        qs = qs.filter(closed_by_id=f.closed_by_id)
    if f.due_date:
        qs = qs.filter(_due_date_q(f.due_date))
    if f.issue_type and f.issue_type != "issue":
        qs = qs.none()
    if f.non_archived:
        qs = qs.filter(project__archived=False)
    # not[...]
    if f.not_labels:
        lowered = [n.lower() for n in f.not_labels]
        if lowered[0] in ("none", "any"):
            qs = qs.exclude(_labels_q(f.not_labels))
        else:
            through = Issue.labels.through
            has_any = through.objects.filter(label__title__in=f.not_labels).values("issue_id")
            qs = qs.exclude(pk__in=has_any)
    if f.not_milestone is not None:
        qs = qs.exclude(_milestone_q(f.not_milestone, None) & Q(milestone__isnull=False))
    if f.not_iids:
        qs = qs.exclude(iid__in=f.not_iids)
    if (not_author := _author_q(f.not_author_id, f.not_author_username)) is not None:
        qs = qs.exclude(not_author)
    if f.not_assignee_id is not None:
        qs = qs.exclude(_assignee_q(f.not_assignee_id, []))
    if f.not_assignee_usernames:
        ids = _username_ids(f.not_assignee_usernames)
        qs = qs.exclude(pk__in=IssueAssignee.objects.filter(user_id__in=ids).values("issue_id"))
    if f.not_my_reaction_emoji and actor.user is not None:
        qs = qs.exclude(_reaction_q(actor, f.not_my_reaction_emoji))
    return ordered(qs, f.order_by, f.sort)


def ordered(qs: QuerySet[Issue], order_by: str, sort: str) -> QuerySet[Issue]:
    desc = sort != "asc"
    prefix = "-" if desc else ""

    def nulls(expr: str) -> F:
        # Missing dates sort last either way, as GitLab's NULLS LAST.
        f = F(expr)
        return f.desc(nulls_last=True) if desc else f.asc(nulls_last=True)  # type: ignore[return-value]

    if order_by == "updated_at":
        return qs.order_by(f"{prefix}updated_at", f"{prefix}id")
    if order_by == "due_date":
        return qs.order_by(nulls("due_date"), f"{prefix}id")
    if order_by == "milestone_due":
        return qs.order_by(nulls("milestone__due_date"), f"{prefix}id")
    if order_by == "title":
        return qs.order_by(f"{prefix}title", f"{prefix}id")
    if order_by == "popularity":
        upvotes = (
            AwardEmoji.objects.filter(
                awardable_type="Issue", awardable_id=OuterRef("pk"), name="thumbsup"
            )
            .order_by()
            .values("awardable_id")
            .annotate(c=Count("pk"))
            .values("c")
        )
        qs = qs.annotate(_upvotes=Coalesce(Subquery(upvotes), 0))
        return qs.order_by(f"{prefix}_upvotes", f"{prefix}id")
    if order_by in ("label_priority", "priority"):
        qs = qs.annotate(
            _priority=Min(
                "labels__priorities__priority",
                filter=Q(labels__priorities__project_id=F("project_id")),
            )
        )
        f = F("_priority")
        key = f.desc(nulls_last=True) if desc else f.asc(nulls_last=True)
        return qs.order_by(key, f"{prefix}id")
    if order_by == "relative_position":
        return qs.order_by(f"{prefix}id")
    return qs.order_by(f"{prefix}created_at", f"{prefix}id")


def _base(actor: Actor) -> QuerySet[Issue]:
    return Issue.objects.filter(visible_issues_q(actor)).select_related(*ISSUE_RELATED)


def list_issues_for(actor: Actor, filters: IssueFilters) -> QuerySet[Issue]:
    """`GET /issues`: everything the actor may see, filtered (scope defaults to the actor's)."""
    return apply_filters(actor, _base(actor), filters)


def list_project_issues_for(
    actor: Actor, project: Project, filters: IssueFilters
) -> QuerySet[Issue]:
    """`GET /projects/:id/issues` (the caller checked the actor may see the project)."""
    qs = Issue.objects.filter(visible_in_project_q(actor, project)).select_related(*ISSUE_RELATED)
    return apply_filters(actor, qs, filters)


def project_page_rows(project: Project) -> Callable[[list[int]], list[Issue]]:
    """Loads a page of one project's issues by id, in page order, for the list presenters:
    the project (and its namespace) is the one already loaded, not joined again per row."""
    related = [name for name in ISSUE_RELATED if name not in ("project", "project__namespace")]

    def load(ids: list[int]) -> list[Issue]:
        found = {
            issue.pk: issue
            for issue in Issue.objects.filter(pk__in=ids, project_id=project.pk).select_related(
                *related
            )
        }
        for issue in found.values():
            issue.project = project
        return [found[pk] for pk in ids if pk in found]

    return load


def list_group_issues_for(actor: Actor, group: Namespace, filters: IssueFilters) -> QuerySet[Issue]:
    """`GET /groups/:id/issues`: issues of the group's projects and its subgroups'."""
    subtree = Q(project__namespace_id=group.pk) | Q(
        project__namespace__traversal_ids__startswith=f"{group.traversal_ids}/"
    )
    return apply_filters(actor, _base(actor).filter(subtree), filters)


def statistics(qs: QuerySet[Issue]) -> dict[str, int]:
    """GitLab's `issues_statistics` counts: all, opened, closed (one query)."""
    counts = qs.order_by().aggregate(
        all=Count("pk"),
        opened=Count("pk", filter=Q(state=IssueState.OPENED)),
        closed=Count("pk", filter=Q(state=IssueState.CLOSED)),
    )
    return {k: int(v or 0) for k, v in counts.items()}


def label_issue_counts(
    actor: Actor, label_ids: list[int], parent: Project | Namespace
) -> dict[int, dict[str, int]]:
    """Open and closed issues per label the actor may see (for labels' `with_counts`)."""
    qs = Issue.objects.filter(visible_issues_q(actor), labels__id__in=label_ids)
    if isinstance(parent, Project):
        qs = qs.filter(project_id=parent.pk)
    else:
        qs = qs.filter(
            Q(project__namespace_id=parent.pk)
            | Q(project__namespace__traversal_ids__startswith=f"{parent.traversal_ids}/")
        )
    rows = qs.values("labels__id").annotate(
        opened=Count("pk", filter=Q(state=IssueState.OPENED)),
        closed=Count("pk", filter=Q(state=IssueState.CLOSED)),
    )
    return {
        row["labels__id"]: {
            "open_issues_count": row["opened"],
            "closed_issues_count": row["closed"],
        }
        for row in rows
    }


# -- counts other packages contribute ----------------------------------------------------------

# Merge requests register `fn(actor, issue_ids) -> {issue_id: count}`: the merge requests
# (visible to the actor) that close or mention each issue, for `merge_requests_count`.
MergeRequestCounter = Callable[[Actor, list[int]], dict[int, int]]
_MR_COUNTERS: list[MergeRequestCounter] = []


def register_merge_requests_counter(fn: MergeRequestCounter) -> MergeRequestCounter:
    if fn not in _MR_COUNTERS:
        _MR_COUNTERS.append(fn)
    return fn


def merge_requests_counts(actor: Actor, issue_ids: list[int]) -> dict[int, int]:
    totals: dict[int, int] = {}
    for fn in list(_MR_COUNTERS):
        for issue_id, count in fn(actor, issue_ids).items():
            totals[issue_id] = totals.get(issue_id, 0) + count
    return totals
