"""Account services called by other entry points (the CLI, seeding) and rules best seen below
the API: token digests, rotation chains, sole group owners."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from kiln.accounts import tokens
from kiln.accounts.access_tokens import (
    create_personal_access_token_unchecked,
    revoke_token_family,
    rotate_personal_access_token,
)
from kiln.accounts.services import create_user_unchecked, solo_owned_group_ids
from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.core.errors import Conflict, ValidationFailed


def make(username: str, **fields: Any) -> Any:
    return create_user_unchecked(
        username=username,
        name=username.title(),
        email=f"{username}@example.com",
        password=fields.pop("password", None),
        **fields,
    )


def test_create_user_unchecked_for_the_cli(db: None) -> None:
    from kiln.namespaces.models import Namespace

    user = make("cli-user", is_admin=True)
    assert user.is_admin
    assert not user.has_usable_password()
    assert Namespace.objects.get(owner=user).full_path == "cli-user"
    with pytest.raises(Conflict) as taken:
        create_user_unchecked(
            username="CLI-user", name="Other", email="other@example.com", password=None
        )
    assert taken.value.message == "Username has already been taken"
    with pytest.raises(ValidationFailed) as invalid:
        make("bad/name")
    assert list(invalid.value.errors) == ["username"]


def test_tokens_are_stored_as_digests(db: None) -> None:
    user = make("tok")
    token, value = create_personal_access_token_unchecked(
        user=user, name="cli", scopes=["api", "read_repository"]
    )
    assert value.startswith("glpat-")
    assert len(value) >= 26
    assert token.token_digest == hashlib.sha256(value.encode()).hexdigest()
    assert tokens.matches(value, token.token_digest)
    assert not tokens.matches(value + "x", token.token_digest)
    _, seeded_value = create_personal_access_token_unchecked(
        user=user, name="fixed", scopes=["api"], value="glpat-fixed-value-for-seeding"
    )
    assert seeded_value == "glpat-fixed-value-for-seeding"
    with pytest.raises(ValidationFailed) as invalid:
        create_personal_access_token_unchecked(user=user, name="x", scopes=["root"])
    assert invalid.value.errors == {"scopes": ["can only contain available scopes"]}


def test_token_family_revocation_follows_the_whole_chain(db: None) -> None:
    user = make("chain")
    actor = Actor.for_user(user)
    first, _ = create_personal_access_token_unchecked(user=user, name="c", scopes=["api"])
    second, _ = rotate_personal_access_token(actor=actor, token=first)
    third, _ = rotate_personal_access_token(actor=actor, token=second)
    unrelated, _ = create_personal_access_token_unchecked(user=user, name="u", scopes=["api"])
    assert revoke_token_family(token=first) == 1  # `second` was already revoked by rotation
    third.refresh_from_db()
    unrelated.refresh_from_db()
    assert third.revoked is True
    assert unrelated.revoked is False
    assert third.previous_id == second.pk


def test_sole_owners_count_owners_of_ancestors(db: None) -> None:
    from kiln.namespaces.groups import create_group
    from kiln.namespaces.models import GroupMember

    alice, bob = make("alice"), make("bob")
    top = create_group(actor=Actor.for_user(alice), name="Top", path="top")
    sub = create_group(actor=Actor.for_user(alice), name="Sub", path="sub", parent=top)
    assert sorted(solo_owned_group_ids(alice)) == sorted([top.pk, sub.pk])
    # Another Owner of the subgroup alone: the top group is still Alice's alone.
    GroupMember.objects.create(group=sub, user=bob, access_level=AccessLevel.OWNER)
    assert solo_owned_group_ids(alice) == [top.pk]
    # An Owner of the parent owns the subgroup too.
    GroupMember.objects.create(group=top, user=bob, access_level=AccessLevel.OWNER)
    assert solo_owned_group_ids(alice) == []
    # A Maintainer is no owner.
    carol = make("carol")
    solo = create_group(actor=Actor.for_user(carol), name="Solo", path="solo")
    GroupMember.objects.create(group=solo, user=alice, access_level=AccessLevel.MAINTAINER)
    assert solo_owned_group_ids(carol) == [solo.pk]
