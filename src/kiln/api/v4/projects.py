"""API v4: projects, as GitLab's `lib/api/projects.rb` (and the project lists under `/users`
and `/groups`).

Each endpoint parses, calls one query or service of `kiln.projects`, and presents the result
with `kiln.api.v4.presenters.projects`. Writes need a signed-in caller, checked before the
parameters as GitLab's `authenticate_non_get!` is, so an anonymous write is always 401.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import BeforeValidator, ConfigDict

from kiln.accounts.models import User
from kiln.api.v4.auth import SIGNED_IN, actor_of, require_admin
from kiln.api.v4.pagination import paginated
from kiln.api.v4.params import CommaList, Params, PathStr
from kiln.api.v4.presenters.projects import (
    project_entities,
    project_entity,
    project_group_link_entity,
    starrer_entities,
)
from kiln.core.access import Visibility
from kiln.core.actor import Actor
from kiln.core.errors import InvalidParameter, MethodNotAllowed, NotFound
from kiln.namespaces.queries import get_group_for
from kiln.projects import queries, services, sharing, transfer
from kiln.projects.models import Project

router = Router(tags=["projects"])

VisibilityLabel = Literal["private", "internal", "public"]
FeatureLevel = Literal["disabled", "private", "enabled"]
PublicFeatureLevel = Literal["disabled", "private", "enabled", "public"]


def _int_if_digits(value: Any) -> Any:
    # Query strings carry numbers as text; a Literal of ints compares them as given.
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def _id_or_path(value: Any) -> str:
    # GitLab takes a namespace's id or full path; anything else (a list, an object) is invalid.
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("must be an id or a path")
    return str(value)


# GitLab's Gitlab::Access.all_values.
AccessLevelValue = Annotated[Literal[0, 5, 10, 15, 20, 30, 40, 50], BeforeValidator(_int_if_digits)]
NamespaceRef = Annotated[str, BeforeValidator(_id_or_path)]
OrderBy = Literal[
    "id",
    "name",
    "path",
    "created_at",
    "updated_at",
    "last_activity_at",
    "similarity",
    "star_count",
    "storage_size",
    "repository_size",
    "wiki_size",
    "packages_size",
]


class KeysetUnavailable(MethodNotAllowed):
    """`{"error": "Keyset pagination is not yet available for this type of request"}` (405)."""

    def __init__(self) -> None:
        super().__init__("Keyset pagination is not yet available for this type of request")

    def body(self) -> dict[str, Any]:
        return {"error": self.message}


# --- parameters ---------------------------------------------------------------------------------


class _Params(Schema):
    # Grape coerces a number sent for a String parameter; so do we.
    model_config = ConfigDict(coerce_numbers_to_str=True)


class ProjectSettingsParams(_Params):
    """GitLab's `optional_project_params` (shared by create and update)."""

    description: str | None = None
    visibility: VisibilityLabel | None = None
    default_branch: str | None = None
    topics: CommaList | None = None
    tag_list: CommaList | None = None
    build_git_strategy: Literal["fetch", "clone"] | None = None
    build_timeout: int | None = None
    auto_cancel_pending_pipelines: Literal["disabled", "enabled"] | None = None
    ci_config_path: str | None = None
    service_desk_enabled: bool | None = None
    issues_enabled: bool | None = None
    merge_requests_enabled: bool | None = None
    wiki_enabled: bool | None = None
    jobs_enabled: bool | None = None
    snippets_enabled: bool | None = None
    issues_access_level: FeatureLevel | None = None
    repository_access_level: FeatureLevel | None = None
    merge_requests_access_level: FeatureLevel | None = None
    forking_access_level: FeatureLevel | None = None
    wiki_access_level: FeatureLevel | None = None
    builds_access_level: FeatureLevel | None = None
    snippets_access_level: FeatureLevel | None = None
    package_registry_access_level: PublicFeatureLevel | None = None
    pages_access_level: PublicFeatureLevel | None = None
    analytics_access_level: FeatureLevel | None = None
    container_registry_access_level: FeatureLevel | None = None
    security_and_compliance_access_level: FeatureLevel | None = None
    releases_access_level: FeatureLevel | None = None
    environments_access_level: FeatureLevel | None = None
    feature_flags_access_level: FeatureLevel | None = None
    infrastructure_access_level: FeatureLevel | None = None
    monitor_access_level: FeatureLevel | None = None
    model_experiments_access_level: FeatureLevel | None = None
    model_registry_access_level: FeatureLevel | None = None
    emails_disabled: bool | None = None
    emails_enabled: bool | None = None
    show_default_award_emojis: bool | None = None
    show_diff_preview_in_email: bool | None = None
    warn_about_potentially_unwanted_characters: bool | None = None
    enforce_auth_checks_on_uploads: bool | None = None
    shared_runners_enabled: bool | None = None
    group_runners_enabled: bool | None = None
    resolve_outdated_diff_discussions: bool | None = None
    remove_source_branch_after_merge: bool | None = None
    packages_enabled: bool | None = None
    container_registry_enabled: bool | None = None
    lfs_enabled: bool | None = None
    public_builds: bool | None = None
    public_jobs: bool | None = None
    request_access_enabled: bool | None = None
    only_allow_merge_if_pipeline_succeeds: bool | None = None
    allow_merge_on_skipped_pipeline: bool | None = None
    only_allow_merge_if_all_discussions_are_resolved: bool | None = None
    printing_merge_request_link_enabled: bool | None = None
    merge_method: Literal["ff", "rebase_merge", "merge"] | None = None
    suggestion_commit_message: str | None = None
    merge_commit_template: str | None = None
    squash_commit_template: str | None = None
    issue_branch_template: str | None = None
    auto_devops_enabled: bool | None = None
    auto_devops_deploy_strategy: Literal["continuous", "manual", "timed_incremental"] | None = None
    autoclose_referenced_issues: bool | None = None
    repository_storage: str | None = None
    squash_option: Literal["never", "always", "default_on", "default_off"] | None = None
    max_artifacts_size: int | None = None


class ProjectCreateParams(ProjectSettingsParams):
    name: str | None = None
    path: str | None = None
    namespace_id: NamespaceRef | None = None
    initialize_with_readme: bool | None = None
    repository_object_format: Literal["sha1", "sha256"] | None = None


class UserProjectCreateParams(ProjectCreateParams):
    name: str  # required on POST /projects/user/:user_id, as GitLab


class ProjectUpdateParams(ProjectSettingsParams):
    name: str | None = None
    path: str | None = None
    ci_default_git_depth: int | None = None
    keep_latest_artifact: bool | None = None
    ci_forward_deployment_enabled: bool | None = None
    ci_forward_deployment_rollback_allowed: bool | None = None
    ci_allow_fork_pipelines_to_run_in_parent_project: bool | None = None
    ci_separated_caches: bool | None = None
    restrict_user_defined_variables: bool | None = None
    ci_pipeline_variables_minimum_override_role: (
        Literal["no_one_allowed", "developer", "maintainer", "owner"] | None
    ) = None
    ci_push_repository_for_job_token_allowed: bool | None = None
    ci_delete_pipelines_in_seconds: int | None = None


# GitLab's `update_params_at_least_one_of`, in its order (for the error message).
UPDATE_AT_LEAST_ONE_OF = (
    "allow_merge_on_skipped_pipeline",
    "analytics_access_level",
    "autoclose_referenced_issues",
    "auto_devops_enabled",
    "auto_devops_deploy_strategy",
    "auto_cancel_pending_pipelines",
    "build_git_strategy",
    "build_timeout",
    "builds_access_level",
    "ci_config_path",
    "ci_default_git_depth",
    "ci_allow_fork_pipelines_to_run_in_parent_project",
    "ci_id_token_sub_claim_components",
    "ci_forward_deployment_enabled",
    "ci_forward_deployment_rollback_allowed",
    "ci_separated_caches",
    "container_registry_access_level",
    "container_expiration_policy_attributes",
    "default_branch",
    "description",
    "emails_disabled",
    "emails_enabled",
    "forking_access_level",
    "issues_access_level",
    "lfs_enabled",
    "merge_pipelines_enabled",
    "merge_requests_access_level",
    "merge_requests_template",
    "merge_trains_enabled",
    "merge_method",
    "merge_request_title_regex",
    "merge_request_title_regex_description",
    "name",
    "only_allow_merge_if_all_discussions_are_resolved",
    "only_allow_merge_if_pipeline_succeeds",
    "package_registry_access_level",
    "pages_access_level",
    "path",
    "printing_merge_request_link_enabled",
    "public_builds",
    "public_jobs",
    "remove_source_branch_after_merge",
    "repository_access_level",
    "request_access_enabled",
    "resolve_outdated_diff_discussions",
    "restrict_user_defined_variables",
    "show_diff_preview_in_email",
    "security_and_compliance_access_level",
    "squash_option",
    "shared_runners_enabled",
    "group_runners_enabled",
    "resource_group_default_process_mode",
    "snippets_access_level",
    "tag_list",
    "topics",
    "visibility",
    "wiki_access_level",
    "avatar",
    "suggestion_commit_message",
    "merge_commit_template",
    "squash_commit_template",
    "issue_branch_template",
    "repository_storage",
    "packages_enabled",
    "service_desk_enabled",
    "keep_latest_artifact",
    "mr_default_target_self",
    "enforce_auth_checks_on_uploads",
    "releases_access_level",
    "environments_access_level",
    "feature_flags_access_level",
    "infrastructure_access_level",
    "monitor_access_level",
    "model_experiments_access_level",
    "model_registry_access_level",
    "warn_about_potentially_unwanted_characters",
    "ci_pipeline_variables_minimum_override_role",
    "ci_push_repository_for_job_token_allowed",
    "ci_delete_pipelines_in_seconds",
    "max_artifacts_size",
    "issues_enabled",
    "jobs_enabled",
    "merge_requests_enabled",
    "wiki_enabled",
    "snippets_enabled",
    "container_registry_enabled",
)

# Fields of the parameter schemas the services take as named arguments, not settings.
_NAMED = ("name", "path", "description", "visibility", "default_branch", "topics", "tag_list")


def _split(payload: Schema) -> tuple[dict[str, Any], dict[str, Any]]:
    """(named arguments, settings) from the parameters the client actually sent."""
    sent = {name: getattr(payload, name) for name in payload.model_fields_set}
    named: dict[str, Any] = {}
    for key in ("name", "path", "description", "default_branch"):
        if sent.get(key) is not None:
            named[key] = sent[key]
    if sent.get("visibility") is not None:
        named["visibility"] = Visibility.from_label(sent["visibility"])
    # `topics` wins over the deprecated `tag_list` when both are sent.
    if sent.get("topics") is not None:
        named["topics"] = sent["topics"]
    elif sent.get("tag_list") is not None:
        named["topics"] = sent["tag_list"]
    settings = {k: v for k, v in sent.items() if k not in _NAMED and k != "namespace_id"}
    return named, settings


class ProjectListQuery(_Params):
    """GitLab's `collection_params` for project lists."""

    archived: bool | None = None
    visibility: VisibilityLabel | None = None
    search: str | None = None
    search_namespaces: bool = False
    owned: bool = False
    membership: bool = False
    starred: bool = False
    simple: bool = False
    statistics: bool = False
    imported: bool = False
    min_access_level: AccessLevelValue | None = None
    topic: CommaList | None = None
    topic_id: int | None = None
    id_after: int | None = None
    id_before: int | None = None
    last_activity_after: dt.datetime | None = None
    last_activity_before: dt.datetime | None = None
    updated_after: dt.datetime | None = None
    updated_before: dt.datetime | None = None
    with_issues_enabled: bool = False
    with_merge_requests_enabled: bool = False
    with_programming_language: str | None = None
    order_by: OrderBy = "created_at"
    sort: Literal["asc", "desc"] = "desc"
    pagination: str | None = None


class GroupProjectListQuery(ProjectListQuery):
    with_shared: bool = True
    include_subgroups: bool = False


def _filters(query: ProjectListQuery) -> queries.ProjectFilters:
    if query.pagination == "keyset" and query.order_by != "id":
        raise KeysetUnavailable()
    if (query.updated_before or query.updated_after) and query.order_by != "updated_at":
        # GitLab pairs the two so the query stays efficient.
        raise InvalidParameter("`updated_at` filter and `updated_at` sorting must be paired")
    return queries.ProjectFilters(
        archived=query.archived,
        visibility=Visibility.from_label(query.visibility) if query.visibility else None,
        search=query.search or None,
        search_namespaces=query.search_namespaces,
        owned=query.owned,
        membership=query.membership,
        starred=query.starred,
        min_access_level=query.min_access_level,
        topics=list(query.topic or []),
        topic_id=query.topic_id,
        id_after=query.id_after,
        id_before=query.id_before,
        last_activity_after=query.last_activity_after,
        last_activity_before=query.last_activity_before,
        updated_after=query.updated_after,
        updated_before=query.updated_before,
        with_issues_enabled=query.with_issues_enabled,
        with_merge_requests_enabled=query.with_merge_requests_enabled,
        order_by=query.order_by,
        sort=query.sort,
    )


def _head(response: HttpResponse) -> HttpResponse:
    """A HEAD answer: the GET's status and headers, no body."""
    head = HttpResponse(status=200, content_type="application/json")
    for name, value in response.items():
        head[name] = value
    return head


def _list(
    request: HttpRequest,
    response: HttpResponse,
    actor: Actor,
    qs: Any,
    query: ProjectListQuery,
    *,
    with_permissions: bool = True,
) -> Any:
    if query.with_programming_language or query.imported:
        # Kiln has no repository languages yet and imports nothing, so nothing matches.
        qs = qs.none()
    simple = query.simple or (actor.user is None and with_permissions)

    def present(page: list[Project]) -> list[dict[str, Any]]:
        return project_entities(
            page,
            request,
            actor,
            simple=simple,
            with_permissions=with_permissions,
            statistics=query.statistics,
        )

    body = paginated(request, response, qs, present, rows=queries.projects_by_ids)
    if request.method == "HEAD":
        return _head(response)
    return body


# --- lists ---------------------------------------------------------------------------------------


@router.api_operation(["GET", "HEAD"], "/projects")
def list_projects(
    request: HttpRequest, response: HttpResponse, query: Query[ProjectListQuery]
) -> Any:
    actor = actor_of(request)
    qs = queries.list_projects_for(actor, _filters(query))
    return _list(request, response, actor, qs, query)


def _find_user(ref: str) -> User:
    qs = User.objects.all()
    user = qs.filter(pk=int(ref)).first() if ref.isdigit() and len(ref) < 19 else None
    user = user or qs.filter(username__iexact=ref).first()
    if user is None:
        raise NotFound("User")
    return user


@router.get("/users/{user_id}/projects")
def list_user_projects(
    request: HttpRequest, response: HttpResponse, user_id: PathStr, query: Query[ProjectListQuery]
) -> Any:
    actor = actor_of(request)
    user = _find_user(user_id)
    qs = queries.list_user_projects_for(actor, user.pk, _filters(query))
    return _list(request, response, actor, qs, query)


@router.get("/users/{user_id}/starred_projects")
def list_user_starred_projects(
    request: HttpRequest, response: HttpResponse, user_id: PathStr, query: Query[ProjectListQuery]
) -> Any:
    actor = actor_of(request)
    user = _find_user(user_id)
    qs = queries.list_starred_projects_for(actor, user.pk, _filters(query))
    return _list(request, response, actor, qs, query)


@router.get("/groups/{id}/projects")
def list_group_projects(
    request: HttpRequest,
    response: HttpResponse,
    id: PathStr,
    query: Query[GroupProjectListQuery],
) -> Any:
    actor = actor_of(request)
    group = get_group_for(actor, id)
    qs = queries.list_group_projects_for(
        actor,
        group,
        include_subgroups=query.include_subgroups,
        with_shared=query.with_shared,
        filters=_filters(query),
    )
    # GitLab presents group projects with the `Project` entity, without `permissions`.
    return _list(request, response, actor, qs, query, with_permissions=False)


# --- one project -----------------------------------------------------------------------------


class ProjectGetQuery(_Params):
    statistics: bool = False
    license: bool = False
    with_custom_attributes: bool = False


@router.api_operation(["GET", "HEAD"], "/projects/{id}")
def get_project(
    request: HttpRequest,
    response: HttpResponse,
    id: PathStr,
    query: Query[ProjectGetQuery],
) -> Any:
    actor = actor_of(request)
    project = queries.get_project_for(actor, id)
    body = project_entity(
        project,
        request,
        actor,
        simple=actor.user is None,
        with_permissions=True,
        single=True,
        statistics=query.statistics,
        license=query.license,
    )
    if request.method == "HEAD":
        return _head(response)
    return body


def _present(request: HttpRequest, actor: Actor, project: Project) -> dict[str, Any]:
    """The `Project` entity answering a write (no `permissions`, as GitLab)."""
    return project_entity(project, request, actor, single=True)


@router.post("/projects", auth=SIGNED_IN, response={201: dict[str, Any]})
def create_project(
    request: HttpRequest, payload: Annotated[ProjectCreateParams, Params(...)]
) -> Status[dict[str, Any]]:
    actor = actor_of(request)
    if not payload.name and not payload.path:
        raise InvalidParameter("name, path are missing, at least one parameter must be provided")
    named, settings = _split(payload)
    project = services.create_project(
        actor=actor, namespace=payload.namespace_id, settings=settings, **named
    )
    return Status(201, _present(request, actor, project))


@router.post("/projects/user/{user_id}", auth=SIGNED_IN, response={201: dict[str, Any]})
def create_project_for_user(
    request: HttpRequest,
    user_id: int,
    payload: Annotated[UserProjectCreateParams, Params(...)],
) -> Status[dict[str, Any]]:
    actor = require_admin(request)  # GitLab's `authenticated_as_admin!`, before the lookup
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound("User")
    named, settings = _split(payload)
    project = services.create_project_for_user(
        actor=actor, user=user, namespace=payload.namespace_id, settings=settings, **named
    )
    return Status(201, _present(request, actor, project))


@router.put("/projects/{id}", auth=SIGNED_IN)
def update_project(
    request: HttpRequest,
    id: PathStr,
    payload: Annotated[ProjectUpdateParams, Params(...)],
) -> dict[str, Any]:
    actor = actor_of(request)
    project = queries.get_project_for(actor, id)
    if not payload.model_fields_set:
        names = ", ".join(UPDATE_AT_LEAST_ONE_OF)
        raise InvalidParameter(f"{names} are missing, at least one parameter must be provided")
    named, settings = _split(payload)
    project = services.update_project(actor=actor, project=project, settings=settings, **named)
    return _present(request, actor, project)


@router.delete("/projects/{id}", auth=SIGNED_IN, response={202: dict[str, Any]})
def delete_project(
    request: HttpRequest,
    id: PathStr,
) -> Status[dict[str, Any]]:
    actor = actor_of(request)
    project = queries.get_project_for(actor, id)
    services.delete_project(actor=actor, project=project)
    return Status(202, {"message": "202 Accepted"})


@router.post("/projects/{id}/archive", auth=SIGNED_IN, response={201: dict[str, Any]})
def archive_project(
    request: HttpRequest,
    id: PathStr,
) -> Status[dict[str, Any]]:
    actor = actor_of(request)
    project = queries.get_project_for(actor, id)
    project = services.archive_project(actor=actor, project=project)
    return Status(201, _present(request, actor, project))


@router.post("/projects/{id}/unarchive", auth=SIGNED_IN, response={201: dict[str, Any]})
def unarchive_project(
    request: HttpRequest,
    id: PathStr,
) -> Status[dict[str, Any]]:
    actor = actor_of(request)
    project = queries.get_project_for(actor, id)
    project = services.unarchive_project(actor=actor, project=project)
    return Status(201, _present(request, actor, project))


@router.post("/projects/{id}/star", auth=SIGNED_IN, response={201: dict[str, Any]})
def star_project(
    request: HttpRequest,
    id: PathStr,
) -> Any:
    actor = actor_of(request)
    project = queries.get_project_for(actor, id)
    if not services.star_project(actor=actor, project=project):
        return HttpResponse(status=304)  # GitLab's not_modified!
    return Status(201, _present(request, actor, project))


@router.post("/projects/{id}/unstar", auth=SIGNED_IN, response={201: dict[str, Any]})
def unstar_project(
    request: HttpRequest,
    id: PathStr,
) -> Any:
    actor = actor_of(request)
    project = queries.get_project_for(actor, id)
    if not services.unstar_project(actor=actor, project=project):
        return HttpResponse(status=304)
    return Status(201, _present(request, actor, project))


class StarrersQuery(_Params):
    search: str | None = None


@router.get("/projects/{id}/starrers")
def list_starrers(
    request: HttpRequest,
    response: HttpResponse,
    id: PathStr,
    query: Query[StarrersQuery],
) -> Any:
    actor = actor_of(request)
    project = queries.get_project_for(actor, id)
    stars = queries.list_starrers_for(actor, project, query.search)
    return paginated(request, response, stars, lambda page: starrer_entities(page, request))


class TransferParams(_Params):
    namespace: str


@router.put("/projects/{id}/transfer", auth=SIGNED_IN)
def transfer_project(
    request: HttpRequest,
    id: PathStr,
    payload: Annotated[TransferParams, Params(...)],
) -> dict[str, Any]:
    actor = actor_of(request)
    project = queries.get_project_for(actor, id)
    project = transfer.transfer_project(actor=actor, project=project, namespace=payload.namespace)
    return _present(request, actor, project)


class ShareParams(_Params):
    group_id: int
    group_access: AccessLevelValue
    expires_at: dt.date | None = None


@router.post("/projects/{id}/share", auth=SIGNED_IN, response={201: dict[str, Any]})
def share_project(
    request: HttpRequest,
    id: PathStr,
    payload: Annotated[ShareParams, Params(...)],
) -> Status[dict[str, Any]]:
    actor = actor_of(request)
    project = queries.get_project_for(actor, id)
    link = sharing.share_project(
        actor=actor,
        project=project,
        group_id=payload.group_id,
        group_access=payload.group_access,
        expires_at=payload.expires_at,
    )
    return Status(201, project_group_link_entity(link))


@router.delete("/projects/{id}/share/{group_id}", auth=SIGNED_IN)
def unshare_project(
    request: HttpRequest,
    id: PathStr,
    group_id: int,
) -> HttpResponse:
    actor = actor_of(request)
    project = queries.get_project_for(actor, id)
    sharing.unshare_project(actor=actor, project=project, group_id=group_id)
    return HttpResponse(status=204)
