"""`git_access`: the one decision for git over HTTP, over SSH, and in the pre-receive hook.

1. The project must exist and be visible to the actor; otherwise 404 — or 401 for an
   anonymous actor, so git asks for credentials.
2. Blocked users and tokens without a repository scope are refused.
3. Downloading needs `read_code` (Reporter on private projects; anyone who may see a public
   project; any signed-in, non-external user on internal ones).
4. Pushing needs `push_code` (Developer) on a project that is not archived; then every ref
   change is checked against protected branches and tags (`check_changes`), with GitLab's
   messages, which git prints on the client as `remote: ...`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from kiln.accounts.models import UserState
from kiln.core.actor import Actor
from kiln.core.errors import KilnError, Unauthorized
from kiln.core.policy import can
from kiln.projects.models import Project
from kiln.repositories import protection

ZERO_OID = "0" * 40
_HEX40 = re.compile(r"[0-9a-fA-F]{40}(?:-/|/|\Z)")
_SHA_LIKE = re.compile(r"[0-9a-fA-F]{40}")

MESSAGES = {
    "download": "You are not allowed to download code from this project.",
    "upload": "You are not allowed to upload code for this project.",
    "project_not_found": "The project you were looking for could not be found.",
    "account_blocked": "Your account has been blocked.",
    "archived": "You are not allowed to push code to an archived project.",
    "refs_outside": "You are not allowed to push refs outside refs/heads/ and refs/tags/.",
    "delete_default_branch": "The default branch of a project cannot be deleted.",
    "force_push_protected_branch": (
        "You are not allowed to force push code to a protected branch on this project."
    ),
    "non_master_delete_protected_branch": (
        "You are not allowed to delete protected branches from this project. "
        "Only a project maintainer or owner can delete a protected branch."
    ),
    "non_web_delete_protected_branch": (
        "You can only delete protected branches using the web interface."
    ),
    "push_protected_branch": (
        "You are not allowed to push code to protected branches on this project."
    ),
    "create_protected_branch": "You are not allowed to create protected branches on this project.",
    "non_web_create_protected_branch": (
        "You can only create protected branches using the web interface and API."
    ),
    "prohibited_hex_branch_name": (
        "You cannot create a branch with a 40-character hexadecimal branch name."
    ),
    "change_existing_tags": "You are not allowed to change existing tags on this project.",
    "update_protected_tag": "Protected tags cannot be updated.",
    "delete_protected_tag": (
        "You are not allowed to delete protected tags from this project. "
        "Only a project maintainer or owner can delete a protected tag."
    ),
    "delete_protected_tag_non_web": "You can only delete protected tags using the web interface.",
    "create_protected_tag": "You are not allowed to create this tag as it is protected.",
    "default_branch_collision": "You cannot use default branch name to create a tag",
    "prohibited_sha_tag_name": "You cannot create a tag with a SHA-1 or SHA-256 tag name.",
}


class GitAccessDenied(KilnError):
    """A refusal with GitLab's message; `status` is what the HTTP transport answers."""

    status = 403
    reason = "git_access_denied"

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.http_status = status


class Protocol(StrEnum):
    HTTP = "http"
    SSH = "ssh"
    WEB = "web"  # the API and the UI: protected branches may be created and deleted here


class Action(StrEnum):
    DOWNLOAD = "download"
    PUSH = "push"


@dataclass(frozen=True)
class RefChange:
    old: str
    new: str
    ref: str

    @property
    def is_create(self) -> bool:
        return self.old == ZERO_OID

    @property
    def is_delete(self) -> bool:
        return self.new == ZERO_OID

    @property
    def branch(self) -> str | None:
        return self.ref[len("refs/heads/") :] if self.ref.startswith("refs/heads/") else None

    @property
    def tag(self) -> str | None:
        return self.ref[len("refs/tags/") :] if self.ref.startswith("refs/tags/") else None


@dataclass(frozen=True)
class PushFacts:
    """What gitstore found in the pushed objects (see `gitstore.inspect_push`)."""

    forced_refs: frozenset[str] = field(default_factory=frozenset)


def _scope_ok(actor: Actor, action: Action) -> bool:
    if action is Action.DOWNLOAD:
        return actor.has_scope("api", "read_repository", "write_repository")
    return actor.has_scope("api", "write_repository")


def check_access(actor: Actor, project: Project | None, action: Action) -> Project:
    """Steps 1-4 without the ref checks. Returns the project when access is granted."""
    if actor.user is not None and actor.user.state != UserState.ACTIVE:
        raise GitAccessDenied(MESSAGES["account_blocked"])
    if project is None or not can(actor, "read_project", project):
        if actor.is_anonymous:
            raise Unauthorized("HTTP Basic: Access denied")
        raise GitAccessDenied(MESSAGES["project_not_found"], status=404)
    if not _scope_ok(actor, action):
        raise GitAccessDenied(MESSAGES[action.value if action is Action.DOWNLOAD else "upload"])
    if action is Action.DOWNLOAD:
        if not can(actor, "read_code", project):
            if actor.is_anonymous:
                raise Unauthorized("HTTP Basic: Access denied")
            raise GitAccessDenied(MESSAGES["download"])
        return project
    if actor.is_anonymous:
        raise Unauthorized("HTTP Basic: Access denied")
    if project.archived:
        raise GitAccessDenied(MESSAGES["archived"])
    if not can(actor, "push_code", project):
        raise GitAccessDenied(MESSAGES["upload"])
    return project


def check_changes(
    actor: Actor,
    project: Project,
    changes: list[RefChange],
    facts: PushFacts,
    *,
    protocol: Protocol,
) -> None:
    """Raise GitAccessDenied for the first change the rules refuse (the push is all or none)."""
    for change in changes:
        if change.branch is not None:
            _check_branch(actor, project, change, change.branch, facts, protocol)
        elif change.tag is not None:
            _check_tag(actor, project, change, change.tag, facts, protocol)
        else:
            raise GitAccessDenied(MESSAGES["refs_outside"])


def _check_branch(
    actor: Actor,
    project: Project,
    change: RefChange,
    branch: str,
    facts: PushFacts,
    protocol: Protocol,
) -> None:
    if change.is_delete and branch == project.default_branch and not project.empty_repo:
        raise GitAccessDenied(MESSAGES["delete_default_branch"])
    if not change.is_delete and _HEX40.match(branch):
        raise GitAccessDenied(MESSAGES["prohibited_hex_branch_name"])
    if not protection.is_protected_branch(project, branch):
        return
    if change.ref in facts.forced_refs and not protection.allows_force_push(project, branch):
        raise GitAccessDenied(MESSAGES["force_push_protected_branch"])
    web = protocol is Protocol.WEB
    if project.empty_repo or not (change.is_create or change.is_delete):
        if not protection.can_push_to_branch(actor, project, branch):
            raise GitAccessDenied(MESSAGES["push_protected_branch"])
    elif change.is_create:
        if protection.can_push_to_branch(actor, project, branch):
            return
        if not protection.can_merge_to_branch(actor, project, branch):
            raise GitAccessDenied(MESSAGES["create_protected_branch"])
        if not web:
            raise GitAccessDenied(MESSAGES["non_web_create_protected_branch"])
    else:
        if not can(actor, "admin_project", project):
            raise GitAccessDenied(MESSAGES["non_master_delete_protected_branch"])
        if not web:
            raise GitAccessDenied(MESSAGES["non_web_delete_protected_branch"])


def _check_tag(
    actor: Actor,
    project: Project,
    change: RefChange,
    tag: str,
    facts: PushFacts,
    protocol: Protocol,
) -> None:
    exists = not change.is_create
    # GitLab's `admin_tag` ability belongs to Developers.
    if exists and not can(actor, "push_code", project):
        raise GitAccessDenied(MESSAGES["change_existing_tags"])
    if change.is_create and tag == project.default_branch:
        raise GitAccessDenied(MESSAGES["default_branch_collision"])
    if not change.is_delete and _SHA_LIKE.match(tag):
        raise GitAccessDenied(MESSAGES["prohibited_sha_tag_name"])
    if not protection.tag_rules(project, tag):
        return
    if exists and not change.is_delete:
        raise GitAccessDenied(MESSAGES["update_protected_tag"])
    if change.is_delete:
        if not can(actor, "admin_project", project):
            raise GitAccessDenied(MESSAGES["delete_protected_tag"])
        if protocol is not Protocol.WEB:
            raise GitAccessDenied(MESSAGES["delete_protected_tag_non_web"])
        return
    if not protection.can_create_tag(actor, project, tag):
        raise GitAccessDenied(MESSAGES["create_protected_tag"])
