"""API v4: a project's repository, as GitLab's `lib/api/repositories.rb` and `lib/api/files.rb`
(tree, blobs, archive, compare, contributors, merge base, languages, and files).

Each endpoint parses, calls one query or service of `kiln.repositories`, and presents the
result with `kiln.api.v4.presenters.repository`. Reads answer 404 for a project the caller
cannot see and 403 for one whose code it may not read; writes need a signed-in caller (401).
Lists drawn from git (not from the database) are paginated here with GitLab's headers.
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote, urlencode

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict

from kiln.api.v4.auth import SIGNED_IN, actor_of
from kiln.api.v4.pagination import request_params
from kiln.api.v4.params import CommaList, Params, PathStr
from kiln.api.v4.presenters.repository import (
    blame_entities,
    blob_data,
    compare_entity,
    contributor_entity,
    file_entity,
    gitlab_headers,
    tree_entry_entity,
)
from kiln.api.v4.presenters.repository import (
    commit_entity as present_commit,
)
from kiln.core.errors import InvalidParameter, PlainBadRequest
from kiln.core.pagination import clamp_per_page
from kiln.core.urls import base_url
from kiln.gitstore import ArchiveFormat, Blob
from kiln.repositories import files, queries

router = Router(tags=["repository"])

T = TypeVar("T")


class ApiParams(Schema):
    # Grape coerces a number sent for a String parameter; so do we.
    model_config = ConfigDict(coerce_numbers_to_str=True)


def not_blank(value: str | None, name: str) -> str:
    """Grape's `allow_blank: false`: `{"error": "<name> is empty"}`."""
    if value is None:
        raise InvalidParameter(f"{name} is missing")
    if not value.strip():
        raise InvalidParameter(f"{name} is empty")
    return value


def required_ref(ref: str | None) -> str:
    """`ref` on the file endpoints: required and not blank, with Grape's two messages."""
    if ref is None:
        raise InvalidParameter("ref is missing, ref is empty")
    return not_blank(ref, "ref")


# --- pagination of lists drawn from git -----------------------------------------------------


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def _link(url: str, params: dict[str, str], **changes: Any) -> str:
    merged = {**params, **{k: str(v) for k, v in changes.items()}}
    return f"{url}?{urlencode(merged)}"


def _page_window(request: HttpRequest) -> tuple[int, int]:
    params = request_params(request)
    return max(_int(params.get("page"), 1), 1), clamp_per_page(params.get("per_page"))


def _set_page_headers(
    request: HttpRequest,
    response: HttpResponse,
    *,
    page: int,
    per_page: int,
    has_next: bool,
    total: int | None,
    defaults: dict[str, str] | None = None,
) -> None:
    url = base_url(request) + request.path
    params = {**(defaults or {}), **request_params(request)}
    params = {k: v for k, v in params.items() if k not in ("page", "per_page")}
    response["X-Page"] = str(page)
    response["X-Per-Page"] = str(per_page)
    response["X-Next-Page"] = str(page + 1) if has_next else ""
    response["X-Prev-Page"] = str(page - 1) if page > 1 else ""
    links = []
    if page > 1:
        links.append(f'<{_link(url, params, page=page - 1, per_page=per_page)}>; rel="prev"')
    if has_next:
        links.append(f'<{_link(url, params, page=page + 1, per_page=per_page)}>; rel="next"')
    links.append(f'<{_link(url, params, page=1, per_page=per_page)}>; rel="first"')
    if total is not None:
        total_pages = max((total + per_page - 1) // per_page, 1)
        response["X-Total"] = str(total)
        response["X-Total-Pages"] = str(total_pages)
        links.append(f'<{_link(url, params, page=total_pages, per_page=per_page)}>; rel="last"')
    response["Link"] = ", ".join(links)


def paginate_list(
    request: HttpRequest,
    response: HttpResponse,
    items: Sequence[T],
    *,
    defaults: dict[str, str] | None = None,
) -> list[T]:
    """One page of an in-memory list, with every GitLab header (Kaminari's paginate_array).

    `defaults` are parameters the Link headers carry even when the request left them out.
    """
    page, per_page = _page_window(request)
    offset = (page - 1) * per_page
    window = list(items[offset : offset + per_page])
    has_next = len(items) > offset + per_page
    _set_page_headers(
        request,
        response,
        page=page,
        per_page=per_page,
        has_next=has_next,
        total=len(items),
        defaults=defaults,
    )
    return window


def paginate_fetch(
    request: HttpRequest, response: HttpResponse, fetch: Callable[[int, int], Sequence[T]]
) -> list[T]:
    """One page fetched as `fetch(offset, limit)`, without totals (GitLab's `without_count`)."""
    page, per_page = _page_window(request)
    window = list(fetch((page - 1) * per_page, per_page + 1))
    _set_page_headers(
        request,
        response,
        page=page,
        per_page=per_page,
        has_next=len(window) > per_page,
        total=None,
    )
    return window[:per_page]


# --- tree ---------------------------------------------------------------------------------


class TreeQuery(ApiParams):
    ref: str | None = None
    path: str | None = None
    recursive: bool = False
    pagination: Literal["legacy", "keyset", "none"] = "legacy"
    page_token: str | None = None


def _keyset_tree(
    request: HttpRequest, response: HttpResponse, entries: Sequence[Any], token: str | None
) -> list[Any]:
    """GitLab's keyset pages of a tree: `page_token` names the last entry of the previous page.

    GitLab's token is the entry's id; ids repeat (two files with the same content), so Kiln
    emits the entry's path, and still accepts an id (the first entry with it) from clients
    that built a token themselves.
    """
    per_page = clamp_per_page(request_params(request).get("per_page"))
    start = 0
    if token:
        position = next((i for i, e in enumerate(entries) if e.path == token), None)
        if position is None:
            position = next((i for i, e in enumerate(entries) if e.id == token), None)
        if position is None:
            raise InvalidParameter("page_token is invalid")
        start = position + 1
    window = list(entries[start : start + per_page])
    if start + per_page < len(entries) and window:
        url = base_url(request) + request.path
        params = {k: v for k, v in request_params(request).items() if k != "page_token"}
        next_url = _link(url, params, page_token=window[-1].path, per_page=per_page)
        response["Link"] = f'<{next_url}>; rel="next"'
    return window


@router.get("/projects/{id}/repository/tree")
def get_tree(
    request: HttpRequest, response: HttpResponse, id: PathStr, query: Query[TreeQuery]
) -> Any:
    if query.pagination == "none" and not query.recursive:
        raise InvalidParameter('pagination cannot be "none" unless "recursive" is true')
    project = queries.get_code_project_for(actor_of(request), id)
    entries = queries.list_tree(project, ref=query.ref, path=query.path, recursive=query.recursive)
    if query.pagination == "none":
        page = list(entries)
    elif query.pagination == "keyset":
        page = _keyset_tree(request, response, entries, query.page_token)
    else:
        page = paginate_list(request, response, entries)
    return [tree_entry_entity(entry) for entry in page]


# --- blobs and raw files ------------------------------------------------------------------

# Binary types a browser may render inline; everything else binary is a download, and text
# is always text/plain, so a committed .html or .svg never runs in Kiln's origin.
_INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/x-icon"}
_NO_CACHE = {
    "Cache-Control": "max-age=0, private, must-revalidate, no-store, no-cache",
    "Pragma": "no-cache",
    "Expires": "Fri, 01 Jan 1990 00:00:00 GMT",
}


def _content_type(blob: Blob, name: str | None) -> str:
    if not blob.binary:
        return "text/plain; charset=utf-8"
    guessed = mimetypes.guess_type(name or "")[0] if name else None
    return guessed if guessed in _INLINE_TYPES else "application/octet-stream"


def _raw_response(blob: Blob, name: str | None) -> HttpResponse:
    response = HttpResponse(blob.data, content_type=_content_type(blob, name))
    for header, value in _NO_CACHE.items():
        response[header] = value
    response["X-Content-Type-Options"] = "nosniff"
    if name:
        response["Content-Disposition"] = (
            f"inline; filename=\"{quote(name, safe='')}\"; filename*=UTF-8''{quote(name, safe='')}"
        )
    else:
        response["Content-Disposition"] = "inline"
    return response


@router.get("/projects/{id}/repository/blobs/{sha}")
def get_blob(request: HttpRequest, id: PathStr, sha: PathStr) -> dict[str, Any]:
    project = queries.get_code_project_for(actor_of(request), id)
    blob = queries.get_blob(project, sha)
    return {
        "size": blob.size,
        "encoding": "base64",
        "content": base64.b64encode(blob.data).decode("ascii"),
        "sha": blob.id,
    }


@router.get("/projects/{id}/repository/blobs/{sha}/raw")
def get_raw_blob(request: HttpRequest, id: PathStr, sha: PathStr) -> HttpResponse:
    project = queries.get_code_project_for(actor_of(request), id)
    return _raw_response(queries.get_blob(project, sha), None)


# --- archive ------------------------------------------------------------------------------

_ARCHIVE_TYPES = {
    ArchiveFormat.ZIP: "application/zip",
    ArchiveFormat.TAR: "application/x-tar",
    ArchiveFormat.TAR_GZ: "application/gzip",
    ArchiveFormat.TAR_BZ2: "application/x-bzip2",
}


class ArchiveQuery(ApiParams):
    sha: str | None = None
    format: str | None = None
    path: str | None = None
    include_lfs_blobs: bool = True
    exclude_paths: CommaList | None = None


def _archive(request: HttpRequest, id: str, format: str | None, query: ArchiveQuery) -> Any:
    project = queries.get_code_project_for(actor_of(request), id)
    found = queries.archive(project, sha=query.sha, format=format or query.format, path=query.path)
    response = StreamingHttpResponse(found.chunks, content_type=_ARCHIVE_TYPES[found.format])
    response["Content-Disposition"] = f'attachment; filename="{found.filename}"'
    response["Content-Transfer-Encoding"] = "binary"
    response["Cache-Control"] = "private"
    return response


@router.get("/projects/{id}/repository/archive")
def get_archive(request: HttpRequest, id: PathStr, query: Query[ArchiveQuery]) -> Any:
    return _archive(request, id, None, query)


@router.get("/projects/{id}/repository/archive.{format}")
def get_archive_with_format(
    request: HttpRequest, id: PathStr, format: str, query: Query[ArchiveQuery]
) -> Any:
    return _archive(request, id, format, query)


# --- compare, contributors, merge base, languages -----------------------------------------


@router.get("/projects/{id}/repository/compare")
def compare(request: HttpRequest, id: PathStr) -> dict[str, Any]:
    params = request.GET
    missing = [name for name in ("from", "to") if name not in params]
    if missing:
        raise InvalidParameter(", ".join(f"{name} is missing" for name in missing))
    straight = params.get("straight", "false").lower() in ("true", "1", "yes", "t")
    unidiff = params.get("unidiff", "false").lower() in ("true", "1", "yes", "t")
    project = queries.get_code_project_for(actor_of(request), id)
    comparison = queries.compare(
        project, from_ref=params["from"], to_ref=params["to"], straight=straight
    )
    return compare_entity(comparison, project, request, unidiff=unidiff)


class ContributorsQuery(ApiParams):
    ref: str | None = None
    order_by: Literal["email", "name", "commits"] = "commits"
    sort: Literal["asc", "desc"] = "asc"


@router.get("/projects/{id}/repository/contributors")
def list_contributors(
    request: HttpRequest, response: HttpResponse, id: PathStr, query: Query[ContributorsQuery]
) -> list[dict[str, Any]]:
    project = queries.get_code_project_for(actor_of(request), id)
    found = queries.contributors(project, ref=query.ref, order_by=query.order_by, sort=query.sort)
    # GitLab's Link headers carry the defaults, so following them keeps the order.
    defaults: dict[str, str] = {"order_by": query.order_by, "sort": query.sort}
    return [
        contributor_entity(c) for c in paginate_list(request, response, found, defaults=defaults)
    ]


@router.get("/projects/{id}/repository/merge_base")
def merge_base(request: HttpRequest, id: PathStr) -> dict[str, Any]:
    refs: list[str] = []
    for value in request.GET.getlist("refs[]") + request.GET.getlist("refs"):
        refs.extend(part for part in value.split(",") if part)
    if not refs:
        raise InvalidParameter("refs is missing")
    project = queries.get_code_project_for(actor_of(request), id)
    return present_commit(queries.merge_base(project, refs), project, request)


@router.get("/projects/{id}/languages")
def languages(request: HttpRequest, id: PathStr) -> dict[str, float]:
    project = queries.get_code_project_for(actor_of(request), id)
    return {share.name: share.percentage for share in queries.languages(project)}


# --- files --------------------------------------------------------------------------------


class FileQuery(ApiParams):
    ref: str | None = None


def _head(headers: dict[str, str]) -> HttpResponse:
    response = HttpResponse(status=200, content_type="application/json")
    for name, value in headers.items():
        response[name] = value
    return response


@router.api_operation(["GET", "HEAD"], "/projects/{id}/repository/files/{file_path}")
def get_file(
    request: HttpRequest,
    response: HttpResponse,
    id: PathStr,
    file_path: PathStr,
    query: Query[FileQuery],
) -> Any:
    path = queries.file_path_param(file_path)
    ref = required_ref(query.ref)
    project = queries.get_code_project_for(actor_of(request), id)
    found = queries.get_file(project, file_path=path, ref=ref)
    headers = gitlab_headers(blob_data(found))
    if request.method == "HEAD":
        return _head(headers)
    for name, value in headers.items():
        response[name] = value
    return file_entity(found)


class RawFileQuery(ApiParams):
    ref: str | None = None
    lfs: bool = False


@router.get("/projects/{id}/repository/files/{file_path}/raw")
def get_raw_file(
    request: HttpRequest, id: PathStr, file_path: PathStr, query: Query[RawFileQuery]
) -> HttpResponse:
    path = queries.file_path_param(file_path, allow_leading_slash=True)
    if query.ref is not None:
        not_blank(query.ref, "ref")
    project = queries.get_code_project_for(actor_of(request), id)
    found = queries.get_file(project, file_path=path, ref=query.ref)
    response = _raw_response(found.blob, path.rsplit("/", 1)[-1])
    for name, value in gitlab_headers(blob_data(found)).items():
        response[name] = value
    return response


def _blame_range(request: HttpRequest) -> tuple[int | None, int | None]:
    raw_start = request.GET.get("range[start]")
    raw_end = request.GET.get("range[end]")
    if raw_start is None and raw_end is None:
        return None, None
    missing = [n for n, v in (("range[start]", raw_start), ("range[end]", raw_end)) if v is None]
    if missing:
        raise InvalidParameter(", ".join(f"{name} is missing" for name in missing))
    values = []
    for name, raw in (("range[start]", raw_start), ("range[end]", raw_end)):
        try:
            value = int(raw or "")
        except ValueError:
            raise InvalidParameter(f"{name} is invalid") from None
        if value <= 0:
            raise InvalidParameter(f"{name} does not have a valid value")
        values.append(value)
    if values[0] > values[1]:
        raise PlainBadRequest("range[start] must be less than or equal to range[end]")
    return values[0], values[1]


@router.api_operation(["GET", "HEAD"], "/projects/{id}/repository/files/{file_path}/blame")
def get_blame(
    request: HttpRequest,
    response: HttpResponse,
    id: PathStr,
    file_path: PathStr,
    query: Query[FileQuery],
) -> Any:
    path = queries.file_path_param(file_path)
    ref = required_ref(query.ref)
    start, end = _blame_range(request)
    project = queries.get_code_project_for(actor_of(request), id)
    if request.method == "HEAD":
        found = queries.get_file(project, file_path=path, ref=ref)
        return _head(gitlab_headers(blob_data(found)))
    found, ranges = queries.blame(
        project, file_path=path, ref=ref, range_start=start, range_end=end
    )
    for name, value in gitlab_headers(blob_data(found)).items():
        response[name] = value
    return blame_entities(ranges, project, request)


class FileWriteParams(ApiParams):
    branch: str | None = None
    commit_message: str | None = None
    start_branch: str | None = None
    author_email: str | None = None
    author_name: str | None = None


class FileContentParams(FileWriteParams):
    content: str | None = None
    encoding: Literal["base64", "text"] = "text"
    last_commit_id: str | None = None
    execute_filemode: bool | None = None


def _write_params(payload: FileWriteParams, *, content: bool) -> tuple[str, str, str]:
    """Grape's checks of the files endpoints' parameters, in its order and wording.

    Returns the branch, the commit message and the content ("" when not asked for).
    """
    text = getattr(payload, "content", None)
    missing = [name for name in ("branch", "commit_message") if getattr(payload, name) is None]
    if content and text is None:
        missing.append("content")
    if missing:
        raise InvalidParameter(", ".join(f"{name} is missing" for name in missing))
    branch = not_blank(payload.branch, "branch")
    message = not_blank(payload.commit_message, "commit_message")
    return branch, message, text or ""


@router.post(
    "/projects/{id}/repository/files/{file_path}", auth=SIGNED_IN, response={201: dict[str, Any]}
)
def create_file(
    request: HttpRequest,
    id: PathStr,
    file_path: PathStr,
    payload: Annotated[FileContentParams, Params(...)],
) -> Status[dict[str, Any]]:
    path = queries.file_path_param(file_path)
    branch, message, content = _write_params(payload, content=True)
    actor = actor_of(request)
    project = queries.get_code_project_for(actor, id)
    files.create_file(
        actor=actor,
        project=project,
        file_path=path,
        branch=branch,
        content=files.decode_content(content, payload.encoding),
        commit_message=message,
        start_branch=payload.start_branch,
        author_name=payload.author_name,
        author_email=payload.author_email,
        execute_filemode=payload.execute_filemode,
    )
    return Status(201, {"file_path": path, "branch": branch})


@router.put("/projects/{id}/repository/files/{file_path}", auth=SIGNED_IN)
def update_file(
    request: HttpRequest,
    id: PathStr,
    file_path: PathStr,
    payload: Annotated[FileContentParams, Params(...)],
) -> dict[str, Any]:
    path = queries.file_path_param(file_path)
    branch, message, content = _write_params(payload, content=True)
    actor = actor_of(request)
    project = queries.get_code_project_for(actor, id)
    files.update_file(
        actor=actor,
        project=project,
        file_path=path,
        branch=branch,
        content=files.decode_content(content, payload.encoding),
        commit_message=message,
        start_branch=payload.start_branch,
        author_name=payload.author_name,
        author_email=payload.author_email,
        execute_filemode=payload.execute_filemode,
        last_commit_id=payload.last_commit_id,
    )
    return {"file_path": path, "branch": branch}


@router.delete("/projects/{id}/repository/files/{file_path}", auth=SIGNED_IN)
def delete_file(
    request: HttpRequest,
    id: PathStr,
    file_path: PathStr,
    payload: Annotated[FileWriteParams, Params(...)],
) -> HttpResponse:
    path = queries.file_path_param(file_path)
    branch, message, _ = _write_params(payload, content=False)
    actor = actor_of(request)
    project = queries.get_code_project_for(actor, id)
    files.delete_file(
        actor=actor,
        project=project,
        file_path=path,
        branch=branch,
        commit_message=message,
        start_branch=payload.start_branch,
        author_name=payload.author_name,
        author_email=payload.author_email,
    )
    return HttpResponse(status=204)
