"""API v4: notes and discussions of issues, merge requests and commits (GitLab's
`lib/api/notes.rb`, `discussions.rb`, and the commit `comments` of `commits.rb`).

One set of views serves every noteable type through kiln.notes' registry: the path segment
(`issues`, `merge_requests`, `repository/commits`) names the type, its registered `find`
looks the noteable up for the caller (404 when missing or invisible). Notes and discussions
need a signed-in caller, as GitLab's `authenticate!`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict

from kiln.api.v4.auth import actor_of, require_user
from kiln.api.v4.pagination import paginated
from kiln.api.v4.params import Params, PathStr, merged_params
from kiln.api.v4.presenters.notes import (
    commit_note_entity,
    discussion_entity,
    note_commands_entity,
    note_entity,
)
from kiln.core.actor import Actor
from kiln.core.errors import InvalidParameter, NotFound
from kiln.core.policy import can
from kiln.notes import noteables, queries, services
from kiln.notes.models import Note, NoteType
from kiln.projects.queries import get_project_for

router = Router(tags=["notes"])

NOT_FOUND_NAMES = {
    "issues": "Issue",
    "merge_requests": "Merge Request",
    "repository/commits": "Commit",
}


class _Params(Schema):
    model_config = ConfigDict(coerce_numbers_to_str=True)


def find_noteable(actor: Actor, id: str, route: str, ref: str) -> Any:
    """The noteable at `/projects/:id/<route>/<ref>` for the caller, or 404."""
    project = get_project_for(actor, id)
    nt = noteables.by_route(route)
    noteable = nt.find(actor, project, str(ref)) if nt is not None else None
    if nt is None or noteable is None or not can(actor, nt.read_action, noteable):
        raise NotFound(NOT_FOUND_NAMES.get(route, "Noteable"))
    return noteable


class NotesQuery(_Params):
    order_by: Literal["created_at", "updated_at"] = "created_at"
    sort: Literal["asc", "desc"] = "desc"
    activity_filter: Literal["all_notes", "only_comments", "only_activity"] = "all_notes"


class NoteCreateParams(_Params):
    body: str
    internal: bool | None = None
    confidential: bool | None = None
    created_at: dt.datetime | None = None
    merge_request_diff_head_sha: str | None = None


class NoteUpdateParams(_Params):
    body: str | None = None
    confidential: bool | None = None


class DiscussionCreateParams(_Params):
    body: str
    created_at: dt.datetime | None = None
    position: dict[str, Any] | None = None
    commit_id: str | None = None
    internal: bool | None = None


class ReplyParams(_Params):
    body: str
    created_at: dt.datetime | None = None


class DiscussionNoteUpdateParams(_Params):
    body: str | None = None
    resolved: bool | None = None


class ResolveParams(_Params):
    resolved: bool


def _created_at(actor: Actor, noteable: Any, value: dt.datetime | None) -> dt.datetime | None:
    """GitLab's `set_note_created_at`: admins and project owners may backdate notes."""
    if value is None:
        return None
    from kiln.projects.access import project_access_level

    project = noteables.type_of(noteable).project_of(noteable)
    if actor.is_admin or project_access_level(actor, project) >= 50:
        return value
    return None


def _bracketed(params: dict[str, Any], name: str) -> dict[str, Any] | None:
    """Rebuild `position[line_range][start][new_line]=3` form fields into nested dicts, as
    Rack does for form-encoded clients (JSON clients send the hash itself)."""
    prefix = f"{name}["
    found: dict[str, Any] = {}
    for key, value in params.items():
        if not key.startswith(prefix) or not key.endswith("]"):
            continue
        parts = key[len(prefix) : -1].split("][")
        node = found
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[parts[-1]] = value
    return found or None


def _validate_position(position: dict[str, Any]) -> dict[str, Any]:
    missing = [
        k for k in ("base_sha", "start_sha", "head_sha", "position_type") if not position.get(k)
    ]
    if missing:
        raise InvalidParameter(", ".join(f"position[{k}] is missing" for k in missing))
    if position["position_type"] not in ("text", "image", "file"):
        raise InvalidParameter("position[position_type] does not have a valid value")
    allowed = (
        "base_sha",
        "start_sha",
        "head_sha",
        "position_type",
        "new_path",
        "new_line",
        "old_path",
        "old_line",
        "width",
        "height",
        "x",
        "y",
        "line_range",
    )
    clean = {k: position[k] for k in allowed if k in position}
    for key in ("new_line", "old_line", "width", "height", "x", "y"):
        if clean.get(key) not in (None, ""):
            try:
                clean[key] = int(clean[key])
            except (TypeError, ValueError):
                raise InvalidParameter(f"position[{key}] is invalid") from None
        elif key in clean:
            clean[key] = None
    for key in ("old_line", "new_line", "old_path", "new_path", "line_range"):
        clean.setdefault(key, None)
    return clean


def _register(route: str) -> None:
    """The notes and discussions endpoints of one noteable type."""
    base = f"/projects/{{id}}/{route}/{{noteable_id}}"
    resolvable_route = route == "merge_requests"

    # -- notes -------------------------------------------------------------------------

    def list_notes(
        request: HttpRequest,
        response: HttpResponse,
        id: PathStr,
        noteable_id: str,
        query: Query[NotesQuery],
    ) -> list[dict[str, Any]]:
        actor = require_user(request)
        noteable = find_noteable(actor, id, route, noteable_id)
        qs = queries.list_notes_for(
            actor,
            noteable,
            order_by=query.order_by,
            sort=query.sort,
            activity_filter=query.activity_filter,
        )

        def present(page: list[Note]) -> list[dict[str, Any]]:
            return [note_entity(n, request) for n in queries.prepare_page(actor, noteable, page)]

        return paginated(request, response, qs, present)

    def get_note(
        request: HttpRequest, id: PathStr, noteable_id: str, note_id: int
    ) -> dict[str, Any]:
        actor = require_user(request)
        noteable = find_noteable(actor, id, route, noteable_id)
        return note_entity(queries.get_note_for(actor, noteable, note_id), request)

    def create_note(
        request: HttpRequest,
        id: PathStr,
        noteable_id: str,
        payload: Annotated[NoteCreateParams, Params(...)],
    ) -> Any:
        actor = require_user(request)
        noteable = find_noteable(actor, id, route, noteable_id)
        result = services.create_note(
            actor=actor,
            noteable=noteable,
            body=payload.body,
            internal=bool(payload.internal or payload.confidential),
            created_at=_created_at(actor, noteable, payload.created_at),
        )
        if result.note is None:
            return Status(202, note_commands_entity(result))
        return Status(
            201, note_entity(result.note, request, commands_changes=result.commands_changes)
        )

    def update_note(
        request: HttpRequest,
        id: PathStr,
        noteable_id: str,
        note_id: int,
        payload: Annotated[NoteUpdateParams, Params(...)],
    ) -> Any:
        actor = require_user(request)
        noteable = find_noteable(actor, id, route, noteable_id)
        note = queries.get_note_for(actor, noteable, note_id)
        if payload.body is None or payload.body == "":
            raise InvalidParameter("body is empty")
        result = services.update_note(actor=actor, note=note, body=payload.body)
        if result.note is None:
            return Status(202, note_commands_entity(result))
        return note_entity(result.note, request)

    def delete_note(
        request: HttpRequest, id: PathStr, noteable_id: str, note_id: int
    ) -> HttpResponse:
        actor = require_user(request)
        noteable = find_noteable(actor, id, route, noteable_id)
        note = queries.get_note_for(actor, noteable, note_id)
        services.delete_note(actor=actor, note=note)
        return HttpResponse(status=204)

    if route != "repository/commits":
        _add(route, f"{base}/notes", ["GET"], list_notes, url_name=f"{route}_notes")
        _add(
            route,
            f"{base}/notes",
            ["POST"],
            create_note,
            response={201: dict[str, Any], 202: dict[str, Any]},
        )
        _add(route, f"{base}/notes/{{note_id}}", ["GET"], get_note)
        _add(
            route,
            f"{base}/notes/{{note_id}}",
            ["PUT"],
            update_note,
            response={200: dict[str, Any], 202: dict[str, Any]},
        )
        _add(route, f"{base}/notes/{{note_id}}", ["DELETE"], delete_note)

    # -- discussions --------------------------------------------------------------------

    def list_discussions(
        request: HttpRequest, response: HttpResponse, id: PathStr, noteable_id: str
    ) -> list[dict[str, Any]]:
        actor = require_user(request)
        noteable = find_noteable(actor, id, route, noteable_id)
        ids = queries.discussion_ids_for(actor, noteable)

        def present(page: list[dict[str, Any]]) -> list[dict[str, Any]]:
            found = queries.discussions_for_ids(actor, noteable, [r["discussion_id"] for r in page])
            return [discussion_entity(d, request) for d in found]

        return paginated(request, response, ids, present)

    def get_discussion(
        request: HttpRequest, id: PathStr, noteable_id: str, discussion_id: str
    ) -> dict[str, Any]:
        actor = require_user(request)
        noteable = find_noteable(actor, id, route, noteable_id)
        return discussion_entity(
            queries.get_discussion_for(actor, noteable, discussion_id), request
        )

    def create_discussion(
        request: HttpRequest,
        id: PathStr,
        noteable_id: str,
        payload: Annotated[DiscussionCreateParams, Params(...)],
    ) -> Any:
        actor = require_user(request)
        noteable = find_noteable(actor, id, route, noteable_id)
        position = None
        raw_position = payload.position or _bracketed(merged_params(request), "position")
        if raw_position and route != "issues":
            position = _validate_position(raw_position)
        result = services.create_note(
            actor=actor,
            noteable=noteable,
            body=payload.body,
            position=position,
            note_type=NoteType.DISCUSSION,
            internal=bool(payload.internal),
            created_at=_created_at(actor, noteable, payload.created_at),
        )
        if result.note is None:
            return Status(202, note_commands_entity(result))
        if payload.commit_id and result.note.note_type == NoteType.DIFF:
            result.note.commit_id = payload.commit_id[:64]
            result.note.save(update_fields=["commit_id"])
        discussion = queries.get_discussion_for(actor, noteable, result.note.discussion_id)
        return Status(201, discussion_entity(discussion, request))

    def list_discussion_notes(
        request: HttpRequest, id: PathStr, noteable_id: str, discussion_id: str
    ) -> list[dict[str, Any]]:
        actor = require_user(request)
        noteable = find_noteable(actor, id, route, noteable_id)
        try:
            discussion = queries.get_discussion_for(actor, noteable, discussion_id)
        except NotFound:
            raise NotFound("Notes") from None
        return [note_entity(n, request) for n in discussion.notes]

    def reply(
        request: HttpRequest,
        id: PathStr,
        noteable_id: str,
        discussion_id: str,
        payload: Annotated[ReplyParams, Params(...)],
    ) -> Any:
        actor = require_user(request)
        noteable = find_noteable(actor, id, route, noteable_id)
        queries.get_discussion_for(actor, noteable, discussion_id)
        result = services.create_note(
            actor=actor,
            noteable=noteable,
            body=payload.body,
            discussion_id=discussion_id,
            created_at=_created_at(actor, noteable, payload.created_at),
        )
        if result.note is None:
            return Status(202, note_commands_entity(result))
        return Status(201, note_entity(result.note, request))

    def _discussion_note(actor: Actor, noteable: Any, discussion_id: str, note_id: int) -> Note:
        note = queries.get_note_for(actor, noteable, note_id)
        if note.discussion_id != discussion_id:
            raise NotFound("Note")
        return note

    def get_discussion_note(
        request: HttpRequest, id: PathStr, noteable_id: str, discussion_id: str, note_id: int
    ) -> dict[str, Any]:
        actor = require_user(request)
        noteable = find_noteable(actor, id, route, noteable_id)
        return note_entity(_discussion_note(actor, noteable, discussion_id, note_id), request)

    def update_discussion_note(
        request: HttpRequest,
        id: PathStr,
        noteable_id: str,
        discussion_id: str,
        note_id: int,
        payload: Annotated[DiscussionNoteUpdateParams, Params(...)],
    ) -> Any:
        actor = require_user(request)
        noteable = find_noteable(actor, id, route, noteable_id)
        note = _discussion_note(actor, noteable, discussion_id, note_id)
        sent = {k for k in ("body", "resolved") if getattr(payload, k) is not None}
        if len(sent) != 1:
            raise InvalidParameter(
                "body, resolved are missing, exactly one parameter must be provided"
                if not sent
                else "body, resolved are mutually exclusive"
            )
        if payload.resolved is not None:
            return note_entity(
                services.resolve_note(actor=actor, note=note, resolved=payload.resolved), request
            )
        result = services.update_note(actor=actor, note=note, body=payload.body or "")
        if result.note is None:
            return Status(202, note_commands_entity(result))
        return note_entity(result.note, request)

    def delete_discussion_note(
        request: HttpRequest, id: PathStr, noteable_id: str, discussion_id: str, note_id: int
    ) -> HttpResponse:
        actor = require_user(request)
        noteable = find_noteable(actor, id, route, noteable_id)
        note = _discussion_note(actor, noteable, discussion_id, note_id)
        services.delete_note(actor=actor, note=note)
        return HttpResponse(status=204)

    def resolve_discussion(
        request: HttpRequest,
        id: PathStr,
        noteable_id: str,
        discussion_id: str,
        payload: Annotated[ResolveParams, Params(...)],
    ) -> dict[str, Any]:
        actor = require_user(request)
        noteable = find_noteable(actor, id, route, noteable_id)
        discussion = services.resolve_discussion(
            actor=actor, noteable=noteable, discussion_id=discussion_id, resolved=payload.resolved
        )
        return discussion_entity(discussion, request)

    disc = f"{base}/discussions"
    _add(route, disc, ["GET"], list_discussions, url_name=f"{route}_discussions")
    _add(
        route,
        disc,
        ["POST"],
        create_discussion,
        response={201: dict[str, Any], 202: dict[str, Any]},
    )
    _add(route, f"{disc}/{{discussion_id}}", ["GET"], get_discussion)
    if resolvable_route:
        _add(route, f"{disc}/{{discussion_id}}", ["PUT"], resolve_discussion)
    _add(route, f"{disc}/{{discussion_id}}/notes", ["GET"], list_discussion_notes)
    _add(
        route,
        f"{disc}/{{discussion_id}}/notes",
        ["POST"],
        reply,
        response={201: dict[str, Any], 202: dict[str, Any]},
    )
    note_path = f"{disc}/{{discussion_id}}/notes/{{note_id}}"
    _add(route, note_path, ["GET"], get_discussion_note)
    _add(
        route,
        note_path,
        ["PUT"],
        update_discussion_note,
        response={200: dict[str, Any], 202: dict[str, Any]},
    )
    _add(route, note_path, ["DELETE"], delete_discussion_note)


def _add(route: str, path: str, methods: list[str], view: Any, **kwargs: Any) -> None:
    """Register a generated view with an operation id naming its noteable type."""
    kwargs.pop("url_name", None)
    slug = route.replace("/", "_")
    router.add_api_operation(path, methods, view, operation_id=f"{slug}_{view.__name__}", **kwargs)


for _route in ("issues", "merge_requests", "repository/commits"):
    _register(_route)


# -- commit comments (GitLab's CommitNote) ------------------------------------------------------


@router.get("/projects/{id}/repository/commits/{sha}/comments")
def list_commit_comments(
    request: HttpRequest, response: HttpResponse, id: PathStr, sha: PathStr
) -> list[dict[str, Any]]:
    actor = actor_of(request)
    noteable = find_noteable(actor, id, "repository/commits", sha)
    qs = queries.list_notes_for(actor, noteable, sort="asc", activity_filter="only_comments")
    return paginated(
        request, response, qs, lambda page: [commit_note_entity(n, request) for n in page]
    )


class CommitCommentParams(_Params):
    note: str
    path: str | None = None
    line: int | None = None
    line_type: Literal["new", "old"] = "new"


@router.post("/projects/{id}/repository/commits/{sha}/comments", response={201: dict[str, Any]})
def create_commit_comment(
    request: HttpRequest,
    id: PathStr,
    sha: PathStr,
    payload: Annotated[CommitCommentParams, Params(...)],
) -> Status[dict[str, Any]]:
    actor = require_user(request)
    noteable = find_noteable(actor, id, "repository/commits", sha)
    position = None
    if payload.path and payload.line is not None:
        parent = ""
        from kiln.repositories.queries import find_commit

        commit = find_commit(noteable.project, noteable.sha)
        if commit is not None and commit.parent_ids:
            parent = commit.parent_ids[0]
        position = {
            "base_sha": parent or None,
            "start_sha": parent or None,
            "head_sha": noteable.sha,
            "position_type": "text",
            "old_path": payload.path,
            "new_path": payload.path,
            "old_line": payload.line if payload.line_type == "old" else None,
            "new_line": payload.line if payload.line_type == "new" else None,
            "line_range": None,
        }
    result = services.create_note(
        actor=actor, noteable=noteable, body=payload.note, position=position
    )
    assert result.note is not None
    return Status(201, commit_note_entity(result.note, request))
