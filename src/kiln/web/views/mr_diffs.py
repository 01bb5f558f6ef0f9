"""A merge request's Changes tab (`/<project>/-/merge_requests/<iid>/diffs`) and the
on-demand body of a collapsed file (`.../diff_for_path?old_path=&new_path=`).

The files are those of the latest diff version (as GitLab's `merge_request_diff_files`),
rendered by `kiln.web.diff_html` inline or side by side (`?view=`, remembered), with the
diff threads under their lines and, for those who may comment, a comment link on every line
(`?line=<line code>` opens the form without JavaScript; `diffs.js` opens it in place).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET

from kiln.merge_requests import diffs
from kiln.merge_requests.models import MergeRequest, MergeRequestDiffFile
from kiln.projects.models import Project
from kiln.web import diff_html, diff_lines
from kiln.web.views import notes as shared
from kiln.web.views.merge_requests import _base_context, find_mr, mr_project, mr_url
from kiln.web.views.repository import project_url

_LINE_CODE_LEN = 40 + 2 + 2 * 18


def _blob_urls(project: Project, version: Any) -> Any:
    def urls(f: MergeRequestDiffFile) -> tuple[str, str]:
        old = (
            "" if f.new_file else project_url(project, "blob", version.base_commit_sha, f.old_path)
        )
        new = (
            ""
            if f.deleted_file
            else project_url(project, "blob", version.head_commit_sha, f.new_path)
        )
        return old, new

    return urls


def _load_url(base: str, view: str) -> Any:
    def url(index: int, f: MergeRequestDiffFile) -> str:
        query = urlencode({"old_path": f.old_path, "new_path": f.new_path, "view": view})
        return f"{base}/diff_for_path?{query}"

    return url


def _commenting_line(
    request: HttpRequest, rows: list[MergeRequestDiffFile]
) -> tuple[str, MergeRequestDiffFile | None, int, int]:
    """`?line=<line code>` when it names a line of the diff: the code, file and numbers."""
    code = request.GET.get("line", "")
    parts = code.split("_")
    if len(code) > _LINE_CODE_LEN or len(parts) != 3 or not all(p.isdigit() for p in parts[1:]):
        return "", None, 0, 0
    old, new = int(parts[1]), int(parts[2])
    for row in rows:
        same_file = diff_html.path_hash(row.new_path or row.old_path) == parts[0]
        if same_file and diff_lines.has_line(row, old, new):
            return code, row, old, new
    return "", None, 0, 0


def _notes(
    request: HttpRequest,
    mr: MergeRequest,
    project: Project,
    rows: list[MergeRequestDiffFile],
    *,
    can_comment: bool,
) -> tuple[dict[str, str], list[Any], set[int]]:
    """HTML under lines (their threads, and the form `?line=` asks for), the threads on
    outdated changes, and the files (by index) those lines are in."""
    by_code: dict[str, list[Any]] = defaultdict(list)
    outdated = []
    for t in shared.threads_for(request, mr, project):
        if not t.is_diff:
            continue
        if t.outdated:
            outdated.append(t)
        else:
            by_code[t.first.note.line_code].append(t)
    base = mr_url(project, mr)
    html: dict[str, str] = {}
    for code, threads in by_code.items():
        html[code] = "".join(
            render_to_string(
                "web/notes/_thread.html",
                {"t": t, "base_url": base, "return_to": "diffs"},
                request=request,
            )
            for t in threads
        )
    hashes = {code.partition("_")[0] for code in by_code}
    code, row, old, new = _commenting_line(request, rows) if can_comment else ("", None, 0, 0)
    if row is not None:
        html[code] = html.get(code, "") + render_to_string(
            "web/merge_requests/_diff_note_form.html",
            {"mr_url": base, "file_index": row.relative_order, "old_line": old, "new_line": new},
            request=request,
        )
        hashes.add(code.partition("_")[0])
    expand = {
        row.relative_order
        for row in rows
        if diff_html.path_hash(row.new_path or row.old_path) in hashes
    }
    return html, outdated, expand


def _changes(request: HttpRequest, full_path: str, iid: str, *, one_file: bool) -> HttpResponse:
    project = mr_project(request, full_path)
    mr = find_mr(request, project, iid)
    context = _base_context(request, project, mr, "diffs")
    view = diff_html.view_mode(request)
    version = diffs.latest_diff(mr)
    rows: list[MergeRequestDiffFile] = []
    if version is not None:
        found = version.files.order_by("relative_order")
        if one_file:
            get = request.GET
            found = found.filter(old_path=get.get("old_path"), new_path=get.get("new_path"))[:1]
        rows = list(found)
    if one_file and not rows:
        raise Http404("file")
    can_comment = context["can_comment"]
    notes, outdated, expand = _notes(request, mr, project, rows, can_comment=can_comment)
    files = diff_html.file_views(
        rows,
        view=view,
        load_url=_load_url(mr_url(project, mr), view),
        blob_urls=_blob_urls(project, version),
        expand=expand,
        expand_all=one_file,
        commenting=can_comment,
        notes=notes,
        indexes=[row.relative_order for row in rows],
    )
    if one_file and request.headers.get("HX-Request"):
        return diff_html.fragment(files[0])
    context.update(
        outdated_threads=[] if one_file else outdated,
        single_file=one_file,
        diffs=files,
        tree=diff_html.tree_html(files),
        view=view,
        additions=sum(f.additions for f in files),
        deletions=sum(f.deletions for f in files),
        **diff_html.view_urls(request),
    )
    response = diff_html.respond(request, "web/merge_requests/diffs.html", context, files)
    return diff_html.remember_view(request, response)


@require_GET
def diffs_tab(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    return _changes(request, full_path, iid, one_file=False)


@require_GET
def diff_for_path(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    """One file of the latest version, whole: its rows for htmx, else a page with it alone."""
    return _changes(request, full_path, iid, one_file=True)
