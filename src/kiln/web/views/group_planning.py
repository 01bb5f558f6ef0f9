"""A group's labels and milestones (`/groups/<path>/-/labels`, `/groups/<path>/-/milestones`),
with GitLab's paths, on the project pages' templates (kiln.web.views.labels, milestones).

Anyone who may read the group reads them; `kiln.labels.services` and
`kiln.milestones.services` decide who may change them (Planner and above in the group). The
forms of those who may not answer 404, as GitLab does.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kiln.issues import queries as issue_queries
from kiln.labels.policies import can_admin_labels
from kiln.merge_requests import queries as mr_queries
from kiln.namespaces.models import Namespace
from kiln.web.context import actor_for, group_or_404
from kiln.web.views import labels as project_labels
from kiln.web.views import milestones as project_milestones
from kiln.web.views import notes as shared


def _group(request: HttpRequest, full_path: str) -> Namespace:
    return group_or_404(request, full_path)


def _url(group: Namespace, rest: str) -> str:
    return f"/groups/{group.full_path}/-/{rest}"


@require_POST
def preview_markdown(request: HttpRequest, full_path: str) -> JsonResponse:
    """`POST /groups/<path>/-/preview_markdown`: the editor's Preview tab on group pages."""
    _group(request, full_path)
    text = request.POST.get("text", "")[: shared.PREVIEW_MAX]
    return JsonResponse({"body": str(shared.markdown_html(request, text, None))})


# -- labels ------------------------------------------------------------------------------------


def _label_admin_group(request: HttpRequest, full_path: str) -> Namespace:
    group = _group(request, full_path)
    if not can_admin_labels(actor_for(request), group):
        raise Http404(full_path)
    return group


@require_http_methods(["GET", "POST"])
def labels(request: HttpRequest, full_path: str) -> HttpResponse:
    if request.method == "GET":
        return project_labels.render_index(request, _group(request, full_path))
    return project_labels.create_from_form(request, _label_admin_group(request, full_path))


@require_GET
def label_new(request: HttpRequest, full_path: str) -> HttpResponse:
    return project_labels.new_form(request, _label_admin_group(request, full_path))


@require_http_methods(["GET", "POST"])
def label_edit(request: HttpRequest, full_path: str, id: str) -> HttpResponse:
    group = _label_admin_group(request, full_path)
    return project_labels.edit_form(request, group, project_labels.own_label(group, id))


@require_POST
def label_delete(request: HttpRequest, full_path: str, id: str) -> HttpResponse:
    group = _label_admin_group(request, full_path)
    return project_labels.delete_from_form(request, group, project_labels.own_label(group, id))


# -- milestones --------------------------------------------------------------------------------


def _milestone_group(request: HttpRequest, full_path: str, *, admin: bool = False) -> Namespace:
    group = _group(request, full_path)
    project_milestones.check_access(request, group, admin=admin)
    return group


@require_http_methods(["GET", "POST"])
def milestones(request: HttpRequest, full_path: str) -> HttpResponse:
    if request.method == "POST":
        group = _milestone_group(request, full_path, admin=True)
        return project_milestones.create_from_form(request, group)
    group = _milestone_group(request, full_path)
    issues = issue_queries.list_group_issues_for(
        actor_for(request), group, issue_queries.IssueFilters()
    )
    return project_milestones.render_index(request, group, issues)


@require_GET
def milestone_new(request: HttpRequest, full_path: str) -> HttpResponse:
    group = _milestone_group(request, full_path, admin=True)
    context = project_milestones.form_context(group, project_milestones.EMPTY_VALUES)
    return render(request, "web/milestones/form.html", context)


@require_http_methods(["GET", "POST"])
def milestone(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    """The milestone's page; POST closes or reopens it (`milestone[state_event]`)."""
    if request.method == "POST":
        group = _milestone_group(request, full_path, admin=True)
        found = project_milestones.find_milestone(group, iid)
        return project_milestones.change_state_from_form(request, group, found)
    group = _milestone_group(request, full_path)
    actor = actor_for(request)
    found = project_milestones.find_milestone(group, iid)
    issues = issue_queries.list_group_issues_for(
        actor, group, issue_queries.IssueFilters(order_by="created_at", sort="asc")
    )
    merge_requests = mr_queries.list_group_merge_requests_for(actor, group)
    return project_milestones.render_show(request, group, found, issues, merge_requests)


@require_http_methods(["GET", "POST"])
def milestone_edit(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    group = _milestone_group(request, full_path, admin=True)
    return project_milestones.edit_form(
        request, group, project_milestones.find_milestone(group, iid)
    )


@require_POST
def milestone_delete(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    group = _milestone_group(request, full_path, admin=True)
    return project_milestones.delete_from_form(
        request, group, project_milestones.find_milestone(group, iid)
    )
