"""Who may do what to a project: GitLab's permissions table for the actions Kiln has.

Visibility decides what anyone may read; membership levels decide the rest; admins may do
everything; external users see only public projects and those they are members of; an
archived project is read-only for everyone.
"""

from __future__ import annotations

from kiln.core import policy
from kiln.core.access import AccessLevel, Visibility
from kiln.core.actor import Actor
from kiln.namespaces.policies import visibility_allows
from kiln.projects.access import project_access_level
from kiln.projects.models import Project

# action -> minimum access level for members
_LEVELS: dict[str, int] = {
    "read_project_member": AccessLevel.GUEST,
    "read_issue": AccessLevel.GUEST,
    "create_issue": AccessLevel.GUEST,
    "create_note": AccessLevel.GUEST,
    "read_merge_request": AccessLevel.REPORTER,
    "push_code": AccessLevel.DEVELOPER,
    "create_merge_request": AccessLevel.DEVELOPER,
    "admin_project": AccessLevel.MAINTAINER,
    "admin_project_member": AccessLevel.MAINTAINER,
    "archive_project": AccessLevel.OWNER,
    "change_visibility_level": AccessLevel.OWNER,
    "rename_project": AccessLevel.MAINTAINER,
    "transfer_project": AccessLevel.OWNER,
    "remove_project": AccessLevel.OWNER,
}
# Writing actions refused on archived projects whatever the level.
_WRITES = {"push_code", "create_merge_request", "create_issue", "create_note", "admin_project"}


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
    if actor.is_admin or project.visibility_level >= Visibility.INTERNAL:
        return True
    return project_access_level(actor, project) >= AccessLevel.REPORTER


def project_rule(actor: Actor, action: str, project: Project) -> bool:
    if action == "read_project":
        return can_read_project(actor, project)
    if action in ("read_code", "download_code"):
        return can_read_code(actor, project)
    if actor.user is None or not can_read_project(actor, project):
        return False
    if action not in _LEVELS:
        raise LookupError(f"unknown project action {action!r}")
    if project.archived and action in _WRITES:
        return False
    if actor.is_admin:
        return True
    return project_access_level(actor, project) >= _LEVELS[action]


policy.register(Project, project_rule)
