"""History and diffs: `/-/commits/<ref>/<path>`, `/-/commit/<sha>` (inline or side-by-side,
large files collapsed and loaded on demand), `/-/compare` and `/-/compare/<from>...<to>`.

The diff view follows the `?view=inline|parallel` toggle, remembered in GitLab's `diff_view`
cookie.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
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
from kiln.web.views import repository as repo

COMMITS_PAGE = 40
# A file with more changed lines than this is collapsed; so is every file once the page has
# shown `DIFF_PAGE_BUDGET` lines. Collapsed files load on demand.
COLLAPSE_LINES = 500
DIFF_PAGE_BUDGET = 5000
DIFF_VIEWS = ("inline", "parallel")
_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)$")


# --- diffs ------------------------------------------------------------------------------------


@dataclass
class DiffLine:
    type: str  # "match" (a hunk header), "context", "old", "new"
    old: int | None
    new: int | None
    text: str


@dataclass
class DiffView:
    file: DiffFile
    index: int
    lines: list[DiffLine] = field(default_factory=list)
    additions: int = 0
    deletions: int = 0
    collapsed: bool = False
    load_url: str = ""
    blob_url: str = ""

    @property
    def path(self) -> str:
        return self.file.new_path or self.file.old_path

    @property
    def parallel(self) -> list[tuple[DiffLine | None, DiffLine | None]]:
        """Rows of the side-by-side view: removed lines beside the added lines they became."""
        rows: list[tuple[DiffLine | None, DiffLine | None]] = []
        olds: list[DiffLine] = []
        news: list[DiffLine] = []

        def flush() -> None:
            rows.extend(itertools.zip_longest(olds, news))
            olds.clear()
            news.clear()

        for line in self.lines:
            if line.type == "old":
                if news:
                    flush()
                olds.append(line)
            elif line.type == "new":
                news.append(line)
            else:
                flush()
                rows.append((line, line))
        flush()
        return rows


def parse_diff(text: str) -> tuple[list[DiffLine], int, int]:
    """A patch (from its first `@@` on) as numbered lines, with added and removed counts."""
    lines: list[DiffLine] = []
    additions = deletions = 0
    old = new = 0
    raws = text.split("\n")
    if text.endswith("\n"):
        raws.pop()
    for raw in raws:
        if raw.startswith("@@"):
            match = _HUNK.match(raw)
            if match is None:
                continue
            old, new = int(match.group(1)), int(match.group(2))
            lines.append(DiffLine("match", None, None, raw))
        elif raw.startswith("\\") or not lines:
            continue  # "\ No newline at end of file", or anything before the first hunk
        elif raw.startswith("+"):
            lines.append(DiffLine("new", None, new, raw[1:]))
            new += 1
            additions += 1
        elif raw.startswith("-"):
            lines.append(DiffLine("old", old, None, raw[1:]))
            old += 1
            deletions += 1
        else:
            lines.append(DiffLine("context", old, new, raw[1:]))
            old += 1
            new += 1
    return lines, additions, deletions


def diff_views(
    project: Project,
    files: tuple[DiffFile, ...],
    *,
    ref: str,
    load_url: str,
    expand: str | None = None,
) -> list[DiffView]:
    """Every file of a diff, parsed, with the large ones (and those past the page's budget)
    collapsed behind `load_url?file_path=...`. `expand` names the one file to show whole."""
    views = []
    budget = DIFF_PAGE_BUDGET
    for index, file in enumerate(files):
        if expand is not None and expand not in (file.new_path, file.old_path):
            continue
        lines, additions, deletions = parse_diff(file.diff) if file.diff else ([], 0, 0)
        view = DiffView(file=file, index=index, additions=additions, deletions=deletions)
        view.blob_url = (
            "" if file.deleted_file else repo.project_url(project, "blob", ref, file.new_path)
        )
        if expand is None and (len(lines) > COLLAPSE_LINES or len(lines) > budget):
            view.collapsed = True
            view.load_url = f"{load_url}&{urlencode({'file_path': view.path})}"
        else:
            view.lines = lines
            budget -= len(lines)
        views.append(view)
    return views


def diff_view_mode(request: HttpRequest) -> str:
    asked = request.GET.get("view")
    if asked in DIFF_VIEWS:
        return asked
    remembered = request.COOKIES.get("diff_view")
    return remembered if remembered in DIFF_VIEWS else "inline"


def remember_view(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    asked = request.GET.get("view")
    if asked in DIFF_VIEWS:
        response.set_cookie("diff_view", asked, max_age=365 * 24 * 3600, samesite="Lax")
    return response


def _diff_page(
    request: HttpRequest, template: str, context: dict[str, Any], views: list[DiffView]
) -> HttpResponse:
    mode = diff_view_mode(request)
    additions = sum(v.additions for v in views)
    deletions = sum(v.deletions for v in views)
    context.update(
        diffs=views,
        view=mode,
        additions=additions,
        deletions=deletions,
        inline_url=_with_view(request, "inline"),
        parallel_url=_with_view(request, "parallel"),
    )
    return remember_view(request, render(request, template, context))


def _with_view(request: HttpRequest, mode: str) -> str:
    params = request.GET.copy()
    params["view"] = mode
    return f"?{params.urlencode()}"


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
    load_url += urlencode({"view": diff_view_mode(request)})
    views = diff_views(project, files, ref=found.id, load_url=load_url, expand=expand)
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
        context.update(diff=views[0], view=diff_view_mode(request))
        return render(request, "web/repository/_diff_body.html", context)
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
    load_url += urlencode({"view": diff_view_mode(request), "expand": "1"})
    views = diff_views(
        project, comparison.diffs, ref=comparison.to_id, load_url=load_url, expand=expand
    )
    if expand is not None:
        if not views:
            raise Http404("file")
        if request.headers.get("HX-Request"):
            context.update(diff=views[0], view=diff_view_mode(request))
            return render(request, "web/repository/_diff_body.html", context)
    context["commits"] = [_commit_row(project, c) for c in reversed(comparison.commits)]
    context["page_url"] = repo.project_url(project, "compare", spec)
    return _diff_page(request, "web/repository/compare.html", context, views)


def day_label(day: date) -> str:
    return day.strftime("%d %b, %Y")
