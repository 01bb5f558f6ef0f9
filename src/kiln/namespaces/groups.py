"""Writes to groups: create, update (a rename moves the whole subtree), delete, transfer.

Every service authorizes (raising Forbidden for a group the actor may see but not change; the
caller found the group through `queries.get_group_for`, which answers 404 for the rest),
validates with GitLab's messages, and changes everything inside one transaction. A group's
`full_path`, `full_name` and `traversal_ids` are denormalized over its subtree; the services
that move a group rewrite them for every descendant in the same transaction, so projects
(whose full path is their namespace's plus their own) move with them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from kiln.core.access import AccessLevel, Visibility
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, PlainBadRequest, ValidationFailed, add_errors
from kiln.core.names import name_errors, namespace_path_errors
from kiln.core.policy import can
from kiln.namespaces import hooks
from kiln.namespaces.models import GroupMember, Namespace, NamespaceKind
from kiln.namespaces.policies import can_create_group

# GitLab's Group::NUMBER_OF_ANCESTORS_ALLOWED: a group may have at most 20 ancestors.
NUMBER_OF_ANCESTORS_ALLOWED = 20
NESTING_MESSAGE = "has too deep level of nesting"
DESCRIPTION_MAX_LENGTH = 500
PATH_MIN_LENGTH = 2
GROUP_NAME_MESSAGE = (
    "can contain only letters, digits, emoji, '_', '.', dash, space, parenthesis. "
    "It must start with letter, digit, emoji or '_'."
)
TAKEN = "has already been taken"

# Settings a client may send on create and update (names as the model and GitLab's API).
SETTINGS = frozenset(
    [
        "description",
        "visibility_level",
        "request_access_enabled",
        "lfs_enabled",
        "project_creation_level",
        "subgroup_creation_level",
        "share_with_group_lock",
        "require_two_factor_authentication",
        "two_factor_grace_period",
        "mentions_disabled",
        "emails_enabled",
        "default_branch",
        "default_branch_protection",
        "auto_devops_enabled",
        "shared_runners_setting",
        "max_artifacts_size",
    ]
)
# Settings only administrators may change; others' values are ignored, as GitLab does.
ADMIN_ONLY_SETTINGS = frozenset(["max_artifacts_size"])


def _emoji_or_symbol(ch: str) -> bool:
    return 0x00A9 <= ord(ch) <= 0x1F9FF


def _group_name_format_ok(name: str) -> bool:
    first, rest = name[0], name[1:]
    if not (first.isalnum() or first == "_" or _emoji_or_symbol(first)):
        return False
    return all(
        ch.isalnum() or ch in "_(). " or unicodedata.category(ch) == "Pd" or _emoji_or_symbol(ch)
        for ch in rest
    )


def group_name_errors(name: str) -> list[str]:
    errors = name_errors(name)
    if name and name.strip() and not _group_name_format_ok(name):
        errors.append(GROUP_NAME_MESSAGE)
    return errors


def group_path_errors(path: str, *, top_level: bool) -> list[str]:
    if not path:
        return ["can't be blank"]
    errors = namespace_path_errors(path, top_level=top_level)
    if len(path) < PATH_MIN_LENGTH:
        errors.append(f"is too short (minimum is {PATH_MIN_LENGTH} characters)")
    return errors


def _path_taken(path: str, parent: Namespace | None, *, exclude: Namespace | None = None) -> bool:
    """A full path is unique case-insensitively across users, groups and projects."""
    full_path = f"{parent.full_path}/{path}" if parent is not None else path
    qs = Namespace.objects.annotate(lp=Lower("full_path")).filter(lp=full_path.lower())
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    if qs.exists():
        return True
    return parent is not None and hooks.child_path_claimed(parent.pk, path)


def _name_taken(name: str, parent: Namespace | None, *, exclude: Namespace | None = None) -> bool:
    # GitLab: subgroup names are unique within their parent (top-level names need not be).
    if parent is None:
        return False
    qs = Namespace.objects.filter(parent=parent, kind=NamespaceKind.GROUP, name=name)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return qs.exists()


def _descendants(group: Namespace) -> QuerySet[Namespace]:
    return Namespace.objects.filter(traversal_ids__startswith=group.traversal_ids + "/")


def _subtree_ids(group: Namespace) -> list[int]:
    return [group.pk, *_descendants(group).values_list("pk", flat=True)]


def _visibility_errors(group: Namespace | None, level: int, parent: Namespace | None) -> list[str]:
    label = Visibility(level).label
    errors = []
    if group is not None:
        contents = hooks.max_content_visibility([group.pk])
        if contents is not None and contents > level:
            errors.append(
                f"{label} is not allowed since this group contains projects with higher visibility."
            )
        if Namespace.objects.filter(parent=group, visibility_level__gt=level).exists():
            errors.append(
                f"{label} is not allowed since there are sub-groups with higher visibility."
            )
    if parent is not None and level > parent.visibility_level:
        errors.append(
            f"{label} is not allowed since the parent group has a "
            f"{parent.visibility.label} visibility."
        )
    return errors


def _settings_errors(settings: Mapping[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    description = settings.get("description")
    if description is not None and len(description) > DESCRIPTION_MAX_LENGTH:
        errors["description"] = [f"is too long (maximum is {DESCRIPTION_MAX_LENGTH} characters)"]
    grace = settings.get("two_factor_grace_period")
    if grace is not None and grace < 0:
        errors["two_factor_grace_period"] = ["must be greater than or equal to 0"]
    size = settings.get("max_artifacts_size")
    if size is not None and size <= 0:
        errors["max_artifacts_size"] = ["must be greater than 0"]
    return errors


def _allowed_settings(actor: Actor, settings: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(settings) - SETTINGS
    if unknown:
        raise TypeError(f"unknown group settings: {sorted(unknown)}")
    return {
        key: value
        for key, value in settings.items()
        if key not in ADMIN_ONLY_SETTINGS or actor.is_admin
    }


def _full_name(name: str, parent: Namespace | None) -> str:
    return f"{parent.full_name} / {name}" if parent is not None else name


def create_group(
    *, actor: Actor, name: str, path: str, parent: Namespace | None = None, **settings: Any
) -> Namespace:
    """A new group (a subgroup of `parent`), its creator its first Owner.

    The caller found `parent` through `get_group_for` (404 when not visible). Top-level groups
    need `can_create_group`; subgroups the parent's `create_subgroup`.
    """
    if parent is not None:
        if not can(actor, "create_subgroup", parent):
            raise Forbidden()
    elif not can_create_group(actor):
        raise Forbidden()
    user = actor.user
    if user is None:  # both checks above need a user; this narrows the type
        raise Forbidden()
    settings = _allowed_settings(actor, settings)
    visibility = settings.pop("visibility_level", None)
    if visibility is None:
        visibility = Visibility.PRIVATE

    errors: dict[str, list[str]] = {}
    add_errors(errors, "name", group_name_errors(name))
    if "name" not in errors and _name_taken(name, parent):
        add_errors(errors, "name", [TAKEN])
    for key, messages in _settings_errors(settings).items():
        add_errors(errors, key, messages)
    path_errors = group_path_errors(path, top_level=parent is None)
    if not path_errors and _path_taken(path, parent):
        path_errors.append(TAKEN)
    add_errors(errors, "path", path_errors)
    if parent is not None and parent.depth > NUMBER_OF_ANCESTORS_ALLOWED:
        add_errors(errors, "parent_id", [NESTING_MESSAGE])
    add_errors(errors, "visibility_level", _visibility_errors(None, visibility, parent))
    if errors:
        raise ValidationFailed(errors)

    try:
        with transaction.atomic():
            group = Namespace.objects.create(
                name=name,
                path=path,
                kind=NamespaceKind.GROUP,
                parent=parent,
                full_path=f"{parent.full_path}/{path}" if parent is not None else path,
                full_name=_full_name(name, parent),
                visibility_level=visibility,
                **settings,
            )
            prefix = f"{parent.traversal_ids}/" if parent is not None else ""
            group.traversal_ids = f"{prefix}{group.pk}"
            group.save(update_fields=["traversal_ids"])
            GroupMember.objects.create(
                group=group,
                user=user,
                access_level=AccessLevel.OWNER,
                created_by=user,
            )
    except IntegrityError:
        # Lost a race for the same full path with a concurrent request.
        raise ValidationFailed({"path": [TAKEN]}) from None
    return group


def _rewrite_subtree(
    group: Namespace,
    *,
    old_full_path: str,
    old_full_name: str,
    old_traversal: str,
) -> None:
    """Move the denormalized paths, names and traversal ids of `group`'s descendants."""
    descendants = list(Namespace.objects.filter(traversal_ids__startswith=old_traversal + "/"))
    for child in descendants:
        child.full_path = group.full_path + child.full_path[len(old_full_path) :]
        child.full_name = group.full_name + child.full_name[len(old_full_name) :]
        child.traversal_ids = group.traversal_ids + child.traversal_ids[len(old_traversal) :]
    if descendants:
        Namespace.objects.bulk_update(
            descendants, ["full_path", "full_name", "traversal_ids"], batch_size=500
        )


def update_group(*, actor: Actor, group: Namespace, **changes: Any) -> Namespace:
    """Change a group's name, path and settings. Needs `admin_group` (Owner).

    Renaming rewrites `full_path` and `full_name` of every descendant in the same transaction;
    visibility may not exceed the parent's nor drop below a subgroup's or a project's.
    """
    if not can(actor, "admin_group", group):
        raise Forbidden()
    name = changes.pop("name", None)
    path = changes.pop("path", None)
    settings = _allowed_settings(actor, changes)
    if "visibility_level" in settings and not can(actor, "change_visibility_level", group):
        raise Forbidden()

    with transaction.atomic():
        group = (
            Namespace.objects.select_for_update(of=("self",))
            .select_related("parent")
            .get(pk=group.pk)
        )
        parent = group.parent
        errors: dict[str, list[str]] = {}
        if name is not None and name != group.name:
            add_errors(errors, "name", group_name_errors(name))
            if "name" not in errors and _name_taken(name, parent, exclude=group):
                add_errors(errors, "name", [TAKEN])
        for key, messages in _settings_errors(settings).items():
            add_errors(errors, key, messages)
        if path is not None and path != group.path:
            path_errors = group_path_errors(path, top_level=parent is None)
            if not path_errors and _path_taken(path, parent, exclude=group):
                path_errors.append(TAKEN)
            add_errors(errors, "path", path_errors)
        level = settings.get("visibility_level")
        if level is not None and level != group.visibility_level:
            add_errors(errors, "visibility_level", _visibility_errors(group, level, parent))
        if errors:
            raise ValidationFailed(errors)

        old_full_path, old_full_name = group.full_path, group.full_name
        if name is not None:
            group.name = name
            group.full_name = _full_name(name, parent)
        if path is not None:
            group.path = path
            group.full_path = f"{parent.full_path}/{path}" if parent is not None else path
        for key, value in settings.items():
            setattr(group, key, value)
        try:
            with transaction.atomic():
                group.save()
                if group.full_path != old_full_path or group.full_name != old_full_name:
                    _rewrite_subtree(
                        group,
                        old_full_path=old_full_path,
                        old_full_name=old_full_name,
                        old_traversal=group.traversal_ids,
                    )
        except IntegrityError:
            raise ValidationFailed({"path": [TAKEN]}) from None
    return group


def delete_group(*, actor: Actor, group: Namespace) -> None:
    """Delete a group with its subgroups and everything in them. Needs `remove_group` (Owner).

    The packages above (projects, ...) remove their rows first through
    `hooks.run_before_namespace_destroy`; then the namespaces go, deepest first.
    """
    if not can(actor, "remove_group", group):
        raise Forbidden()
    with transaction.atomic():
        subtree = list(
            Namespace.objects.select_for_update()
            .filter(Q(pk=group.pk) | Q(traversal_ids__startswith=group.traversal_ids + "/"))
            .values_list("pk", "traversal_ids")
        )
        hooks.run_before_namespace_destroy([pk for pk, _ in subtree])
        by_depth: dict[int, list[int]] = {}
        for pk, traversal in subtree:
            by_depth.setdefault(traversal.count("/"), []).append(pk)
        for depth in sorted(by_depth, reverse=True):
            Namespace.objects.filter(pk__in=by_depth[depth]).delete()


class TransferFailed(PlainBadRequest):
    """GitLab's `{"message": "Transfer failed: <why>"}` (400)."""

    reason = "transfer_failed"

    def __init__(self, why: str) -> None:
        super().__init__(f"Transfer failed: {why}")


def transfer_group(*, actor: Actor, group: Namespace, new_parent: Namespace | None) -> Namespace:
    """Move a group under `new_parent`, or to the top level when None (GitLab's
    Groups::TransferService). Needs `admin_group` on the group, and `create_subgroup` on the new
    parent (or `can_create_group` for the top level); the caller found `new_parent` through
    `get_group_for`. A less visible parent lowers the whole subtree, projects included."""
    if not can(actor, "admin_group", group):
        raise Forbidden()
    if new_parent is None and group.parent_id is None:
        raise TransferFailed("Group is already a root group.")
    if new_parent is not None and new_parent.pk == group.parent_id:
        raise TransferFailed("Group is already associated to the parent group.")
    allowed = (
        can(actor, "create_subgroup", new_parent)
        if new_parent is not None
        else can_create_group(actor)
    )
    if not allowed:
        raise TransferFailed("You don't have enough permissions.")
    with transaction.atomic():
        group = Namespace.objects.select_for_update().get(pk=group.pk)
        if _path_taken(group.path, new_parent, exclude=group):
            raise TransferFailed(
                "The parent group already has a subgroup or a project with the same path."
            )
        if new_parent is not None and (
            new_parent.pk == group.pk
            or new_parent.traversal_ids.startswith(group.traversal_ids + "/")
        ):
            raise TransferFailed("Cannot transfer group to one of its subgroup.")
        depths = [
            t.count("/") + 1 for t in _descendants(group).values_list("traversal_ids", flat=True)
        ]
        deepest = max([group.depth, *depths])
        # Ancestors the deepest group of the moved subtree would have.
        ancestors = (new_parent.depth if new_parent is not None else 0) + deepest - group.depth
        if ancestors > NUMBER_OF_ANCESTORS_ALLOWED:
            raise TransferFailed(f"Validation failed: Parent {NESTING_MESSAGE}")
        if path_errors := namespace_path_errors(group.path, top_level=new_parent is None):
            raise TransferFailed(f"Validation failed: Path {path_errors[0]}")

        subtree_ids = _subtree_ids(group)
        if new_parent is not None and new_parent.visibility_level < group.visibility_level:
            level = new_parent.visibility_level
            Namespace.objects.filter(pk__in=subtree_ids, visibility_level__gt=level).update(
                visibility_level=level
            )
            hooks.cap_content_visibility(subtree_ids, level)
            group.visibility_level = level

        old_full_path, old_full_name = group.full_path, group.full_name
        old_traversal = group.traversal_ids
        group.parent = new_parent
        group.full_path = (
            f"{new_parent.full_path}/{group.path}" if new_parent is not None else group.path
        )
        group.full_name = _full_name(group.name, new_parent)
        prefix = f"{new_parent.traversal_ids}/" if new_parent is not None else ""
        group.traversal_ids = f"{prefix}{group.pk}"
        try:
            with transaction.atomic():
                group.save()
                _rewrite_subtree(
                    group,
                    old_full_path=old_full_path,
                    old_full_name=old_full_name,
                    old_traversal=old_traversal,
                )
        except IntegrityError:
            raise TransferFailed(
                "The parent group already has a subgroup or a project with the same path."
            ) from None
        if new_parent is None:
            _ensure_owner(actor, group)
    return group


def _ensure_owner(actor: Actor, group: Namespace) -> None:
    """A group that becomes top level without a direct Owner gets the acting user as one."""
    if actor.user is None:
        return
    if GroupMember.objects.filter(group=group, access_level=AccessLevel.OWNER).exists():
        return
    GroupMember.objects.update_or_create(
        group=group,
        user=actor.user,
        defaults={"access_level": AccessLevel.OWNER, "expires_at": None},
        create_defaults={
            "access_level": AccessLevel.OWNER,
            "created_by": actor.user,
        },
    )
