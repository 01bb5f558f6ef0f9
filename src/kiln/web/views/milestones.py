"""A project's milestones (`/<project>/-/milestones`): open/closed lists, new, edit, close and
reopen, delete, and a milestone's page with its progress, issues and merge requests. Writes go
through `kiln.milestones.services` (Planner and above)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kiln.core.errors import Forbidden, KilnError
from kiln.issues import queries as issue_queries
from kiln.issues.models import Issue, IssueState
from kiln.merge_requests import queries as mr_queries
from kiln.merge_requests.models import MergeRequest
from kiln.milestones import services as milestone_services
from kiln.milestones.models import Milestone
from kiln.milestones.policies import can_admin_milestones, can_read_milestones
from kiln.milestones.queries import MilestoneFilters, list_milestones
from kiln.namespaces.models import Namespace
from kiln.projects.models import Project
from kiln.web.context import actor_for, project_or_404
from kiln.web.views import notes as shared

STATES = (("opened", "Open", "active"), ("closed", "Closed", "closed"), ("all", "All", "all"))
# Issues and merge requests listed on a milestone's page, at most.
MAX_LISTED = 500


def _project(request: HttpRequest, full_path: str, *, admin: bool = False) -> Project:
    project = project_or_404(request, full_path)
    check_access(request, project, admin=admin)
    return project


def check_access(request: HttpRequest, parent: Project | Namespace, *, admin: bool) -> None:
    """404 unless the viewer may read the parent's milestones (and, with `admin`, change them)."""
    actor = actor_for(request)
    if not can_read_milestones(actor, parent):
        raise Http404("milestones")
    if admin and not can_admin_milestones(actor, parent):
        raise Http404("milestones")


def find_milestone(parent: Project | Namespace, iid: str) -> Milestone:
    """The parent's own milestone with that iid, else 404."""
    milestone = list_milestones(parent, MilestoneFilters(iids=[int(iid)])).first()
    if milestone is None:
        raise Http404("milestone")
    return milestone


def _url(parent: Project | Namespace, milestone: Milestone | None = None) -> str:
    base = f"{shared.scope_context(parent)['scope_url']}/milestones"
    return f"{base}/{milestone.iid}" if milestone is not None else base


def _issue_counts(issues: QuerySet[Issue], ids: list[int]) -> dict[int, dict[str, int]]:
    """Visible issues per milestone: {milestone id: {"total", "closed"}} (one query)."""
    from django.db.models import Count, Q

    rows = (
        issues.filter(milestone_id__in=ids)
        .order_by()
        .values("milestone_id")
        .annotate(total=Count("pk"), closed=Count("pk", filter=Q(state=IssueState.CLOSED)))
    )
    return {r["milestone_id"]: {"total": r["total"], "closed": r["closed"]} for r in rows}


def progress(counts: dict[str, int]) -> int:
    total = counts.get("total", 0)
    return int(counts.get("closed", 0) * 100 / total) if total else 0


@require_GET
def index(request: HttpRequest, full_path: str) -> HttpResponse:
    project = _project(request, full_path)
    issues = issue_queries.list_project_issues_for(
        actor_for(request), project, issue_queries.IssueFilters()
    )
    return render_index(request, project, issues)


def render_index(
    request: HttpRequest, parent: Project | Namespace, issues: QuerySet[Issue]
) -> HttpResponse:
    """The milestone list of a project or group, with progress counted over `issues` (the
    parent's issues the viewer may see)."""
    state = request.GET.get("state", "opened")
    if state not in ("opened", "closed", "all"):
        state = "opened"
    wanted = next(s[2] for s in STATES if s[0] == state)
    search = request.GET.get("search_title", "").strip()[:255]
    f = MilestoneFilters(state=wanted, search=search or None)
    items, page = shared.paginate(request, list_milestones(parent, f))
    counts = _issue_counts(issues, [m.pk for m in items])
    for m in items:
        m.issue_counts = counts.get(m.pk, {"total": 0, "closed": 0})
        m.progress = progress(m.issue_counts)
    tabs = [
        {"title": title, "url": shared.query_with(request, state=key), "current": key == state}
        for key, title, _ in STATES
    ]
    return render(
        request,
        "web/milestones/index.html",
        {
            **shared.scope_context(parent),
            "nav": "milestones",
            "milestones": items,
            "page": page,
            "tabs": tabs,
            "state": state,
            "search": search,
            "can_admin": can_admin_milestones(actor_for(request), parent),
        },
    )


def form_context(
    parent: Project | Namespace, values: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """The new/edit milestone form of a project or a group."""
    return {**shared.scope_context(parent), "nav": "milestones", "values": values, **extra}


def milestone_values(milestone: Milestone) -> dict[str, Any]:
    return {
        "title": milestone.title,
        "description": milestone.description,
        "start_date": milestone.start_date.isoformat() if milestone.start_date else None,
        "due_date": milestone.due_date.isoformat() if milestone.due_date else None,
    }


EMPTY_VALUES: dict[str, Any] = {
    "title": "",
    "description": "",
    "start_date": None,
    "due_date": None,
}


def posted_milestone(request: HttpRequest) -> dict[str, Any]:
    post = request.POST
    return {
        "title": post.get("milestone[title]", ""),
        "description": post.get("milestone[description]", ""),
        "start_date": post.get("milestone[start_date]", "").strip() or None,
        "due_date": post.get("milestone[due_date]", "").strip() or None,
    }


@require_GET
def new(request: HttpRequest, full_path: str) -> HttpResponse:
    project = _project(request, full_path, admin=True)
    return render(request, "web/milestones/form.html", form_context(project, EMPTY_VALUES))


@require_POST
def create(request: HttpRequest, full_path: str) -> HttpResponse:
    return create_from_form(request, _project(request, full_path, admin=True))


@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    project = _project(request, full_path, admin=True)
    return edit_form(request, project, find_milestone(project, iid))


@require_GET
def show(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    project = _project(request, full_path)
    actor = actor_for(request)
    milestone = find_milestone(project, iid)
    issues = issue_queries.list_project_issues_for(
        actor, project, issue_queries.IssueFilters(order_by="created_at", sort="asc")
    )
    try:
        merge_requests = mr_queries.list_project_merge_requests_for(actor, project)
    except Forbidden:
        merge_requests = MergeRequest.objects.none()
    return render_show(request, project, milestone, issues, merge_requests)


def render_show(
    request: HttpRequest,
    parent: Project | Namespace,
    milestone: Milestone,
    issues: QuerySet[Issue],
    merge_requests: QuerySet[MergeRequest],
) -> HttpResponse:
    """A milestone's page: its issues and merge requests among those the viewer may see
    (`issues`, `merge_requests`: the parent's, already restricted to the viewer)."""
    listed = list(
        issues.filter(milestone=milestone).select_related("project__namespace")[:MAX_LISTED]
    )
    mrs = list(merge_requests.filter(milestone=milestone).order_by("created_at", "id")[:MAX_LISTED])
    closed = sum(1 for i in listed if i.state == IssueState.CLOSED)
    project = parent if isinstance(parent, Project) else None
    return render(
        request,
        "web/milestones/show.html",
        {
            **shared.scope_context(parent),
            "nav": "milestones",
            "milestone": milestone,
            "description_html": shared.markdown_html(request, milestone.description, project),
            "open_issues": [i for i in listed if i.state != IssueState.CLOSED],
            "closed_issues": [i for i in listed if i.state == IssueState.CLOSED],
            "merge_requests": mrs,
            "progress": progress({"total": len(listed), "closed": closed}),
            "can_admin": can_admin_milestones(actor_for(request), parent),
        },
    )


@require_POST
def update(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    project = _project(request, full_path, admin=True)
    return change_state_from_form(request, project, find_milestone(project, iid))


@require_POST
def delete(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    project = _project(request, full_path, admin=True)
    return delete_from_form(request, project, find_milestone(project, iid))


# -- the forms of a project or group (the caller checked the viewer may administer them) -----


def create_from_form(request: HttpRequest, parent: Project | Namespace) -> HttpResponse:
    values = posted_milestone(request)
    try:
        milestone = milestone_services.create_milestone(
            actor=actor_for(request), parent=parent, **values
        )
    except Forbidden:
        raise Http404("milestones") from None
    except KilnError as exc:
        context = form_context(parent, values, error=shared.error_text(exc))
        return render(request, "web/milestones/form.html", context, status=400)
    return HttpResponseRedirect(_url(parent, milestone))


def edit_form(
    request: HttpRequest, parent: Project | Namespace, milestone: Milestone
) -> HttpResponse:
    if request.method == "GET":
        context = form_context(parent, milestone_values(milestone), milestone=milestone)
        return render(request, "web/milestones/form.html", context)
    values = posted_milestone(request)
    try:
        milestone_services.update_milestone(actor=actor_for(request), milestone=milestone, **values)
    except Forbidden:
        raise Http404("milestones") from None
    except KilnError as exc:
        context = form_context(parent, values, milestone=milestone, error=shared.error_text(exc))
        return render(request, "web/milestones/form.html", context, status=400)
    return HttpResponseRedirect(_url(parent, milestone))


def change_state_from_form(
    request: HttpRequest, parent: Project | Namespace, milestone: Milestone
) -> HttpResponse:
    """Close or reopen (`milestone[state_event]`: close / activate)."""
    event = request.POST.get("milestone[state_event]")
    if event not in ("close", "activate"):
        raise Http404("action")
    try:
        milestone_services.update_milestone(
            actor=actor_for(request), milestone=milestone, state_event=event
        )
    except Forbidden:
        raise Http404("milestones") from None
    return HttpResponseRedirect(_url(parent, milestone))


def delete_from_form(
    request: HttpRequest, parent: Project | Namespace, milestone: Milestone
) -> HttpResponse:
    try:
        milestone_services.delete_milestone(actor=actor_for(request), milestone=milestone)
    except Forbidden:
        raise Http404("milestones") from None
    messages.success(request, "Milestone was deleted.")
    return HttpResponseRedirect(_url(parent))


@require_http_methods(["GET", "POST"])
def index_or_create(request: HttpRequest, full_path: str) -> HttpResponse:
    if request.method == "POST":
        return create(request, full_path)
    return index(request, full_path)


@require_http_methods(["GET", "POST"])
def show_or_update(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    if request.method == "POST":
        return update(request, full_path, iid)
    return show(request, full_path, iid)
