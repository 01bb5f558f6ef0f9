"""A user's profile page (`/<username>`). The account area builds it out."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from kiln.core.policy import can
from kiln.namespaces.queries import find_namespace_by_path
from kiln.web.context import actor_for


def profile(request: HttpRequest, username: str) -> HttpResponse:
    namespace = find_namespace_by_path(username)
    person = namespace.owner if namespace is not None else None
    if person is None or not can(actor_for(request), "read_user", person):
        raise Http404(username)
    return render(request, "web/users/profile.html", {"person": person})
