"""Explore (`/explore`, `/explore/projects`, `/explore/groups`): the projects and groups the
visitor may see (public ones for everybody, internal ones too once signed in), with search,
sorting and pagination. Public pages: no account needed."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from kiln.projects.queries import list_projects_for
from kiln.web.context import actor_for
from kiln.web.views.dashboard import (
    PROJECT_SORTS,
    groups_page,
    paginate,
    project_filters,
    search_term,
    sort_choices,
    starred_ids,
)


def _projects(request: HttpRequest, tab: str, default_sort: str) -> HttpResponse:
    sort = request.GET.get("sort", default_sort)
    if sort not in PROJECT_SORTS:
        sort = default_sort
    qs = list_projects_for(actor_for(request), project_filters(request, sort, archived=False))
    pager = paginate(request, qs)
    return render(
        request,
        "web/explore/projects.html",
        {
            "tab": tab,
            "pager": pager,
            "starred": starred_ids(request, pager.items),
            "search": search_term(request, "name", "search"),
            "sorts": sort_choices(sort, PROJECT_SORTS),
        },
    )


@require_GET
def projects(request: HttpRequest) -> HttpResponse:
    return _projects(request, "all", "latest_activity_desc")


@require_GET
def starred_projects(request: HttpRequest) -> HttpResponse:
    """`/explore/projects/starred`: the most starred first."""
    return _projects(request, "starred", "stars_desc")


@require_GET
def groups(request: HttpRequest) -> HttpResponse:
    return groups_page(
        request, template="web/explore/groups.html", all_available=True, extra={"tab": "groups"}
    )
