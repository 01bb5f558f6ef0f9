"""API v4: issues, as GitLab's `lib/api/issues.rb`, `issue_links.rb`, `resource_*_events.rb`,
`/subscribe`, `/todo`, `/participants` and `/time_stats`.

Reads are open to anonymous callers where the project is public (GitLab's
`authenticate_non_get!`); writes need a signed-in caller (401 first). Each endpoint parses,
calls one query or service of kiln.issues, and presents with presenters.issues.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import BeforeValidator, ConfigDict, Field

from kiln.api.v4.auth import actor_of, require_admin, require_user
from kiln.api.v4.pagination import paginated, rows_from
from kiln.api.v4.params import CommaIntList, CommaList, Params, PathStr
from kiln.api.v4.presenters.issues import (
    issue_entities,
    issue_entity,
    label_event_entities,
    linked_issue_entities,
    milestone_event_entities,
    state_event_entities,
    time_stats,
)
from kiln.api.v4.presenters.users import user_basic
from kiln.core.actor import Actor
from kiln.core.errors import InvalidParameter, NotFound, Unauthorized
from kiln.core.policy import can
from kiln.issues import links as issue_links
from kiln.issues import moving, queries, services
from kiln.issues.models import Issue, IssueLink
from kiln.issues.state_events import list_state_events
from kiln.labels.events import list_label_events
from kiln.milestones.events import list_milestone_events
from kiln.milestones.queries import find_milestone_for
from kiln.namespaces.queries import get_group_for
from kiln.notes import noteables, subscriptions, todos
from kiln.projects.models import Project
from kiln.projects.queries import find_project, get_project_for

router = Router(tags=["issues"])

OrderBy = Literal[
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
]
Scope = Literal["created-by-me", "assigned-to-me", "created_by_me", "assigned_to_me", "all"]
DueDate = Literal[
    "0",
    "any",
    "today",
    "tomorrow",
    "overdue",
    "week",
    "month",
    "next_month_and_previous_two_weeks",
    "",
]
IssueType = Literal["issue", "incident", "test_case", "task"]

UPDATE_AT_LEAST_ONE_OF = (
    "assignee_id",
    "assignee_ids",
    "confidential",
    "created_at",
    "description",
    "discussion_locked",
    "due_date",
    "labels",
    "add_labels",
    "remove_labels",
    "milestone_id",
    "state_event",
    "title",
    "issue_type",
)


def _none_any_int(value: Any) -> Any:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("none", "any"):
            return lowered
        if lowered.isdigit():
            return int(lowered)
        raise ValueError("should be an integer, none or any")
    return value


IntNoneAny = Annotated[int | str, BeforeValidator(_none_any_int)]


class _Params(Schema):
    model_config = ConfigDict(coerce_numbers_to_str=True)


class IssueListQuery(_Params):
    state: Literal["opened", "closed", "all"] = "all"
    labels: CommaList | None = None
    with_labels_details: bool = False
    milestone: str | None = None
    milestone_id: (
        Literal["Any", "None", "Upcoming", "Started", "any", "none", "upcoming", "started"] | None
    ) = None
    search: str | None = None
    in_: str | None = Field(default=None, alias="in")
    author_id: int | None = None
    author_username: str | None = None
    assignee_id: IntNoneAny | None = None
    assignee_username: CommaList | None = None
    my_reaction_emoji: str | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    updated_after: dt.datetime | None = None
    updated_before: dt.datetime | None = None
    confidential: bool | None = None
    closed_by_id: int | None = None
    due_date: DueDate | None = None
    issue_type: IssueType | None = None
    scope: Scope | None = None
    non_archived: bool | None = None
    order_by: OrderBy = "created_at"
    sort: Literal["asc", "desc"] = "desc"


def _list_values(request: HttpRequest, name: str) -> list[str]:
    values = request.GET.getlist(f"{name}[]") + request.GET.getlist(name)
    out: list[str] = []
    for value in values:
        out += [v for v in value.split(",") if v != ""]
    return out


def _int_list(request: HttpRequest, name: str) -> list[int]:
    out = []
    for value in _list_values(request, name):
        if not value.strip().isdigit() or len(value.strip()) > 9:
            raise InvalidParameter(f"{name} is invalid")
        out.append(int(value))
    return out


def _filters(
    request: HttpRequest, query: IssueListQuery, *, default_scope: str = "all"
) -> queries.IssueFilters:
    if query.author_id is not None and query.author_username is not None:
        raise InvalidParameter("author_id, author_username are mutually exclusive")
    if query.assignee_id is not None and query.assignee_username:
        raise InvalidParameter("assignee_id, assignee_username are mutually exclusive")
    if query.milestone is not None and query.milestone_id is not None:
        raise InvalidParameter("milestone_id, milestone are mutually exclusive")
    usernames = _list_values(request, "assignee_username")
    if len(usernames) > 1:
        raise InvalidParameter("assignee_username array is too long")
    get = request.GET
    not_labels = [v for v in get.get("not[labels]", "").split(",") if v] + [
        v for v in get.getlist("not[labels][]") if v
    ]
    not_author = get.get("not[author_id]")
    not_assignee = get.get("not[assignee_id]")
    search_in = tuple(p.strip() for p in (query.in_ or "title,description").split(","))
    return queries.IssueFilters(
        state=query.state,
        scope=(query.scope or default_scope).replace("-", "_"),
        labels=list(query.labels) if query.labels else None,
        milestone=query.milestone,
        milestone_wildcard=query.milestone_id.lower() if query.milestone_id else None,
        iids=_int_list(request, "iids"),
        search=query.search or None,
        search_in=search_in,
        author_id=query.author_id,
        author_username=query.author_username,
        assignee_id=query.assignee_id,
        assignee_usernames=usernames,
        my_reaction_emoji=query.my_reaction_emoji,
        created_after=query.created_after,
        created_before=query.created_before,
        updated_after=query.updated_after,
        updated_before=query.updated_before,
        confidential=query.confidential,
        closed_by_id=query.closed_by_id,
        due_date=query.due_date or None,
        issue_type=query.issue_type,
        non_archived=bool(query.non_archived),
        not_labels=not_labels,
        not_milestone=get.get("not[milestone]"),
        not_iids=[int(v) for v in _list_values(request, "not[iids]") if v.isdigit()],
        not_author_id=int(not_author) if not_author and not_author.isdigit() else None,
        not_author_username=get.get("not[author_username]"),
        not_assignee_id=int(not_assignee) if not_assignee and not_assignee.isdigit() else None,
        not_assignee_usernames=_list_values(request, "not[assignee_username]"),
        not_my_reaction_emoji=get.get("not[my_reaction_emoji]"),
        order_by=query.order_by,
        sort=query.sort,
    )


def _present_list(
    request: HttpRequest,
    response: HttpResponse,
    actor: Actor,
    qs: Any,
    query: IssueListQuery,
    project: Project | None = None,
) -> list[dict[str, Any]]:
    def present(page: list[Issue]) -> list[dict[str, Any]]:
        return issue_entities(
            page, request, actor, project=project, with_labels_details=query.with_labels_details
        )

    rows = queries.project_page_rows(project) if project is not None else rows_from(qs)
    return paginated(request, response, qs, present, rows=rows)


# --- lists ---------------------------------------------------------------------------------


@router.get("/issues")
def list_issues(
    request: HttpRequest, response: HttpResponse, query: Query[IssueListQuery]
) -> list[dict[str, Any]]:
    actor = actor_of(request)
    if (query.scope or "created_by_me") != "all" and actor.user is None:
        raise Unauthorized()
    filters = _filters(request, query, default_scope="created_by_me")
    if query.non_archived is None:
        filters.non_archived = True
    return _present_list(request, response, actor, queries.list_issues_for(actor, filters), query)


@router.get("/issues_statistics")
def issues_statistics(request: HttpRequest, query: Query[IssueListQuery]) -> dict[str, Any]:
    actor = actor_of(request)
    if (query.scope or "created_by_me") != "all" and actor.user is None:
        raise Unauthorized()
    filters = _filters(request, query, default_scope="created_by_me")
    filters.state = "all"
    counts = queries.statistics(queries.list_issues_for(actor, filters))
    return {"statistics": {"counts": counts}}


@router.get("/issues/{issue_id}")
def get_issue_by_id(request: HttpRequest, issue_id: int) -> dict[str, Any]:
    actor = require_admin(request)
    issue = queries.get_issue_by_id_for(actor, issue_id)
    return issue_entity(issue, request, actor)


@router.get("/groups/{id}/issues")
def list_group_issues(
    request: HttpRequest, response: HttpResponse, id: PathStr, query: Query[IssueListQuery]
) -> list[dict[str, Any]]:
    actor = actor_of(request)
    group = get_group_for(actor, id)
    filters = _filters(request, query)
    if query.non_archived is None:
        filters.non_archived = True
    qs = queries.list_group_issues_for(actor, group, filters)
    return _present_list(request, response, actor, qs, query)


@router.get("/groups/{id}/issues_statistics")
def group_issues_statistics(
    request: HttpRequest, id: PathStr, query: Query[IssueListQuery]
) -> dict[str, Any]:
    actor = actor_of(request)
    group = get_group_for(actor, id)
    filters = _filters(request, query)
    filters.state = "all"
    counts = queries.statistics(queries.list_group_issues_for(actor, group, filters))
    return {"statistics": {"counts": counts}}


@router.get("/projects/{id}/issues")
def list_project_issues(
    request: HttpRequest, response: HttpResponse, id: PathStr, query: Query[IssueListQuery]
) -> list[dict[str, Any]]:
    actor = actor_of(request)
    project = get_project_for(actor, id)
    qs = queries.list_project_issues_for(actor, project, _filters(request, query))
    return _present_list(request, response, actor, qs, query, project)


@router.get("/projects/{id}/issues_statistics")
def project_issues_statistics(
    request: HttpRequest, id: PathStr, query: Query[IssueListQuery]
) -> dict[str, Any]:
    actor = actor_of(request)
    project = get_project_for(actor, id)
    filters = _filters(request, query)
    filters.state = "all"
    counts = queries.statistics(queries.list_project_issues_for(actor, project, filters))
    return {"statistics": {"counts": counts}}


# --- one issue -----------------------------------------------------------------------------


def _issue(actor: Actor, id: str, iid: int | str) -> tuple[Project, Issue]:
    project = get_project_for(actor, id)
    return project, queries.get_issue_for(actor, project, iid)


class IssueGetQuery(_Params):
    render_html: bool = False


@router.get("/projects/{id}/issues/{issue_iid}")
def get_issue(
    request: HttpRequest, id: PathStr, issue_iid: int, query: Query[IssueGetQuery]
) -> dict[str, Any]:
    actor = actor_of(request)
    project, issue = _issue(actor, id, issue_iid)
    return issue_entity(issue, request, actor, project=project, render_html=query.render_html)


class IssueWriteParams(_Params):
    description: str | None = None
    assignee_ids: CommaIntList | None = None
    assignee_id: int | None = None
    milestone_id: int | None = None
    milestone: str | None = None
    labels: CommaList | None = None
    add_labels: CommaList | None = None
    remove_labels: CommaList | None = None
    due_date: str | None = None
    confidential: bool | None = None
    discussion_locked: bool | None = None
    issue_type: IssueType | None = None
    weight: int | None = None


class IssueCreateParams(IssueWriteParams):
    title: str
    created_at: dt.datetime | None = None
    iid: int | None = None
    merge_request_to_resolve_discussions_of: int | None = None
    discussion_to_resolve: str | None = None


class IssueUpdateParams(IssueWriteParams):
    title: str | None = None
    state_event: Literal["reopen", "close"] | None = None
    updated_at: dt.datetime | None = None
    created_at: dt.datetime | None = None


def _assignees(payload: IssueWriteParams) -> list[int] | None:
    if payload.assignee_ids is not None:
        return [i for i in payload.assignee_ids if i]
    if "assignee_id" in payload.model_fields_set:
        return [payload.assignee_id] if payload.assignee_id else []
    return None


def _milestone_id(project: Project, payload: IssueWriteParams) -> int | None:
    if payload.milestone_id is not None and payload.milestone is not None:
        raise InvalidParameter("milestone_id, milestone are mutually exclusive")
    if payload.milestone is not None:
        milestone = find_milestone_for(project, payload.milestone)
        if milestone is None:
            raise NotFound("Milestone")
        return milestone.pk
    return payload.milestone_id


@router.post("/projects/{id}/issues", response={201: dict[str, Any]})
def create_issue(
    request: HttpRequest, id: PathStr, payload: Annotated[IssueCreateParams, Params(...)]
) -> Status[dict[str, Any]]:
    actor = require_user(request)
    project = get_project_for(actor, id)
    issue = services.create_issue(
        actor=actor,
        project=project,
        title=payload.title,
        description=payload.description,
        assignee_ids=_assignees(payload),
        milestone_id=_milestone_id(project, payload),
        labels=payload.labels,
        due_date=payload.due_date,
        confidential=payload.confidential,
        discussion_locked=payload.discussion_locked,
        created_at=payload.created_at,
        iid=payload.iid,
    )
    return Status(201, issue_entity(issue, request, actor, project=project))


@router.put("/projects/{id}/issues/{issue_iid}")
def update_issue(
    request: HttpRequest,
    id: PathStr,
    issue_iid: int,
    payload: Annotated[IssueUpdateParams, Params(...)],
) -> dict[str, Any]:
    actor = require_user(request)
    project, issue = _issue(actor, id, issue_iid)
    sent = payload.model_fields_set
    if not sent & set(UPDATE_AT_LEAST_ONE_OF):
        names = ", ".join(UPDATE_AT_LEAST_ONE_OF)
        raise InvalidParameter(f"{names} are missing, at least one parameter must be provided")
    changes: dict[str, Any] = {}
    if "title" in sent:
        changes["title"] = payload.title or ""
    if "description" in sent:
        changes["description"] = payload.description or ""
    assignees = _assignees(payload)
    if assignees is not None:
        changes["assignee_ids"] = assignees
    if "milestone_id" in sent or "milestone" in sent:
        changes["milestone_id"] = _milestone_id(project, payload) or None
    if "labels" in sent:
        changes["labels"] = payload.labels or []
    if payload.add_labels:
        changes["add_labels"] = payload.add_labels
    if payload.remove_labels:
        changes["remove_labels"] = payload.remove_labels
    if "due_date" in sent:
        changes["due_date"] = payload.due_date
    for name in ("confidential", "discussion_locked"):
        if name in sent:
            changes[name] = getattr(payload, name)
    issue = services.update_issue(
        actor=actor,
        issue=issue,
        state_event=payload.state_event,
        updated_at=payload.updated_at,
        **changes,
    )
    return issue_entity(issue, request, actor, project=project)


@router.delete("/projects/{id}/issues/{issue_iid}")
def delete_issue(request: HttpRequest, id: PathStr, issue_iid: int) -> HttpResponse:
    actor = require_user(request)
    _, issue = _issue(actor, id, issue_iid)
    services.delete_issue(actor=actor, issue=issue)
    return HttpResponse(status=204)


class MoveParams(_Params):
    to_project_id: int


@router.post("/projects/{id}/issues/{issue_iid}/move", response={201: dict[str, Any]})
def move_issue(
    request: HttpRequest,
    id: PathStr,
    issue_iid: int,
    payload: Annotated[MoveParams, Params(...)],
) -> Status[dict[str, Any]]:
    actor = require_user(request)
    _, issue = _issue(actor, id, issue_iid)
    target = find_project(payload.to_project_id)
    if target is None or not can(actor, "read_project", target):
        raise NotFound("Project")
    moved = moving.move_issue(actor=actor, issue=issue, to_project=target)
    return Status(201, issue_entity(moved, request, actor, project=target))


@router.post("/projects/{id}/issues/{issue_iid}/subscribe", response={201: dict[str, Any]})
def subscribe(request: HttpRequest, id: PathStr, issue_iid: int) -> Any:
    actor = require_user(request)
    project, issue = _issue(actor, id, issue_iid)
    if not subscriptions.set_subscription(actor=actor, noteable=issue, subscribed=True):
        return HttpResponse(status=304)
    return Status(201, issue_entity(issue, request, actor, project=project))


@router.post("/projects/{id}/issues/{issue_iid}/unsubscribe", response={201: dict[str, Any]})
def unsubscribe(request: HttpRequest, id: PathStr, issue_iid: int) -> Any:
    actor = require_user(request)
    project, issue = _issue(actor, id, issue_iid)
    if not subscriptions.set_subscription(actor=actor, noteable=issue, subscribed=False):
        return HttpResponse(status=304)
    return Status(201, issue_entity(issue, request, actor, project=project))


@router.post("/projects/{id}/issues/{issue_iid}/todo", response={201: dict[str, Any]})
def create_todo(request: HttpRequest, id: PathStr, issue_iid: int) -> Any:
    from kiln.api.v4.presenters.todos import todo_entities

    actor = require_user(request)
    _, issue = _issue(actor, id, issue_iid)
    todo = todos.mark_todo(actor=actor, noteable=issue)
    if todo is None:
        return HttpResponse(status=304)
    return Status(201, todo_entities([todo], request, actor)[0])


@router.get("/projects/{id}/issues/{issue_iid}/participants")
def participants(
    request: HttpRequest, response: HttpResponse, id: PathStr, issue_iid: int
) -> list[dict[str, Any]]:
    from kiln.accounts.models import User
    from kiln.notes.mentions import mentioned_user_ids

    actor = actor_of(request)
    project, issue = _issue(actor, id, issue_iid)
    ids = subscriptions.participant_ids(issue)
    ids += [u for u in mentioned_user_ids(issue.description, project=project) if u not in ids]
    users = {u.pk: u for u in User.objects.filter(pk__in=ids)}
    readers = [
        users[i] for i in ids if i in users and can(Actor.for_user(users[i]), "read_issue", issue)
    ]
    ordered = User.objects.filter(pk__in=[u.pk for u in readers]).order_by("id")
    return paginated(
        request, response, ordered, lambda page: [user_basic(u, request) for u in page]
    )


@router.get("/projects/{id}/issues/{issue_iid}/time_stats")
def get_time_stats(request: HttpRequest, id: PathStr, issue_iid: int) -> dict[str, Any]:
    actor = actor_of(request)
    _, issue = _issue(actor, id, issue_iid)
    return time_stats(issue)


# --- links ---------------------------------------------------------------------------------


@router.get("/projects/{id}/issues/{issue_iid}/links")
def list_links(request: HttpRequest, id: PathStr, issue_iid: int) -> list[dict[str, Any]]:
    actor = actor_of(request)
    project, issue = _issue(actor, id, issue_iid)
    links = list(IssueLink.objects.filter(source=issue).select_related("target")) + list(
        IssueLink.objects.filter(target=issue).select_related("source")
    )
    visible = set(
        Issue.objects.filter(queries.visible_issues_q(actor))
        .filter(pk__in=[lk.target_id for lk in links] + [lk.source_id for lk in links])
        .values_list("pk", flat=True)
    )
    rows: list[tuple[Issue, IssueLink, str]] = []
    reverse = {"blocks": "is_blocked_by", "relates_to": "relates_to"}
    for link in sorted(links, key=lambda lk: lk.pk):
        outgoing = link.source_id == issue.pk
        other_id = link.target_id if outgoing else link.source_id
        if other_id not in visible:
            continue
        link_type = link.link_type if outgoing else reverse.get(link.link_type, link.link_type)
        rows.append((Issue(pk=other_id), link, link_type))
    others = {
        i.pk: i
        for i in Issue.objects.filter(pk__in=[r[0].pk for r in rows]).select_related(
            "project", "project__namespace", "author", "milestone", "closed_by"
        )
    }
    rows = [(others[r[0].pk], r[1], r[2]) for r in rows if r[0].pk in others]
    return linked_issue_entities(rows, request, actor, project)


class LinkParams(_Params):
    target_project_id: str
    target_issue_iid: str
    link_type: Literal["relates_to", "blocks", "is_blocked_by"] = "relates_to"


def _link_entity(
    request: HttpRequest,
    actor: Actor,
    link: IssueLink,
    source: Issue,
    target: Issue,
    link_type: str,
) -> dict[str, Any]:
    presented = issue_entities([source, target], request, actor)
    return {"source_issue": presented[0], "target_issue": presented[1], "link_type": link_type}


@router.post("/projects/{id}/issues/{issue_iid}/links", response={201: dict[str, Any]})
def create_link(
    request: HttpRequest,
    id: PathStr,
    issue_iid: int,
    payload: Annotated[LinkParams, Params(...)],
) -> Status[dict[str, Any]]:
    actor = require_user(request)
    _, issue = _issue(actor, id, issue_iid)
    target_project = find_project(payload.target_project_id)
    target = None
    if target_project is not None and can(actor, "read_project", target_project):
        target = queries.find_issue_for(actor, target_project, payload.target_issue_iid)
    if target is None:
        raise NotFound("No matching issue found. Make sure that you are adding a valid issue URL.")
    link = issue_links.link_issues(
        actor=actor, source=issue, target=target, link_type=payload.link_type
    )
    return Status(201, _link_entity(request, actor, link, issue, target, payload.link_type))


@router.delete("/projects/{id}/issues/{issue_iid}/links/{issue_link_id}")
def delete_link(
    request: HttpRequest, id: PathStr, issue_iid: int, issue_link_id: int
) -> dict[str, Any]:
    actor = require_user(request)
    _, issue = _issue(actor, id, issue_iid)
    link = (
        IssueLink.objects.filter(pk=issue_link_id)
        .filter(source=issue)
        .select_related("source", "target")
        .first()
        or IssueLink.objects.filter(pk=issue_link_id, target=issue)
        .select_related("source", "target")
        .first()
    )
    if link is None:
        raise NotFound("Issue Link")
    other = link.target if link.source_id == issue.pk else link.source
    if not can(actor, "read_issue", other):
        raise NotFound("Issue Link")
    source, target = link.source, link.target
    link_type = link.link_type
    issue_links.unlink_issues(actor=actor, issue=issue, link=link)
    for item in (source, target):
        item.project = Project.objects.select_related("namespace").get(pk=item.project_id)
    return _link_entity(request, actor, link, source, target, link_type)


# --- resource events (issues and merge requests) ------------------------------------------


def _noteable(actor: Actor, id: str, route: str, iid: int) -> Any:
    project = get_project_for(actor, id)
    nt = noteables.by_route(route)
    noteable = nt.find(actor, project, str(iid)) if nt is not None else None
    if nt is None or noteable is None:
        raise NotFound("Issue" if route == "issues" else "Merge Request")
    return noteable


def _register_resource_events(route: str) -> None:
    type_name = "Issue" if route == "issues" else "MergeRequest"

    def _events(kind: str, noteable: Any) -> Any:
        pk = noteables.type_of(noteable).id_of(noteable) or 0
        if kind == "label":
            return list_label_events(type_name, pk)
        if kind == "milestone":
            return list_milestone_events(type_name, pk)
        return list_state_events(type_name, pk)

    presenters = {
        "label": label_event_entities,
        "milestone": milestone_event_entities,
        "state": state_event_entities,
    }

    def make(kind: str) -> None:
        path = f"/projects/{{id}}/{route}/{{noteable_iid}}/resource_{kind}_events"
        present = presenters[kind]

        def list_events(
            request: HttpRequest, response: HttpResponse, id: PathStr, noteable_iid: int
        ) -> list[dict[str, Any]]:
            actor = actor_of(request)
            noteable = _noteable(actor, id, route, noteable_iid)
            return paginated(
                request, response, _events(kind, noteable), lambda page: present(page, request)
            )

        def get_event(
            request: HttpRequest, id: PathStr, noteable_iid: int, event_id: int
        ) -> dict[str, Any]:
            actor = actor_of(request)
            noteable = _noteable(actor, id, route, noteable_iid)
            event = _events(kind, noteable).filter(pk=event_id).first()
            if event is None:
                raise NotFound()
            return present([event], request)[0]

        list_events.__name__ = f"list_resource_{kind}_events"
        get_event.__name__ = f"get_resource_{kind}_event"
        _add(route, path, ["GET"], list_events, url_name=f"{route}_{kind}_events")
        _add(route, f"{path}/{{event_id}}", ["GET"], get_event, url_name=f"{route}_{kind}_event")

    for kind in ("label", "milestone", "state"):
        make(kind)


def _add(route: str, path: str, methods: list[str], view: Any, **kwargs: Any) -> None:
    """Register a generated view with an operation id naming its noteable type."""
    kwargs.pop("url_name", None)
    slug = route.replace("/", "_")
    router.add_api_operation(path, methods, view, operation_id=f"{slug}_{view.__name__}", **kwargs)


for _route in ("issues", "merge_requests"):
    _register_resource_events(_route)
