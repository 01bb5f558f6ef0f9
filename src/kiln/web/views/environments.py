"""A project's environments, under `/<full_path>/-/` with GitLab's paths:

- `environments` (tabs Available / Stopped: each environment's state, last deployment, URL
  and a Stop button), `environments/<id>` (its deployments), `environments/<id>/stop` (POST).

Reads start from kiln.ci.environments.get_deploy_project_for (Reporter) and the Stop button
calls the service the API calls (Developer); what the actor may not see or do answers 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_POST

from kiln.ci import environments as services
from kiln.ci.models import Deployment, Environment, EnvironmentState
from kiln.core.errors import Forbidden, NotFound
from kiln.projects.models import Project
from kiln.web.context import actor_for
from kiln.web.views.dashboard import paginate

PER_PAGE = 20
TABS = (("available", "Available"), ("stopped", "Stopped"))
# The CI badge class each environment state is shown with.
_STATE_BADGES: dict[str, str] = {
    EnvironmentState.AVAILABLE: "success",
    EnvironmentState.STOPPING: "waiting_for_resource",
    EnvironmentState.STOPPED: "canceled",
}


def _project(request: HttpRequest, full_path: str) -> Project:
    try:
        return services.get_deploy_project_for(actor_for(request), full_path)
    except (NotFound, Forbidden) as exc:
        raise Http404(full_path) from exc


def _environment(request: HttpRequest, full_path: str, environment_id: int) -> Environment:
    project = _project(request, full_path)
    try:
        return services.get_environment(project, environment_id)
    except NotFound as exc:
        raise Http404(str(environment_id)) from exc


def _link(url: str) -> str:
    """The external URL when it is safe to link (validated when stored; checked again)."""
    return url if url and not services.url_errors(url) else ""


def _row(environment: Environment, last: Deployment | None) -> dict[str, Any]:
    return {
        "environment": environment,
        "badge": _STATE_BADGES.get(environment.state, "created"),
        "url": _link(environment.external_url),
        "last": last,
    }


def environments(request: HttpRequest, full_path: str) -> HttpResponse:
    project = _project(request, full_path)
    actor = actor_for(request)
    scope = request.GET.get("scope", "available")
    if scope not in dict(TABS):
        scope = "available"
    states = (
        [EnvironmentState.STOPPED]
        if scope == "stopped"
        else [EnvironmentState.AVAILABLE, EnvironmentState.STOPPING]
    )
    found = Environment.objects.filter(project=project, state__in=states).order_by("name")
    pager = paginate(request, found, PER_PAGE)
    latest = services.last_deployments(pager.items)
    pager.items = [_row(env, latest.get(env.pk)) for env in pager.items]
    counts = {
        "available": Environment.objects.filter(
            project=project, state__in=[EnvironmentState.AVAILABLE, EnvironmentState.STOPPING]
        ).count(),
        "stopped": Environment.objects.filter(
            project=project, state=EnvironmentState.STOPPED
        ).count(),
    }
    return render(
        request,
        "web/ci/environments.html",
        {
            "project": project,
            "nav": "environments",
            "base": f"/{project.full_path}",
            "pager": pager,
            "scope": scope,
            "tabs": [(value, f"{label} {counts[value]}") for value, label in TABS],
            "can_stop": services.can_write(actor, project),
        },
    )


def environment_show(request: HttpRequest, full_path: str, environment_id: int) -> HttpResponse:
    environment = _environment(request, full_path, environment_id)
    project = environment.project
    deployments = (
        Deployment.objects.filter(environment=environment)
        .select_related("job", "user")
        .order_by("-id")
    )
    pager = paginate(request, deployments, PER_PAGE)
    return render(
        request,
        "web/ci/environment.html",
        {
            "project": project,
            "nav": "environments",
            "base": f"/{project.full_path}",
            "row": _row(environment, None),
            "environment": environment,
            "pager": pager,
            "can_stop": services.can_write(actor_for(request), project),
        },
    )


@require_POST
def environment_stop(request: HttpRequest, full_path: str, environment_id: int) -> HttpResponse:
    environment = _environment(request, full_path, environment_id)
    try:
        stopped = services.stop_environment(actor=actor_for(request), environment=environment)
    except (NotFound, Forbidden) as exc:
        raise Http404(str(environment_id)) from exc
    if stopped.state == EnvironmentState.STOPPING:
        messages.success(request, f"Stopping {stopped.name}: its stop job is running.")
    else:
        messages.success(request, f"{stopped.name} has been stopped.")
    back = request.POST.get("next") == "show"
    suffix = f"/{environment.pk}" if back else ""
    return HttpResponseRedirect(f"/{environment.project.full_path}/-/environments{suffix}")
