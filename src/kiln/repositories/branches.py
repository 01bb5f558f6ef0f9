"""Branches and tags created and deleted through the API and the UI, and the rules that
protect them (GitLab's Branches::*, Tags::*, ProtectedBranches::* and ProtectedTags::*).

Ref writes follow `kiln.repositories.files`' steps: `push_code` (403), names validated before
the store sees them (400), the pre-receive rules of a web push (400 with the rule's message),
a compare-and-swap ref update, then `record_push`. Rule writes need `admin_project` (403) and
change one row inside a transaction.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from kiln.core.actor import Actor
from kiln.core.errors import Conflict, Forbidden, KilnError, PlainBadRequest
from kiln.core.policy import can
from kiln.gitstore import (
    ZERO_OID,
    Branch,
    GitStoreError,
    InvalidArgument,
    RefConflict,
    RevisionNotFound,
    Tag,
    validate_tag_name,
)
from kiln.projects.models import Project
from kiln.repositories import files, protection, queries
from kiln.repositories.access import RefChange
from kiln.repositories.models import ProtectedBranch, ProtectedTag, ProtectionLevel
from kiln.repositories.services import record_push
from kiln.repositories.storage import store

MAX_RULE_NAME = 255


class RecordInvalid(KilnError):
    """GitLab's `render_api_error!(record.errors.full_messages, 422)`."""

    status = 422
    reason = "record_invalid"

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages

    def body(self) -> dict[str, Any]:
        return {"message": self.messages}


# --- branches -----------------------------------------------------------------------------


def create_branch(*, actor: Actor, project: Project, name: str, ref: str) -> Branch:
    """POST /repository/branches (GitLab's Branches::CreateService).

    In an empty repository the default branch is created first, with an empty `README.md`
    committed as "Add README.md", so that `ref` has something to name, as GitLab does.
    """
    files.require_push(actor, project)
    if not ref:
        raise PlainBadRequest("Ref is missing")
    files.branch_name_for_write(name)
    if queries.is_empty(project):
        files.add_readme(actor=actor, project=project)
    if queries.branch_exists(project, name):
        raise PlainBadRequest("Branch already exists")
    target = queries.find_commit(project, ref)
    if target is None:
        raise PlainBadRequest(f"Failed to create branch '{name}': invalid reference name '{ref}'")
    refname = f"refs/heads/{name}"
    files.check_web_push(actor, project, [RefChange(old=ZERO_OID, new=target.id, ref=refname)])
    path = queries.repository(project)
    try:
        branch = store().create_branch(relative_path=path, name=name, revision=target.id)
    except RefConflict:
        if queries.branch_exists(project, name):
            raise PlainBadRequest("Branch already exists") from None
        raise PlainBadRequest(
            f"Failed to create branch '{name}': "
            "Branch name conflicts with existing branch hierarchy."
        ) from None
    record_push(
        actor=actor,
        project=project,
        changes=[RefChange(old=ZERO_OID, new=branch.commit.id, ref=refname)],
        protocol="web",
    )
    return branch


def delete_branch(*, actor: Actor, project: Project, name: str) -> None:
    """DELETE /repository/branches/:branch (GitLab's Branches::DeleteService)."""
    files.require_push(actor, project)
    branch = queries.find_branch(project, name)
    refname = f"refs/heads/{name}"
    change = RefChange(old=branch.commit.id, new=ZERO_OID, ref=refname)
    files.check_web_push(actor, project, [change])
    try:
        store().delete_branch(
            relative_path=queries.repository(project), name=name, expected_oid=branch.commit.id
        )
    except (RefConflict, RevisionNotFound):
        raise PlainBadRequest("Failed to remove branch") from None
    record_push(actor=actor, project=project, changes=[change], protocol="web")


def delete_merged_branches(*, actor: Actor, project: Project) -> list[str]:
    """DELETE /repository/merged_branches: every branch merged into the default branch,
    except the default branch itself and protected branches (GitLab's DeleteMergedService).

    Returns the names deleted. A branch that moved meanwhile is left alone.
    """
    files.require_push(actor, project)
    default = queries.find_commit(project, project.default_branch)
    if default is None:
        return []
    path = queries.repository(project)
    gitstore = store()
    rules = queries.protected_branch_rules(project)
    deleted: list[RefChange] = []
    for branch in gitstore.list_branches(relative_path=path):
        if branch.name == project.default_branch:
            continue
        if any(protection.matches(rule.name, branch.name) for rule in rules):
            continue
        if not gitstore.is_ancestor(
            relative_path=path, ancestor=branch.commit.id, descendant=default.id
        ):
            continue
        change = RefChange(old=branch.commit.id, new=ZERO_OID, ref=f"refs/heads/{branch.name}")
        try:
            files.check_web_push(actor, project, [change])
            gitstore.delete_branch(relative_path=path, name=branch.name, expected_oid=change.old)
        except (PlainBadRequest, GitStoreError):
            continue
        deleted.append(change)
    if deleted:
        record_push(actor=actor, project=project, changes=deleted, protocol="web")
    return [change.ref[len("refs/heads/") :] for change in deleted]


# --- tags ---------------------------------------------------------------------------------


def create_tag(
    *, actor: Actor, project: Project, name: str, ref: str, message: str | None = None
) -> Tag:
    """POST /repository/tags (GitLab's Tags::CreateService); a message makes it annotated."""
    files.require_push(actor, project)
    if not ref:
        raise PlainBadRequest("Target is empty")
    try:
        validate_tag_name(name)
    except InvalidArgument:
        raise PlainBadRequest("Tag name invalid") from None
    target = queries.find_commit(project, ref)
    if target is None:
        raise PlainBadRequest(f"Target {ref} is invalid")
    path = queries.repository(project)
    if store().find_tag(relative_path=path, name=name) is not None:
        raise PlainBadRequest(f"Tag {name} already exists")
    refname = f"refs/tags/{name}"
    files.check_web_push(actor, project, [RefChange(old=ZERO_OID, new=target.id, ref=refname)])
    text = (message or "").strip()
    try:
        tag = store().create_tag(
            relative_path=path,
            name=name,
            revision=target.id,
            message=text or None,
            tagger=files.committer_of(actor) if text else None,
        )
    except RefConflict:
        raise PlainBadRequest(f"Tag {name} already exists") from None
    except InvalidArgument as exc:
        raise PlainBadRequest(exc.message) from None
    record_push(
        actor=actor,
        project=project,
        changes=[RefChange(old=ZERO_OID, new=tag.target_id, ref=refname)],
        protocol="web",
    )
    return tag


def delete_tag(*, actor: Actor, project: Project, name: str) -> None:
    """DELETE /repository/tags/:tag_name (GitLab's Tags::DestroyService)."""
    files.require_push(actor, project)
    tag = queries.find_tag(project, name)
    change = RefChange(old=tag.target_id, new=ZERO_OID, ref=f"refs/tags/{name}")
    files.check_web_push(actor, project, [change])
    try:
        store().delete_tag(
            relative_path=queries.repository(project), name=name, expected_oid=tag.target_id
        )
    except (RefConflict, RevisionNotFound):
        raise PlainBadRequest("Failed to remove tag") from None
    record_push(actor=actor, project=project, changes=[change], protocol="web")


# --- protected branches and tags ----------------------------------------------------------


def _require_admin(actor: Actor, project: Project) -> None:
    if not can(actor, "admin_project", project):
        raise Forbidden()


def _rule_name(name: str) -> str:
    """A rule's name is a pattern, never a ref: only its length and characters are checked."""
    errors = []
    if not name or not name.strip():
        errors.append("Name can't be blank")
    elif len(name) > MAX_RULE_NAME:
        errors.append(f"Name is too long (maximum is {MAX_RULE_NAME} characters)")
    elif any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        errors.append("Name is invalid")
    if errors:
        raise RecordInvalid(errors)
    return name


def create_protected_branch(
    *,
    actor: Actor,
    project: Project,
    name: str,
    push_access_level: int = ProtectionLevel.MAINTAINER,
    merge_access_level: int = ProtectionLevel.MAINTAINER,
    unprotect_access_level: int = ProtectionLevel.MAINTAINER,
    allow_force_push: bool = False,
    code_owner_approval_required: bool = False,
) -> ProtectedBranch:
    """POST /protected_branches: 409 when a rule of that name exists."""
    _require_admin(actor, project)
    if ProtectedBranch.objects.filter(project=project, name=name).exists():
        raise Conflict(f"Protected branch '{name}' already exists")
    _rule_name(name)
    try:
        with transaction.atomic():
            return ProtectedBranch.objects.create(
                project=project,
                name=name,
                push_access_level=push_access_level,
                merge_access_level=merge_access_level,
                unprotect_access_level=unprotect_access_level,
                allow_force_push=allow_force_push,
                code_owner_approval_required=code_owner_approval_required,
            )
    except IntegrityError:
        raise Conflict(f"Protected branch '{name}' already exists") from None


def update_protected_branch(
    *, actor: Actor, project: Project, rule: ProtectedBranch, changes: dict[str, Any]
) -> ProtectedBranch:
    """PATCH /protected_branches/:name; `changes` holds only the fields the caller sent."""
    _require_admin(actor, project)
    allowed = {
        "allow_force_push",
        "code_owner_approval_required",
        "push_access_level",
        "merge_access_level",
        "unprotect_access_level",
    }
    fields = [key for key in changes if key in allowed]
    with transaction.atomic():
        locked = ProtectedBranch.objects.select_for_update().get(pk=rule.pk)
        for key in fields:
            setattr(locked, key, changes[key])
        locked.save(update_fields=[*fields, "updated_at"])
    return locked


def delete_protected_branch(*, actor: Actor, project: Project, rule: ProtectedBranch) -> None:
    """DELETE /protected_branches/:name: Maintainers, and whoever the rule lets unprotect."""
    _require_admin(actor, project)
    if not protection.level_allows(actor, project, rule.unprotect_access_level):
        raise Forbidden()
    with transaction.atomic():
        ProtectedBranch.objects.filter(pk=rule.pk).delete()


def protect_branch_legacy(
    *,
    actor: Actor,
    project: Project,
    name: str,
    developers_can_push: bool | None,
    developers_can_merge: bool | None,
) -> None:
    """PUT /repository/branches/:branch/protect (the older API, kept by GitLab)."""
    _require_admin(actor, project)
    queries.find_branch(project, name)
    push = ProtectionLevel.DEVELOPER if developers_can_push else ProtectionLevel.MAINTAINER
    merge = ProtectionLevel.DEVELOPER if developers_can_merge else ProtectionLevel.MAINTAINER
    with transaction.atomic():
        ProtectedBranch.objects.update_or_create(
            project=project,
            name=name,
            defaults={"push_access_level": push, "merge_access_level": merge},
        )


def unprotect_branch_legacy(*, actor: Actor, project: Project, name: str) -> None:
    """PUT /repository/branches/:branch/unprotect."""
    _require_admin(actor, project)
    queries.find_branch(project, name)
    with transaction.atomic():
        ProtectedBranch.objects.filter(project=project, name=name).delete()


def create_protected_tag(
    *,
    actor: Actor,
    project: Project,
    name: str,
    create_access_level: int = ProtectionLevel.MAINTAINER,
) -> ProtectedTag:
    """POST /protected_tags: 409 when a rule of that name exists."""
    _require_admin(actor, project)
    if ProtectedTag.objects.filter(project=project, name=name).exists():
        raise Conflict(f"Protected tag '{name}' already exists")
    _rule_name(name)
    try:
        with transaction.atomic():
            return ProtectedTag.objects.create(
                project=project, name=name, create_access_level=create_access_level
            )
    except IntegrityError:
        raise Conflict(f"Protected tag '{name}' already exists") from None


def delete_protected_tag(*, actor: Actor, project: Project, rule: ProtectedTag) -> None:
    _require_admin(actor, project)
    with transaction.atomic():
        ProtectedTag.objects.filter(pk=rule.pk).delete()
