"""A project's labels (`/<project>/-/labels`): the list (prioritized first, with open issue
and merge request counts), new, edit, delete and priority. Writes go through
`kiln.labels.services`, which checks the actor may administer labels (Planner and above)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kiln.core.errors import Forbidden, KilnError, NotFound
from kiln.labels import services as label_services
from kiln.labels.colors import DEFAULT_COLOR
from kiln.labels.models import Label
from kiln.labels.policies import can_admin_labels
from kiln.labels.queries import find_label, label_counts, list_labels, priorities_for
from kiln.namespaces.models import Namespace
from kiln.projects.models import Project
from kiln.web.context import actor_for, project_or_404
from kiln.web.views import notes as shared

# GitLab's suggested colours on the new label form.
SUGGESTED_COLORS = (
    ("#009966", "Green-cyan"), ("#8fbc8f", "Dark sea green"), ("#3cb371", "Medium sea green"),
    ("#00b140", "Green screen"), ("#013220", "Dark green"), ("#6699cc", "Blue-gray"),
    ("#0000ff", "Blue"), ("#e6e6fa", "Lavender"), ("#9400d3", "Dark violet"),
    ("#330066", "Deep violet"), ("#808080", "Gray"), ("#36454f", "Charcoal grey"),
    ("#f7e7ce", "Champagne"), ("#c21e56", "Rose red"), ("#cc338b", "Magenta-pink"),
    ("#dc143c", "Crimson"), ("#ff0000", "Red"), ("#cd5b45", "Dark coral"),
    ("#eee600", "Titanium yellow"), ("#ed9121", "Carrot orange"), ("#c39953", "Aztec Gold"),
)  # fmt: skip


def _project(request: HttpRequest, full_path: str, *, admin: bool = False) -> Project:
    project = project_or_404(request, full_path)
    if admin and not can_admin_labels(actor_for(request), project):
        raise Http404(full_path)
    return project


def own_label(parent: Project | Namespace, label_id: str) -> Label:
    """A label of this project or group itself (an ancestor group's label is changed on that
    group's page), else 404."""
    try:
        label = find_label(parent, label_id, include_ancestor_groups=False)
    except NotFound:
        raise Http404("label") from None
    owner = label.project_id if isinstance(parent, Project) else label.group_id
    if owner != parent.pk or str(label.pk) != label_id:
        raise Http404("label")
    return label


def _labels_url(parent: Project | Namespace) -> str:
    return f"{shared.scope_context(parent)['scope_url']}/labels"


@require_GET
def index(request: HttpRequest, full_path: str) -> HttpResponse:
    return render_index(request, _project(request, full_path))


def render_index(request: HttpRequest, parent: Project | Namespace) -> HttpResponse:
    """The label list of a project (its own and its groups' labels, prioritized first) or of a
    group (its own and its ancestors'), with the open issues and merge requests of each the
    viewer may see."""
    actor = actor_for(request)
    search = request.GET.get("search", "").strip()[:255]
    rows: list[Any] = list(list_labels(parent, search=search or None))
    ids = [lb.pk for lb in rows]
    project = parent if isinstance(parent, Project) else None
    priorities = priorities_for(project, ids) if project is not None else {}
    counts = label_counts(actor, ids, parent)
    for label in rows:
        label.priority = priorities.get(label.pk)
        label.counts = counts.get(label.pk, {})
        label.filter_query = quote(label.title, safe="")
        label.own = (label.project_id if project is not None else label.group_id) == parent.pk
    prioritized = sorted((lb for lb in rows if lb.priority is not None), key=lambda lb: lb.priority)
    others = [lb for lb in rows if lb.priority is None]
    return render(
        request,
        "web/labels/index.html",
        {
            **shared.scope_context(parent),
            "nav": "labels",
            "prioritized": prioritized,
            "others": others,
            "search": search,
            "can_admin": can_admin_labels(actor, parent),
        },
    )


def form_context(
    parent: Project | Namespace, values: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """The new/edit label form of a project or a group."""
    return {
        **shared.scope_context(parent),
        "nav": "labels",
        "values": values,
        "colors": SUGGESTED_COLORS,
        **extra,
    }


@require_GET
def new(request: HttpRequest, full_path: str) -> HttpResponse:
    return new_form(request, _project(request, full_path, admin=True))


@require_POST
def create(request: HttpRequest, full_path: str) -> HttpResponse:
    return create_from_form(request, _project(request, full_path, admin=True))


@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, full_path: str, id: str) -> HttpResponse:
    project = _project(request, full_path, admin=True)
    return edit_form(request, project, own_label(project, id))


@require_POST
def delete(request: HttpRequest, full_path: str, id: str) -> HttpResponse:
    project = _project(request, full_path, admin=True)
    return delete_from_form(request, project, own_label(project, id))


# -- the forms of a project or group (the caller checked the viewer may administer labels) --


def posted_label(request: HttpRequest) -> dict[str, Any]:
    return {
        "title": request.POST.get("label[title]", ""),
        "description": request.POST.get("label[description]", ""),
        "color": request.POST.get("label[color]", "").strip() or DEFAULT_COLOR,
    }


def new_form(request: HttpRequest, parent: Project | Namespace) -> HttpResponse:
    values = {"title": "", "description": "", "color": DEFAULT_COLOR}
    return render(request, "web/labels/form.html", form_context(parent, values))


def create_from_form(request: HttpRequest, parent: Project | Namespace) -> HttpResponse:
    values = posted_label(request)
    try:
        label_services.create_label(actor=actor_for(request), parent=parent, **values)
    except Forbidden:
        raise Http404("labels") from None
    except KilnError as exc:
        context = form_context(parent, values, error=shared.error_text(exc))
        return render(request, "web/labels/form.html", context, status=400)
    messages.success(request, "Label was created.")
    return HttpResponseRedirect(_labels_url(parent))


def edit_form(request: HttpRequest, parent: Project | Namespace, label: Label) -> HttpResponse:
    if request.method == "GET":
        values = {"title": label.title, "description": label.description, "color": label.color}
        return render(request, "web/labels/form.html", form_context(parent, values, label=label))
    values = posted_label(request)
    try:
        label_services.update_label(
            actor=actor_for(request),
            label=label,
            project=parent if isinstance(parent, Project) else None,
            new_title=values["title"],
            color=values["color"],
            description=values["description"],
        )
    except Forbidden:
        raise Http404("labels") from None
    except KilnError as exc:
        context = form_context(parent, values, label=label, error=shared.error_text(exc))
        return render(request, "web/labels/form.html", context, status=400)
    messages.success(request, "Label was updated.")
    return HttpResponseRedirect(_labels_url(parent))


def delete_from_form(
    request: HttpRequest, parent: Project | Namespace, label: Label
) -> HttpResponse:
    try:
        label_services.delete_label(actor=actor_for(request), label=label)
    except Forbidden:
        raise Http404("labels") from None
    except KilnError as exc:
        messages.error(request, shared.error_text(exc))
        return HttpResponseRedirect(_labels_url(parent))
    messages.success(request, "Label was removed.")
    return HttpResponseRedirect(_labels_url(parent))


def _priority(request: HttpRequest, full_path: str, id: str, priority: int | None) -> HttpResponse:
    project = _project(request, full_path, admin=True)
    try:
        label = find_label(project, id)
    except NotFound:
        raise Http404("label") from None
    if str(label.pk) != id:
        raise Http404("label")
    try:
        label_services.update_label(
            actor=actor_for(request), label=label, project=project, priority=priority
        )
    except Forbidden:
        raise Http404(full_path) from None
    return HttpResponseRedirect(_labels_url(project))


@require_POST
def set_priority(request: HttpRequest, full_path: str, id: str) -> HttpResponse:
    project = _project(request, full_path, admin=True)
    taken = priorities_for(project, [lb.pk for lb in list_labels(project)])
    return _priority(request, full_path, id, max(taken.values(), default=-1) + 1)


@require_POST
def remove_priority(request: HttpRequest, full_path: str, id: str) -> HttpResponse:
    return _priority(request, full_path, id, None)


@require_http_methods(["GET", "POST"])
def index_or_create(request: HttpRequest, full_path: str) -> HttpResponse:
    if request.method == "POST":
        return create(request, full_path)
    return index(request, full_path)
