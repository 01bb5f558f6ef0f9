"""API v4: members of groups and projects, one set of endpoints for both sources.

`/groups/:id/members...` and `/projects/:id/members...` are registered from the same endpoint
functions, parametrized by a source: `kiln.namespaces.members` for groups and
`kiln.projects.members` for projects, which offer the same service functions. As GitLab's
members API, every endpoint needs a signed-in user (401).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema

from kiln.api.v4.auth import require_user
from kiln.api.v4.pagination import paginated
from kiln.api.v4.params import CommaIntList, Params, PathStr
from kiln.api.v4.presenters.members import member_entities, member_entity
from kiln.core.actor import Actor
from kiln.core.errors import InvalidParameter
from kiln.namespaces import members as group_members
from kiln.namespaces.members import UNSET, MemberService, attach_users
from kiln.projects import members as project_members

router = Router(tags=["members"])


class MemberListParams(Schema):
    query: str | None = None
    user_ids: CommaIntList = []
    skip_users: CommaIntList = []
    # Accepted and ignored (seats are a GitLab.com notion).
    show_seat_info: bool = False


class MemberAllParams(Schema):
    query: str | None = None
    user_ids: CommaIntList = []
    show_seat_info: bool = False


class MemberCreateParams(Schema):
    user_id: int | str | None = None
    username: str | None = None
    access_level: int
    expires_at: dt.date | None = None
    # Accepted and ignored, as Kiln has no invitations or custom roles yet.
    invite_source: str | None = None
    member_role_id: int | None = None


class MemberUpdateParams(Schema):
    access_level: int
    expires_at: dt.date | None = None
    member_role_id: int | None = None


class MemberDeleteParams(Schema):
    skip_subresources: bool = False
    # Accepted: Kiln has no issuables to unassign yet.
    unassign_issuables: bool = False


def _register(kind: str, service: MemberService) -> None:
    """Register the members endpoints of one source kind ("groups" or "projects")."""
    base = f"/{kind}/{{id}}/members"

    def source_for(request: HttpRequest, id: str) -> tuple[Actor, Any]:
        actor = require_user(request)
        return actor, service.find_source_for(actor, id)

    @router.get(base, operation_id=f"list_{kind}_members")
    def list_members(
        request: HttpRequest,
        response: HttpResponse,
        id: PathStr,
        filters: Annotated[MemberListParams, Params(...)],
    ) -> list[dict[str, Any]]:
        actor, source = source_for(request, id)
        members = service.list_members_for(
            actor=actor,
            source=source,
            query=filters.query,
            user_ids=filters.user_ids,
            skip_users=filters.skip_users,
        )
        return paginated(request, response, members, lambda page: member_entities(page, request))

    @router.get(f"{base}/all", operation_id=f"list_all_{kind}_members")
    def list_all_members(
        request: HttpRequest,
        response: HttpResponse,
        id: PathStr,
        filters: Annotated[MemberAllParams, Params(...)],
    ) -> list[dict[str, Any]]:
        actor, source = source_for(request, id)
        users, members = service.list_all_members_for(
            actor=actor, source=source, query=filters.query, user_ids=filters.user_ids
        )
        return paginated(
            request,
            response,
            users,
            lambda page: member_entities(attach_users(page, members), request),
        )

    @router.get(f"{base}/all/{{user_id}}", operation_id=f"get_effective_{kind}_member")
    def get_effective_member(request: HttpRequest, id: PathStr, user_id: int) -> dict[str, Any]:
        actor, source = source_for(request, id)
        member = service.get_effective_member_for(actor=actor, source=source, user_id=user_id)
        return member_entity(member, request)

    @router.get(f"{base}/{{user_id}}", operation_id=f"get_{kind}_member")
    def get_member(request: HttpRequest, id: PathStr, user_id: int) -> dict[str, Any]:
        actor, source = source_for(request, id)
        member = service.get_member_for(actor=actor, source=source, user_id=user_id)
        return member_entity(member, request)

    @router.post(base, operation_id=f"add_{kind}_member", response={201: Any})
    def add_member(
        request: HttpRequest, id: PathStr, payload: Annotated[MemberCreateParams, Params(...)]
    ) -> Any:
        if payload.user_id is not None and payload.username is not None:
            raise InvalidParameter("user_id, username are mutually exclusive")
        if payload.user_id is None and payload.username is None:
            raise InvalidParameter(
                "user_id, username are missing, at least one parameter must be provided"
            )
        actor, source = source_for(request, id)
        by_username = payload.username is not None
        ref = str(payload.username if by_username else payload.user_id)
        if "," in ref:
            return service.add_members(
                actor=actor,
                source=source,
                user_refs=ref.split(","),
                by_username=by_username,
                access_level=payload.access_level,
                expires_at=payload.expires_at,
            )
        member = service.add_member(
            actor=actor,
            source=source,
            user_ref=ref,
            by_username=by_username,
            access_level=payload.access_level,
            expires_at=payload.expires_at,
        )
        return member_entity(member, request)

    @router.put(f"{base}/{{user_id}}", operation_id=f"update_{kind}_member")
    def update_member(
        request: HttpRequest,
        id: PathStr,
        user_id: int,
        payload: Annotated[MemberUpdateParams, Params(...)],
    ) -> dict[str, Any]:
        actor, source = source_for(request, id)
        expires_at = payload.expires_at if "expires_at" in payload.model_fields_set else UNSET
        member = service.update_member(
            actor=actor,
            source=source,
            user_id=user_id,
            access_level=payload.access_level,
            expires_at=expires_at,
        )
        return member_entity(member, request)

    @router.delete(
        f"{base}/{{user_id}}", operation_id=f"remove_{kind}_member", response={204: None}
    )
    def remove_member(
        request: HttpRequest,
        id: PathStr,
        user_id: int,
        options: Annotated[MemberDeleteParams, Params(...)],
    ) -> None:
        actor, source = source_for(request, id)
        service.remove_member(
            actor=actor,
            source=source,
            user_id=user_id,
            skip_subresources=options.skip_subresources,
        )


_register("groups", group_members)
_register("projects", project_members)
