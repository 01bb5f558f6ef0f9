"""API v4: commits, as GitLab's `lib/api/commits.rb` (history, one commit and its diff and
refs, commits with actions, cherry-pick and revert).

Reads need `read_code` (403 once the project is visible); writes are checked as GitLab's
`authorize_push_to_branch!` (403 "You are not allowed to push into this branch") before the
service runs.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status
from pydantic import BaseModel, ConfigDict

from kiln.api.v4.auth import SIGNED_IN, actor_of
from kiln.api.v4.params import Params, PathStr
from kiln.api.v4.presenters.repository import (
    basic_ref_entity,
    commit_detail_entity,
    commit_entity,
    commit_with_stats_entity,
    diff_entity,
)
from kiln.api.v4.repository import ApiParams, not_blank, paginate_fetch, paginate_list
from kiln.core.errors import InvalidParameter, MissingParameter
from kiln.repositories import files, queries

router = Router(tags=["commits"])


# --- history ------------------------------------------------------------------------------


class CommitListQuery(ApiParams):
    ref_name: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    path: str | None = None
    author: str | None = None
    all: bool = False
    with_stats: bool = False
    first_parent: bool = False
    order: Literal["default", "topo"] = "default"
    trailers: bool = False


@router.get("/projects/{id}/repository/commits")
def list_commits(
    request: HttpRequest, response: HttpResponse, id: PathStr, query: Query[CommitListQuery]
) -> list[dict[str, Any]]:
    project = queries.get_code_project_for(actor_of(request), id)
    log_filter = queries.LogFilter(
        ref_name=query.ref_name or None,
        path=query.path or None,
        since=query.since,
        until=query.until,
        all=query.all,
        first_parent=query.first_parent,
    )
    commits = paginate_fetch(
        request,
        response,
        lambda skip, limit: queries.list_commits(project, log_filter, skip=skip, limit=limit),
    )
    if query.with_stats:
        stats = queries.stats_for(project, commits)
        return [commit_with_stats_entity(c, stats[c.id], project, request) for c in commits]
    return [commit_entity(c, project, request) for c in commits]


# --- commits with actions -----------------------------------------------------------------


class CommitActionParams(BaseModel):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    action: Literal["create", "update", "move", "delete", "chmod"]
    file_path: str
    previous_path: str | None = None
    content: str | None = None
    encoding: Literal["text", "base64"] = "text"
    last_commit_id: str | None = None
    execute_filemode: bool | None = None


class CommitCreateParams(ApiParams):
    branch: str
    commit_message: str
    actions: list[CommitActionParams]
    start_branch: str | None = None
    start_sha: str | None = None
    start_project: str | None = None
    author_email: str | None = None
    author_name: str | None = None
    stats: bool = True
    force: bool = False


def _actions(payload: CommitCreateParams) -> list[files.FileAction]:
    """Grape's per-action requirements, then the content decoded."""
    result = []
    for index, item in enumerate(payload.actions):
        name = f"actions[{index}]"
        if item.action == "move" and item.previous_path is None:
            raise MissingParameter(f"{name}[previous_path]")
        if item.action == "update" and item.content is None:
            raise MissingParameter(f"{name}[content]")
        if item.action == "chmod" and item.execute_filemode is None:
            raise MissingParameter(f"{name}[execute_filemode]")
        content = None
        if item.content is not None:
            content = files.decode_content(item.content, item.encoding)
        result.append(
            files.FileAction(
                action=item.action,
                file_path=item.file_path,
                content=content,
                previous_path=item.previous_path,
                execute_filemode=item.execute_filemode,
                last_commit_id=item.last_commit_id,
            )
        )
    return result


@router.post("/projects/{id}/repository/commits", auth=SIGNED_IN, response={201: dict[str, Any]})
def create_commit(
    request: HttpRequest, id: PathStr, payload: Annotated[CommitCreateParams, Params(...)]
) -> Status[dict[str, Any]]:
    not_blank(payload.branch, "branch")
    if payload.start_branch is not None and payload.start_sha is not None:
        raise InvalidParameter("start_branch, start_sha are mutually exclusive")
    actions = _actions(payload)
    actor = actor_of(request)
    project = queries.get_code_project_for(actor, id)
    files.require_push_to_branch(actor, project, payload.branch)
    commit = files.create_commit(
        actor=actor,
        project=project,
        branch=payload.branch,
        message=payload.commit_message,
        actions=actions,
        start_branch=payload.start_branch,
        start_sha=payload.start_sha,
        author_name=payload.author_name,
        author_email=payload.author_email,
        force=payload.force,
    )
    stats = queries.commit_stats(project, commit) if payload.stats else None
    return Status(201, commit_detail_entity(commit, project, request, stats=stats))


# --- one commit ---------------------------------------------------------------------------


class CommitQuery(ApiParams):
    stats: bool = True


@router.get("/projects/{id}/repository/commits/{sha}")
def get_commit(
    request: HttpRequest, id: PathStr, sha: PathStr, query: Query[CommitQuery]
) -> dict[str, Any]:
    project = queries.get_code_project_for(actor_of(request), id)
    commit = queries.get_commit(project, sha)
    stats = queries.commit_stats(project, commit) if query.stats else None
    return commit_detail_entity(commit, project, request, stats=stats)


class DiffQuery(ApiParams):
    unidiff: bool = False


@router.get("/projects/{id}/repository/commits/{sha}/diff")
def get_commit_diff(
    request: HttpRequest,
    response: HttpResponse,
    id: PathStr,
    sha: PathStr,
    query: Query[DiffQuery],
) -> list[dict[str, Any]]:
    project = queries.get_code_project_for(actor_of(request), id)
    commit = queries.get_commit(project, sha)
    diffs = paginate_list(request, response, queries.commit_diff(project, commit))
    return [diff_entity(d, unidiff=query.unidiff) for d in diffs]


class RefsQuery(ApiParams):
    type: Literal["branch", "tag", "all"] = "all"


@router.get("/projects/{id}/repository/commits/{sha}/refs")
def get_commit_refs(
    request: HttpRequest,
    response: HttpResponse,
    id: PathStr,
    sha: PathStr,
    query: Query[RefsQuery],
) -> list[dict[str, str]]:
    project = queries.get_code_project_for(actor_of(request), id)
    commit = queries.get_commit(project, sha)

    def fetch(offset: int, limit: int) -> list[dict[str, str]]:
        # As GitLab: only enough refs for the page asked for are read (no totals).
        found = queries.refs_containing(project, commit, limit=offset + limit)
        refs = []
        if query.type != "tag":
            refs += [basic_ref_entity("branch", name) for name in found.branches]
        if query.type != "branch":
            refs += [basic_ref_entity("tag", name) for name in found.tags]
        return refs[offset : offset + limit]

    return paginate_fetch(request, response, fetch)


class SequenceQuery(ApiParams):
    first_parent: bool = False


@router.get("/projects/{id}/repository/commits/{sha}/sequence")
def get_commit_sequence(
    request: HttpRequest, id: PathStr, sha: PathStr, query: Query[SequenceQuery]
) -> dict[str, int]:
    project = queries.get_code_project_for(actor_of(request), id)
    commit = queries.get_commit(project, sha)
    return {"count": queries.count_commits(project, commit, first_parent=query.first_parent)}


# --- cherry-pick and revert ---------------------------------------------------------------


class PickParams(ApiParams):
    branch: str | None = None
    dry_run: bool = False
    message: str | None = None


def _pick(
    request: HttpRequest, id: str, sha: str, payload: PickParams, *, kind: str
) -> Status[dict[str, Any]]:
    branch = not_blank(payload.branch, "branch")
    actor = actor_of(request)
    project = queries.get_code_project_for(actor, id)
    files.require_push_to_branch(actor, project, branch)
    commit = queries.get_commit(project, sha)
    queries.find_branch(project, branch)
    if kind == "cherry_pick":
        new = files.cherry_pick(
            actor=actor,
            project=project,
            commit=commit,
            branch=branch,
            dry_run=payload.dry_run,
            message=payload.message,
        )
    else:
        new = files.revert(
            actor=actor, project=project, commit=commit, branch=branch, dry_run=payload.dry_run
        )
    if new is None:
        return Status(200, {"dry_run": "success"})
    return Status(201, commit_entity(new, project, request))


@router.post(
    "/projects/{id}/repository/commits/{sha}/cherry_pick",
    auth=SIGNED_IN,
    response={200: dict[str, Any], 201: dict[str, Any]},
)
def cherry_pick(
    request: HttpRequest, id: PathStr, sha: PathStr, payload: Annotated[PickParams, Params(...)]
) -> Status[dict[str, Any]]:
    return _pick(request, id, sha, payload, kind="cherry_pick")


@router.post(
    "/projects/{id}/repository/commits/{sha}/revert",
    auth=SIGNED_IN,
    response={200: dict[str, Any], 201: dict[str, Any]},
)
def revert(
    request: HttpRequest, id: PathStr, sha: PathStr, payload: Annotated[PickParams, Params(...)]
) -> Status[dict[str, Any]]:
    return _pick(request, id, sha, payload, kind="revert")
