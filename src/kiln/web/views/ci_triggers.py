"""Pipeline trigger tokens in the CI/CD settings (`/<project>/-/settings/ci_cd`): add a token
(shown once, right after it is made: only its digest is kept) and revoke one, over
`kiln.ci.triggers` (the API's service). Maintainers only; others get 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from kiln.ci import triggers as services
from kiln.core.errors import Forbidden, KilnError, NotFound
from kiln.projects.models import Project
from kiln.web.context import actor_for
from kiln.web.views.ci import _admin_project, _base, _redirect
from kiln.web.views.forms import form_errors

NEW_TRIGGER_SESSION_KEY = "kiln_new_pipeline_trigger_token"
SECTION = "#js-pipeline-triggers"


def trigger_rows(request: HttpRequest, project: Project) -> dict[str, Any]:
    """What the settings page shows of the project's triggers: the list and, once, the token
    just created (taken out of the session on a GET)."""
    actor = actor_for(request)
    new_token = None
    if request.method == "GET":
        new_token = request.session.pop(NEW_TRIGGER_SESSION_KEY, None)
    try:
        found = list(services.list_triggers(actor=actor, project=project)[:200])
    except (NotFound, Forbidden):
        found = []
    return {"triggers": found, "new_trigger": new_token}


def _url(project: Project) -> str:
    return f"{_base(project)}/-/settings/ci_cd{SECTION}"


@require_POST
def create(request: HttpRequest, full_path: str) -> HttpResponse:
    project = _admin_project(request, full_path)
    description = request.POST.get("description", "").strip()
    try:
        trigger, value = services.create_trigger(
            actor=actor_for(request), project=project, description=description, expires_at=None
        )
    except (NotFound, Forbidden) as exc:
        raise Http404(full_path) from exc
    except KilnError as exc:
        for message in form_errors(exc):
            messages.error(request, message)
        return _redirect(_url(project))
    request.session[NEW_TRIGGER_SESSION_KEY] = {
        "id": trigger.pk,
        "description": trigger.description,
        "value": value,
    }
    messages.success(request, "Trigger token was created.")
    return _redirect(_url(project))


@require_POST
def revoke(request: HttpRequest, full_path: str, trigger_id: int) -> HttpResponse:
    project = _admin_project(request, full_path)
    actor = actor_for(request)
    try:
        trigger = services.get_trigger(actor=actor, project=project, trigger_id=trigger_id)
        services.delete_trigger(actor=actor, trigger=trigger)
    except (NotFound, Forbidden) as exc:
        raise Http404(str(trigger_id)) from exc
    messages.success(request, "Trigger token was revoked.")
    return _redirect(_url(project))
