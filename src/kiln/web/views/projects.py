"""A project's home page (`/<full_path>`): README, clone URLs, branch selector, last commit,
the default branch's file tree, languages, stars and forks; or, for an empty repository,
the push instructions GitLab shows. Star toggling (`POST /-/toggle_star`) lives here too.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.html import escape
from django.views.decorators.http import require_http_methods

from kiln.core.actor import Actor
from kiln.core.errors import KilnError
from kiln.core.policy import can
from kiln.core.urls import base_url, ssh_clone_base
from kiln.projects import services as project_services
from kiln.projects.models import Project
from kiln.projects.queries import starred_project_ids
from kiln.repositories import queries
from kiln.repositories.forks import can_fork_project
from kiln.web.context import actor_for, project_or_404
from kiln.web.views import repo_blob
from kiln.web.views import repository as repo


def _languages(project: Project, commit_id: str, *, compute: bool) -> list[dict[str, Any]] | None:
    """Language shares of the default branch, cached by commit; None when not cached and not
    `compute` (the home page then loads them with htmx: they read every source file)."""
    key = repo.cache_key("languages", project, commit_id)
    found: list[dict[str, Any]] | None = cache.get(key)
    if found is None and compute:
        found = [
            {"name": share.name, "percentage": share.percentage, "width": round(share.percentage)}
            for share in queries.languages(project)
        ]
        cache.set(key, found, repo.CACHE_SECONDS)
    return found


@require_http_methods(["GET"])
def languages(request: HttpRequest, full_path: str) -> HttpResponse:
    """The languages bar of the home page, as an htmx fragment."""
    project = repo.code_project(request, full_path)
    commit = None if project.empty_repo else queries.find_commit(project, None)
    found = _languages(project, commit.id, compute=True) if commit is not None else []
    if not request.headers.get("HX-Request"):
        return HttpResponseRedirect(f"/{project.full_path}")
    return render(request, "web/projects/_languages.html", {"languages": found})


def clone_urls(request: HttpRequest, project: Project) -> dict[str, str]:
    """The API's `http_url_to_repo` and `ssh_url_to_repo`, built the same way."""
    base = base_url(request)
    return {
        "http": f"{base}/{project.full_path}.git",
        "ssh": f"{ssh_clone_base(base)}{project.full_path}.git",
    }


def home(request: HttpRequest, full_path: str) -> HttpResponse:
    project = project_or_404(request, full_path)
    actor = actor_for(request)
    read_code = can(actor, "read_code", project)
    context: dict[str, Any] = {
        "project": project,
        "nav": "overview",
        "read_code": read_code,
        "can_push": can(actor, "push_code", project),
        "clone": clone_urls(request, project),
        "starred": project.pk in starred_project_ids(actor, [project.pk]),
        "signed_in": actor.user is not None,
        "can_fork": can_fork_project(actor, project),
        "fork_failure": _fork_failure(actor, project),
    }
    empty = not read_code or project.empty_repo or queries.is_empty(project)
    context["empty"] = empty
    if empty or not read_code:
        return render(request, "web/projects/home.html", context)
    ref = project.default_branch
    commit = queries.find_commit(project, ref)
    if commit is None:
        context["empty"] = True
        return render(request, "web/projects/home.html", context)
    ref_path = repo.RefPath(ref, "", commit)
    listing = repo.tree_listing(request, project, ref_path)
    context.update(listing)
    if listing["readme"] is not None:
        context["readme"] = _readme(request, project, ref, *listing["readme"])
    context.update(
        ref=ref,
        path="",
        commit=commit,
        commit_url=repo.project_url(project, "commit", commit.id),
        refs=repo.ref_menu(project),
        languages=_languages(project, commit.id, compute=False),
        languages_url=repo.project_url(project, "languages"),
        archives=repo.archive_links(project, ref),
        new_file_url=repo.project_url(project, "new", ref),
        history_url=repo.project_url(project, "commits", ref),
    )
    return render(request, "web/projects/home.html", context)


def _fork_failure(actor: Actor, project: Project) -> str | None:
    """Why the fork's repository copy failed: the error for those who administer the project,
    GitLab's pointer to a maintainer for everyone else; None unless it failed."""
    if project.import_status != "failed":
        return None
    if can(actor, "admin_project", project) and project.import_error:
        return project.import_error
    return "Ask a maintainer to check the import status for more details."


def _readme(
    request: HttpRequest, project: Project, ref: str, blob_id: str, name: str, path: str
) -> dict[str, str]:
    try:
        file = queries.get_blob(project, blob_id)
    except KilnError:
        return {}
    url = repo.project_url(project, "blob", ref, path)
    if file.binary:
        return {}
    if repo_blob.is_markdown(name):
        # The README is looked up by id: give the renderer its path for relative links.
        html = repo_blob.render_markdown_file(request, project, ref, path, file)
        return {"name": name, "url": url, "html": html, "markdown": "1"}
    text = file.data[: repo_blob.DISPLAY_MAX_BYTES].decode("utf-8", "replace")
    return {"name": name, "url": url, "html": escape(text)}


@require_http_methods(["POST"])
def toggle_star(request: HttpRequest, full_path: str) -> HttpResponse:
    """Star or unstar the project as the signed-in user (the service refuses anonymous)."""
    project = project_or_404(request, full_path)
    actor = actor_for(request)
    if actor.user is None:
        return HttpResponseRedirect(f"/users/sign_in?redirect_to=/{project.full_path}")
    try:
        if project.pk in starred_project_ids(actor, [project.pk]):
            project_services.unstar_project(actor=actor, project=project)
        else:
            project_services.star_project(actor=actor, project=project)
    except KilnError as exc:
        messages.error(request, repo.user_message(exc, "You cannot star this project."))
    return HttpResponseRedirect(f"/{project.full_path}")
