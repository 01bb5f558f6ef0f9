"""API v4: groups and subgroups (`/groups`, `/groups/:id`, subgroups, descendants, transfer).

`/groups/:id/projects` lives with the projects (kiln.api.v4.projects); members with the
members (kiln.api.v4.members). Writes need a signed-in user (401), reads answer anonymous
callers with what is public; a group the caller may not see is 404, a visible group the caller
may not change is 403, as GitLab does.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema

from kiln.api.v4.auth import actor_of, require_user
from kiln.api.v4.pagination import paginated
from kiln.api.v4.params import CommaIntList, Params, PathStr
from kiln.api.v4.presenters.groups import group_detail, group_entities
from kiln.core.access import Visibility
from kiln.core.errors import InvalidParameter, PlainBadRequest, ValidationFailed
from kiln.namespaces.groups import create_group, delete_group, transfer_group, update_group
from kiln.namespaces.queries import get_group_for, search_groups_for

router = Router(tags=["groups"])

VisibilityLabel = Literal["private", "internal", "public"]
ProjectCreationLevel = Literal["noone", "owner", "maintainer", "developer", "administrator"]
SubgroupCreationLevel = Literal["owner", "maintainer"]
SharedRunnersSetting = Literal[
    "enabled", "disabled_and_overridable", "disabled_and_unoverridable", "disabled_with_override"
]
# GitLab's Gitlab::Access.all_values, the values `min_access_level` accepts.
ACCESS_VALUES = frozenset([5, 10, 15, 20, 30, 40, 50])
DEFAULT_BRANCH_PROTECTION_VALUES = frozenset([0, 1, 2, 3, 4])


class GroupListParams(Schema):
    skip_groups: CommaIntList = []
    all_available: bool | None = None
    visibility: VisibilityLabel | None = None
    search: str | None = None
    owned: bool = False
    order_by: Literal["name", "path", "id", "similarity"] = "name"
    sort: Literal["asc", "desc"] = "asc"
    min_access_level: int | None = None
    top_level_only: bool = False
    # Accepted and ignored: Kiln keeps no storage statistics yet.
    statistics: bool = False


class GroupSettingsParams(Schema):
    description: str | None = None
    visibility: VisibilityLabel | None = None
    request_access_enabled: bool | None = None
    lfs_enabled: bool | None = None
    project_creation_level: ProjectCreationLevel | None = None
    subgroup_creation_level: SubgroupCreationLevel | None = None
    share_with_group_lock: bool | None = None
    require_two_factor_authentication: bool | None = None
    two_factor_grace_period: int | None = None
    mentions_disabled: bool | None = None
    emails_disabled: bool | None = None
    emails_enabled: bool | None = None
    default_branch: str | None = None
    default_branch_protection: int | None = None
    auto_devops_enabled: bool | None = None
    shared_runners_setting: SharedRunnersSetting | None = None
    max_artifacts_size: int | None = None


class GroupCreateParams(GroupSettingsParams):
    name: str
    path: str
    parent_id: int | None = None
    # Accepted and ignored: every group belongs to the one default organization.
    organization_id: int | None = None


class GroupUpdateParams(GroupSettingsParams):
    name: str | None = None
    path: str | None = None


class GroupDetailParams(Schema):
    with_projects: bool = True
    with_custom_attributes: bool = False


class TransferParams(Schema):
    group_id: int | None = None


def _settings(params: GroupSettingsParams) -> dict[str, Any]:
    """The service's keyword arguments for the settings the client sent (nulls dropped)."""
    sent = params.model_dump(exclude_unset=True, exclude_none=True)
    for key in ("name", "path", "parent_id", "organization_id"):
        sent.pop(key, None)
    if "visibility" in sent:
        sent["visibility_level"] = int(Visibility.from_label(sent.pop("visibility")))
    if "emails_disabled" in sent:
        disabled = sent.pop("emails_disabled")
        sent.setdefault("emails_enabled", not disabled)
    level = sent.get("default_branch_protection")
    if level is not None and level not in DEFAULT_BRANCH_PROTECTION_VALUES:
        raise InvalidParameter("default_branch_protection does not have a valid value")
    return sent


def _ruby_string(text: str) -> str:
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\t", "\\t")
        .replace("#{", "\\#{")
    )
    return f'"{escaped}"'


def ruby_errors(errors: dict[str, list[str]]) -> str:
    """Errors as Ruby prints a hash, which GitLab puts in "Failed to save group {...}"."""
    items = (
        f":{key}=>[{', '.join(_ruby_string(m) for m in messages)}]"
        for key, messages in errors.items()
    )
    return "{" + ", ".join(items) + "}"


@router.get("/groups", operation_id="list_groups")
def list_groups(
    request: HttpRequest,
    response: HttpResponse,
    filters: Annotated[GroupListParams, Params(...)],
) -> list[dict[str, Any]]:
    actor = actor_of(request)
    if filters.min_access_level is not None and filters.min_access_level not in ACCESS_VALUES:
        raise InvalidParameter("min_access_level does not have a valid value")
    groups = search_groups_for(
        actor,
        all_available=filters.all_available,
        owned=filters.owned,
        min_access_level=filters.min_access_level,
        top_level_only=filters.top_level_only,
        search=filters.search,
        visibility=Visibility.from_label(filters.visibility) if filters.visibility else None,
        skip_groups=filters.skip_groups,
        order_by=filters.order_by,
        sort=filters.sort,
    )
    return paginated(request, response, groups, lambda page: group_entities(page, request))


@router.post("/groups", operation_id="create_group", response={201: Any})
def create(request: HttpRequest, payload: Annotated[GroupCreateParams, Params(...)]) -> Any:
    actor = require_user(request)
    settings = _settings(payload)
    parent = get_group_for(actor, payload.parent_id) if payload.parent_id is not None else None
    try:
        group = create_group(
            actor=actor, name=payload.name, path=payload.path, parent=parent, **settings
        )
    except ValidationFailed as exc:
        # GitLab answers a failed creation with the model's errors printed into a message.
        raise PlainBadRequest(f"Failed to save group {ruby_errors(exc.errors)}") from None
    return group_detail(group, request, actor, with_projects=False)


@router.get("/groups/{id}", operation_id="get_group")
def get_group(
    request: HttpRequest, id: PathStr, options: Annotated[GroupDetailParams, Params(...)]
) -> dict[str, Any]:
    actor = actor_of(request)
    group = get_group_for(actor, id)
    return group_detail(group, request, actor, with_projects=options.with_projects)


@router.put("/groups/{id}", operation_id="update_group")
def update(
    request: HttpRequest, id: PathStr, payload: Annotated[GroupUpdateParams, Params(...)]
) -> dict[str, Any]:
    actor = require_user(request)
    group = get_group_for(actor, id)
    changes = _settings(payload)
    if payload.name is not None:
        changes["name"] = payload.name
    if payload.path is not None:
        changes["path"] = payload.path
    group = update_group(actor=actor, group=group, **changes)
    return group_detail(group, request, actor, with_projects=True)


@router.delete("/groups/{id}", operation_id="delete_group", response={202: Any})
def delete(request: HttpRequest, id: PathStr) -> dict[str, str]:
    actor = require_user(request)
    group = get_group_for(actor, id)
    delete_group(actor=actor, group=group)
    return {"message": "202 Accepted"}


def _children(
    request: HttpRequest,
    response: HttpResponse,
    id: str,
    filters: GroupListParams,
    *,
    descendants: bool,
) -> list[dict[str, Any]]:
    actor = actor_of(request)
    if filters.min_access_level is not None and filters.min_access_level not in ACCESS_VALUES:
        raise InvalidParameter("min_access_level does not have a valid value")
    parent = get_group_for(actor, id)
    groups = search_groups_for(
        actor,
        parent=parent,
        include_descendants=descendants,
        all_available=filters.all_available,
        owned=filters.owned,
        min_access_level=filters.min_access_level,
        search=filters.search,
        visibility=Visibility.from_label(filters.visibility) if filters.visibility else None,
        skip_groups=filters.skip_groups,
        order_by=filters.order_by,
        sort=filters.sort,
    )
    return paginated(request, response, groups, lambda page: group_entities(page, request))


@router.get("/groups/{id}/subgroups", operation_id="list_subgroups")
def subgroups(
    request: HttpRequest,
    response: HttpResponse,
    id: PathStr,
    filters: Annotated[GroupListParams, Params(...)],
) -> list[dict[str, Any]]:
    return _children(request, response, id, filters, descendants=False)


@router.get("/groups/{id}/descendant_groups", operation_id="list_descendant_groups")
def descendant_groups(
    request: HttpRequest,
    response: HttpResponse,
    id: PathStr,
    filters: Annotated[GroupListParams, Params(...)],
) -> list[dict[str, Any]]:
    return _children(request, response, id, filters, descendants=True)


@router.post("/groups/{id}/transfer", operation_id="transfer_group", response={201: Any})
def transfer(
    request: HttpRequest, id: PathStr, payload: Annotated[TransferParams, Params(...)]
) -> Any:
    actor = require_user(request)
    group = get_group_for(actor, id)
    new_parent = get_group_for(actor, payload.group_id) if payload.group_id is not None else None
    group = transfer_group(actor=actor, group=group, new_parent=new_parent)
    return group_detail(group, request, actor, with_projects=False)
