"""API v4: namespaces (`/namespaces`, `/namespaces/:id`, `/namespaces/:id/exists`).

As GitLab's, every endpoint needs a signed-in user. The list holds the caller's own namespace
and the groups they are a direct member of (admins: every namespace); a single namespace is
shown to its owner and to members of the group (inherited memberships count).
"""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema

from kiln.api.v4.auth import require_user
from kiln.api.v4.pagination import paginated
from kiln.api.v4.params import Params, PathStr
from kiln.api.v4.presenters.groups import namespace_entities
from kiln.namespaces.queries import (
    get_namespace_via_membership_for,
    list_namespaces_for,
    namespace_exists,
)

router = Router(tags=["namespaces"])


class NamespaceListParams(Schema):
    search: str | None = None
    owned_only: bool = False
    top_level_only: bool = False


class ExistsParams(Schema):
    parent_id: int | None = None


@router.get("/namespaces", operation_id="list_namespaces")
def list_namespaces(
    request: HttpRequest,
    response: HttpResponse,
    filters: Annotated[NamespaceListParams, Params(...)],
) -> list[dict[str, Any]]:
    actor = require_user(request)
    namespaces = list_namespaces_for(
        actor,
        owned_only=filters.owned_only,
        top_level_only=filters.top_level_only,
        search=filters.search,
    )
    return paginated(
        request, response, namespaces, lambda page: namespace_entities(page, request, actor)
    )


@router.get("/namespaces/{id}/exists", operation_id="namespace_exists")
def exists(
    request: HttpRequest, id: PathStr, params: Annotated[ExistsParams, Params(...)]
) -> dict[str, Any]:
    require_user(request)
    found, suggests = namespace_exists(id, parent_id=params.parent_id)
    return {"exists": found, "suggests": suggests}


@router.get("/namespaces/{id}", operation_id="get_namespace")
def get_namespace(request: HttpRequest, id: PathStr) -> dict[str, Any]:
    actor = require_user(request)
    namespace = get_namespace_via_membership_for(actor, id)
    return namespace_entities([namespace], request, actor)[0]
