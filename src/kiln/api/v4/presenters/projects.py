"""Project shapes, field for field as GitLab's entities give them.

- `BasicProjectDetails` (anonymous lists, `simple=true`): identity, URLs, topics, namespace.
- `ProjectDetails` (an anonymous GET): the basic shape plus `forked_from_project`.
- `Project` (signed in): everything else a caller may see (feature levels, merge and CI
  settings; the CI block only for those who may administer the project).
- `ProjectWithAccess` (signed-in GET and `/projects` lists): plus the caller's `permissions`.

`project_entities` presents a whole page: what it needs beyond the rows (topics, access
levels, shares, visible groups) comes in a fixed number of queries, whatever the page size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import prefetch_related_objects
from django.http import HttpRequest

from kiln.api.v4.presenters.common import iso, iso_date
from kiln.api.v4.presenters.namespaces import namespace_basic
from kiln.api.v4.presenters.users import user_basic
from kiln.core.actor import Actor
from kiln.core.policy import can
from kiln.core.urls import base_url
from kiln.namespaces.models import Namespace
from kiln.namespaces.queries import visible_group_ids
from kiln.projects.access import (
    GroupShare,
    direct_project_levels,
    group_member_levels,
    project_access_levels,
    project_shares,
)
from kiln.projects.models import Project, ProjectGroupLink
from kiln.projects.policies import feature_available
from kiln.projects.queries import projects_by_ids, topic_names

NOTIFICATION_LEVEL_GLOBAL = 3
ACCESS_LEVEL_FIELDS = (
    "issues_access_level",
    "repository_access_level",
    "merge_requests_access_level",
    "forking_access_level",
    "wiki_access_level",
    "builds_access_level",
    "snippets_access_level",
    "pages_access_level",
    "analytics_access_level",
    "container_registry_access_level",
    "security_and_compliance_access_level",
    "releases_access_level",
    "environments_access_level",
    "feature_flags_access_level",
    "infrastructure_access_level",
    "monitor_access_level",
    "model_experiments_access_level",
    "model_registry_access_level",
)
ID_TOKEN_SUB_CLAIM_COMPONENTS = ["project_path", "ref_type", "ref"]


@dataclass
class _Batch:
    """What a page of projects needs beyond its rows, loaded once."""

    request: HttpRequest | None
    actor: Actor
    base: str
    ssh_base: str
    topics: dict[int, list[str]] = field(default_factory=dict)
    links: dict[int, list[GroupShare]] = field(default_factory=dict)
    visible_groups: set[int] = field(default_factory=set)
    direct: dict[int, int] = field(default_factory=dict)
    group_levels: dict[str, int | None] = field(default_factory=dict)
    forked_from: dict[int, Project] = field(default_factory=dict)


class _Can:
    """The policy's answers about one project while it is presented, each asked once (a
    project's JSON asks about the same few abilities and feature levels many times)."""

    __slots__ = ("_actor", "_answers", "_project")

    def __init__(self, actor: Actor, project: Project) -> None:
        self._actor = actor
        self._project = project
        self._answers: dict[str, bool] = {}

    def __call__(self, action: str) -> bool:
        answer = self._answers.get(action)
        if answer is None:
            answer = self._answers[action] = can(self._actor, action, self._project)
        return answer

    def feature(self, level: str) -> bool:
        """GitLab's `feature_available?` for one of the project's `*_access_level` values."""
        key = "feature:" + level
        answer = self._answers.get(key)
        if answer is None:
            answer = self._answers[key] = feature_available(self._actor, self._project, level)
        return answer


def _ssh_base(request: HttpRequest | None, base: str) -> str:
    host = urlsplit(base).hostname or "localhost"
    listen = str(getattr(settings, "SSH_LISTEN", "") or "")
    port = listen.rpartition(":")[2] if ":" in listen else "22"
    if port in ("", "22"):
        return f"git@{host}:"
    return f"ssh://git@{host}:{port}/"


def _load(
    projects: Sequence[Project], request: HttpRequest | None, actor: Actor, *, full: bool
) -> _Batch:
    base = base_url(request)
    batch = _Batch(request=request, actor=actor, base=base, ssh_base=_ssh_base(request, base))
    if not projects:
        return batch
    namespace_field = Project._meta.get_field("namespace")
    if not all(namespace_field.is_cached(p) for p in projects):
        prefetch_related_objects(list(projects), "namespace")
    if full:
        # Only personal projects show an `owner`: their namespaces' users, in one query.
        owner_field = Namespace._meta.get_field("owner")
        personal = [
            p.namespace
            for p in projects
            if not p.namespace.is_group
            and p.namespace.owner_id is not None
            and not owner_field.is_cached(p.namespace)
        ]
        if personal:
            prefetch_related_objects(personal, "owner")
    ids = [p.pk for p in projects]
    forked_ids = sorted({p.forked_from_id for p in projects if p.forked_from_id})
    if forked_ids:
        batch.forked_from = {p.pk: p for p in projects_by_ids(forked_ids)}
    sources = list(batch.forked_from.values())
    batch.topics = topic_names(ids + [p.pk for p in sources])
    if actor.user is not None:
        project_access_levels(actor, [*projects, *sources])
    if not full:
        return batch
    # Reuses what the access levels above loaded, when they needed the shares.
    batch.links = project_shares(actor, ids)
    groups = {
        s.group_id: s.group_visibility_level for shares in batch.links.values() for s in shares
    }
    if groups:
        batch.visible_groups = visible_group_ids(actor, groups)
    if actor.user is not None:
        batch.direct = direct_project_levels(actor, ids)
        traversals = {p.namespace.traversal_ids for p in projects if p.namespace.is_group}
        batch.group_levels = group_member_levels(actor, traversals)
    return batch


def _urls(project: Project, batch: _Batch) -> dict[str, str]:
    full_path = project.full_path
    return {
        "ssh_url_to_repo": f"{batch.ssh_base}{full_path}.git",
        "http_url_to_repo": f"{batch.base}/{full_path}.git",
        "web_url": f"{batch.base}/{full_path}",
    }


def _basic(
    project: Project, batch: _Batch, allowed: _Can, *, license: bool = False
) -> dict[str, Any]:
    actor = batch.actor
    read_code = allowed("read_code")
    topics = batch.topics.get(project.pk, [])
    data: dict[str, Any] = {
        "id": project.pk,
        "description": project.description or None,
        "name": project.name,
        "name_with_namespace": project.name_with_namespace,
        "path": project.path,
        "path_with_namespace": project.full_path,
        "created_at": iso(project.created_at),
    }
    if read_code:
        data["default_branch"] = project.default_branch
    data["tag_list"] = list(topics)
    data["topics"] = list(topics)
    data.update(_urls(project, batch))
    if read_code:
        # TODO(repository issue): the README's blob URL once the repository has one.
        data["readme_url"] = None
        data["forks_count"] = project.forks_count
    if license:
        data["license_url"] = None
        data["license"] = None
    data["avatar_url"] = None
    data["star_count"] = project.star_count
    data["last_activity_at"] = iso(project.last_activity_at)
    data["namespace"] = namespace_basic(project.namespace, batch.request, base=batch.base)
    if actor.is_admin:
        data["repository_storage"] = "default"
    return data


def _forked_from(project: Project, batch: _Batch) -> dict[str, Any] | None:
    source = batch.forked_from.get(project.forked_from_id or 0)
    if source is None:
        return None
    allowed = _Can(batch.actor, source)
    if not allowed("read_project"):
        return None
    return _basic(source, batch, allowed)


def _access(level: int | None) -> dict[str, int] | None:
    if not level:
        return None
    return {"access_level": level, "notification_level": NOTIFICATION_LEVEL_GLOBAL}


def _full(
    project: Project,
    batch: _Batch,
    *,
    with_permissions: bool,
    single: bool,
    statistics: bool,
    license: bool,
) -> dict[str, Any]:
    allowed = _Can(batch.actor, project)
    data = _basic(project, batch, allowed, license=license)
    if (forked := _forked_from(project, batch)) is not None:
        data["forked_from_project"] = forked
    api = f"{batch.base}/api/v4/projects/{project.pk}"
    links: dict[str, str] = {"self": api}
    issues = allowed.feature(project.issues_access_level)
    merge_requests = allowed.feature(project.merge_requests_access_level)
    if issues:
        links["issues"] = f"{api}/issues"
    if merge_requests and allowed.feature(project.repository_access_level):
        links["merge_requests"] = f"{api}/merge_requests"
    links["repo_branches"] = f"{api}/repository/branches"
    links["labels"] = f"{api}/labels"
    links["events"] = f"{api}/events"
    links["members"] = f"{api}/members"
    links["cluster_agents"] = f"{api}/cluster_agents"
    data["_links"] = links
    data["packages_enabled"] = project.packages_enabled
    data["empty_repo"] = project.empty_repo
    data["archived"] = project.archived
    data["visibility"] = project.visibility.label
    namespace = project.namespace
    if not namespace.is_group and namespace.owner is not None:
        data["owner"] = user_basic(namespace.owner, batch.request, base=batch.base)
    data["resolve_outdated_diff_discussions"] = project.resolve_outdated_diff_discussions
    data["container_expiration_policy"] = {
        "cadence": "1d",
        "enabled": False,
        "keep_n": 10,
        "older_than": "90d",
        "name_regex": ".*",
        "name_regex_keep": None,
        "next_run_at": None,
    }
    data["repository_object_format"] = project.repository_object_format
    data["issues_enabled"] = issues
    data["merge_requests_enabled"] = merge_requests
    data["wiki_enabled"] = allowed.feature(project.wiki_access_level)
    data["jobs_enabled"] = allowed.feature(project.builds_access_level)
    data["snippets_enabled"] = allowed.feature(project.snippets_access_level)
    data["container_registry_enabled"] = allowed.feature(project.container_registry_access_level)
    data["service_desk_enabled"] = project.service_desk_enabled
    if allowed("admin_issue"):
        data["service_desk_address"] = None
    data["can_create_merge_request_in"] = allowed("create_merge_request_in")
    for name in ACCESS_LEVEL_FIELDS:
        data[name] = getattr(project, name)
    data["emails_disabled"] = not project.emails_enabled
    data["emails_enabled"] = project.emails_enabled
    data["shared_runners_enabled"] = project.shared_runners_enabled
    data["lfs_enabled"] = project.lfs_enabled
    data["creator_id"] = project.creator_id
    if project.forked_from_id:
        data["mr_default_target_self"] = False
    admin = allowed("admin_project")
    if admin:
        data["import_url"] = None
        data["import_type"] = None
    data["import_status"] = project.import_status
    if single and admin:
        data["import_error"] = project.import_error
    if issues:
        # TODO(issues issue): the count of open issues.
        data["open_issues_count"] = 0
    data["description_html"] = project.description_html
    data["updated_at"] = iso(project.updated_at)
    if admin:
        data.update(
            {
                "ci_default_git_depth": project.ci_default_git_depth,
                "ci_delete_pipelines_in_seconds": project.ci_delete_pipelines_in_seconds,
                "ci_forward_deployment_enabled": project.ci_forward_deployment_enabled,
                "ci_forward_deployment_rollback_allowed": (
                    project.ci_forward_deployment_rollback_allowed
                ),
                "ci_job_token_scope_enabled": project.ci_job_token_scope_enabled,
                "ci_separated_caches": project.ci_separated_caches,
                "ci_allow_fork_pipelines_to_run_in_parent_project": (
                    project.ci_allow_fork_pipelines_to_run_in_parent_project
                ),
                "ci_id_token_sub_claim_components": list(ID_TOKEN_SUB_CLAIM_COMPONENTS),
                "build_git_strategy": project.build_git_strategy,
                "keep_latest_artifact": project.keep_latest_artifact,
                "restrict_user_defined_variables": project.restrict_user_defined_variables,
                "ci_pipeline_variables_minimum_override_role": (
                    project.ci_pipeline_variables_minimum_override_role
                ),
                # TODO(CI issue): the project's runner registration token.
                "runners_token": None,
                "runner_token_expiration_interval": None,
                "group_runners_enabled": project.group_runners_enabled,
                "auto_cancel_pending_pipelines": project.auto_cancel_pending_pipelines,
                "build_timeout": project.build_timeout,
                "auto_devops_enabled": project.auto_devops_enabled,
                "auto_devops_deploy_strategy": project.auto_devops_deploy_strategy,
                "ci_push_repository_for_job_token_allowed": (
                    project.ci_push_repository_for_job_token_allowed
                ),
            }
        )
    if allowed("read_code"):
        data["ci_config_path"] = project.ci_config_path
    data["public_jobs"] = project.public_jobs
    data["shared_with_groups"] = [
        {
            "group_id": link.group_id,
            "group_name": link.group_name,
            "group_full_path": link.group_full_path,
            "group_access_level": link.group_access,
            "expires_at": iso_date(link.expires_at),
        }
        for link in batch.links.get(project.pk, [])
        if link.group_id in batch.visible_groups
    ]
    data.update(
        {
            "only_allow_merge_if_pipeline_succeeds": project.only_allow_merge_if_pipeline_succeeds,
            "allow_merge_on_skipped_pipeline": project.allow_merge_on_skipped_pipeline,
            "request_access_enabled": project.request_access_enabled,
            "only_allow_merge_if_all_discussions_are_resolved": (
                project.only_allow_merge_if_all_discussions_are_resolved
            ),
            "remove_source_branch_after_merge": project.remove_source_branch_after_merge,
            "printing_merge_request_link_enabled": project.printing_merge_request_link_enabled,
            "merge_method": project.merge_method,
            "squash_option": project.squash_option,
            "enforce_auth_checks_on_uploads": project.enforce_auth_checks_on_uploads,
            "suggestion_commit_message": project.suggestion_commit_message or None,
            "merge_commit_template": project.merge_commit_template or None,
            "squash_commit_template": project.squash_commit_template or None,
            "issue_branch_template": project.issue_branch_template or None,
        }
    )
    if statistics and allowed("read_statistics"):
        # TODO(repository issue): real sizes once repositories exist.
        data["statistics"] = dict.fromkeys(
            (
                "commit_count",
                "storage_size",
                "repository_size",
                "wiki_size",
                "lfs_objects_size",
                "job_artifacts_size",
                "pipeline_artifacts_size",
                "packages_size",
                "snippets_size",
                "uploads_size",
                "container_registry_size",
            ),
            0,
        )
    data["warn_about_potentially_unwanted_characters"] = (
        project.warn_about_potentially_unwanted_characters
    )
    data["autoclose_referenced_issues"] = project.autoclose_referenced_issues
    data["max_artifacts_size"] = project.max_artifacts_size
    if with_permissions:
        group_level = (
            batch.group_levels.get(namespace.traversal_ids) if namespace.is_group else None
        )
        data["permissions"] = {
            "project_access": _access(batch.direct.get(project.pk)),
            "group_access": _access(group_level),
        }
    return data


def project_entities(
    projects: Sequence[Project],
    request: HttpRequest | None,
    actor: Actor,
    *,
    simple: bool = False,
    with_permissions: bool = False,
    single: bool = False,
    statistics: bool = False,
    license: bool = False,
) -> list[dict[str, Any]]:
    """GitLab's project JSON for a page of projects the actor may see.

    simple: the `BasicProjectDetails` shape (GitLab's answer to `simple=true` and to anonymous
        lists); for anonymous single reads, `ProjectDetails` (adds `forked_from_project`).
    with_permissions: `ProjectWithAccess` (the caller's own `permissions`), as GitLab gives
        signed-in `GET /projects` and `GET /projects/:id`.
    single: one project's own endpoint (adds `import_error` for its administrators).
    """
    projects = list(projects)
    batch = _load(projects, request, actor, full=not simple)
    if simple:
        result = []
        for project in projects:
            data = _basic(project, batch, _Can(actor, project), license=license)
            if single and (forked := _forked_from(project, batch)) is not None:
                data["forked_from_project"] = forked
            result.append(data)
        return result
    return [
        _full(
            project,
            batch,
            with_permissions=with_permissions and actor.user is not None,
            single=single,
            statistics=statistics,
            license=license,
        )
        for project in projects
    ]


def project_entity(
    project: Project, request: HttpRequest | None, actor: Actor, **options: bool
) -> dict[str, Any]:
    return project_entities([project], request, actor, **options)[0]


def project_group_link_entity(link: ProjectGroupLink) -> dict[str, Any]:
    """GitLab's `ProjectGroupLink` (the answer to sharing a project with a group)."""
    return {
        "id": link.pk,
        "project_id": link.project_id,
        "group_id": link.group_id,
        "group_access": link.group_access,
        "expires_at": iso_date(link.expires_at),
    }


def starrer_entities(stars: Sequence[Any], request: HttpRequest | None) -> list[dict[str, Any]]:
    """GitLab's `UserStarsProject`: when each user starred the project, and who."""
    return [
        {"starred_since": iso(star.created_at), "user": user_basic(star.user, request)}
        for star in stars
    ]
