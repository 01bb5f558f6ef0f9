"""What every page needs: the acting user as an `Actor`, the project or group a URL names
(404 when the actor may not see it), and the template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest

from kiln import __version__
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, NotFound
from kiln.namespaces.models import Namespace
from kiln.namespaces.queries import get_group_for
from kiln.projects.models import Project
from kiln.projects.queries import get_project_for

_ACTOR = "_kiln_actor"


def actor_for(request: HttpRequest) -> Actor:
    """The signed-in user (a web session has every scope), or the anonymous actor.

    One per request, so access levels computed for one part of a page serve the rest.
    """
    actor = getattr(request, _ACTOR, None)
    if actor is None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            actor = Actor.for_user(user)
        else:
            actor = Actor.anonymous()
        setattr(request, _ACTOR, actor)
    return actor


def project_or_404(request: HttpRequest, full_path: str, action: str = "read_project") -> Project:
    """The project at `full_path` if the actor may `action` on it; else 404, as GitLab answers
    for what a user may not see (and for what they see but may not change)."""
    try:
        return get_project_for(actor_for(request), full_path, action=action)
    except (NotFound, Forbidden) as exc:
        raise Http404(full_path) from exc


def group_or_404(request: HttpRequest, full_path: str, action: str = "read_group") -> Namespace:
    try:
        return get_group_for(actor_for(request), full_path, action=action)
    except (NotFound, Forbidden) as exc:
        raise Http404(full_path) from exc


def site(request: HttpRequest) -> dict[str, Any]:
    """Template context for every page."""
    context: dict[str, Any] = {"kiln_version": __version__}
    # The signed-in user's colour mode for <html data-theme> (light, dark or system).
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        context["ui_theme"] = getattr(user, "color_mode", "system")
    return context
