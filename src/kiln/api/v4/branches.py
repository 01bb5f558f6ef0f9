"""API v4: branches and protected branches, as GitLab's `lib/api/branches.rb` and
`lib/api/protected_branches.rb`.

Branch names in paths are URL-encoded (`feature%2Fx`) and decoded once (`PathStr`); a name git
would refuse is 400 "The branch refname is invalid" before anything is looked up.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status

from kiln.api.v4.auth import SIGNED_IN, actor_of
from kiln.api.v4.pagination import paginated
from kiln.api.v4.params import Params, PathStr
from kiln.api.v4.presenters.repository import (
    branch_entity,
    protected_branch_entities,
    protected_branch_entity,
)
from kiln.api.v4.repository import ApiParams, not_blank, paginate_list
from kiln.repositories import branches as services
from kiln.repositories import queries

router = Router(tags=["branches"])

# GitLab's ProtectedBranch access levels (PushAccessLevel.allowed_access_levels); unprotecting
# cannot be given to "No one".
Level = Literal[0, 30, 40, 60]
UnprotectLevel = Literal[30, 40, 60]


class BranchListQuery(ApiParams):
    search: str | None = None
    regex: str | None = None
    sort: Literal["name_asc", "updated_asc", "updated_desc"] | None = None


@router.get("/projects/{id}/repository/branches")
def list_branches(
    request: HttpRequest, response: HttpResponse, id: PathStr, query: Query[BranchListQuery]
) -> list[dict[str, Any]]:
    actor = actor_of(request)
    project = queries.get_code_project_for(actor, id)
    found = queries.list_branches(project, search=query.search, regex=query.regex, sort=query.sort)
    page = paginate_list(request, response, found)
    return [branch_entity(v, project, request) for v in queries.branch_views(actor, project, page)]


@router.api_operation(["GET", "HEAD"], "/projects/{id}/repository/branches/{branch}")
def get_branch(request: HttpRequest, id: PathStr, branch: PathStr) -> Any:
    actor = actor_of(request)
    project = queries.get_code_project_for(actor, id)
    if request.method == "HEAD":
        # GitLab answers HEAD with 204 when the branch exists, else 404.
        return HttpResponse(status=204 if queries.branch_exists(project, branch) else 404)
    found = queries.find_branch(project, branch)
    (view,) = queries.branch_views(actor, project, [found])
    return branch_entity(view, project, request)


class BranchCreateParams(ApiParams):
    branch: str
    ref: str


@router.post("/projects/{id}/repository/branches", auth=SIGNED_IN, response={201: dict[str, Any]})
def create_branch(
    request: HttpRequest, id: PathStr, payload: Annotated[BranchCreateParams, Params(...)]
) -> Status[dict[str, Any]]:
    not_blank(payload.branch, "branch")
    not_blank(payload.ref, "ref")
    actor = actor_of(request)
    project = queries.get_code_project_for(actor, id)
    created = services.create_branch(
        actor=actor, project=project, name=payload.branch, ref=payload.ref
    )
    (view,) = queries.branch_views(actor, project, [created])
    return Status(201, branch_entity(view, project, request))


@router.delete("/projects/{id}/repository/branches/{branch}", auth=SIGNED_IN)
def delete_branch(request: HttpRequest, id: PathStr, branch: PathStr) -> HttpResponse:
    actor = actor_of(request)
    project = queries.get_code_project_for(actor, id)
    services.delete_branch(actor=actor, project=project, name=branch)
    return HttpResponse(status=204)


@router.delete(
    "/projects/{id}/repository/merged_branches", auth=SIGNED_IN, response={202: dict[str, Any]}
)
def delete_merged_branches(request: HttpRequest, id: PathStr) -> Status[dict[str, Any]]:
    actor = actor_of(request)
    project = queries.get_code_project_for(actor, id)
    services.delete_merged_branches(actor=actor, project=project)
    return Status(202, {"message": "202 Accepted"})


class LegacyProtectParams(ApiParams):
    developers_can_push: bool | None = None
    developers_can_merge: bool | None = None


@router.put("/projects/{id}/repository/branches/{branch}/protect", auth=SIGNED_IN)
def protect_branch(
    request: HttpRequest,
    id: PathStr,
    branch: PathStr,
    payload: Annotated[LegacyProtectParams, Params(...)],
) -> dict[str, Any]:
    actor = actor_of(request)
    project = queries.get_code_project_for(actor, id)
    services.protect_branch_legacy(
        actor=actor,
        project=project,
        name=branch,
        developers_can_push=payload.developers_can_push,
        developers_can_merge=payload.developers_can_merge,
    )
    (view,) = queries.branch_views(actor, project, [queries.find_branch(project, branch)])
    return branch_entity(view, project, request)


@router.put("/projects/{id}/repository/branches/{branch}/unprotect", auth=SIGNED_IN)
def unprotect_branch(request: HttpRequest, id: PathStr, branch: PathStr) -> dict[str, Any]:
    actor = actor_of(request)
    project = queries.get_code_project_for(actor, id)
    services.unprotect_branch_legacy(actor=actor, project=project, name=branch)
    (view,) = queries.branch_views(actor, project, [queries.find_branch(project, branch)])
    return branch_entity(view, project, request)


# --- protected branches -------------------------------------------------------------------


class ProtectedBranchListQuery(ApiParams):
    search: str | None = None


@router.get("/projects/{id}/protected_branches")
def list_protected_branches(
    request: HttpRequest,
    response: HttpResponse,
    id: PathStr,
    query: Query[ProtectedBranchListQuery],
) -> list[dict[str, Any]]:
    project = queries.get_code_project_for(actor_of(request), id)
    rules = queries.list_protected_branches(project, search=query.search)
    return paginated(request, response, rules, protected_branch_entities)


@router.get("/projects/{id}/protected_branches/{name}")
def get_protected_branch(request: HttpRequest, id: PathStr, name: PathStr) -> dict[str, Any]:
    project = queries.get_code_project_for(actor_of(request), id)
    return protected_branch_entity(queries.get_protected_branch(project, name))


class ProtectedBranchParams(ApiParams):
    name: str
    push_access_level: Level = 40
    merge_access_level: Level = 40
    unprotect_access_level: UnprotectLevel = 40
    allow_force_push: bool = False
    code_owner_approval_required: bool = False


@router.post("/projects/{id}/protected_branches", auth=SIGNED_IN, response={201: dict[str, Any]})
def create_protected_branch(
    request: HttpRequest, id: PathStr, payload: Annotated[ProtectedBranchParams, Params(...)]
) -> Status[dict[str, Any]]:
    actor = actor_of(request)
    project = queries.get_code_project_for(actor, id)
    rule = services.create_protected_branch(
        actor=actor,
        project=project,
        name=payload.name,
        push_access_level=payload.push_access_level,
        merge_access_level=payload.merge_access_level,
        unprotect_access_level=payload.unprotect_access_level,
        allow_force_push=payload.allow_force_push,
        code_owner_approval_required=payload.code_owner_approval_required,
    )
    return Status(201, protected_branch_entity(rule))


class ProtectedBranchUpdateParams(ApiParams):
    allow_force_push: bool | None = None
    code_owner_approval_required: bool | None = None
    push_access_level: Level | None = None
    merge_access_level: Level | None = None
    unprotect_access_level: UnprotectLevel | None = None


@router.patch("/projects/{id}/protected_branches/{name}", auth=SIGNED_IN)
def update_protected_branch(
    request: HttpRequest,
    id: PathStr,
    name: PathStr,
    payload: Annotated[ProtectedBranchUpdateParams, Params(...)],
) -> dict[str, Any]:
    actor = actor_of(request)
    project = queries.get_code_project_for(actor, id)
    rule = queries.get_protected_branch(project, name)
    changes = {
        key: getattr(payload, key)
        for key in payload.model_fields_set
        if getattr(payload, key) is not None
    }
    rule = services.update_protected_branch(
        actor=actor, project=project, rule=rule, changes=changes
    )
    return protected_branch_entity(rule)


@router.delete("/projects/{id}/protected_branches/{name}", auth=SIGNED_IN)
def delete_protected_branch(request: HttpRequest, id: PathStr, name: PathStr) -> HttpResponse:
    actor = actor_of(request)
    project = queries.get_code_project_for(actor, id)
    rule = queries.get_protected_branch(project, name)
    services.delete_protected_branch(actor=actor, project=project, rule=rule)
    return HttpResponse(status=204)
