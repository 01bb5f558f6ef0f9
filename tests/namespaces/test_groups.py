"""Group services and queries without HTTP: the rules the API tests reach only indirectly."""

from __future__ import annotations

from typing import Any

import pytest

from kiln.core.access import AccessLevel, Visibility
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, ValidationFailed
from kiln.namespaces.groups import (
    TransferFailed,
    create_group,
    delete_group,
    transfer_group,
    update_group,
)
from kiln.namespaces.models import GroupMember, Namespace
from kiln.namespaces.queries import namespace_exists, search_groups_for

pytestmark = pytest.mark.django_db


def _user(username: str, **fields: Any) -> Any:
    from kiln.accounts.services import create_user_unchecked

    return create_user_unchecked(
        username=username,
        name=username.title(),
        email=f"{username}@example.com",
        password=None,
        **fields,
    )


def _group(user: Any, path: str, parent: Namespace | None = None, **settings: Any) -> Namespace:
    return create_group(
        actor=Actor.for_user(user), name=path.title(), path=path, parent=parent, **settings
    )


def test_creator_is_owner_and_traversal_ids_follow_the_tree() -> None:
    user = _user("maker")
    top = _group(user, "top")
    sub = _group(user, "sub", parent=top)
    assert sub.traversal_ids == f"{top.pk}/{sub.pk}"
    assert sub.full_path == "top/sub"
    assert sub.full_name == "Top / Sub"
    assert GroupMember.objects.get(group=sub, user=user).access_level == AccessLevel.OWNER


def test_validation_messages_collect_every_problem() -> None:
    user = _user("checker")
    top = _group(user, "top")
    _group(user, "first", parent=top)
    with pytest.raises(ValidationFailed) as failed:
        create_group(
            actor=Actor.for_user(user),
            name="First",  # subgroup names are unique within their parent
            path="-bad",
            parent=top,
            description="x" * 501,
            visibility_level=Visibility.PUBLIC,
        )
    assert failed.value.errors == {
        "name": ["has already been taken"],
        "description": ["is too long (maximum is 500 characters)"],
        "path": [
            "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-' or end "
            "in '.', '.git' or '.atom'."
        ],
        "visibility_level": [
            "public is not allowed since the parent group has a private visibility."
        ],
    }


def test_case_only_rename_and_owner_checks() -> None:
    owner = _user("owner")
    other = _user("other")
    group = _group(owner, "casey", visibility_level=Visibility.PUBLIC)
    renamed = update_group(actor=Actor.for_user(owner), group=group, path="Casey")
    assert renamed.full_path == "Casey"
    with pytest.raises(Forbidden):
        update_group(actor=Actor.for_user(other), group=group, description="no")
    with pytest.raises(Forbidden):
        delete_group(actor=Actor.for_user(other), group=group)


def test_transfer_refuses_to_pass_the_nesting_limit() -> None:
    user = _user("deep")
    chain = [_group(user, "l0")]
    for n in range(1, 20):
        chain.append(_group(user, f"l{n}", parent=chain[-1]))
    mover = _group(user, "mover")
    _group(user, "kid", parent=mover)
    # chain[-1] has 19 ancestors; mover would get 20 and its child 21.
    with pytest.raises(TransferFailed) as failed:
        transfer_group(actor=Actor.for_user(user), group=mover, new_parent=chain[-1])
    assert failed.value.body() == {
        "message": "Transfer failed: Validation failed: Parent has too deep level of nesting"
    }
    moved = transfer_group(actor=Actor.for_user(user), group=mover, new_parent=chain[-2])
    assert moved.depth == 20


def test_transfer_to_top_level_gives_the_group_an_owner() -> None:
    admin = _user("boss", is_admin=True)
    top = _group(admin, "top")
    sub = _group(admin, "sub", parent=top)
    GroupMember.objects.filter(group=sub).delete()
    transfer_group(actor=Actor.for_user(admin), group=sub, new_parent=None)
    assert GroupMember.objects.get(group=sub).access_level == AccessLevel.OWNER


def test_groups_around_a_project_membership_are_the_users() -> None:
    import kiln.projects.queries  # noqa: F401 (registers project memberships as a source)
    from kiln.projects.models import Project, ProjectMember

    admin = _user("root2", is_admin=True)
    member = _user("contributor")
    top = _group(admin, "outer")
    inner = _group(admin, "inner", parent=top)
    project = Project.objects.create(name="P", path="p", namespace=inner, repository_key="q-key")
    ProjectMember.objects.create(project=project, user=member, access_level=30)
    mine = list(search_groups_for(Actor.for_user(member), order_by="id"))
    assert mine == [top, inner]


def test_exists_counts_names_as_well_as_paths_in_suggestions() -> None:
    user = _user("namer")
    _group(user, "shop")
    create_group(actor=Actor.for_user(user), name="shop1", path="store")
    assert namespace_exists("shop", parent_id=None) == (True, ["shop2"])
