"""History and diffs: `/-/commits/<ref>/<path>`, `/-/commit/<sha>` (inline or side-by-side,
large files collapsed and loaded on demand), `/-/compare` and `/-/compare/<from>...<to>`.

Diffs are rendered by `kiln.web.diff_html` (highlighted, inline or side by side as
`?view=inline|parallel` asks, remembered in GitLab's `diff_view` cookie and the signed-in
user's preferences).
"""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from kiln.core.errors import KilnError
from kiln.gitstore import Commit, DiffFile
from kiln.projects.models import Project
from kiln.repositories import queries
from kiln.repositories.queries import LogFilter
from kiln.web import diff_html
from kiln.web.views import repository as repo

COMMITS_PAGE = 40


# --- diffs ------------------------------------------------------------------------------------


def diff_views(
    request: HttpRequest,
    project: Project,
    files: tuple[DiffFile, ...],
    *,
    ref: str,
    parent: str,
    load_url: str,
    expand: str | None = None,
) -> list[diff_html.FileView]:
    """Every file of a diff (`kiln.web.diff_html`), the large ones (and those past the page's
    limits) collapsed behind `load_url&file_path=...`. `expand` names the one file to show
    whole. Blob links: the new side at `ref`, the old at `parent`."""
    indexes = [
        i for i, f in enumerate(files) if expand is None or expand in (f.new_path, f.old_path)
    ]
    return diff_html.file_views(
        [files[i] for i in indexes],
        view=diff_html.view_mode(request),
        load_url=lambda _, f: f"{load_url}&{urlencode({'file_path': f.new_path or f.old_path})}",
        blob_urls=lambda f: (
            ""
            if f.new_file or not parent
            else repo.project_url(project, "blob", parent, f.old_path),
            "" if f.deleted_file else repo.project_url(project, "blob", ref, f.new_path),
        ),
        expand_all=expand is not None,
        indexes=indexes,
    )


def _diff_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    views: list[diff_html.FileView],
) -> HttpResponse:
    context.update(
        diffs=views,
        tree=diff_html.tree_html(views),
        view=diff_html.view_mode(request),
        additions=sum(v.additions for v in views),
        deletions=sum(v.deletions for v in views),
        **diff_html.view_urls(request),
    )
    return diff_html.remember_view(request, diff_html.respond(request, template, context, views))


# --- commits ----------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD"])
def commits(request: HttpRequest, full_path: str, rest: str = "") -> HttpResponse:
    project = repo.code_project(request, full_path)
    if (redirect := repo.empty_redirect(project)) is not None:
        return redirect
    if not rest.strip("/"):
        return HttpResponseRedirect(repo.project_url(project, "commits", project.default_branch))
    ref_path = repo.resolve(project, rest)
    page = repo._int(request.GET.get("page"), 1) or 1
    try:
        found = queries.list_commits(
            project,
            LogFilter(ref_name=ref_path.commit.id, path=ref_path.path or None),
            skip=(page - 1) * COMMITS_PAGE,
            limit=COMMITS_PAGE + 1,
        )
    except KilnError:
        raise Http404("commits") from None
    has_next = len(found) > COMMITS_PAGE
    found = found[:COMMITS_PAGE]
    days: list[dict[str, Any]] = []
    for day, group in itertools.groupby(found, key=lambda c: c.committer.date.date()):
        days.append({"day": day, "commits": [_commit_row(project, c) for c in group]})
    return render(
        request,
        "web/repository/commits.html",
        repo.repo_context(
            request,
            project,
            nav="commits",
            ref=ref_path.ref,
            path=ref_path.path,
            days=days,
            page=page,
            prev_url=f"?page={page - 1}" if page > 1 else "",
            next_url=f"?page={page + 1}" if has_next else "",
            crumbs=repo.breadcrumbs(project, ref_path.ref, ref_path.path, page="commits")
            if ref_path.path
            else [],
            refs=repo.ref_menu(project, "commits", ref_path.path),
        ),
    )


def _commit_row(project: Project, commit: Commit) -> dict[str, Any]:
    return {
        "commit": commit,
        "url": repo.project_url(project, "commit", commit.id),
        "tree_url": repo.project_url(project, "tree", commit.id),
        "description": commit.message.partition("\n")[2].strip(),
    }


def _get_commit(project: Project, sha: str) -> Commit:
    if not repo._HEX.fullmatch(sha):
        raise Http404("commit")
    found = queries.find_commit(project, sha)
    if found is None:
        raise Http404("commit")
    return found


@require_http_methods(["GET", "HEAD"])
def commit(request: HttpRequest, full_path: str, sha: str) -> HttpResponse:
    project = repo.code_project(request, full_path)
    found = _get_commit(project, sha)
    expand = request.GET.get("file_path") if request.path.endswith("/diff_for_path") else None
    paths = (expand,) if expand else ()
    if expand is not None:
        try:
            queries.file_path_param(expand)
        except KilnError:
            raise Http404("file") from None
    files = queries.commit_diff(project, found, paths=paths)
    load_url = repo.project_url(project, "commit", found.id, "diff_for_path") + "?"
    load_url += urlencode({"view": diff_html.view_mode(request)})
    parent = found.parent_ids[0] if found.parent_ids else ""
    views = diff_views(
        request, project, files, ref=found.id, parent=parent, load_url=load_url, expand=expand
    )
    if expand is not None and not views:
        raise Http404("file")
    context = repo.repo_context(
        request,
        project,
        nav="commits",
        commit=found,
        description=found.message.partition("\n")[2].strip(),
        parents=[
            {"id": p, "url": repo.project_url(project, "commit", p)} for p in found.parent_ids
        ],
        tree_url=repo.project_url(project, "tree", found.id),
        expanded=expand,
        page_url=repo.project_url(project, "commit", found.id),
    )
    if expand is not None and request.headers.get("HX-Request"):
        return diff_html.fragment(views[0])
    return _diff_page(request, "web/repository/commit.html", context, views)


# --- compare ----------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD"])
def compare_index(request: HttpRequest, full_path: str) -> HttpResponse:
    project = repo.code_project(request, full_path)
    source, target = request.GET.get("from", "").strip(), request.GET.get("to", "").strip()
    if source and target:
        return HttpResponseRedirect(repo.project_url(project, "compare", f"{source}...{target}"))
    return render(
        request,
        "web/repository/compare.html",
        repo.repo_context(
            request,
            project,
            nav="compare",
            source=source or project.default_branch,
            target=target,
            refs={} if project.empty_repo else repo.ref_menu(project, limit=200),
            compared=False,
        ),
    )


@require_http_methods(["GET", "HEAD"])
def compare(request: HttpRequest, full_path: str, spec: str) -> HttpResponse:
    project = repo.code_project(request, full_path)
    source, sep, target = spec.partition("...")
    if not sep or not source or not target:
        raise Http404("compare")
    context = repo.repo_context(
        request,
        project,
        nav="compare",
        source=source,
        target=target,
        refs={} if project.empty_repo else repo.ref_menu(project, limit=200),
        compared=True,
        swap_url=repo.project_url(project, "compare", f"{target}...{source}"),
    )
    try:
        comparison = queries.compare(project, from_ref=source, to_ref=target, straight=False)
    except KilnError:
        context["error"] = "One of the revisions does not exist in this repository."
        return render(request, "web/repository/compare.html", context, status=404)
    expand = request.GET.get("file_path") if request.GET.get("expand") == "1" else None
    load_url = repo.project_url(project, "compare", spec) + "?"
    load_url += urlencode({"view": diff_html.view_mode(request), "expand": "1"})
    views = diff_views(
        request,
        project,
        comparison.diffs,
        ref=comparison.to_id,
        parent=comparison.base_id or "",
        load_url=load_url,
        expand=expand,
    )
    if expand is not None:
        if not views:
            raise Http404("file")
        if request.headers.get("HX-Request"):
            return diff_html.fragment(views[0])
    context["commits"] = [_commit_row(project, c) for c in reversed(comparison.commits)]
    context["page_url"] = repo.project_url(project, "compare", spec)
    return _diff_page(request, "web/repository/compare.html", context, views)


def day_label(day: date) -> str:
    return day.strftime("%d %b, %Y")
