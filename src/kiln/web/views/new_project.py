"""`/projects/new`: a blank project, or one whose repository starts with a README.

`kiln.projects.services.create_project` decides everything (where the actor may create
projects, names, paths, visibility against the group's and the instance's restrictions);
`initialize_with_readme` makes the repository's first commit, as the API's parameter does.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from kiln.core import appsettings
from kiln.core.errors import Forbidden, KilnError, NotFound
from kiln.projects import services as project_services
from kiln.web.context import actor_for
from kiln.web.views.forms import checked, form_errors, visibility_choices, visibility_from
from kiln.web.views.settings import transfer_targets


@require_http_methods(["GET", "POST"])
def new(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request)
    if actor.user is None:
        return HttpResponseRedirect(f"/users/sign_in?redirect_to={request.get_full_path()}")
    namespaces = transfer_targets(actor)
    form: dict[str, Any] = {
        "name": "",
        "path": "",
        "description": "",
        "namespace_id": request.GET.get("namespace_id", ""),
        "visibility_level": appsettings.current().default_project_visibility,
        "initialize_with_readme": True,
    }
    errors: list[str] = []
    if request.method == "POST":
        post = request.POST
        form.update(
            name=post.get("name", "").strip(),
            path=post.get("path", "").strip(),
            description=post.get("description", ""),
            namespace_id=post.get("namespace_id", "").strip(),
            initialize_with_readme=checked(post, "initialize_with_readme"),
        )
        try:
            level = visibility_from(post)
        except ValueError:
            errors.append("Visibility level is not included in the list")
            level = None
        if level is not None:
            form["visibility_level"] = int(level)
        if not errors:
            try:
                project = project_services.create_project(
                    actor=actor,
                    name=form["name"] or None,
                    path=form["path"] or None,
                    namespace=form["namespace_id"] or None,
                    description=form["description"],
                    visibility=level,
                    settings={"initialize_with_readme": form["initialize_with_readme"]},
                )
            except (NotFound, Forbidden):
                raise
            except KilnError as exc:
                errors = form_errors(exc)
            else:
                messages.success(request, f"Project '{project.name}' was successfully created.")
                return HttpResponseRedirect(f"/{project.namespace.full_path}/{project.path}")
    selected = str(form["namespace_id"])
    context = {
        "form": form,
        "errors": errors,
        "namespaces": [{"namespace": ns, "selected": str(ns.pk) == selected} for ns in namespaces],
        "visibilities": visibility_choices(form["visibility_level"]),
    }
    return render(request, "web/projects/new.html", context)
