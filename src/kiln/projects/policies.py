"""Who may do what to a project: GitLab's permissions table for the actions Kiln has.

Visibility decides what anyone may read; membership levels decide the rest; admins may do
everything; external users see only public projects and those they are members of. An archived
project refuses the writing abilities GitLab lists in `ArchivedAbilities` (pushing, merge
requests, issues, notes...), while its settings stay editable so it can be unarchived.
"""

from __future__ import annotations

from kiln.core import policy
from kiln.core.access import AccessLevel, Visibility
from kiln.core.actor import Actor
from kiln.namespaces.access import group_access_level
from kiln.namespaces.models import Namespace
from kiln.namespaces.policies import visibility_allows
from kiln.projects.access import project_access_level
from kiln.projects.models import Project

# action -> minimum access level for members (GitLab's project_policy.rb)
_LEVELS: dict[str, int] = {
    "read_project_member": AccessLevel.GUEST,
    "read_issue": AccessLevel.GUEST,
    "create_issue": AccessLevel.GUEST,
    "create_note": AccessLevel.GUEST,
    "create_merge_request_in": AccessLevel.GUEST,
    "read_merge_request": AccessLevel.REPORTER,
    "read_statistics": AccessLevel.REPORTER,
    "admin_issue": AccessLevel.REPORTER,
    "push_code": AccessLevel.DEVELOPER,
    "create_merge_request": AccessLevel.DEVELOPER,
    "admin_project": AccessLevel.MAINTAINER,
    "admin_project_member": AccessLevel.MAINTAINER,
    "rename_project": AccessLevel.MAINTAINER,
    "archive_project": AccessLevel.OWNER,
    "change_visibility_level": AccessLevel.OWNER,
    "change_namespace": AccessLevel.OWNER,
    "transfer_project": AccessLevel.OWNER,
    "remove_project": AccessLevel.OWNER,
    "manage_owners": AccessLevel.OWNER,
    "destroy_pipeline": AccessLevel.OWNER,
    "set_emails_disabled": AccessLevel.OWNER,
}
# Writing actions refused on archived projects whatever the level.
_WRITES = {
    "push_code",
    "create_merge_request",
    "create_merge_request_in",
    "create_issue",
    "create_note",
    "admin_issue",
}
# Reading actions anyone who can see the project has (GitLab's `public_access`).
_READS = {"read_project_member", "read_issue"}
# Actions signed-in users get on public and internal projects they can see without being
# members (GitLab's `public_user_access` grants guest access).
_PUBLIC_USER = {"create_issue", "create_note"}


def can_read_project(actor: Actor, project: Project) -> bool:
    if actor.is_admin:
        return True
    if visibility_allows(actor, project.visibility_level):
        return True
    return project_access_level(actor, project) >= AccessLevel.GUEST


def can_read_code(actor: Actor, project: Project) -> bool:
    """Guests may read code of public and internal projects, not of private ones."""
    if not can_read_project(actor, project):
        return False
    if project.repository_access_level == "disabled":
        return False
    level = project_access_level(actor, project)
    if project.repository_access_level == "private" and not actor.is_admin:
        return level >= AccessLevel.REPORTER
    if actor.is_admin or project.visibility_level >= Visibility.INTERNAL:
        return True
    return level >= AccessLevel.REPORTER


def feature_available(actor: Actor, project: Project, feature_level: str) -> bool:
    """GitLab's `feature_available?(feature, user)` for one of the `*_access_level` values."""
    if feature_level == "disabled":
        return False
    if feature_level in ("enabled", "public"):
        return can_read_project(actor, project)
    # "private": members only (admins see everything).
    return actor.is_admin or project_access_level(actor, project) >= AccessLevel.GUEST


def project_rule(actor: Actor, action: str, project: Project) -> bool:
    if action == "read_project":
        return can_read_project(actor, project)
    if action in ("read_code", "download_code"):
        return can_read_code(actor, project)
    if action in _READS:
        return can_read_project(actor, project)
    if actor.user is None or not can_read_project(actor, project):
        return False
    if action not in _LEVELS:
        raise LookupError(f"unknown project action {action!r}")
    if project.archived and action in _WRITES:
        return False
    if actor.is_admin:
        return True
    level = project_access_level(actor, project)
    if action == "create_merge_request_in":
        # Anyone who can read the code may propose changes (from a fork).
        return project.merge_requests_access_level != "disabled" and can_read_code(actor, project)
    if action in _PUBLIC_USER:
        return True  # readable and signed in
    return level >= _LEVELS[action]


def can_transfer_into(actor: Actor, namespace: Namespace) -> bool:
    """GitLab's `transfer_projects` on the target: a personal namespace's owner (or an admin);
    in a group, Maintainer or more who may also create projects there."""
    if actor.user is None:
        return False
    if actor.is_admin:
        return True
    if not namespace.is_group:
        return namespace.owner_id == actor.user.pk
    if not policy.can(actor, "create_projects", namespace):
        return False
    return group_access_level(actor, namespace) >= AccessLevel.MAINTAINER


policy.register(Project, project_rule)
