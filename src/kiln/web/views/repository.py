"""The repository browser: the tree (`/-/tree/<ref>/<path>`) with the last commit of each
entry, branches, tags, archives, and what every repository page shares (the code-reading
project, refs with slashes, breadcrumbs, the cache).

Every read goes through `kiln.repositories.queries`. A project the actor may not read the
code of answers 404, as GitLab does for a Guest of a private project.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from django.contrib import messages
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from kiln.core.errors import KilnError, NotFound
from kiln.core.policy import can
from kiln.gitstore import Commit, TreeEntry
from kiln.projects.models import Project
from kiln.repositories import branches as branch_services
from kiln.repositories import queries
from kiln.web.context import actor_for, project_or_404

# Entries of one directory shown per page; a 10k-file directory pages through them.
TREE_PAGE = 1000
# Directories up to this size get their last commits inline on a cold cache; larger ones
# load the column with htmx after the page (it is inline once cached).
INLINE_LAST_COMMITS = 200
CACHE_SECONDS = 7 * 24 * 3600
BRANCHES_PAGE = 20
TAGS_PAGE = 20
_HEX = re.compile(r"[0-9a-fA-F]{7,64}")


# --- shared by every repository page ----------------------------------------------------------


def code_project(request: HttpRequest, full_path: str) -> Project:
    """The project if the actor may read its code; 404 otherwise (Guests of private projects
    included, as the API's `read_code` check refuses them)."""
    return project_or_404(request, full_path, "read_code")


def q(value: str) -> str:
    """A ref or path inside a URL path: every segment escaped, slashes kept."""
    return quote(value, safe="/")


def project_url(project: Project, *parts: str) -> str:
    """`/<full_path>/-/<parts...>`, each part escaped (slashes kept)."""
    tail = "/".join(q(part.strip("/")) for part in parts if part.strip("/"))
    return f"/{project.full_path}/-/{tail}"


def cache_key(kind: str, project: Project, *parts: str) -> str:
    digest = hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"kiln:web:{kind}:v1:{project.repository_key}:{digest}"


@dataclass(frozen=True)
class RefPath:
    """What `/-/<page>/<ref>/<path>` names: a ref (which may hold slashes), a path, a commit."""

    ref: str
    path: str
    commit: Commit


def _is_named_ref(project: Project, name: str) -> bool:
    if queries.branch_exists(project, name):
        return True
    try:
        queries.find_tag(project, name)
    except KilnError:
        return False
    return True


def resolve(project: Project, rest: str) -> RefPath:
    """Split `<ref>/<path>` as GitLab does: the longest prefix naming a branch or tag, else
    a commit id in the first segment; 404 when nothing matches."""
    rest = rest.strip("/")
    if not rest:
        raise Http404("ref")
    segments = rest.split("/")
    for count in range(len(segments), 0, -1):
        candidate = "/".join(segments[:count])
        if _is_named_ref(project, candidate):
            commit = queries.find_commit(project, candidate)
            if commit is not None:
                return RefPath(candidate, "/".join(segments[count:]), commit)
    if _HEX.fullmatch(segments[0]):
        commit = queries.find_commit(project, segments[0])
        if commit is not None:
            return RefPath(segments[0], "/".join(segments[1:]), commit)
    raise Http404("ref")


def breadcrumbs(project: Project, ref: str, path: str, page: str = "tree") -> list[dict[str, str]]:
    """The path's segments, each linking to its directory (the last one to `page`)."""
    crumbs = [{"name": project.path, "url": project_url(project, "tree", ref)}]
    parts = [p for p in path.split("/") if p]
    for index, name in enumerate(parts):
        sub = "/".join(parts[: index + 1])
        kind = page if index == len(parts) - 1 else "tree"
        crumbs.append({"name": name, "url": project_url(project, kind, ref, sub)})
    return crumbs


def ref_menu(
    project: Project, page: str = "tree", path: str = "", limit: int = 50
) -> dict[str, Any]:
    """Branches and tags (newest tags first) for the ref selector, each linking to `page`
    at the same path."""
    names = [b.name for b in queries.list_branches(project)]
    tags = [
        t.name for t in queries.list_tags(project, search=None, order_by="updated", sort="desc")
    ]
    return {
        "branches": [
            {"name": n, "url": project_url(project, page, n, path)} for n in names[:limit]
        ],
        "tags": [{"name": n, "url": project_url(project, page, n, path)} for n in tags[:limit]],
        "branch_count": len(names),
        "tag_count": len(tags),
    }


def repo_context(request: HttpRequest, project: Project, **extra: Any) -> dict[str, Any]:
    actor = actor_for(request)
    return {
        "project": project,
        "can_push": can(actor, "push_code", project),
        **extra,
    }


# --- the tree ---------------------------------------------------------------------------------

_TYPE_ORDER = {"tree": 0, "commit": 1, "blob": 2}


def sorted_entries(entries: tuple[TreeEntry, ...]) -> list[TreeEntry]:
    """Folders first, then submodules, then files, as GitLab lists a tree."""
    return sorted(entries, key=lambda e: _TYPE_ORDER.get(e.type, 3))


def cached_last_commits(
    project: Project, commit: Commit, path: str, *, compute: bool
) -> dict[str, dict[str, str]] | None:
    """The last commit of each entry (name -> id, title, author, date), from the cache; on a
    miss computed (one history walk) when `compute`, else None."""
    key = cache_key("last-commits", project, commit.id, path)
    found: dict[str, dict[str, str]] | None = cache.get(key)
    if found is not None or not compute:
        return found
    commits = queries.last_commits_for_tree(project, commit, path)
    found = {
        name: {
            "id": c.id,
            "title": c.title,
            "author": c.author.name,
            "date": c.committer.date.isoformat(),
        }
        for name, c in commits.items()
    }
    cache.set(key, found, CACHE_SECONDS)
    return found


# README names GitLab picks, best first (Markdown before plain text).
_README_ORDER = ("md", "markdown", "mdown", "mkd", "mkdn", "rst", "txt", "")


def readme_entry(entries: list[TreeEntry]) -> TreeEntry | None:
    candidates = []
    for entry in entries:
        if entry.type != "blob":
            continue
        stem, _, ext = entry.name.partition(".")
        if stem.lower() == "readme" and ext.lower() in _README_ORDER:
            candidates.append((_README_ORDER.index(ext.lower()), entry))
    return min(candidates, key=lambda c: c[0])[1] if candidates else None


def tree_rows_html(
    project: Project, ref_path: RefPath, entries: list[TreeEntry], last: dict[str, Any] | None
) -> str:
    """The rows of a listing, built directly (a 1000-row page through the template engine
    costs ~100 ms); every name and title is escaped here."""
    base = f"/{project.full_path}/-/"
    ref = q(ref_path.ref)
    out = []
    for entry in entries:
        name = escape(entry.name)
        if entry.type == "tree":
            link = f'<a href="{base}tree/{ref}/{escape(q(entry.path))}">{name}</a>'
        elif entry.type == "blob":
            link = f'<a href="{base}blob/{ref}/{escape(q(entry.path))}">{name}</a>'
        else:
            link = f'<span>{name}</span> <span class="badge">submodule</span>'
        info = last.get(entry.name) if last is not None else None
        if info is not None:
            title = escape(info["title"] if len(info["title"]) <= 80 else info["title"][:79] + "…")
            commit = f'<a class="muted" href="{base}commit/{info["id"]}">{title}</a>'
            date = f'<time datetime="{escape(info["date"])}">{escape(info["date"][:10])}</time>'
        else:
            commit = '<span class="muted">…</span>' if last is None else ""
            date = ""
        out.append(
            f'<tr><td class="tree-name"><span class="entry-icon entry-{escape(entry.type)}" '
            f'aria-hidden="true"></span>{link}</td><td class="tree-commit">{commit}</td>'
            f'<td class="tree-date muted">{date}</td></tr>'
        )
    return "\n".join(out)


def tree_listing(
    request: HttpRequest, project: Project, ref_path: RefPath, *, lazy_ok: bool = True
) -> dict[str, Any]:
    """The context of a directory listing: a page of rows (HTML) with their last commits, or
    with a lazy loader for them. A page with its last commits is cached whole, keyed by the
    commit id, so a warm 10k-entry directory costs one cache read."""
    offset = _int(request.GET.get("offset"), 0)
    parts = (ref_path.commit.id, ref_path.path, ref_path.ref, str(offset))
    key = cache_key("tree-page", project, *parts)
    listing: dict[str, Any] | None = cache.get(key)
    partial_key = cache_key("tree-page-partial", project, *parts)
    if listing is None and lazy_ok:
        # The page without its last commits (they load after it) is worth keeping too.
        listing = cache.get(partial_key)
        if listing is not None and cache.has_key(
            cache_key("last-commits", project, ref_path.commit.id, ref_path.path)
        ):
            listing = None  # the last commits arrived since: build the complete page
    if listing is None:
        try:
            entries = queries.list_tree(
                project, ref=ref_path.commit.id, path=ref_path.path, recursive=False
            )
        except NotFound:
            raise Http404("tree") from None
        ordered = sorted_entries(entries)
        page = ordered[offset : offset + TREE_PAGE]
        compute = not lazy_ok or len(ordered) <= INLINE_LAST_COMMITS
        last = cached_last_commits(project, ref_path.commit, ref_path.path, compute=compute)
        readme = readme_entry(page) if not ref_path.path else None
        listing = {
            "rows_html": tree_rows_html(project, ref_path, page, last),
            "count": len(page),
            "total": len(ordered),
            "readme": (readme.id, readme.name, readme.path) if readme is not None else None,
            "complete": last is not None,
        }
        cache.set(key if last is not None else partial_key, listing, CACHE_SECONDS)
    more = offset + TREE_PAGE < listing["total"]
    logs_url = project_url(project, "refs", ref_path.ref, "logs_tree", ref_path.path)
    parent = ""
    if ref_path.path:
        parent = project_url(project, "tree", ref_path.ref, ref_path.path.rpartition("/")[0])
    return {
        **listing,
        "lazy_url": "" if listing["complete"] else f"{logs_url}?{urlencode({'offset': offset})}",
        "offset": offset,
        "next_url": f"?{urlencode({'offset': offset + TREE_PAGE})}" if more else "",
        "parent_url": parent,
    }


def _int(value: str | None, default: int) -> int:
    try:
        number = int(value or default)
    except ValueError:
        return default
    return max(number, 0)


def empty_redirect(project: Project) -> HttpResponse | None:
    if project.empty_repo or queries.is_empty(project):
        return HttpResponseRedirect(f"/{project.full_path}")
    return None


@require_http_methods(["GET", "HEAD"])
def tree(request: HttpRequest, full_path: str, rest: str = "") -> HttpResponse:
    project = code_project(request, full_path)
    if (redirect := empty_redirect(project)) is not None:
        return redirect
    if not rest.strip("/"):
        return HttpResponseRedirect(project_url(project, "tree", project.default_branch))
    ref_path = resolve(project, rest)
    try:
        listing = tree_listing(request, project, ref_path)
    except Http404:
        if ref_path.path and _is_file(project, ref_path):
            return HttpResponseRedirect(project_url(project, "blob", ref_path.ref, ref_path.path))
        raise
    return render(
        request,
        "web/repository/tree.html",
        repo_context(
            request,
            project,
            nav="files",
            ref=ref_path.ref,
            path=ref_path.path,
            commit=ref_path.commit,
            commit_url=project_url(project, "commit", ref_path.commit.id),
            crumbs=breadcrumbs(project, ref_path.ref, ref_path.path),
            refs=ref_menu(project, "tree", ref_path.path),
            new_file_url=project_url(project, "new", ref_path.ref, ref_path.path),
            history_url=project_url(project, "commits", ref_path.ref, ref_path.path),
            **listing,
        ),
    )


def _is_file(project: Project, ref_path: RefPath) -> bool:
    parent, _, name = ref_path.path.rpartition("/")
    try:
        entries = queries.list_tree(project, ref=ref_path.commit.id, path=parent, recursive=False)
    except KilnError:
        return False
    return any(e.name == name and e.type == "blob" for e in entries)


@require_http_methods(["GET"])
def logs_tree(request: HttpRequest, full_path: str, rest: str) -> HttpResponse:
    """GitLab's `/-/refs/<ref>/logs_tree/<path>`: the listing with its last-commit column,
    swapped in by htmx (or a whole page without JavaScript)."""
    project = code_project(request, full_path)
    if (redirect := empty_redirect(project)) is not None:
        return redirect
    ref_part, sep, path = rest.partition("/logs_tree")
    if not sep:
        raise Http404("logs_tree")
    ref_path = resolve(project, ref_part)
    ref_path = RefPath(ref_path.ref, path.strip("/"), ref_path.commit)
    listing = tree_listing(request, project, ref_path, lazy_ok=False)
    context = repo_context(request, project, ref=ref_path.ref, path=ref_path.path, **listing)
    if request.headers.get("HX-Request"):
        return render(request, "web/repository/_tree_table.html", context)
    return HttpResponseRedirect(project_url(project, "tree", ref_path.ref, ref_path.path))


# --- branches and tags ------------------------------------------------------------------------


def _method(request: HttpRequest) -> str:
    return (request.POST.get("_method") or request.method or "GET").upper()


@require_http_methods(["GET", "HEAD"])
def branches(request: HttpRequest, full_path: str) -> HttpResponse:
    project = code_project(request, full_path)
    actor = actor_for(request)
    search = request.GET.get("search", "").strip()
    found = [] if project.empty_repo else queries.list_branches(project, search=search or None)
    default = next((b for b in found if b.name == project.default_branch), None)
    others = [b for b in found if b.name != project.default_branch]
    paginator = Paginator(others, BRANCHES_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    shown = ([default] if default is not None and page.number == 1 else []) + list(page)
    rows = []
    for view in queries.branch_views(actor, project, shown):
        behind = ahead = 0
        if default is not None and not view.default:
            behind, ahead = queries.divergence(
                project, base=default.commit, head=view.branch.commit
            )
        rows.append(
            {
                "view": view,
                "behind": behind,
                "ahead": ahead,
                "url": project_url(project, "tree", view.name),
                "commit_url": project_url(project, "commit", view.branch.commit.id),
                "delete_url": project_url(project, "branches", view.name),
                "compare_url": project_url(
                    project, "compare", f"{project.default_branch}...{view.name}"
                ),
            }
        )
    return render(
        request,
        "web/repository/branches.html",
        repo_context(
            request,
            project,
            nav="branches",
            rows=rows,
            page=page,
            search=search,
            can_delete=can(actor, "push_code", project),
        ),
    )


@require_http_methods(["POST"])
def branch(request: HttpRequest, full_path: str, name: str) -> HttpResponse:
    """`DELETE /-/branches/<name>` (a form posts `_method=delete`)."""
    project = code_project(request, full_path)
    if _method(request) != "DELETE":
        raise Http404("branch")
    try:
        branch_services.delete_branch(actor=actor_for(request), project=project, name=name)
    except NotFound:
        raise Http404("branch") from None
    except KilnError as exc:
        messages.error(request, user_message(exc, "You are not allowed to delete this branch."))
    else:
        messages.success(request, f"Branch '{name}' was deleted.")
    return HttpResponseRedirect(project_url(project, "branches"))


def user_message(exc: KilnError, fallback: str) -> str:
    """A service's refusal as a sentence for the page (GitLab's API prefixes dropped)."""
    message = exc.message or ""
    for prefix in ("403 Forbidden - ", "400 Bad request - "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    if not message or message in ("403 Forbidden", "400 Bad request") or message.startswith("404"):
        return fallback
    return message


@require_http_methods(["GET", "HEAD"])
def tags(request: HttpRequest, full_path: str) -> HttpResponse:
    project = code_project(request, full_path)
    search = request.GET.get("search", "").strip()
    found = (
        []
        if project.empty_repo
        else queries.list_tags(project, search=search or None, order_by="updated", sort="desc")
    )
    page = Paginator(found, TAGS_PAGE).get_page(request.GET.get("page"))
    protected = queries.protected_tag_names(project, [t.name for t in page])
    rows = [
        {
            "tag": tag,
            "protected": tag.name in protected,
            "url": project_url(project, "tree", tag.name),
            "commit_url": project_url(project, "commit", tag.commit.id) if tag.commit else "",
            "archives": archive_links(project, tag.name),
        }
        for tag in page
    ]
    return render(
        request,
        "web/repository/tags.html",
        repo_context(request, project, nav="tags", rows=rows, page=page, search=search),
    )


# --- archives ---------------------------------------------------------------------------------

_ARCHIVE_TYPES = {
    "zip": "application/zip",
    "tar": "application/x-tar",
    "tar.gz": "application/gzip",
    "tar.bz2": "application/x-bzip2",
}
ARCHIVE_LINK_FORMATS = ("zip", "tar.gz", "tar.bz2", "tar")


def archive_links(project: Project, ref: str) -> list[dict[str, str]]:
    stem = f"{project.path}-{ref.replace('/', '-')}"
    return [
        {"format": fmt, "url": project_url(project, "archive", ref, f"{stem}.{fmt}")}
        for fmt in ARCHIVE_LINK_FORMATS
    ]


@require_http_methods(["GET", "HEAD"])
def archive(request: HttpRequest, full_path: str, rest: str) -> HttpResponseBase:
    """`/-/archive/<ref>/<name>.<format>`, streamed."""
    project = code_project(request, full_path)
    ref_part, _, filename = rest.rstrip("/").rpartition("/")
    fmt = next(
        (f for f in sorted(queries.ARCHIVE_FORMATS, key=len, reverse=True)
         if filename.endswith("." + f)),
        None,
    )  # fmt: skip
    if not ref_part or fmt is None:
        raise Http404("archive")
    ref_path = resolve(project, ref_part)
    if ref_path.path:
        raise Http404("archive")
    sub_path = request.GET.get("path") or None
    try:
        found = queries.archive(project, sha=ref_path.ref, format=fmt, path=sub_path)
    except KilnError:
        raise Http404("archive") from None
    response = StreamingHttpResponse(
        found.chunks,
        content_type=_ARCHIVE_TYPES.get(found.format.value, "application/octet-stream"),
    )
    response["Content-Disposition"] = f'attachment; filename="{_safe_filename(found.filename)}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _safe_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name)
