"""A project's home page (`/<full_path>`). The repository area builds it out."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from kiln.web.context import project_or_404


def home(request: HttpRequest, full_path: str) -> HttpResponse:
    project = project_or_404(request, full_path)
    return render(request, "web/projects/home.html", {"project": project, "nav": "overview"})
