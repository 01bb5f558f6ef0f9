"""The signed-in user's dashboard (`/dashboard/...`, and `/` itself): their projects, starred
projects, groups, activity, issues and merge requests, and to-do list.

Every list comes from the same queries as the API's (`/projects?membership=true`, `/groups`,
`/events?scope=all`, `/issues`, `/merge_requests`, `/todos`), so it shows exactly what the
user may see. Also home of the small helpers the account and explore pages share: the
sign-in requirement, pagination, and how projects, events and to-do items are presented.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import quote

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from kiln.events.models import Event
from kiln.events.queries import EventFilters, list_events_for, visible_events_q
from kiln.issues.models import Issue
from kiln.issues.queries import IssueFilters, list_issues_for
from kiln.merge_requests.models import MergeRequest
from kiln.merge_requests.queries import MergeRequestFilters, list_merge_requests_for
from kiln.namespaces.queries import search_groups_for
from kiln.notes import todos
from kiln.notes.models import Todo
from kiln.projects.models import Project, Star
from kiln.projects.queries import ProjectFilters, list_projects_for
from kiln.web.context import actor_for

PER_PAGE = 20
MAX_SEARCH = 255

View = TypeVar("View", bound=Callable[..., HttpResponse])


# --- helpers shared by the account, dashboard, explore and profile pages ---------------------


def sign_in_redirect(request: HttpRequest) -> HttpResponse:
    """To the sign-in page, coming back here afterwards (GitLab's redirect for anonymous
    visitors of pages that need an account)."""
    return HttpResponseRedirect("/users/sign_in?redirect_to=" + quote(request.get_full_path()))


def signed_in(view: View) -> View:
    """The page needs a signed-in user; anonymous visitors go to the sign-in page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if actor_for(request).user is None:
            return sign_in_redirect(request)
        return view(request, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


@dataclass
class Pager:
    """One page of a list: its items and links to the neighbouring pages (no total count, so
    a page of a huge list costs one query of PER_PAGE + 1 rows)."""

    items: list[Any]
    number: int
    prev_url: str
    next_url: str


def _page_url(request: HttpRequest, number: int) -> str:
    params = request.GET.copy()
    params["page"] = str(number)
    return f"{request.path}?{params.urlencode()}"


def paginate(request: HttpRequest, qs: QuerySet[Any], per_page: int = PER_PAGE) -> Pager:
    try:
        number = max(1, min(int(request.GET.get("page", "1")), 100_000))
    except ValueError:
        number = 1
    start = (number - 1) * per_page
    rows = list(qs[start : start + per_page + 1])
    has_next = len(rows) > per_page
    return Pager(
        items=rows[:per_page],
        number=number,
        prev_url=_page_url(request, number - 1) if number > 1 else "",
        next_url=_page_url(request, number + 1) if has_next else "",
    )


def search_term(request: HttpRequest, *names: str) -> str:
    for name in names:
        if value := request.GET.get(name, "").strip():
            return value[:MAX_SEARCH]
    return ""


# Project list orders: GitLab's `sort` values -> (order_by, direction).
PROJECT_SORTS: dict[str, tuple[str, str, str]] = {
    "latest_activity_desc": ("last_activity_at", "desc", "Updated date"),
    "created_desc": ("created_at", "desc", "Created date"),
    "created_asc": ("created_at", "asc", "Oldest created"),
    "name_asc": ("name", "asc", "Name"),
    "name_desc": ("name", "desc", "Name, descending"),
    "stars_desc": ("star_count", "desc", "Stars"),
}


def project_filters(request: HttpRequest, default_sort: str, **flags: Any) -> ProjectFilters:
    sort = request.GET.get("sort", default_sort)
    order_by, direction, _ = PROJECT_SORTS.get(sort, PROJECT_SORTS[default_sort])
    return ProjectFilters(
        search=search_term(request, "name", "search") or None,
        order_by=order_by,
        sort=direction,
        **flags,
    )


def sort_choices(current: str, sorts: dict[str, tuple[str, str, str]]) -> list[dict[str, Any]]:
    return [
        {"value": key, "label": label, "selected": key == current}
        for key, (_, _, label) in sorts.items()
    ]


def starred_ids(request: HttpRequest, projects: Iterable[Project]) -> set[int]:
    """Which of these projects the signed-in user starred (one query)."""
    user_id = actor_for(request).user_id
    ids = [p.pk for p in projects]
    if user_id is None or not ids:
        return set()
    return set(
        Star.objects.filter(user_id=user_id, project_id__in=ids).values_list(
            "project_id", flat=True
        )
    )


# --- events ---------------------------------------------------------------------------------


@dataclass
class EventRow:
    event: Event
    text: str
    target: str
    url: str


def _subject_iids(events: list[Event]) -> dict[tuple[str, int], int]:
    """iids of the issues and merge requests the events (notes included) are about."""
    wanted: dict[str, set[int]] = {"Issue": set(), "MergeRequest": set()}
    for event in events:
        if event.subject_type in wanted and event.subject_id is not None:
            wanted[event.subject_type].add(event.subject_id)
    found: dict[tuple[str, int], int] = {}
    if wanted["Issue"]:
        for pk, iid in Issue.objects.filter(pk__in=wanted["Issue"]).values_list("pk", "iid"):
            found[("Issue", pk)] = iid
    if wanted["MergeRequest"]:
        rows = MergeRequest.objects.filter(pk__in=wanted["MergeRequest"]).values_list("pk", "iid")
        for pk, iid in rows:
            found[("MergeRequest", pk)] = iid
    return found


_TARGET_PAGES = {"Issue": ("issues", "#"), "MergeRequest": ("merge_requests", "!")}
_ACTION_WORDS = {
    "created": "opened",
    "merged": "accepted",
    "destroyed": "deleted",
}


def event_rows(events: list[Event]) -> list[EventRow]:
    """How each event reads in a feed ("opened issue #3 …") and where it links."""
    iids = _subject_iids(events)
    rows = []
    for event in events:
        project = event.project
        base = f"/{project.full_path}" if project is not None else ""
        text, target, url = event.action, event.target_title, base
        if event.action == "pushed":
            data = event.data or {}
            ref, kind = str(data.get("ref", "")), str(data.get("ref_type", "branch"))
            action = data.get("action")
            text = {"created": f"pushed new {kind}", "removed": f"deleted {kind}"}.get(
                str(action), f"pushed to {kind}"
            )
            target = ref
            if action != "removed":
                page = "tags" if kind == "tag" else "commits"
                url = f"{base}/-/{page}/{quote(ref)}"
        elif event.target_type in _TARGET_PAGES:
            page, sigil = _TARGET_PAGES[event.target_type]
            kind = "issue" if event.target_type == "Issue" else "merge request"
            text = (
                f"{_ACTION_WORDS.get(event.action, event.action)} {kind} {sigil}{event.target_iid}"
            )
            url = f"{base}/-/{page}/{event.target_iid}"
        elif event.target_type in ("Note", "DiscussionNote", "DiffNote"):
            text = "commented on"
            subject = (event.subject_type, event.subject_id or 0)
            if subject in iids:
                page, sigil = _TARGET_PAGES[event.subject_type]
                kind = "issue" if event.subject_type == "Issue" else "merge request"
                text = f"commented on {kind} {sigil}{iids[subject]}"
                url = f"{base}/-/{page}/{iids[subject]}#note_{event.target_id}"
        elif event.target_type == "Milestone":
            text = f"{_ACTION_WORDS.get(event.action, event.action)} milestone"
            url = f"{base}/-/milestones/{event.target_iid}"
        elif event.action in ("joined", "left"):
            text, target = f"{event.action} project", ""
        elif event.action == "created" and not event.target_type:
            text, target = "created project", ""
        else:
            text = _ACTION_WORDS.get(event.action, event.action)
        rows.append(EventRow(event, text, target, url))
    return rows


# --- pages ----------------------------------------------------------------------------------


def _projects_page(request: HttpRequest, tab: str) -> HttpResponse:
    actor = actor_for(request)
    sort = request.GET.get("sort", "latest_activity_desc")
    if sort not in PROJECT_SORTS:
        sort = "latest_activity_desc"
    flags = {"starred": True} if tab == "starred" else {"membership": True}
    qs = list_projects_for(actor, project_filters(request, sort, archived=False, **flags))
    pager = paginate(request, qs)
    return render(
        request,
        "web/dashboard/projects.html",
        {
            "tab": tab,
            "pager": pager,
            "starred": starred_ids(request, pager.items),
            "search": search_term(request, "name", "search"),
            "sorts": sort_choices(sort, PROJECT_SORTS),
        },
    )


@require_GET
@signed_in
def projects(request: HttpRequest) -> HttpResponse:
    return _projects_page(request, "yours")


@require_GET
@signed_in
def starred_projects(request: HttpRequest) -> HttpResponse:
    return _projects_page(request, "starred")


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect("/dashboard/projects")


GROUP_SORTS: dict[str, tuple[str, str, str]] = {
    "name_asc": ("name", "asc", "Name"),
    "name_desc": ("name", "desc", "Name, descending"),
    "created_desc": ("id", "desc", "Created date"),
    "created_asc": ("id", "asc", "Oldest created"),
    "latest_activity_desc": ("updated_at", "desc", "Updated date"),
}


def groups_page(
    request: HttpRequest, *, template: str, all_available: bool | None, extra: dict[str, Any]
) -> HttpResponse:
    """A searchable, sortable page of groups (the dashboard's and explore's)."""
    sort = request.GET.get("sort", "name_asc")
    if sort not in GROUP_SORTS:
        sort = "name_asc"
    order_by, direction, _ = GROUP_SORTS[sort]
    search = search_term(request, "filter", "search")
    qs = search_groups_for(
        actor_for(request),
        all_available=all_available,
        search=search or None,
        order_by="id" if order_by == "id" else "name",
        sort="desc" if direction == "desc" else "asc",
    )
    if order_by != "id":
        prefix = "-" if direction == "desc" else ""
        qs = qs.order_by(f"{prefix}{order_by}", f"{prefix}id")
    context = {
        "pager": paginate(request, qs),
        "search": search,
        "sorts": sort_choices(sort, GROUP_SORTS),
        **extra,
    }
    return render(request, template, context)


@require_GET
@signed_in
def groups(request: HttpRequest) -> HttpResponse:
    return groups_page(request, template="web/dashboard/groups.html", all_available=False, extra={})


@require_GET
@signed_in
def activity(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    tab = request.GET.get("filter", "projects")
    if tab == "starred":
        assert actor.user is not None
        starred = Star.objects.filter(user_id=actor.user.pk).values("project_id")
        qs = list_starred_project_events_for(actor, starred)
    elif tab == "own":
        qs = list_events_for(actor, EventFilters())
    else:
        tab = "projects"
        qs = list_events_for(actor, EventFilters(), scope_all=True)
    pager = paginate(request, qs.select_related("project__namespace"))
    pager.items = event_rows(pager.items)
    return render(request, "web/dashboard/activity.html", {"tab": tab, "pager": pager})


def list_starred_project_events_for(actor: Any, project_ids: QuerySet[Any]) -> QuerySet[Event]:
    """Events the actor may see in the given projects (the starred ones)."""
    return (
        Event.objects.filter(visible_events_q(actor), project_id__in=project_ids)
        .select_related("author", "project")
        .order_by("-id")
    )


ISSUE_SORTS: dict[str, tuple[str, str, str]] = {
    "created_date": ("created_at", "desc", "Created date"),
    "created_asc": ("created_at", "asc", "Oldest created"),
    "updated_desc": ("updated_at", "desc", "Updated date"),
}
STATES = (("opened", "Open"), ("closed", "Closed"), ("all", "All"))


def _people_params(request: HttpRequest, *names: str) -> dict[str, str]:
    return {
        name: request.GET[name].strip()[:255] for name in names if request.GET.get(name, "").strip()
    }


def _state(request: HttpRequest, allowed: Iterable[str]) -> str:
    state = request.GET.get("state", "opened")
    return state if state in allowed else "opened"


def _tab_links(request: HttpRequest, key: str, values: Iterable[tuple[str, str]]) -> list[Any]:
    """Links that change one query parameter and keep the others (page excepted)."""
    links = []
    for value, label in values:
        params = request.GET.copy()
        params.pop("page", None)
        params[key] = value
        links.append(
            {"label": label, "url": f"{request.path}?{params.urlencode()}", "value": value}
        )
    return links


@require_GET
@signed_in
def issues(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    assert actor.user is not None
    people = _people_params(request, "assignee_username", "author_username")
    if not people:
        people = {"assignee_username": actor.user.username}
    state = _state(request, ("opened", "closed", "all"))
    sort = request.GET.get("sort", "created_date")
    order_by, direction, _ = ISSUE_SORTS.get(sort, ISSUE_SORTS["created_date"])
    filters = IssueFilters(
        state=state,
        scope="all",
        author_username=people.get("author_username"),
        assignee_usernames=[people["assignee_username"]] if "assignee_username" in people else [],
        search=search_term(request, "search") or None,
        order_by=order_by,
        sort=direction,
    )
    pager = paginate(request, list_issues_for(actor, filters))
    return render(
        request,
        "web/dashboard/issues.html",
        {
            "pager": pager,
            "state": state,
            "states": _tab_links(request, "state", STATES),
            "people": people,
            "search": search_term(request, "search"),
            "sorts": sort_choices(sort, ISSUE_SORTS),
        },
    )


@require_GET
@signed_in
def merge_requests(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    assert actor.user is not None
    people = _people_params(request, "assignee_username", "reviewer_username", "author_username")
    if not people:
        people = {"assignee_username": actor.user.username}
    state = _state(request, ("opened", "merged", "closed", "all"))
    sort = request.GET.get("sort", "created_date")
    order_by, direction, _ = ISSUE_SORTS.get(sort, ISSUE_SORTS["created_date"])
    filters = MergeRequestFilters(
        state=state,
        scope="all",
        author_username=people.get("author_username"),
        assignee_username=[people["assignee_username"]] if "assignee_username" in people else None,
        reviewer_username=people.get("reviewer_username"),
        search=search_term(request, "search") or None,
        order_by=order_by,
        sort=direction,
    )
    pager = paginate(request, list_merge_requests_for(actor, filters))
    me = actor.user.username
    if people == {"reviewer_username": me}:
        tab = "review"
    elif people == {"assignee_username": me}:
        tab = "assigned"
    else:
        tab = ""
    return render(
        request,
        "web/dashboard/merge_requests.html",
        {
            "pager": pager,
            "state": state,
            "states": _tab_links(
                request,
                "state",
                (("opened", "Open"), ("merged", "Merged"), ("closed", "Closed"), ("all", "All")),
            ),
            "tab": tab,
            "me": me,
            "people": people,
            "search": search_term(request, "search"),
            "sorts": sort_choices(sort, ISSUE_SORTS),
        },
    )


# --- to-do list -----------------------------------------------------------------------------

_TODO_ACTIONS = {
    "assigned": "assigned you",
    "mentioned": "mentioned you on",
    "directly_addressed": "mentioned you on",
    "build_failed": "The pipeline failed in",
    "marked": "added a to-do item for",
    "approval_required": "set you as an approver for",
    "unmergeable": "Could not merge",
    "review_requested": "requested a review of",
    "review_submitted": "reviewed",
    "member_access_requested": "requested access to",
    "merge_train_removed": "removed from the merge train",
}


@dataclass
class TodoRow:
    todo: Todo
    text: str
    target: str
    url: str


def _todo_rows(items: list[Todo]) -> list[TodoRow]:
    ids: dict[str, set[int]] = {"Issue": set(), "MergeRequest": set()}
    for todo in items:
        if todo.target_type in ids and todo.target_id is not None:
            ids[todo.target_type].add(todo.target_id)
    titles: dict[tuple[str, int], tuple[int, str]] = {}
    for pk, iid, title in Issue.objects.filter(pk__in=ids["Issue"]).values_list(
        "pk", "iid", "title"
    ):
        titles[("Issue", pk)] = (iid, title)
    for pk, iid, title in MergeRequest.objects.filter(pk__in=ids["MergeRequest"]).values_list(
        "pk", "iid", "title"
    ):
        titles[("MergeRequest", pk)] = (iid, title)
    rows = []
    for todo in items:
        base = f"/{todo.project.full_path}"
        text = _TODO_ACTIONS.get(todos.ACTION_NAMES.get(todo.action, ""), "")
        target, url = "", base
        key = (todo.target_type, todo.target_id or 0)
        if key in titles:
            iid, title = titles[key]
            page, sigil = _TARGET_PAGES[todo.target_type]
            target = f"{title} ({sigil}{iid})"
            url = f"{base}/-/{page}/{iid}"
        elif todo.target_type == "Commit":
            target = todo.commit_id[:8]
            url = f"{base}/-/commit/{todo.commit_id}"
        if todo.note_id and url != base:
            url += f"#note_{todo.note_id}"
        rows.append(TodoRow(todo, text, target, url))
    return rows


@require_GET
@signed_in
def todo_list(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    state = "done" if request.GET.get("state") == "done" else "pending"
    pager = paginate(request, todos.list_todos_for(actor, todos.TodoFilters(state=state)))
    pager.items = _todo_rows(pager.items)
    return render(request, "web/dashboard/todos.html", {"pager": pager, "state": state})


@require_POST
@signed_in
def todo_done(request: HttpRequest, todo_id: int) -> HttpResponse:
    actor = actor_for(request)
    todos.mark_todo_done(actor=actor, todo=todos.get_todo_for(actor, todo_id))
    messages.success(request, "To-do item marked as done.")
    return HttpResponseRedirect("/dashboard/todos")


@require_POST
@signed_in
def todos_all_done(request: HttpRequest) -> HttpResponse:
    count = todos.mark_all_done(actor=actor_for(request))
    messages.success(request, f"{count} to-do item{'s' if count != 1 else ''} marked as done.")
    return HttpResponseRedirect("/dashboard/todos")
