"""A project's issues: the list with GitLab's filters, new, edit, and the issue page with its
sidebar and notes thread (`/<project>/-/issues...`).

Reads come from `kiln.issues.queries` (confidential issues only for those who may see them;
anything else answers 404, by iid guessing too); writes go through `kiln.issues.services` and
`kiln.notes.services`, quick actions included.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kiln.core.errors import Forbidden, KilnError, NotFound
from kiln.core.policy import can
from kiln.issues import queries as issue_queries
from kiln.issues import services as issue_services
from kiln.issues.models import Issue, IssueAssignee
from kiln.issues.policies import can_set_metadata, issues_available
from kiln.labels.models import Label
from kiln.labels.queries import labels_by_ids
from kiln.notes.queries import user_notes_counts
from kiln.projects.models import Project
from kiln.web.context import actor_for, group_or_404, project_or_404
from kiln.web.views import award_emoji, sidebar
from kiln.web.views import notes as shared

# GitLab's `sort` values of the issue list and what they order by.
SORTS: dict[str, tuple[str, str, str]] = {
    "created_date": ("created_at", "desc", "Created date"),
    "created_asc": ("created_at", "asc", "Oldest created"),
    "updated_desc": ("updated_at", "desc", "Updated date"),
    "updated_asc": ("updated_at", "asc", "Oldest updated"),
    "due_date": ("due_date", "asc", "Due date"),
    "due_date_desc": ("due_date", "desc", "Due date, latest first"),
    "priority": ("label_priority", "asc", "Label priority"),
    "popularity": ("popularity", "desc", "Popularity"),
    "title_asc": ("title", "asc", "Title"),
    "title_desc": ("title", "desc", "Title, descending"),
}
STATES = (("opened", "Open"), ("closed", "Closed"), ("all", "All"))


def issues_project(request: HttpRequest, full_path: str) -> Project:
    """The project, if the viewer may see it and its issues; else 404."""
    project = project_or_404(request, full_path)
    if not issues_available(actor_for(request), project):
        raise Http404(full_path)
    return project


def find_issue(request: HttpRequest, project: Project, iid: str) -> Issue:
    try:
        return issue_queries.get_issue_for(actor_for(request), project, iid)
    except NotFound:
        raise Http404("issue") from None


def issue_url(project: Project, issue: Issue) -> str:
    return f"/{project.full_path}/-/issues/{issue.iid}"


def _sign_in_redirect(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(f"/users/sign_in?redirect_to={quote(request.get_full_path())}")


# -- the list ----------------------------------------------------------------------------------


def _labels_param(request: HttpRequest) -> list[str]:
    names = request.GET.getlist("label_name[]") + request.GET.getlist("label_name")
    return [n for n in names if n][:20]


def _filters(request: HttpRequest) -> tuple[issue_queries.IssueFilters, str, str]:
    state = request.GET.get("state", "opened")
    if state not in ("opened", "closed", "all"):
        state = "opened"
    sort = request.GET.get("sort", "created_date")
    if sort not in SORTS:
        sort = "created_date"
    order_by, direction, _ = SORTS[sort]
    f = issue_queries.IssueFilters(state=state, order_by=order_by, sort=direction)
    if labels := _labels_param(request):
        f.labels = labels
    if milestone := request.GET.get("milestone_title", "").strip():
        f.milestone = milestone
    if author := request.GET.get("author_username", "").strip():
        f.author_username = author
    if assignee := request.GET.get("assignee_username", "").strip():
        if assignee.lower() in ("none", "any"):
            f.assignee_id = assignee.lower()
        else:
            f.assignee_usernames = [assignee]
    if search := request.GET.get("search", "").strip():
        if search.startswith("#") and search[1:].isdigit() and len(search) < 12:
            f.iids = [int(search[1:])]
        else:
            f.search = search[:255]
    return f, state, sort


def attach_metadata(items: list[Any], kind: str) -> None:
    """Labels, assignees and comment counts of one page of issues (three queries)."""
    ids = [i.pk for i in items]
    labels: dict[int, list[Label]] = {i: [] for i in ids}
    assignees: dict[int, list[Any]] = {i: [] for i in ids}
    if kind == "Issue":
        through = Issue.labels.through
        for row in through.objects.filter(issue_id__in=ids).select_related("label"):
            labels[row.issue_id].append(row.label)
        for a in IssueAssignee.objects.filter(issue_id__in=ids).select_related("user"):
            assignees[a.issue_id].append(a.user)
    else:
        from kiln.merge_requests.models import MergeRequestAssignee, MergeRequestLabel

        for m in MergeRequestLabel.objects.filter(merge_request_id__in=ids).select_related("label"):
            labels[m.merge_request_id].append(m.label)
        for ma in MergeRequestAssignee.objects.filter(merge_request_id__in=ids).select_related(
            "user"
        ):
            assignees[ma.merge_request_id].append(ma.user)
    counts = user_notes_counts(kind, ids)
    for item in items:
        item.label_list = sorted(labels[item.pk], key=lambda lb: lb.title.lower())
        for lb in item.label_list:
            lb.filter_query = quote(lb.title, safe="")
        item.assignee_list = assignees[item.pk]
        item.notes_count = counts.get(item.pk, 0)


@require_GET
def index(request: HttpRequest, full_path: str) -> HttpResponse:
    project = issues_project(request, full_path)
    actor = actor_for(request)
    f, state, sort = _filters(request)
    counts = issue_queries.statistics(
        issue_queries.list_project_issues_for(actor, project, dataclasses.replace(f, state="all"))
    )
    items, page = shared.paginate(request, issue_queries.list_project_issues_for(actor, project, f))
    attach_metadata(items, "Issue")
    tabs = shared.state_tabs(request, STATES, counts, state)
    return render(
        request,
        "web/issues/index.html",
        {
            "project": project,
            "nav": "issues",
            "issues": items,
            "page": page,
            "tabs": tabs,
            "state": state,
            "sort": sort,
            "sorts": [(key, value[2]) for key, value in SORTS.items()],
            "labels": shared.label_choices(project),
            "milestones": shared.milestone_choices(project),
            "selected_labels": _labels_param(request),
            "params": request.GET,
            "can_create": actor.user is not None and can(actor, "create_issue", project),
        },
    )


@require_GET
def group_index(request: HttpRequest, full_path: str) -> HttpResponse:
    """`/groups/<path>/-/issues`: the issues of the group's projects and subgroups' that the
    visitor may see (the same query as `GET /groups/:id/issues`)."""
    group = group_or_404(request, full_path)
    actor = actor_for(request)
    f, state, sort = _filters(request)
    every_state = dataclasses.replace(f, state="all")
    everything = issue_queries.list_group_issues_for(actor, group, every_state)
    counts = issue_queries.statistics(everything)
    listed = issue_queries.list_group_issues_for(actor, group, f).select_related("project")
    items, page = shared.paginate(request, listed)
    attach_metadata(items, "Issue")
    tabs = shared.state_tabs(request, STATES, counts, state)
    return render(
        request,
        "web/issues/group_index.html",
        {
            "group": group,
            "nav": "issues",
            "issues": items,
            "page": page,
            "tabs": tabs,
            "state": state,
            "sort": sort,
            "sorts": [(key, value[2]) for key, value in SORTS.items()],
            "labels": [],
            "milestones": [],
            "selected_labels": _labels_param(request),
            "params": request.GET,
        },
    )


# -- new and edit ------------------------------------------------------------------------------


def _form_context(request: HttpRequest, project: Project, **extra: Any) -> dict[str, Any]:
    actor = actor_for(request)
    metadata = can_set_metadata(actor, project)
    return {
        "project": project,
        "nav": "issues",
        "metadata": metadata,
        "members": shared.member_choices(actor, project) if metadata else [],
        "labels": shared.label_choices(project) if metadata else [],
        "milestones": shared.milestone_choices(project) if metadata else [],
        **extra,
    }


def _posted(request: HttpRequest, project: Project) -> dict[str, Any]:
    post = request.POST
    label_ids = shared.int_list(post.getlist("issue[label_ids][]"))
    milestone = post.get("issue[milestone_id]", "")
    return {
        "title": post.get("issue[title]", ""),
        "description": post.get("issue[description]", ""),
        "assignee_ids": shared.int_list(post.getlist("issue[assignee_ids][]")),
        "label_ids": label_ids,
        "label_titles": [lb.title for lb in labels_by_ids(project, label_ids)],
        "milestone_id": int(milestone) if milestone.isdigit() and len(milestone) < 19 else 0,
        "due_date": post.get("issue[due_date]", "").strip() or None,
        "confidential": post.get("issue[confidential]") == "1",
    }


@require_GET
def new(request: HttpRequest, full_path: str) -> HttpResponse:
    project = issues_project(request, full_path)
    actor = actor_for(request)
    if actor.user is None:
        return _sign_in_redirect(request)
    if not can(actor, "create_issue", project):
        raise Http404(full_path)
    values = {
        "title": request.GET.get("issue[title]", ""),
        "description": request.GET.get("issue[description]", ""),
        "assignee_ids": [],
        "label_ids": [],
        "milestone_id": 0,
        "due_date": None,
        "confidential": request.GET.get("issue[confidential]") == "true",
    }
    return render(request, "web/issues/form.html", _form_context(request, project, values=values))


@require_POST
def create(request: HttpRequest, full_path: str) -> HttpResponse:
    project = issues_project(request, full_path)
    actor = actor_for(request)
    if actor.user is None or not can(actor, "create_issue", project):
        raise Http404(full_path)
    values = _posted(request, project)
    try:
        issue = issue_services.create_issue(
            actor=actor,
            project=project,
            title=values["title"],
            description=values["description"],
            assignee_ids=values["assignee_ids"],
            labels=values["label_titles"],
            milestone_id=values["milestone_id"] or None,
            due_date=values["due_date"],
            confidential=values["confidential"],
        )
    except Forbidden:
        raise Http404(full_path) from None
    except KilnError as exc:
        context = _form_context(request, project, values=values, error=shared.error_text(exc))
        return render(request, "web/issues/form.html", context, status=400)
    return HttpResponseRedirect(issue_url(project, issue))


def _issue_values(issue: Issue) -> dict[str, Any]:
    return {
        "title": issue.title,
        "description": issue.description,
        "assignee_ids": list(
            IssueAssignee.objects.filter(issue=issue).values_list("user_id", flat=True)
        ),
        "label_ids": list(issue.labels.values_list("pk", flat=True)),
        "milestone_id": issue.milestone_id or 0,
        "due_date": issue.due_date.isoformat() if issue.due_date else None,
        "confidential": issue.confidential,
    }


@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    project = issues_project(request, full_path)
    actor = actor_for(request)
    issue = find_issue(request, project, iid)
    if not can(actor, "update_issue", issue):
        raise Http404("issue")
    if request.method == "GET":
        context = _form_context(request, project, issue=issue, values=_issue_values(issue))
        return render(request, "web/issues/form.html", context)
    values = _posted(request, project)
    changes: dict[str, Any] = {"title": values["title"], "description": values["description"]}
    if can_set_metadata(actor, project):
        changes.update(
            assignee_ids=values["assignee_ids"],
            label_ids=values["label_ids"],
            milestone_id=values["milestone_id"],
            due_date=values["due_date"],
            confidential=values["confidential"],
        )
    try:
        issue_services.update_issue(actor=actor, issue=issue, **changes)
    except Forbidden:
        raise Http404("issue") from None
    except KilnError as exc:
        context = _form_context(
            request, project, issue=issue, values=values, error=shared.error_text(exc)
        )
        return render(request, "web/issues/form.html", context, status=400)
    return HttpResponseRedirect(issue_url(project, issue))


# -- the issue page ----------------------------------------------------------------------------


@require_GET
def show(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    project = issues_project(request, full_path)
    actor = actor_for(request)
    issue = find_issue(request, project, iid)
    threads = shared.threads_for(request, issue, project)
    award_emoji.attach_to_notes(request, project, threads)
    return render(
        request,
        "web/issues/show.html",
        {
            "project": project,
            "nav": "issues",
            "issue": issue,
            "issue_url": issue_url(project, issue),
            "description_html": shared.markdown_html(request, issue.description, project),
            "title_html": issue.title,
            "threads": threads,
            "awards": award_emoji.for_noteable(request, project, issue),
            "can_update": can(actor, "update_issue", issue),
            "can_comment": actor.user is not None and can(actor, "create_note", issue),
            "signed_in": actor.user is not None,
            "sidebar": sidebar.for_issuable(request, project, issue, issue_url(project, issue)),
        },
    )


@require_POST
def sidebar_block(request: HttpRequest, full_path: str, iid: str, block: str) -> HttpResponse:
    """`POST .../issues/<iid>/sidebar/<block>`: an edit from the issue page's sidebar."""
    project = issues_project(request, full_path)
    issue = find_issue(request, project, iid)
    return sidebar.post_block(request, project, issue, issue_url(project, issue), block)


@require_POST
def update(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    """Close or reopen (`state_event`), as the issue page's buttons post it."""
    project = issues_project(request, full_path)
    actor = actor_for(request)
    issue = find_issue(request, project, iid)
    state_event = request.POST.get("state_event")
    if state_event not in ("close", "reopen"):
        raise Http404("action")
    try:
        issue_services.update_issue(actor=actor, issue=issue, state_event=state_event)
    except Forbidden:
        raise Http404("issue") from None
    return HttpResponseRedirect(issue_url(project, issue))


@require_POST
def create_note(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    project = issues_project(request, full_path)
    issue = find_issue(request, project, iid)
    try:
        shared.create_note_from_form(request, issue)
    except Forbidden:
        raise Http404("issue") from None
    return shared.back(issue_url(project, issue), "notes")


@require_POST
def update_note(request: HttpRequest, full_path: str, iid: str, note_id: str) -> HttpResponse:
    project = issues_project(request, full_path)
    issue = find_issue(request, project, iid)
    shared.update_note_from_form(request, issue, note_id)
    return shared.back(issue_url(project, issue), f"note_{note_id}")


@require_POST
def delete_note(request: HttpRequest, full_path: str, iid: str, note_id: str) -> HttpResponse:
    project = issues_project(request, full_path)
    issue = find_issue(request, project, iid)
    shared.delete_note_from_form(request, issue, note_id)
    messages.success(request, "Comment deleted.")
    return shared.back(issue_url(project, issue), "notes")


# -- one path, two methods (GitLab's GET list / POST create, GET show / PUT update) -------------


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
