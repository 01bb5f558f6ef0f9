"""Diffs as HTML pages: a merge request's Changes tab, a commit, a comparison, a new merge
request. The lines and rows are `kiln.web.diff_lines`; this module decides what is shown
(GitLab's limits, notices, the file browser, the view toggle) and puts the page together.

What GitLab does, kept: a file's anchor is `sha1(path)`; a patch of 10% of the patch limit or
more is collapsed, and so is every file once the page holds GitLab's "safe" number of files,
lines or bytes; collapsed files load on demand. The texts of a file shown without its changes
are those of GitLab's Rapid Diffs.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from kiln.accounts.models import DIFF_VIEWS, User
from kiln.accounts.self_service import update_preferences
from kiln.repositories.queries import MAX_PATCH_BYTES
from kiln.web.context import actor_for
from kiln.web.diff_lines import (
    RENDERED,
    DiffFileLike,
    line_code,
    parsed,
    patch_key,
    path_hash,
    table,
)

__all__ = ["DiffFileLike", "line_code", "path_hash"]

# GitLab collapses a patch of 10% of `diff_max_patch_bytes` or more (expandable), and every
# file after the page's first 100 files, 5,000 lines or 500 KB ("safe" limits).
COLLAPSE_PATCH_BYTES = MAX_PATCH_BYTES // 10
SAFE_MAX_FILES = 100
SAFE_MAX_LINES = 5000
SAFE_MAX_BYTES = SAFE_MAX_FILES * 5 * 1024
# Lines a request may send through Pygments (~0.1 ms each); files past that are shown
# escaped, and highlighted (then cached) by the next requests, this many lines each.
HIGHLIGHT_BUDGET_LINES = 1500

# --- a file -----------------------------------------------------------------------------------


@dataclass
class FileView:
    """One file of a diff: what is shown of it, and its card (`card`)."""

    file: DiffFileLike
    index: int
    path: str
    file_hash: str
    additions: int = 0
    deletions: int = 0
    collapsed: bool = False
    load_url: str = ""
    table: bytes = b""  # the rows (UTF-8, maybe from the cache); empty when not shown
    old_blob_url: str = ""
    new_blob_url: str = ""

    @property
    def card(self) -> SafeString:
        """In a template: where the file's card goes (a mark `respond` replaces)."""
        return mark_safe(f"{_MARK}{self.index}-->")  # noqa: S308 (no user content)

    @property
    def status(self) -> str:
        f = self.file
        if f.new_file:
            return "added"
        if f.deleted_file:
            return "deleted"
        if f.renamed_file:
            return "renamed"
        return "modified"

    @property
    def mode_changed(self) -> bool:
        f = self.file
        return f.a_mode != f.b_mode and not f.new_file and not f.deleted_file

    @property
    def content_changed(self) -> bool:
        f = self.file
        old_id, new_id = getattr(f, "old_id", ""), getattr(f, "new_id", "")
        if old_id and new_id:
            return bool(old_id != new_id)
        return bool(f.diff or f.binary or f.too_large)

    @property
    def change_description(self) -> str:
        """GitLab's line about a file shown without its changes."""
        f = self.file
        if f.new_file:
            text = "File added."
        elif f.deleted_file:
            text = "File deleted."
        elif f.renamed_file:
            text = "File changed and moved." if self.content_changed else "File moved."
        else:
            text = "File changed." if self.content_changed else ""
        if self.mode_changed:
            text += f" File mode changed from {f.a_mode} to {f.b_mode}."
        return text.strip()

    @property
    def no_preview_reason(self) -> str:
        f = self.file
        if f.too_large:
            return "File size exceeds preview limit."
        if self.collapsed:
            return "Preview size limit exceeded, changes collapsed."
        if f.binary:
            return "No diff preview for this file type."
        return ""

    @property
    def blob_url(self) -> str:
        return self.old_blob_url if self.file.deleted_file else self.new_blob_url

    def body(self) -> bytes:
        """The rows, or GitLab's notice when they are not shown (the htmx answer too)."""
        return self.table or _notice(self).encode()

    def html(self) -> bytes:
        return _card_head(self).encode() + self.body() + b"</div></section>"


def _card_head(fv: FileView) -> str:
    f = fv.file
    path = escape(fv.path)
    title = f"{escape(f.old_path)} \u2192 {path}" if f.renamed_file else path
    badge = {
        "added": '<span class="badge badge-ok">added</span>',
        "deleted": '<span class="badge badge-danger">deleted</span>',
        "renamed": '<span class="badge badge-info">renamed</span>',
    }.get(fv.status, "")
    mode = (
        f'<small class="mono diff-mode">{escape(f.a_mode)} \u2192 {escape(f.b_mode)}</small>'
        if fv.mode_changed
        else ""
    )
    view = (
        f'<a class="btn btn-small" href="{escape(fv.blob_url)}">View file</a>'
        if fv.blob_url
        else ""
    )
    return (
        f'<section class="card diff-file" id="{fv.file_hash}" aria-label="{path}">'
        '<header class="card-header diff-file-header">'
        '<button type="button" class="diff-toggle" data-diff-toggle aria-expanded="true"'
        f' aria-controls="diff-content-{fv.index}" aria-label="Hide file contents" hidden>'
        f'</button><h3 class="diff-path mono"><a href="#{fv.file_hash}">{title}</a></h3>'
        f'{badge}{mode}<span class="spacer"></span><span class="small diff-file-stats">'
        f'<span class="additions">+{fv.additions}</span> '
        f'<span class="deletions">\u2212{fv.deletions}</span></span>{view}</header>'
        f'<div class="diff-content" id="diff-content-{fv.index}">'
    )


def _notice(fv: FileView) -> str:
    """GitLab's (Rapid Diffs) texts and actions for a file shown without its rows."""
    parts = []
    if description := fv.change_description:
        parts.append(f"<p>{escape(description)}</p>")
    if reason := fv.no_preview_reason:
        parts.append(f'<p class="muted">{reason}</p>')
    if fv.collapsed:
        url = escape(fv.load_url)
        action = (
            f'<a class="btn btn-small" href="{url}" hx-get="{url}"'
            f' hx-target="#diff-body-{fv.index}" hx-swap="outerHTML">Show changes</a>'
        )
    elif fv.content_changed and fv.old_blob_url and fv.new_blob_url:
        action = (
            f'<a class="btn btn-small" href="{escape(fv.old_blob_url)}">View original file</a> '
            f'<a class="btn btn-small" href="{escape(fv.new_blob_url)}">View changed file</a>'
        )
    elif fv.blob_url:
        action = f'<a class="btn btn-small" href="{escape(fv.blob_url)}">View file</a>'
    else:
        action = ""
    if action:
        parts.append(f'<p class="diff-no-preview-actions">{action}</p>')
    return f'<div class="diff-no-preview" id="diff-body-{fv.index}">{"".join(parts)}</div>'


def file_views(
    files: Sequence[DiffFileLike],
    *,
    view: str,
    load_url: Callable[[int, DiffFileLike], str],
    blob_urls: Callable[[DiffFileLike], tuple[str, str]] = lambda f: ("", ""),
    expand: Iterable[int] = (),
    expand_all: bool = False,
    commenting: bool = False,
    notes: Mapping[str, str] | None = None,
    indexes: Sequence[int] | None = None,
) -> list[FileView]:
    """Every file as a `FileView`: parsed, highlighted and rendered in `view`, except those
    GitLab would collapse (a large patch, or past the page's safe limits), which carry
    `load_url(index, file)` instead. `expand` names files (by index) never collapsed;
    `notes` maps line codes to the HTML shown under those lines; `commenting` adds a comment
    link to every line. The page is then made by `respond`."""
    keep = set(expand)
    notes = notes or {}
    noted = {code.partition("_")[0] for code in notes}
    views = []
    lines_left, bytes_left = SAFE_MAX_LINES, SAFE_MAX_BYTES
    highlight_left = HIGHLIGHT_BUDGET_LINES
    for position, f in enumerate(files):
        index = indexes[position] if indexes is not None else position
        path = f.new_path or f.old_path
        fv = FileView(file=f, index=index, path=path, file_hash=path_hash(path))
        fv.old_blob_url, fv.new_blob_url = blob_urls(f)
        patch = "" if (f.binary or f.too_large) else (f.diff or "")
        size = len(patch)
        line_count = patch.count("\n") + 1 if patch else 0
        over = (
            size >= COLLAPSE_PATCH_BYTES
            or position >= SAFE_MAX_FILES
            or line_count > lines_left
            or size > bytes_left
        )
        if patch and over and not expand_all and index not in keep:
            fv.collapsed = True
            fv.load_url = load_url(index, f)
            # Hunk headers start with "@@", so every added or removed line follows a newline.
            fv.additions, fv.deletions = patch.count("\n+"), patch.count("\n-")
        elif patch:
            lines_left -= line_count
            bytes_left -= size
            key = patch_key(path, patch)
            p, how = parsed(path, patch, key, highlight=highlight_left > 0)
            if how == "highlighted":
                highlight_left -= line_count
            fv.additions, fv.deletions = p.additions, p.deletions
            label = escape(path) if commenting else ""
            shown = functools.partial(
                table, p, index=index, path=path, file_hash=fv.file_hash, view=view, label=label
            )
            if fv.file_hash in noted or how == "plain":
                fv.table = shown(notes=notes).encode()
            else:
                rendered_key = (key, view, index, label)
                rows: bytes | None = RENDERED.get(rendered_key)
                if rows is None:
                    rows = shown(notes={}).encode()
                    RENDERED.put(rendered_key, rows, len(rows) + 200)
                fv.table = rows
        views.append(fv)
    return views


# --- the page: template, then the files put in ------------------------------------------------

# Marks where a file's card goes in the rendered template. Random per process, so no text a
# user wrote can make one (comment bodies are sanitized Markdown anyway).
_MARK = f"<!--kiln-diff-{secrets.token_hex(8)}-"


def respond(
    request: HttpRequest, template: str, context: dict[str, Any], files: Sequence[FileView]
) -> HttpResponse:
    """`template` rendered, each file's card (`{{ f.card }}`) put in at its mark. The cards
    are most of the page's bytes, and tables come from the cache as bytes: passing them
    through the template engine would copy them at every level of nesting, then encode them
    again, and a template per file costs more than all of its rows."""
    html = render_to_string(template, context, request=request)
    cards = {f.index: f for f in files}
    parts: list[bytes] = []
    pos = 0
    while (at := html.find(_MARK, pos)) >= 0:
        end = html.find("-->", at)
        index = html[at + len(_MARK) : end]
        parts.append(html[pos:at].encode())
        fv = cards.get(int(index)) if index.isdigit() else None
        if fv is not None:
            parts.append(fv.html())
        pos = end + 3
    parts.append(html[pos:].encode())
    return HttpResponse(b"".join(parts), content_type="text/html; charset=utf-8")


def fragment(fv: FileView) -> HttpResponse:
    """A file's rows (or notice) alone: what htmx swaps in for a collapsed file."""
    return HttpResponse(fv.body(), content_type="text/html; charset=utf-8")


# --- the file browser ---------------------------------------------------------------------------


def tree_html(files: Sequence[FileView]) -> SafeString:
    """GitLab's file browser: folders first, single-folder chains joined ("src/pkg")."""
    root: dict[str, Any] = {}
    for fv in files:
        *folders, name = fv.path.split("/")
        node = root
        for folder in folders:
            node = node.setdefault(folder + "/", {})
        node[name] = fv
    return mark_safe(_tree_list(root))  # noqa: S308 (names escaped in _tree_list)


def _tree_list(node: dict[str, Any]) -> str:
    folders = sorted(k for k in node if k.endswith("/"))
    names = sorted(k for k in node if not k.endswith("/"))
    items = []
    for key in folders:
        label, child = key, node[key]
        while len(child) == 1 and next(iter(child)).endswith("/"):
            inner = next(iter(child))
            label, child = label + inner, child[inner]
        items.append(
            f'<li class="diff-tree-folder"><span class="diff-tree-name">'
            f"{escape(label.rstrip('/'))}</span>{_tree_list(child)}</li>"
        )
    for key in names:
        fv: FileView = node[key]
        items.append(
            f'<li><a class="diff-tree-file diff-tree-{fv.status}" href="#{fv.file_hash}"'
            f' title="{escape(fv.path)}"><span class="diff-tree-name">{escape(key)}</span>'
            f' <span class="additions">+{fv.additions}</span>'
            f' <span class="deletions">\u2212{fv.deletions}</span></a></li>'
        )
    return f"<ul>{''.join(items)}</ul>"


# --- the view toggle ----------------------------------------------------------------------------


def view_mode(request: HttpRequest) -> str:
    """`?view=`, else the signed-in user's preference, else GitLab's `diff_view` cookie."""
    asked = request.GET.get("view")
    if asked in DIFF_VIEWS:
        return str(asked)
    user = actor_for(request).user
    if user is not None and user.diff_view in DIFF_VIEWS:
        return str(user.diff_view)
    remembered = request.COOKIES.get("diff_view")
    return remembered if remembered in DIFF_VIEWS else "inline"


def remember_view(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """A `?view=` choice is kept: in the cookie, and in the signed-in user's preferences."""
    asked = request.GET.get("view")
    if asked not in DIFF_VIEWS:
        return response
    response.set_cookie("diff_view", asked, max_age=365 * 24 * 3600, samesite="Lax")
    actor = actor_for(request)
    if actor.user is not None and actor.user.diff_view != asked:
        # The row itself: `request.user` is a lazy wrapper the policies do not recognize.
        user = User.objects.get(pk=actor.user.pk)
        update_preferences(actor=actor, user=user, diff_view=asked)
    return response


def view_urls(request: HttpRequest) -> dict[str, str]:
    """The toggle's links: this page in each view (dropping a `?line=` form)."""
    out = {}
    for mode in DIFF_VIEWS:
        params = request.GET.copy()
        params.pop("line", None)
        params["view"] = mode
        out[f"{mode}_url"] = f"?{params.urlencode()}"
    return out
