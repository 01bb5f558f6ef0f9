"""Forking a project (GitLab's `/<project>/-/forks/new`, posting to `/<project>/-/forks`) and
the list of its forks the viewer may see (`/<project>/-/forks`).

`kiln.repositories.forks` decides: who may fork (`can_fork_project`), where (any namespace
the user may create projects in, checked by `create_project`), how visible the fork may be.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from kiln.core.errors import Forbidden, KilnError, NotFound
from kiln.projects.models import Project
from kiln.projects.queries import starred_project_ids
from kiln.repositories import forks as fork_services
from kiln.web.context import actor_for, project_or_404
from kiln.web.views import notes as shared
from kiln.web.views.forms import form_errors, visibility_choices, visibility_from
from kiln.web.views.settings import transfer_targets


def _forkable(request: HttpRequest, full_path: str) -> Project | HttpResponse:
    """The project if the viewer may fork it; anonymous visitors go to sign in; 404 else."""
    project = project_or_404(request, full_path)
    actor = actor_for(request)
    if actor.user is None:
        target = quote(f"/{project.full_path}/-/forks/new")
        return HttpResponseRedirect(f"/users/sign_in?redirect_to={target}")
    if not fork_services.can_fork_project(actor, project):
        raise Http404(full_path)
    return project


def _form_page(
    request: HttpRequest, project: Project, form: dict[str, Any], errors: list[str], status: int
) -> HttpResponse:
    selected = str(form["namespace_id"])
    visibilities = visibility_choices(form["visibility_level"])
    for choice in visibilities:
        # A fork is never more visible than its source (GitLab disables those choices).
        choice["disabled"] = choice["value"] > project.visibility_level
    context = {
        "project": project,
        "nav": "overview",
        "form": form,
        "errors": errors,
        "namespaces": [
            {"namespace": ns, "selected": str(ns.pk) == selected}
            for ns in transfer_targets(actor_for(request))
        ],
        "visibilities": visibilities,
    }
    return render(request, "web/projects/fork_new.html", context, status=status)


@require_GET
def new(request: HttpRequest, full_path: str) -> HttpResponse:
    found = _forkable(request, full_path)
    if isinstance(found, HttpResponse):
        return found
    form = {
        "name": found.name,
        "path": found.path,
        "description": found.description,
        "namespace_id": request.GET.get("namespace_id", ""),
        "visibility_level": found.visibility_level,
    }
    return _form_page(request, found, form, [], 200)


def _create(request: HttpRequest, full_path: str) -> HttpResponse:
    found = _forkable(request, full_path)
    if isinstance(found, HttpResponse):
        return found
    post = request.POST
    form: dict[str, Any] = {
        "name": post.get("name", "").strip(),
        "path": post.get("path", "").strip(),
        "description": post.get("description", ""),
        "namespace_id": post.get("namespace_id", "").strip(),
        "visibility_level": found.visibility_level,
    }
    try:
        level = visibility_from(post)
    except ValueError:
        return _form_page(
            request, found, form, ["Visibility level is not included in the list"], 400
        )
    if level is not None:
        form["visibility_level"] = int(level)
    try:
        fork = fork_services.fork_project(
            actor=actor_for(request),
            project=found,
            namespace=form["namespace_id"] or None,
            name=form["name"] or None,
            path=form["path"] or None,
            description=form["description"],
            visibility=level,
        )
    except (NotFound, Forbidden):
        raise Http404(full_path) from None
    except KilnError as exc:
        return _form_page(request, found, form, form_errors(exc), 400)
    if fork.import_status != "failed":
        # A failed copy is told on the fork's home page instead.
        messages.success(request, f"The project '{fork.name}' was successfully forked.")
    return HttpResponseRedirect(f"/{fork.namespace.full_path}/{fork.path}")


@require_http_methods(["GET", "POST"])
def index_or_create(request: HttpRequest, full_path: str) -> HttpResponse:
    """GET: the forks the viewer may see, newest first. POST: the fork form's submission."""
    if request.method == "POST":
        return _create(request, full_path)
    project = project_or_404(request, full_path)
    actor = actor_for(request)
    items, page = shared.paginate(request, fork_services.list_forks_for(actor, project))
    starred = starred_project_ids(actor, [fork.pk for fork in items])
    return render(
        request,
        "web/projects/forks.html",
        {
            "project": project,
            "nav": "overview",
            "forks": items,
            "starred": starred,
            "page": page,
            "can_fork": fork_services.can_fork_project(actor, project),
        },
    )
