"""A project's milestones (`/<project>/-/milestones`): open/closed lists, new, edit, close and
reopen, delete, and a milestone's page with its progress, issues and merge requests. Writes go
through `kiln.milestones.services` (Planner and above)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kiln.core.errors import Forbidden, KilnError
from kiln.issues import queries as issue_queries
from kiln.issues.models import IssueState
from kiln.merge_requests import queries as mr_queries
from kiln.milestones import services as milestone_services
from kiln.milestones.models import Milestone
from kiln.milestones.policies import can_admin_milestones, can_read_milestones
from kiln.milestones.queries import MilestoneFilters, list_milestones
from kiln.projects.models import Project
from kiln.web.context import actor_for, project_or_404
from kiln.web.views import notes as shared

STATES = (("opened", "Open", "active"), ("closed", "Closed", "closed"), ("all", "All", "all"))


def _project(request: HttpRequest, full_path: str, *, admin: bool = False) -> Project:
    project = project_or_404(request, full_path)
    actor = actor_for(request)
    if not can_read_milestones(actor, project):
        raise Http404(full_path)
    if admin and not can_admin_milestones(actor, project):
        raise Http404(full_path)
    return project


def _find(project: Project, iid: str) -> Milestone:
    milestone = list_milestones(project, MilestoneFilters(iids=[int(iid)])).first()
    if milestone is None:
        raise Http404("milestone")
    return milestone


def _url(project: Project, milestone: Milestone | None = None) -> str:
    base = f"/{project.full_path}/-/milestones"
    return f"{base}/{milestone.iid}" if milestone is not None else base


def _issue_counts(
    request: HttpRequest, project: Project, ids: list[int]
) -> dict[int, dict[str, int]]:
    """Visible issues per milestone: {milestone id: {"total", "closed"}} (one query)."""
    from django.db.models import Count, Q

    qs = issue_queries.list_project_issues_for(
        actor_for(request), project, issue_queries.IssueFilters()
    ).filter(milestone_id__in=ids)
    rows = (
        qs.order_by()
        .values("milestone_id")
        .annotate(total=Count("pk"), closed=Count("pk", filter=Q(state=IssueState.CLOSED)))
    )
    return {r["milestone_id"]: {"total": r["total"], "closed": r["closed"]} for r in rows}


def _progress(counts: dict[str, int]) -> int:
    total = counts.get("total", 0)
    return int(counts.get("closed", 0) * 100 / total) if total else 0


@require_GET
def index(request: HttpRequest, full_path: str) -> HttpResponse:
    project = _project(request, full_path)
    state = request.GET.get("state", "opened")
    if state not in ("opened", "closed", "all"):
        state = "opened"
    wanted = next(s[2] for s in STATES if s[0] == state)
    search = request.GET.get("search_title", "").strip()[:255]
    f = MilestoneFilters(state=wanted, search=search or None)
    items, page = shared.paginate(request, list_milestones(project, f))
    counts = _issue_counts(request, project, [m.pk for m in items])
    for m in items:
        m.issue_counts = counts.get(m.pk, {"total": 0, "closed": 0})
        m.progress = _progress(m.issue_counts)
    tabs = [
        {"title": title, "url": shared.query_with(request, state=key), "current": key == state}
        for key, title, _ in STATES
    ]
    return render(
        request,
        "web/milestones/index.html",
        {
            "project": project,
            "nav": "milestones",
            "milestones": items,
            "page": page,
            "tabs": tabs,
            "state": state,
            "search": search,
            "can_admin": can_admin_milestones(actor_for(request), project),
        },
    )


def _form(project: Project, values: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"project": project, "nav": "milestones", "values": values, **extra}


def _posted(request: HttpRequest) -> dict[str, Any]:
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
    values = {"title": "", "description": "", "start_date": None, "due_date": None}
    return render(request, "web/milestones/form.html", _form(project, values))


@require_POST
def create(request: HttpRequest, full_path: str) -> HttpResponse:
    project = _project(request, full_path, admin=True)
    values = _posted(request)
    try:
        milestone = milestone_services.create_milestone(
            actor=actor_for(request), parent=project, **values
        )
    except Forbidden:
        raise Http404(full_path) from None
    except KilnError as exc:
        context = _form(project, values, error=shared.error_text(exc))
        return render(request, "web/milestones/form.html", context, status=400)
    return HttpResponseRedirect(_url(project, milestone))


@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    project = _project(request, full_path, admin=True)
    milestone = _find(project, iid)
    if request.method == "GET":
        values = {
            "title": milestone.title,
            "description": milestone.description,
            "start_date": milestone.start_date.isoformat() if milestone.start_date else None,
            "due_date": milestone.due_date.isoformat() if milestone.due_date else None,
        }
        return render(
            request, "web/milestones/form.html", _form(project, values, milestone=milestone)
        )
    values = _posted(request)
    try:
        milestone_services.update_milestone(actor=actor_for(request), milestone=milestone, **values)
    except Forbidden:
        raise Http404(full_path) from None
    except KilnError as exc:
        context = _form(project, values, milestone=milestone, error=shared.error_text(exc))
        return render(request, "web/milestones/form.html", context, status=400)
    return HttpResponseRedirect(_url(project, milestone))


@require_GET
def show(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    project = _project(request, full_path)
    actor = actor_for(request)
    milestone = _find(project, iid)
    issues = list(
        issue_queries.list_project_issues_for(
            actor, project, issue_queries.IssueFilters(order_by="created_at", sort="asc")
        ).filter(milestone=milestone)[:500]
    )
    try:
        merge_requests = list(
            mr_queries.list_project_merge_requests_for(actor, project)
            .filter(milestone=milestone)
            .order_by("created_at", "id")[:500]
        )
    except Forbidden:
        merge_requests = []
    closed = sum(1 for i in issues if i.state == IssueState.CLOSED)
    return render(
        request,
        "web/milestones/show.html",
        {
            "project": project,
            "nav": "milestones",
            "milestone": milestone,
            "description_html": shared.markdown_html(request, milestone.description, project),
            "open_issues": [i for i in issues if i.state != IssueState.CLOSED],
            "closed_issues": [i for i in issues if i.state == IssueState.CLOSED],
            "merge_requests": merge_requests,
            "progress": _progress({"total": len(issues), "closed": closed}),
            "can_admin": can_admin_milestones(actor, project),
        },
    )


@require_POST
def update(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    """Close or reopen (`milestone[state_event]`: close / activate)."""
    project = _project(request, full_path, admin=True)
    milestone = _find(project, iid)
    event = request.POST.get("milestone[state_event]")
    if event not in ("close", "activate"):
        raise Http404("action")
    try:
        milestone_services.update_milestone(
            actor=actor_for(request), milestone=milestone, state_event=event
        )
    except Forbidden:
        raise Http404(full_path) from None
    return HttpResponseRedirect(_url(project, milestone))


@require_POST
def delete(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    project = _project(request, full_path, admin=True)
    milestone = _find(project, iid)
    try:
        milestone_services.delete_milestone(actor=actor_for(request), milestone=milestone)
    except Forbidden:
        raise Http404(full_path) from None
    messages.success(request, "Milestone was deleted.")
    return HttpResponseRedirect(_url(project))


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
