"""A group's overview (`/<full_path>`). The groups area builds it out."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from kiln.web.context import group_or_404


def show(request: HttpRequest, full_path: str) -> HttpResponse:
    group = group_or_404(request, full_path)
    return render(request, "web/groups/show.html", {"group": group, "nav": "overview"})
