"""Writes to projects: create, update (rename, visibility, settings), archive, star, delete.
Transferring is `kiln.projects.transfer`'s and sharing with groups `kiln.projects.sharing`'s.

Every service takes the acting `actor` first. The caller loaded the project through
`queries.get_project_for` (so a project the actor may not see already answered 404); the
service then checks the action and raises `Forbidden` (403) for a visible project the actor may
not change, as GitLab does. Validation errors carry GitLab's messages. Each write happens in
one `transaction.atomic()`; effects outside the database go through `transaction.on_commit`.

This module also fills the registries of `kiln.namespaces.hooks` (a namespace never imports
projects) and offers one of its own, `after_project_destroyed`, for the git storage to remove
repositories once a deletion is committed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max
from django.db.models.functions import Lower
from django.utils import timezone

from kiln.core import appsettings
from kiln.core.access import AccessLevel, Visibility
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, ValidationFailed
from kiln.core.names import PROJECT_PATH_MESSAGE, path_from_name, project_name_errors
from kiln.core.names import project_path_errors as _core_path_errors
from kiln.core.policy import can
from kiln.gitstore.errors import InvalidRef
from kiln.gitstore.refs import validate_branch_name
from kiln.markdown.context import RenderContext
from kiln.markdown.render import render as render_markdown
from kiln.namespaces import hooks
from kiln.namespaces.models import Namespace, NamespaceKind
from kiln.namespaces.queries import find_namespace
from kiln.projects.access import forget_project_access
from kiln.projects.models import (
    FEATURE_ACCESS_LEVELS,
    Project,
    ProjectMember,
    Star,
    Topic,
)
from kiln.projects.observers import project_moved_after_commit

log = logging.getLogger(__name__)

TAKEN = "has already been taken"
DESCRIPTION_MAX_LENGTH = 2000
TOPIC_MAX_LENGTH = 255

# --- settings a client may send ------------------------------------------------------------

# `*_access_level` settings (GitLab's ProjectFeature); "public" only where GitLab allows it.
ACCESS_LEVEL_SETTINGS = (
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
    "package_registry_access_level",
)
# The API's old boolean flags and the access level each one sets.
LEGACY_FEATURE_FLAGS = {
    "issues_enabled": "issues_access_level",
    "merge_requests_enabled": "merge_requests_access_level",
    "wiki_enabled": "wiki_access_level",
    "jobs_enabled": "builds_access_level",
    "snippets_enabled": "snippets_access_level",
    "container_registry_enabled": "container_registry_access_level",
    "packages_enabled": "package_registry_access_level",
}
# Settings stored as they come (the API validated their types and allowed values).
PLAIN_SETTINGS = (
    "request_access_enabled",
    "lfs_enabled",
    "shared_runners_enabled",
    "group_runners_enabled",
    "public_jobs",
    "service_desk_enabled",
    "emails_enabled",
    "show_default_award_emojis",
    "show_diff_preview_in_email",
    "enforce_auth_checks_on_uploads",
    "warn_about_potentially_unwanted_characters",
    "resolve_outdated_diff_discussions",
    "printing_merge_request_link_enabled",
    "autoclose_referenced_issues",
    "only_allow_merge_if_pipeline_succeeds",
    "allow_merge_on_skipped_pipeline",
    "only_allow_merge_if_all_discussions_are_resolved",
    "remove_source_branch_after_merge",
    "merge_method",
    "squash_option",
    "suggestion_commit_message",
    "merge_commit_template",
    "squash_commit_template",
    "issue_branch_template",
    "build_timeout",
    "build_git_strategy",
    "auto_cancel_pending_pipelines",
    "ci_default_git_depth",
    "ci_forward_deployment_enabled",
    "ci_forward_deployment_rollback_allowed",
    "ci_separated_caches",
    "ci_allow_fork_pipelines_to_run_in_parent_project",
    "ci_push_repository_for_job_token_allowed",
    "ci_pipeline_variables_minimum_override_role",
    "ci_delete_pipelines_in_seconds",
    "keep_latest_artifact",
    "restrict_user_defined_variables",
    "auto_devops_enabled",
    "auto_devops_deploy_strategy",
    "max_artifacts_size",
)
# Settings a client may reset with null.
TEXT_SETTINGS = frozenset(
    [
        "suggestion_commit_message",
        "merge_commit_template",
        "squash_commit_template",
        "issue_branch_template",
    ]
)
NULLABLE_SETTINGS = frozenset(
    ["ci_default_git_depth", "ci_delete_pipelines_in_seconds", "max_artifacts_size"]
)
# Settings only administrators may change; GitLab drops them silently for everyone else.
ADMIN_ONLY_SETTINGS = frozenset(["max_artifacts_size", "repository_storage"])
# GitLab's limits for the few numeric settings it range-checks.
BUILD_TIMEOUT_RANGE = (600, 2_629_746)  # ten minutes to one month, in seconds

# Settings accepted on create only (the repository issue acts on them).
CREATE_ONLY_SETTINGS = ("initialize_with_readme", "repository_object_format")

# --- the deletion hook ------------------------------------------------------------------------


@dataclass(frozen=True)
class DestroyedProject:
    """What is left to know about a project once its rows are gone."""

    id: int
    repository_key: str
    full_path: str


class _AfterProjectDestroyed:
    """The registry `after_project_destroyed`: functions run after a deletion commits.

    The git storage registers `fn(project: DestroyedProject)` to remove the repository on disk
    (the repository issue does). Each function runs once per destroyed project, after the
    transaction that deleted its rows committed, never if it rolled back; a failing function is
    logged and does not stop the others.
    """

    def __init__(self) -> None:
        self._functions: list[Callable[[DestroyedProject], None]] = []

    def register(
        self, fn: Callable[[DestroyedProject], None]
    ) -> Callable[[DestroyedProject], None]:
        if fn not in self._functions:
            self._functions.append(fn)
        return fn

    def unregister(self, fn: Callable[[DestroyedProject], None]) -> None:
        if fn in self._functions:
            self._functions.remove(fn)

    def run(self, projects: Iterable[DestroyedProject]) -> None:
        for project in projects:
            for fn in list(self._functions):
                try:
                    fn(project)
                except Exception:
                    log.exception(
                        "after_project_destroyed hook failed", extra={"project_id": project.id}
                    )


after_project_destroyed = _AfterProjectDestroyed()


def _destroy(projects: list[Project]) -> None:
    """Delete `projects` with everything hanging off them. Inside the caller's transaction."""
    if not projects:
        return
    gone = [DestroyedProject(p.pk, p.repository_key, p.full_path) for p in projects]
    ids = [p.pk for p in projects]
    # Rows that point at a project: stars, members, shares and topics cascade; forks let go.
    Project.objects.filter(forked_from_id__in=ids).update(forked_from=None)
    Project.objects.filter(pk__in=ids).delete()
    transaction.on_commit(lambda: after_project_destroyed.run(gone))


# --- validation helpers ------------------------------------------------------------------------


class _Errors:
    """Collects validation messages in GitLab's attribute order."""

    ORDER: ClassVar[tuple[str, ...]] = (
        "project_namespace.name",
        "name",
        "path",
        "description",
        "namespace",
        "visibility_level",
        "default_branch",
        "topics",
        "ci_config_path",
        "build_timeout",
        "max_artifacts_size",
    )

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, key: str, messages: Iterable[str]) -> None:
        for message in messages:
            bucket = self.errors.setdefault(key, [])
            if message not in bucket:
                bucket.append(message)

    def raise_if_any(self) -> None:
        if not self.errors:
            return
        rank = {key: i for i, key in enumerate(self.ORDER)}
        ordered = dict(sorted(self.errors.items(), key=lambda kv: rank.get(kv[0], len(rank))))
        raise ValidationFailed(ordered)


def project_path_errors(path: str) -> list[str]:
    """Core's path rules, plus: a path made only of dots would be a relative URL segment."""
    errors = _core_path_errors(path)
    if path and set(path) == {"."} and PROJECT_PATH_MESSAGE not in errors:
        errors.append(PROJECT_PATH_MESSAGE)
    return errors


def _name_taken(namespace: Namespace, name: str, exclude: Project | None = None) -> bool:
    qs = Project.objects.filter(namespace_id=namespace.pk, name=name)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return qs.exists()


def path_taken(namespace: Namespace, path: str, exclude: Project | None = None) -> bool:
    """A project or a subgroup of `namespace` already uses `path` (they share one URL space)."""
    lowered = path.lower()
    projects = Project.objects.annotate(lp=Lower("path")).filter(
        namespace_id=namespace.pk, lp=lowered
    )
    if exclude is not None:
        projects = projects.exclude(pk=exclude.pk)
    if projects.exists():
        return True
    subgroups = Namespace.objects.annotate(lp=Lower("path")).filter(
        parent_id=namespace.pk, kind=NamespaceKind.GROUP, lp=lowered
    )
    return subgroups.exists()


def _restricted_errors(actor: Actor, visibility: int) -> list[str]:
    """The instance's `restricted_visibility_levels` bind everyone but administrators."""
    if actor.is_admin or visibility not in appsettings.current().restricted_visibility_levels:
        return []
    return [f"{Visibility(visibility).label} has been restricted by your GitLab administrator"]


def _visibility_errors(visibility: int, namespace: Namespace) -> list[str]:
    if namespace.is_group and visibility > namespace.visibility_level:
        level = Visibility(visibility).label
        group_level = Visibility(namespace.visibility_level).label
        return [f"{level} is not allowed in a {group_level} group."]
    return []


def _normalize_topics(names: Iterable[str], errors: _Errors) -> list[str]:
    """Strip, drop empties and case-insensitive duplicates (the first spelling wins)."""
    result: list[str] = []
    seen: set[str] = set()
    for raw in names:
        name = str(raw).strip()
        if not name or name.lower() in seen:
            continue
        seen.add(name.lower())
        if len(name) > TOPIC_MAX_LENGTH:
            errors.add("topics", [f"is too long (maximum is {TOPIC_MAX_LENGTH} characters)"])
        elif any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
            errors.add("topics", ["cannot contain control characters"])
        result.append(name)
    return result


def _set_topics(project: Project, names: list[str]) -> None:
    existing = {
        t.name.lower(): t
        for t in Topic.objects.annotate(ln=Lower("name")).filter(ln__in=[n.lower() for n in names])
    }
    missing = [n for n in names if n.lower() not in existing]
    if missing:
        Topic.objects.bulk_create([Topic(name=n) for n in missing], ignore_conflicts=True)
        existing = {
            t.name.lower(): t
            for t in Topic.objects.annotate(ln=Lower("name")).filter(
                ln__in=[n.lower() for n in names]
            )
        }
    project.topics.set([existing[n.lower()] for n in names if n.lower() in existing])


def render_description(project: Project) -> str:
    if not project.description:
        return ""
    return render_markdown(project.description, context=RenderContext(project=project.full_path))


def _apply_settings(
    actor: Actor, project: Project, settings: Mapping[str, Any], errors: _Errors
) -> list[str]:
    """Copy the feature and plain settings onto `project`; returns the changed field names."""
    changed: list[str] = []

    def put(field: str, value: Any) -> None:
        if getattr(project, field) != value:
            setattr(project, field, value)
            changed.append(field)

    for flag, field in LEGACY_FEATURE_FLAGS.items():
        if settings.get(flag) is not None:
            put(field, "enabled" if settings[flag] else "disabled")
    for field in ACCESS_LEVEL_SETTINGS:
        value = settings.get(field)
        if value is None:
            continue
        if value not in FEATURE_ACCESS_LEVELS or (
            value == "public"
            and field not in ("pages_access_level", "package_registry_access_level")
        ):
            errors.add(field, ["is not included in the list"])
            continue
        put(field, value)
    if settings.get("emails_disabled") is not None and settings.get("emails_enabled") is None:
        put("emails_enabled", not settings["emails_disabled"])
    if settings.get("public_builds") is not None and settings.get("public_jobs") is None:
        put("public_jobs", bool(settings["public_builds"]))
    for field in PLAIN_SETTINGS:
        if field not in settings:
            continue
        if field in ADMIN_ONLY_SETTINGS and not actor.is_admin:
            continue
        value = settings[field]
        if value is None:
            if field in TEXT_SETTINGS:
                value = ""
            elif field not in NULLABLE_SETTINGS:
                continue
        put(field, value)
    if "build_timeout" in changed:
        low, high = BUILD_TIMEOUT_RANGE
        if not low <= project.build_timeout <= high:
            errors.add("build_timeout", ["is not included in the list"])
    size = project.max_artifacts_size
    if "max_artifacts_size" in changed and size is not None and size <= 0:
        errors.add("max_artifacts_size", ["must be greater than 0"])
    if "ci_config_path" in settings and settings["ci_config_path"] is not None:
        path = str(settings["ci_config_path"])
        if ".." in path or path.startswith("/"):
            errors.add("ci_config_path", ["cannot include leading slash or directory traversal."])
        elif len(path) > 255:
            errors.add("ci_config_path", ["is too long (maximum is 255 characters)"])
        put("ci_config_path", path)
    return changed


def _validate_default_branch(value: str, errors: _Errors) -> None:
    try:
        validate_branch_name(value)
    except InvalidRef:
        errors.add("default_branch", ["is invalid"])


def ensure_owner_membership(project: Project, actor: Actor) -> None:
    """A personal project's owner is its Owner member, as GitLab records it."""
    owner_id = project.namespace.owner_id
    if project.namespace.is_group or owner_id is None:
        return
    ProjectMember.objects.update_or_create(
        project=project,
        user_id=owner_id,
        defaults={"access_level": AccessLevel.OWNER, "expires_at": None},
        create_defaults={
            "access_level": AccessLevel.OWNER,
            "created_by_id": actor.user_id,
        },
    )


# --- create ------------------------------------------------------------------------------------


def _resolve_namespace(actor: Actor, ref: str | int | None, errors: _Errors) -> Namespace | None:
    """The namespace to create in: the given one if the actor may create projects there, else
    GitLab's `{"namespace": ["is not valid"]}`; by default the actor's personal namespace."""
    assert actor.user is not None
    if ref is None or ref == "":
        namespace = Namespace.objects.filter(owner_id=actor.user.pk, kind=NamespaceKind.USER)
        found = namespace.first()
        if found is None:
            errors.add("namespace", ["is not valid"])
        return found
    found = find_namespace(ref)
    if found is None or not can(actor, "create_projects", found):
        errors.add("namespace", ["is not valid"])
        return None
    return found


def create_project(
    *,
    actor: Actor,
    name: str | None = None,
    path: str | None = None,
    namespace: str | int | None = None,
    description: str | None = None,
    visibility: Visibility | None = None,
    default_branch: str | None = None,
    topics: list[str] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Project:
    """A new project in `namespace` (id or full path; the actor's personal namespace if None).

    `visibility` and `default_branch` default to the instance's settings (private, "main").

    Needs `create_projects` there (a group's project_creation_level, or owning the personal
    namespace); otherwise, like a missing namespace, `{"namespace": ["is not valid"]}`. Either
    `name` or `path` must be given (the API says so); the other is derived as GitLab does.
    `settings` are the optional GitLab parameters (feature levels, merge and CI settings,
    `initialize_with_readme`, which is stored for the repository to act on when it exists).
    """
    if actor.user is None:
        raise Forbidden()
    settings = dict(settings or {})
    errors = _Errors()
    if not name and path:
        name = path
    if not path and name:
        path = path_from_name(name)
    name = name or ""
    path = path or ""
    errors.add("name", project_name_errors(name))
    errors.add("path", project_path_errors(path))
    description = description or ""
    if len(description) > DESCRIPTION_MAX_LENGTH:
        errors.add("description", [f"is too long (maximum is {DESCRIPTION_MAX_LENGTH} characters)"])
    target = _resolve_namespace(actor, namespace, errors)
    settings_row = appsettings.current()
    if visibility is None:
        visibility = Visibility(settings_row.default_project_visibility)
    level = Visibility(visibility)
    errors.add("visibility_level", _restricted_errors(actor, level))
    if target is not None:
        if "name" not in errors.errors and _name_taken(target, name):
            errors.add("project_namespace.name", [TAKEN])
            errors.add("name", [TAKEN])
        if "path" not in errors.errors and path_taken(target, path):
            errors.add("path", [TAKEN])
        errors.add("visibility_level", _visibility_errors(level, target))
    branch = default_branch or settings_row.default_branch_name or "main"
    _validate_default_branch(branch, errors)
    topic_names = _normalize_topics(topics or [], errors)
    project = Project(
        name=name,
        path=path,
        description=description,
        visibility_level=level,
        default_branch=branch,
        creator_id=actor.user.pk,
        repository_key=uuid.uuid4().hex,
        initialize_with_readme=bool(settings.get("initialize_with_readme") or False),
        repository_object_format=settings.get("repository_object_format") or "sha1",
    )
    _apply_settings(actor, project, settings, errors)
    errors.raise_if_any()
    assert target is not None
    project.namespace = target
    project.description_html = render_description(project)
    try:
        with transaction.atomic():
            project.save()
            if topic_names:
                _set_topics(project, topic_names)
            ensure_owner_membership(project, actor)
    except IntegrityError:
        # A concurrent request took the name or path between the check and the insert.
        raise ValidationFailed({"path": [TAKEN]}) from None
    forget_project_access(actor, project)
    return project


def create_project_for_user(*, actor: Actor, user: Any, **fields: Any) -> Project:
    """`POST /projects/user/:user_id`: an admin creates a project as `user` (in their personal
    namespace unless `namespace` says otherwise, with `user` as creator and Owner)."""
    if not actor.is_admin:
        raise Forbidden()
    return create_project(actor=Actor.for_user(user), **fields)


# --- update ------------------------------------------------------------------------------------


def update_project(
    *,
    actor: Actor,
    project: Project,
    name: str | None = None,
    path: str | None = None,
    description: str | None = None,
    visibility: Visibility | None = None,
    default_branch: str | None = None,
    topics: list[str] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Project:
    """`PUT /projects/:id`. Needs `admin_project` (Maintainer); a new name `rename_project`;
    any `visibility` (even unchanged, as GitLab) `change_visibility_level` (Owner);
    `ci_delete_pipelines_in_seconds` `destroy_pipeline` (Owner). Admin-only settings
    (`max_artifacts_size`) from anyone else, and the email setting from non-owners, are
    dropped, as GitLab drops them. A new path tells the project's listeners, after commit,
    that it moved (GitLab's `AfterRenameService`)."""
    settings = dict(settings or {})
    if not can(actor, "admin_project", project):
        raise Forbidden()
    if name and not can(actor, "rename_project", project):
        raise Forbidden()
    if visibility is not None and not can(actor, "change_visibility_level", project):
        raise Forbidden()
    if "ci_delete_pipelines_in_seconds" in settings and not can(actor, "destroy_pipeline", project):
        raise Forbidden()

    if not can(actor, "set_emails_disabled", project):
        # GitLab drops these for non-owners rather than refusing the request.
        settings.pop("emails_enabled", None)
        settings.pop("emails_disabled", None)
    errors = _Errors()
    namespace = project.namespace
    old_full_path = project.full_path
    changed: list[str] = []
    if name is not None and name != project.name:
        errors.add("name", project_name_errors(name))
        if "name" not in errors.errors and _name_taken(namespace, name, exclude=project):
            errors.add("project_namespace.name", [TAKEN])
            errors.add("name", [TAKEN])
        project.name = name
        changed.append("name")
    if path is not None and path != project.path:
        errors.add("path", project_path_errors(path))
        if "path" not in errors.errors and path_taken(namespace, path, exclude=project):
            errors.add("path", [TAKEN])
        project.path = path
        changed.append("path")
    if description is not None and description != project.description:
        if len(description) > DESCRIPTION_MAX_LENGTH:
            errors.add(
                "description", [f"is too long (maximum is {DESCRIPTION_MAX_LENGTH} characters)"]
            )
        project.description = description
        changed.append("description")
    if visibility is not None and visibility != project.visibility_level:
        errors.add("visibility_level", _restricted_errors(actor, visibility))
        errors.add("visibility_level", _visibility_errors(visibility, namespace))
        project.visibility_level = Visibility(visibility)
        changed.append("visibility_level")
    if default_branch is not None and default_branch != project.default_branch:
        # TODO(repository issue): once repositories exist, the branch must exist in it.
        _validate_default_branch(default_branch, errors)
        project.default_branch = default_branch
        changed.append("default_branch")
    topic_names = _normalize_topics(topics, errors) if topics is not None else None
    changed += _apply_settings(actor, project, settings, errors)
    errors.raise_if_any()
    if {"description", "path"} & set(changed):
        project.description_html = render_description(project)
        changed.append("description_html")
    try:
        with transaction.atomic():
            if changed:
                project.save(update_fields=[*dict.fromkeys(changed), "updated_at"])
            if "path" in changed:
                project_moved_after_commit(project, old_full_path, actor)
            if topic_names is not None:
                _set_topics(project, topic_names)
                Project.objects.filter(pk=project.pk).update(updated_at=timezone.now())
    except IntegrityError:
        raise ValidationFailed({"path": [TAKEN]}) from None
    project.refresh_from_db()
    return project


def _set_archived(*, actor: Actor, project: Project, archived: bool) -> Project:
    if not can(actor, "archive_project", project):
        raise Forbidden()
    if project.archived != archived:
        project.archived = archived
        project.save(update_fields=["archived", "updated_at"])
    return project


def archive_project(*, actor: Actor, project: Project) -> Project:
    """Make the project read-only. Needs `archive_project` (Owner); archiving twice is fine."""
    return _set_archived(actor=actor, project=project, archived=True)


def unarchive_project(*, actor: Actor, project: Project) -> Project:
    return _set_archived(actor=actor, project=project, archived=False)


# --- stars -------------------------------------------------------------------------------------


def star_project(*, actor: Actor, project: Project) -> bool:
    """Star as the actor (who must be signed in and see the project). False: already starred."""
    if actor.user is None:
        raise Forbidden()
    with transaction.atomic():
        _, created = Star.objects.get_or_create(user_id=actor.user.pk, project_id=project.pk)
        if created:
            Project.objects.filter(pk=project.pk).update(star_count=F("star_count") + 1)
    project.refresh_from_db(fields=["star_count"])
    return created


def unstar_project(*, actor: Actor, project: Project) -> bool:
    """Remove the actor's star. False: it was not starred."""
    if actor.user is None:
        raise Forbidden()
    with transaction.atomic():
        deleted, _ = Star.objects.filter(user_id=actor.user.pk, project_id=project.pk).delete()
        if deleted:
            Project.objects.filter(pk=project.pk, star_count__gt=0).update(
                star_count=F("star_count") - 1
            )
    project.refresh_from_db(fields=["star_count"])
    return bool(deleted)


# --- delete ------------------------------------------------------------------------------------


def delete_project(*, actor: Actor, project: Project) -> None:
    """Delete the project now: rows in this transaction, the repository after commit through
    `after_project_destroyed`. Needs `remove_project` (Owner)."""
    if not can(actor, "remove_project", project):
        raise Forbidden()
    with transaction.atomic():
        locked = list(
            Project.objects.select_for_update().select_related("namespace").filter(pk=project.pk)
        )
        _destroy(locked)


# --- what namespaces ask of projects (kiln.namespaces.hooks) -----------------------------------


@hooks.register_before_namespace_destroy
def destroy_projects_in_namespaces(namespace_ids: list[int]) -> None:
    """Every project in those namespaces goes with them (rows now, repositories after commit).
    Runs inside the namespace service's transaction; it authorized the deletion."""
    projects = list(
        Project.objects.select_related("namespace").filter(namespace_id__in=namespace_ids)
    )
    _destroy(projects)


@hooks.register_child_path_claim
def project_path_claimed(namespace_id: int, path: str) -> bool:
    """A subgroup may not take a path a project of the same parent uses."""
    return (
        Project.objects.annotate(lp=Lower("path"))
        .filter(namespace_id=namespace_id, lp=path.lower())
        .exists()
    )


@hooks.register_content_visibility
def highest_project_visibility(namespace_ids: list[int]) -> int | None:
    value = Project.objects.filter(namespace_id__in=namespace_ids).aggregate(
        m=Max("visibility_level")
    )["m"]
    return None if value is None else int(value)


@hooks.register_content_visibility_cap
def cap_project_visibility(namespace_ids: list[int], level: int) -> None:
    Project.objects.filter(namespace_id__in=namespace_ids, visibility_level__gt=level).update(
        visibility_level=level, updated_at=timezone.now()
    )


@hooks.register_content_counter
def count_projects(namespace_ids: list[int]) -> dict[int, int]:
    rows = (
        Project.objects.filter(namespace_id__in=namespace_ids)
        .values("namespace_id")
        .annotate(n=Count("id"))
        .values_list("namespace_id", "n")
    )
    return dict(rows)
