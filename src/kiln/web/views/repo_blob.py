"""One file: `/-/blob/<ref>/<path>` (highlighted, with line anchors; Markdown rendered; images
inline; binaries as a download), `/-/raw/<ref>/<path>` (never active content in Kiln's origin)
and `/-/blame/<ref>/<path>`.

Highlighting is Pygments, cached by blob id (the content's own name, so an entry never goes
stale), and plain escaped text above `HIGHLIGHT_MAX_BYTES`.
"""

from __future__ import annotations

import posixpath
from typing import Any
from urllib.parse import quote

from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.html import escape
from django.views.decorators.http import require_http_methods
from pygments import highlight  # type: ignore[import-untyped]
from pygments.formatters import HtmlFormatter  # type: ignore[import-untyped]
from pygments.lexers import get_lexer_for_filename  # type: ignore[import-untyped]
from pygments.util import ClassNotFound  # type: ignore[import-untyped]

from kiln import markdown
from kiln.core.errors import KilnError
from kiln.core.urls import base_url
from kiln.gitstore import Blob
from kiln.issues.references import Resolver
from kiln.projects.models import Project
from kiln.repositories import queries
from kiln.repositories.queries import FileAtRef
from kiln.web.context import actor_for
from kiln.web.views import repository as repo

# Above this size a file is shown as plain text (Pygments does ~1 MB/s at best).
HIGHLIGHT_MAX_BYTES = 512 * 1024
# Above this size, a file not highlighted yet is shown as plain text at once and its
# highlighted version loaded right after with htmx (then cached by blob id).
SYNC_HIGHLIGHT_BYTES = 48 * 1024
# Above this size a file is not shown at all: "view raw" instead.
DISPLAY_MAX_BYTES = 5 * 1024 * 1024
HIGHLIGHT_VERSION = "1"
_FORMATTER = HtmlFormatter(nowrap=True)

IMAGE_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "bmp": "image/bmp",
    "ico": "image/x-icon",
    "avif": "image/avif",
}
MARKDOWN_EXTENSIONS = {"md", "markdown", "mdown", "mkd", "mkdn"}
# What a raw file may do in a browser: nothing (no scripts, no plugins, no same origin).
RAW_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"


def extension(path: str) -> str:
    name = posixpath.basename(path)
    return name.rpartition(".")[2].lower() if "." in name else ""


def is_markdown(path: str) -> bool:
    return extension(path) in MARKDOWN_EXTENSIONS


def _lexer(path: str, text: str) -> Any:
    try:
        return get_lexer_for_filename(posixpath.basename(path), text[:4096], stripnl=False)
    except ClassNotFound:
        return None


def _highlight_key(blob: Blob, lexer_name: str) -> str:
    return f"kiln:web:highlight:v{HIGHLIGHT_VERSION}:{blob.id}:{quote(lexer_name)}"


def _line_count(text: str) -> int:
    return text.count("\n") + (0 if text.endswith("\n") or not text else 1)


def plain_lines(blob: Blob) -> list[str]:
    text = blob.data.decode("utf-8", "replace")
    lines: list[str] = [escape(line) for line in text.split("\n")]
    return lines[: _line_count(text)] or [""]


def highlighted_lines(blob: Blob, path: str, *, compute: bool = True) -> list[str] | None:
    """The file's lines as HTML (escaped; highlighted below the size cap), cached by blob id
    and lexer; None when not cached and not `compute`. Each line's markup is balanced, so
    lines can be wrapped one by one."""
    text = blob.data.decode("utf-8", "replace")
    lexer = _lexer(path, text) if blob.size <= HIGHLIGHT_MAX_BYTES else None
    if lexer is None:
        return plain_lines(blob)
    key = _highlight_key(blob, lexer.name)
    lines: list[str] | None = cache.get(key)
    if lines is not None or not compute:
        return lines
    lines = highlight(text, lexer, _FORMATTER).split("\n")[: _line_count(text)] or [""]
    cache.set(key, lines, repo.CACHE_SECONDS)
    return lines


def code_html(lines: list[str]) -> str:
    return "\n".join(
        f'<span id="LC{number}" class="line">{line}</span>'
        for number, line in enumerate(lines, start=1)
    )


def line_numbers_html(count: int) -> str:
    return "\n".join(f'<a id="L{n}" href="#L{n}">{n}</a>' for n in range(1, count + 1))


def render_markdown_file(
    request: HttpRequest, project: Project, ref: str, path: str, blob: Blob
) -> str:
    """A Markdown file rendered by `kiln.markdown` (sanitized), relative links resolved
    against its directory; cached by blob id, place and viewer (references depend on them)."""
    actor = actor_for(request)
    base = base_url(request)
    directory = posixpath.dirname(path)
    blob_dir = repo.project_url(project, "blob", ref, directory).rstrip("/") + "/"
    key = repo.cache_key(
        "markdown-file",
        project,
        blob.id,
        str(markdown.RENDERER_VERSION),
        blob_dir,
        base,
        str(actor.user.pk if actor.user is not None else 0),
    )
    html: str | None = cache.get(key)
    if html is None:
        resolver = Resolver(actor, base_url=base)
        context = markdown.RenderContext(
            project=project.full_path,
            base_url=f"{base}{blob_dir}",
            external_url=base,
            uploads_url=f"{base}/{project.full_path}",
        )
        html = markdown.render(
            blob.data.decode("utf-8", "replace"), resolver=resolver, context=context
        )
        cache.set(key, html, repo.CACHE_SECONDS)
    return html


def _file_or_404(project: Project, ref_path: repo.RefPath) -> FileAtRef:
    if not ref_path.path:
        raise Http404("file")
    try:
        return queries.get_file(project, file_path=ref_path.path, ref=ref_path.commit.id)
    except KilnError:
        raise Http404("file") from None


@require_http_methods(["GET", "HEAD", "POST"])
def blob(request: HttpRequest, full_path: str, rest: str) -> HttpResponse:
    if request.method == "POST":
        from kiln.web.views import repo_editor

        return repo_editor.delete(request, full_path, rest)
    project = repo.code_project(request, full_path)
    if (redirect := repo.empty_redirect(project)) is not None:
        return redirect
    ref_path = repo.resolve(project, rest)
    try:
        file = _file_or_404(project, ref_path)
    except Http404:
        if ref_path.path and _is_directory(project, ref_path):
            return HttpResponseRedirect(
                repo.project_url(project, "tree", ref_path.ref, ref_path.path)
            )
        raise
    context = _file_context(request, project, ref_path, file)
    data = file.blob
    ext = extension(ref_path.path)
    plain = request.GET.get("plain") == "1"
    if data.is_symlink:
        context["viewer"] = "symlink"
    elif ext in IMAGE_TYPES or ext == "svg":
        context["viewer"] = "image"
    elif data.binary:
        context["viewer"] = "download"
    elif data.size > DISPLAY_MAX_BYTES:
        context["viewer"] = "too_large"
    elif is_markdown(ref_path.path) and not plain:
        context["viewer"] = "markdown"
        context["rendered"] = render_markdown_file(
            request, project, ref_path.ref, ref_path.path, data
        )
    else:
        fragment = request.GET.get("format") == "highlighted"
        lines = highlighted_lines(
            data, ref_path.path, compute=fragment or data.size <= SYNC_HIGHLIGHT_BYTES
        )
        if fragment:
            if not request.headers.get("HX-Request"):
                return HttpResponseRedirect(context["blob_url"])
            return HttpResponse(_code_block(lines or plain_lines(data)))
        highlight_url = ""
        if lines is None:
            lines = plain_lines(data)
            highlight_url = context["blob_url"] + "?format=highlighted"
        context.update(
            viewer="code",
            code_block=_code_block(lines, highlight_url),
            line_numbers=line_numbers_html(len(lines)),
            line_count=len(lines),
            plain_text=data.size > HIGHLIGHT_MAX_BYTES,
        )
    context["markdown"] = is_markdown(ref_path.path) and not data.binary
    context["plain"] = plain
    return render(request, "web/repository/blob.html", context)


def _code_block(lines: list[str], highlight_url: str = "") -> str:
    """The code column; with `highlight_url`, htmx swaps in the highlighted one after load."""
    loader = ""
    if highlight_url:
        loader = f' hx-get="{escape(highlight_url)}" hx-trigger="load" hx-swap="outerHTML"'
    return f'<pre class="code highlight blob-code"{loader}><code>{code_html(lines)}</code></pre>'


def _is_directory(project: Project, ref_path: repo.RefPath) -> bool:
    try:
        queries.list_tree(project, ref=ref_path.commit.id, path=ref_path.path, recursive=False)
    except KilnError:
        return False
    return True


def _file_context(
    request: HttpRequest, project: Project, ref_path: repo.RefPath, file: FileAtRef
) -> dict[str, Any]:
    last = None
    if file.last_commit_id:
        last = queries.find_commit(project, file.last_commit_id)
    ref, path = ref_path.ref, ref_path.path
    return repo.repo_context(
        request,
        project,
        nav="files",
        ref=ref,
        path=path,
        name=posixpath.basename(path),
        file=file,
        blob=file.blob,
        last_commit=last,
        last_commit_url=repo.project_url(project, "commit", last.id) if last else "",
        crumbs=repo.breadcrumbs(project, ref, path, page="blob"),
        refs=repo.ref_menu(project, "blob", path),
        blob_url=repo.project_url(project, "blob", ref, path),
        raw_url=repo.project_url(project, "raw", ref, path),
        download_url=repo.project_url(project, "raw", ref, path) + "?inline=false",
        blame_url=repo.project_url(project, "blame", ref, path),
        history_url=repo.project_url(project, "commits", ref, path),
        edit_url=repo.project_url(project, "edit", ref, path),
        permalink=repo.project_url(project, "blob", ref_path.commit.id, path),
        size=file.blob.size,
    )


# --- raw ----------------------------------------------------------------------------------------


def _disposition(kind: str, name: str) -> str:
    ascii_name = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


@require_http_methods(["GET", "HEAD"])
def raw(request: HttpRequest, full_path: str, rest: str) -> HttpResponse:
    """The file's bytes, never as active content: text (HTML included) as text/plain, SVG as
    an attachment, known raster images inline, anything else as a download; every answer
    sandboxed by its own CSP and `nosniff`."""
    project = repo.code_project(request, full_path)
    ref_path = repo.resolve(project, rest)
    file = _file_or_404(project, ref_path)
    data = file.blob
    name = posixpath.basename(ref_path.path)
    ext = extension(name)
    attachment = request.GET.get("inline") == "false"
    if data.is_symlink:
        content_type = "text/plain; charset=utf-8"
    elif ext in IMAGE_TYPES:
        content_type = IMAGE_TYPES[ext]
    elif ext == "svg":
        content_type, attachment = "image/svg+xml", True
    elif not data.binary:
        content_type = "text/plain; charset=utf-8"
    else:
        content_type, attachment = "application/octet-stream", True
    response = HttpResponse(data.data, content_type=content_type)
    response["Content-Disposition"] = _disposition("attachment" if attachment else "inline", name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = RAW_CSP
    response["Cache-Control"] = "private, max-age=60"
    response["ETag"] = f'"{data.id}"'
    return response


# --- blame --------------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD"])
def blame(request: HttpRequest, full_path: str, rest: str) -> HttpResponse:
    project = repo.code_project(request, full_path)
    if (redirect := repo.empty_redirect(project)) is not None:
        return redirect
    ref_path = repo.resolve(project, rest)
    if not ref_path.path:
        raise Http404("file")
    try:
        file, ranges = queries.blame(project, file_path=ref_path.path, ref=ref_path.commit.id)
    except KilnError:
        raise Http404("file") from None
    if file.blob.binary or file.blob.size > DISPLAY_MAX_BYTES:
        lines: list[str] = []
        ranges = ()
    else:
        lines = highlighted_lines(
            file.blob, ref_path.path, compute=file.blob.size <= SYNC_HIGHLIGHT_BYTES
        ) or plain_lines(file.blob)
    groups = []
    for blamed in ranges:
        start = blamed.start_line
        groups.append(
            {
                "commit": blamed.commit,
                "commit_url": repo.project_url(project, "commit", blamed.commit.id),
                "lines": [
                    {"number": n, "html": lines[n - 1] if n - 1 < len(lines) else ""}
                    for n in range(start, blamed.end_line + 1)
                ],
            }
        )
    context = _file_context(request, project, ref_path, file)
    context.update(groups=groups, nav="files")
    return render(request, "web/repository/blame.html", context)
