"""API v4: award emoji on issues, merge requests and their notes (GitLab's
`lib/api/award_emoji.rb`). Every route needs a signed-in caller."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status

from kiln.api.v4.auth import require_user
from kiln.api.v4.notes import find_noteable
from kiln.api.v4.pagination import paginated
from kiln.api.v4.params import Params, PathStr
from kiln.api.v4.presenters.notes import award_entity
from kiln.core.actor import Actor
from kiln.core.errors import NotFound
from kiln.notes import awards, noteables
from kiln.notes import queries as note_queries
from kiln.notes.awards import AwardNotFound

router = Router(tags=["award_emoji"])


class AwardParams(Schema):
    name: str


def _target(
    actor: Actor, id: str, route: str, noteable_id: str, note_id: int | None
) -> tuple[object, str, int]:
    """(policy subject, awardable type, awardable id) for the path."""
    noteable = find_noteable(actor, id, route, noteable_id)
    if note_id is not None:
        note = note_queries.get_note_for(actor, noteable, note_id)
        return note, "Note", note.pk
    nt = noteables.type_of(noteable)
    return noteable, nt.name, int(nt.id_of(noteable) or 0)


def _views(route: str) -> dict[str, Any]:
    def list_awards(
        request: HttpRequest,
        response: HttpResponse,
        id: str,
        noteable_id: str,
        note_id: int | None,
    ) -> list[dict[str, Any]]:
        actor = require_user(request)
        _, kind, pk = _target(actor, id, route, noteable_id, note_id)
        return paginated(
            request,
            response,
            awards.list_awards(kind, pk),
            lambda page: [award_entity(a, request) for a in page],
        )

    def get_award(
        request: HttpRequest, id: str, noteable_id: str, award_id: int, note_id: int | None
    ) -> dict[str, Any]:
        actor = require_user(request)
        _, kind, pk = _target(actor, id, route, noteable_id, note_id)
        return award_entity(awards.get_award(kind, pk, award_id), request)

    def create_award(
        request: HttpRequest, id: str, noteable_id: str, name: str, note_id: int | None
    ) -> Status[dict[str, Any]]:
        actor = require_user(request)
        try:
            subject, kind, pk = _target(actor, id, route, noteable_id, note_id)
        except NotFound as exc:  # GitLab answers "Award Emoji" for anything it cannot see
            raise AwardNotFound() from exc
        award = awards.award_emoji(
            actor=actor, subject=subject, awardable_type=kind, awardable_id=pk, name=name
        )
        return Status(201, award_entity(award, request))

    def delete_award(
        request: HttpRequest, id: str, noteable_id: str, award_id: int, note_id: int | None
    ) -> HttpResponse:
        actor = require_user(request)
        _, kind, pk = _target(actor, id, route, noteable_id, note_id)
        awards.remove_award(actor=actor, award=awards.get_award(kind, pk, award_id))
        return HttpResponse(status=204)

    return {"list": list_awards, "get": get_award, "create": create_award, "delete": delete_award}


def _register(route: str) -> None:
    views = _views(route)
    base = f"/projects/{{id}}/{route}/{{noteable_id}}/award_emoji"
    note_base = f"/projects/{{id}}/{route}/{{noteable_id}}/notes/{{note_id}}/award_emoji"

    def list_awards(
        request: HttpRequest, response: HttpResponse, id: PathStr, noteable_id: str
    ) -> list[dict[str, Any]]:
        return views["list"](request, response, id, noteable_id, None)  # type: ignore[no-any-return]

    def list_note_awards(
        request: HttpRequest, response: HttpResponse, id: PathStr, noteable_id: str, note_id: int
    ) -> list[dict[str, Any]]:
        return views["list"](request, response, id, noteable_id, note_id)  # type: ignore[no-any-return]

    def get_award(
        request: HttpRequest, id: PathStr, noteable_id: str, award_id: int
    ) -> dict[str, Any]:
        return views["get"](request, id, noteable_id, award_id, None)  # type: ignore[no-any-return]

    def get_note_award(
        request: HttpRequest, id: PathStr, noteable_id: str, note_id: int, award_id: int
    ) -> dict[str, Any]:
        return views["get"](request, id, noteable_id, award_id, note_id)  # type: ignore[no-any-return]

    def create_award(
        request: HttpRequest,
        id: PathStr,
        noteable_id: str,
        payload: Annotated[AwardParams, Params(...)],
    ) -> Status[dict[str, Any]]:
        return views["create"](request, id, noteable_id, payload.name, None)  # type: ignore[no-any-return]

    def create_note_award(
        request: HttpRequest,
        id: PathStr,
        noteable_id: str,
        note_id: int,
        payload: Annotated[AwardParams, Params(...)],
    ) -> Status[dict[str, Any]]:
        return views["create"](request, id, noteable_id, payload.name, note_id)  # type: ignore[no-any-return]

    def delete_award(
        request: HttpRequest, id: PathStr, noteable_id: str, award_id: int
    ) -> HttpResponse:
        return views["delete"](request, id, noteable_id, award_id, None)  # type: ignore[no-any-return]

    def delete_note_award(
        request: HttpRequest, id: PathStr, noteable_id: str, note_id: int, award_id: int
    ) -> HttpResponse:
        return views["delete"](request, id, noteable_id, award_id, note_id)  # type: ignore[no-any-return]

    created = {201: dict[str, Any]}
    _add(route, base, ["GET"], list_awards)
    _add(route, base, ["POST"], create_award, response=created)
    _add(route, f"{base}/{{award_id}}", ["GET"], get_award)
    _add(route, f"{base}/{{award_id}}", ["DELETE"], delete_award)
    _add(route, note_base, ["GET"], list_note_awards)
    _add(route, note_base, ["POST"], create_note_award, response=created)
    _add(route, f"{note_base}/{{award_id}}", ["GET"], get_note_award)
    _add(route, f"{note_base}/{{award_id}}", ["DELETE"], delete_note_award)


def _add(route: str, path: str, methods: list[str], view: Any, **kwargs: Any) -> None:
    """Register a generated view with an operation id naming its noteable type."""
    kwargs.pop("url_name", None)
    slug = route.replace("/", "_")
    router.add_api_operation(path, methods, view, operation_id=f"{slug}_{view.__name__}", **kwargs)


for _route in ("issues", "merge_requests"):
    _register(_route)
