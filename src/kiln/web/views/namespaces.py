"""`/<full_path>`: a project's home, a group's overview or a user's profile, whichever the path
names and the actor may see; 404 otherwise (also for what exists but is hidden)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse

from kiln.core.errors import Forbidden, NotFound
from kiln.namespaces.models import NamespaceKind
from kiln.namespaces.queries import find_namespace_by_path
from kiln.projects.queries import find_project
from kiln.web.views import groups, projects, users


def show(request: HttpRequest, full_path: str) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        raise Http404(full_path)
    if "/" in full_path and find_project(full_path) is not None:
        return projects.home(request, full_path)
    namespace = find_namespace_by_path(full_path)
    if namespace is None:
        raise Http404(full_path)
    if namespace.kind == NamespaceKind.USER:
        return users.profile(request, full_path)
    try:
        return groups.show(request, full_path)
    except (NotFound, Forbidden) as exc:
        raise Http404(full_path) from exc
