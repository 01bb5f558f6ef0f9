"""The web editor: `/-/new/<ref>/<dir>` (create), `/-/edit/<ref>/<path>` (edit; a changed
path renames), and delete (a POST to `/-/blob/<ref>/<path>` with `_method=delete`).

Each commits through `kiln.repositories.files.create_commit`, which authorizes (Developer,
then the protected branch rules) and validates; a refusal is shown on the form with the
service's message. A commit may go to a new branch, optionally followed by GitLab's new
merge request page.
"""

from __future__ import annotations

import posixpath
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from kiln.core.errors import KilnError
from kiln.core.policy import can
from kiln.projects.models import Project
from kiln.repositories import files, queries
from kiln.repositories.files import FileAction
from kiln.web.context import actor_for
from kiln.web.views import repository as repo

# The editor edits text; bigger files are edited with git.
EDITABLE_MAX_BYTES = 1024 * 1024
PROTECTED_NOTICE = (
    "You are not allowed to push into this branch. Your changes will be committed to a new branch."
)


def _editable_project(request: HttpRequest, full_path: str) -> Project:
    """Developers and above may open the editor (`push_code`, as the files API requires)."""
    project = repo.code_project(request, full_path)
    if not can(actor_for(request), "push_code", project):
        raise Http404("editor")
    return project


def _patch_branch(project: Project, request: HttpRequest) -> str:
    """A free branch name for a change the actor may not push to its branch (GitLab's
    `<username>-<ref>-patch-<n>`)."""
    user = actor_for(request).user
    stem = f"{user.username if user is not None else 'patch'}-{project.default_branch}-patch"
    for number in range(1, 1000):
        name = f"{stem}-{number}"
        if not queries.branch_exists(project, name):
            return name
    return f"{stem}-{len(stem)}"


def _form_defaults(request: HttpRequest, project: Project, ref: str) -> dict[str, Any]:
    access = queries.BranchAccess(actor_for(request), project)
    is_branch = queries.branch_exists(project, ref)
    may_push = is_branch and access.can_push(ref)
    return {
        "branch_name": ref if may_push else _patch_branch(project, request),
        "notice": "" if may_push else PROTECTED_NOTICE,
        "start_new_mr": not may_push,
    }


def _normalize(content: str, *, keep_crlf: bool) -> bytes:
    """A textarea posts CRLF line ends; keep the file's own convention."""
    if not keep_crlf:
        content = content.replace("\r\n", "\n")
    return content.encode("utf-8")


def _commit(
    request: HttpRequest,
    project: Project,
    *,
    ref: str,
    actions: list[FileAction],
    message: str,
    target_path: str | None,
) -> HttpResponse | str:
    """Commit and redirect, or return the refusal's message."""
    branch = request.POST.get("branch_name", "").strip() or ref
    new_branch = branch != ref
    if not message.strip():
        return "Commit message can't be blank"
    try:
        files.create_commit(
            actor=actor_for(request),
            project=project,
            branch=branch,
            message=message.replace("\r\n", "\n"),
            actions=actions,
            start_branch=ref,
        )
    except KilnError as exc:
        return repo.user_message(exc, files.BranchPushDenied.MESSAGE)
    messages.success(request, "Your changes have been committed successfully.")
    if new_branch and request.POST.get("create_merge_request"):
        query = urlencode(
            {"merge_request[source_branch]": branch, "merge_request[target_branch]": ref}
        )
        return HttpResponseRedirect(
            repo.project_url(project, "merge_requests", "new") + "?" + query
        )
    if target_path is None:
        return HttpResponseRedirect(repo.project_url(project, "tree", branch))
    return HttpResponseRedirect(repo.project_url(project, "blob", branch, target_path))


def _render_form(
    request: HttpRequest, project: Project, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    return render(
        request,
        "web/repository/editor.html",
        repo.repo_context(request, project, nav="files", **context),
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
def new_file(request: HttpRequest, full_path: str, rest: str) -> HttpResponse:
    project = _editable_project(request, full_path)
    if project.empty_repo or queries.is_empty(project):
        ref, directory = project.default_branch, ""
    else:
        ref_path = repo.resolve(project, rest)
        ref, directory = ref_path.ref, ref_path.path
    context: dict[str, Any] = {
        "mode": "new",
        "ref": ref,
        "directory": directory,
        "file_path": f"{directory}/" if directory else "",
        "content": "",
        "commit_message": "Add new file",
        "cancel_url": repo.project_url(project, "tree", ref, directory),
        **_form_defaults(request, project, ref),
    }
    if request.method == "POST":
        path = request.POST.get("file_path", "").strip().strip("/")
        content = request.POST.get("content", "")
        message = request.POST.get("commit_message", "")
        context.update(
            file_path=path,
            content=content,
            commit_message=message,
            branch_name=request.POST.get("branch_name", ""),
            start_new_mr=bool(request.POST.get("create_merge_request")),
        )
        if not path:
            context["error"] = "You must provide a file path"
            return _render_form(request, project, context, status=400)
        result = _commit(
            request,
            project,
            ref=ref,
            actions=[FileAction("create", path, _normalize(content, keep_crlf=False))],
            message=message,
            target_path=path,
        )
        if isinstance(result, HttpResponse):
            return result
        context["error"] = result
        return _render_form(request, project, context, status=400)
    return _render_form(request, project, context)


@require_http_methods(["GET", "HEAD", "POST"])
def edit_file(request: HttpRequest, full_path: str, rest: str) -> HttpResponse:
    project = _editable_project(request, full_path)
    if (redirect := repo.empty_redirect(project)) is not None:
        return redirect
    ref_path = repo.resolve(project, rest)
    if not ref_path.path:
        raise Http404("file")
    try:
        file = queries.get_file(project, file_path=ref_path.path, ref=ref_path.commit.id)
    except KilnError:
        raise Http404("file") from None
    blob_url = repo.project_url(project, "blob", ref_path.ref, ref_path.path)
    if file.blob.binary or file.blob.size > EDITABLE_MAX_BYTES or file.blob.is_symlink:
        messages.error(request, "This file cannot be edited in the browser.")
        return HttpResponseRedirect(blob_url)
    original = file.blob.data.decode("utf-8", "replace")
    context: dict[str, Any] = {
        "mode": "edit",
        "ref": ref_path.ref,
        "original_path": ref_path.path,
        "file_path": ref_path.path,
        "content": original,
        "commit_message": f"Update {posixpath.basename(ref_path.path)}",
        "last_commit_id": file.last_commit_id or "",
        "cancel_url": blob_url,
        **_form_defaults(request, project, ref_path.ref),
    }
    if request.method == "POST":
        path = request.POST.get("file_path", "").strip().strip("/")
        content = request.POST.get("content", "")
        message = request.POST.get("commit_message", "")
        last_commit_id = request.POST.get("last_commit_id") or None
        context.update(
            file_path=path,
            content=content,
            commit_message=message,
            branch_name=request.POST.get("branch_name", ""),
            start_new_mr=bool(request.POST.get("create_merge_request")),
        )
        if not path:
            context["error"] = "You must provide a file path"
            return _render_form(request, project, context, status=400)
        data = _normalize(content, keep_crlf="\r\n" in original)
        if path != ref_path.path:
            action = FileAction(
                "move", path, data, previous_path=ref_path.path, last_commit_id=last_commit_id
            )
        else:
            action = FileAction("update", path, data, last_commit_id=last_commit_id)
        result = _commit(
            request,
            project,
            ref=ref_path.ref,
            actions=[action],
            message=message,
            target_path=path,
        )
        if isinstance(result, HttpResponse):
            return result
        context["error"] = result
        return _render_form(request, project, context, status=400)
    return _render_form(request, project, context)


def delete(request: HttpRequest, full_path: str, rest: str) -> HttpResponse:
    """`DELETE /-/blob/<ref>/<path>` (a form posts `_method=delete`)."""
    if (request.POST.get("_method") or "").lower() != "delete":
        raise Http404("blob")
    project = _editable_project(request, full_path)
    ref_path = repo.resolve(project, rest)
    if not ref_path.path:
        raise Http404("file")
    blob_url = repo.project_url(project, "blob", ref_path.ref, ref_path.path)
    message = request.POST.get("commit_message") or f"Delete {posixpath.basename(ref_path.path)}"
    result = _commit(
        request,
        project,
        ref=ref_path.ref,
        actions=[FileAction("delete", ref_path.path)],
        message=message,
        target_path=None,
    )
    if isinstance(result, HttpResponse):
        return result
    messages.error(request, result)
    return HttpResponseRedirect(blob_url)
