"""Group memberships (list direct and inherited, add, change, remove) and the rules every
membership follows, which `kiln.projects.members` shares.

GitLab's rules: a level is one of Guest..Owner; an expiry is not in the past; a membership is
never lower than one the user inherits from an ancestor group ("should be greater than or equal
to Developer inherited membership from group X"); the last Owner of a group may be neither
demoted nor removed; only Owners manage a group's members. Reading members needs
`read_group_member`. Every function here takes the group as `source` so that the API serves
groups and projects with one set of endpoints (`kiln.projects.members` has the same names).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Manager, Model, Q, QuerySet
from django.utils import timezone

from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.core.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from kiln.core.policy import can
from kiln.namespaces import hooks
from kiln.namespaces.access import HUMAN_ACCESS, active_membership_q
from kiln.namespaces.models import GroupMember, Namespace
from kiln.namespaces.queries import get_group_for

MEMBER_LEVELS = frozenset(int(level) for level in AccessLevel.member_levels())
M = TypeVar("M", bound=Model)
# Ids beyond the database's 64-bit integers name nobody (and must not reach the database).
MAX_ID = 2**63 - 1
NOT_INCLUDED = "is not included in the list"
PAST_EXPIRY = "cannot be a date in the past"


class _Unset:
    """Marks a parameter the client did not send (distinct from an explicit null)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass
class EffectiveMember:
    """A user's effective membership in a group or project, whichever row grants it."""

    user_id: int
    access_level: int
    expires_at: dt.date | None
    created_at: dt.datetime
    created_by_id: int | None
    user: Any = None
    created_by: Any = None


class MemberService(Protocol):
    """What this module and `kiln.projects.members` both provide, so that the API and the web
    UI serve group and project members with one piece of code."""

    def find_source_for(self, actor: Actor, ref: str) -> Any: ...

    def list_members_for(
        self,
        *,
        actor: Actor,
        source: Any,
        query: str | None = None,
        user_ids: Sequence[int] = (),
        skip_users: Sequence[int] = (),
    ) -> Any: ...

    def list_all_members_for(
        self, *, actor: Actor, source: Any, query: str | None = None, user_ids: Sequence[int] = ()
    ) -> tuple[Any, dict[int, EffectiveMember]]: ...

    def get_member_for(self, *, actor: Actor, source: Any, user_id: int) -> Any: ...

    def get_effective_member_for(
        self, *, actor: Actor, source: Any, user_id: int
    ) -> EffectiveMember: ...

    def add_member(
        self,
        *,
        actor: Actor,
        source: Any,
        user_ref: str | int,
        by_username: bool = False,
        access_level: int,
        expires_at: dt.date | None = None,
    ) -> Any: ...

    def add_members(
        self,
        *,
        actor: Actor,
        source: Any,
        user_refs: Sequence[str],
        by_username: bool = False,
        access_level: int,
        expires_at: dt.date | None = None,
    ) -> dict[str, Any]: ...

    def update_member(
        self,
        *,
        actor: Actor,
        source: Any,
        user_id: int,
        access_level: int,
        expires_at: dt.date | Any | None = UNSET,
    ) -> Any: ...

    def remove_member(
        self, *, actor: Actor, source: Any, user_id: int, skip_subresources: bool = False
    ) -> None: ...


# --- rules shared with project members -----------------------------------------------------


def find_user(ref: str | int, *, by_username: bool) -> Any | None:
    """A user by id, or by username (case-insensitive) when `by_username`."""
    users = get_user_model().objects.all()
    text = str(ref).strip()
    if by_username:
        return users.filter(username__iexact=text).first()
    if not text.isdigit() or int(text) > MAX_ID:
        return None
    return users.filter(pk=int(text)).first()


def member_search_q(query: str | None, user_ids: Sequence[int] = (), prefix: str = "user__") -> Q:
    """GitLab's member filters: `query` (name or username, partial; email, exact), `user_ids`."""
    q = Q()
    if query:
        q &= (
            Q(**{f"{prefix}name__icontains": query})
            | Q(**{f"{prefix}username__icontains": query})
            | Q(**{f"{prefix}email__iexact": query})
        )
    if user_ids:
        q &= Q(**{f"{prefix}id__in" if prefix else "pk__in": list(user_ids)})
    return q


def highest_group_membership(user_id: int, group_ids: Iterable[int]) -> GroupMember | None:
    """The user's highest active membership among `group_ids` (the closest group on a tie)."""
    rows = list(
        GroupMember.objects.filter(active_membership_q(), user_id=user_id, group_id__in=group_ids)
        .select_related("group")
        .order_by("-access_level")
    )
    if not rows:
        return None
    best = rows[0].access_level
    return max(
        (r for r in rows if r.access_level == best), key=lambda r: r.group.traversal_ids.count("/")
    )


def membership_errors(
    *,
    access_level: int | None,
    expires_at: dt.date | Any | None,
    inherited: GroupMember | None,
) -> dict[str, list[str]]:
    """Validation of a membership's level and expiry, with GitLab's messages."""
    errors: dict[str, list[str]] = {}
    if access_level is not None and access_level not in MEMBER_LEVELS:
        errors["access_level"] = [NOT_INCLUDED]
    if isinstance(expires_at, dt.date) and expires_at < timezone.now().date():
        errors["expires_at"] = [PAST_EXPIRY]
    if (
        access_level is not None
        and "access_level" not in errors
        and inherited is not None
        and inherited.access_level > access_level
    ):
        human = HUMAN_ACCESS.get(AccessLevel(inherited.access_level), str(inherited.access_level))
        errors.setdefault("access_level", []).append(
            f"should be greater than or equal to {human} inherited membership from group "
            f"{inherited.group.name}"
        )
    return errors


def full_messages(errors: dict[str, list[str]]) -> str:
    """Rails' `errors.full_messages.to_sentence`: "Access level should be ..."."""
    messages = [
        f"{key.replace('_', ' ').capitalize()} {m}" for key, ms in errors.items() for m in ms
    ]
    if len(messages) <= 2:
        return " and ".join(messages)
    return ", ".join(messages[:-1]) + ", and " + messages[-1]


def users_of(
    members: dict[int, EffectiveMember], query: str | None, user_ids: Sequence[int]
) -> Any:
    """The users of effective memberships as a queryset to paginate (GitLab orders by user)."""
    users = get_user_model().objects.filter(pk__in=sorted(members))
    return users.filter(member_search_q(query, user_ids, prefix="")).order_by("pk")


def attach_users(users: list[Any], members: dict[int, EffectiveMember]) -> list[EffectiveMember]:
    """One page of effective memberships with their users (and creators, in one query)."""
    rows = [members[u.pk] for u in users]
    for user, row in zip(users, rows, strict=True):
        row.user = user
    creator_ids = {r.created_by_id for r in rows if r.created_by_id is not None}
    creators = get_user_model().objects.in_bulk(creator_ids) if creator_ids else {}
    for row in rows:
        row.created_by = creators.get(row.created_by_id) if row.created_by_id else None
    return rows


def merge_effective(
    found: dict[int, EffectiveMember], row: Any, *, level: int | None = None
) -> None:
    """Keep the highest membership per user (the first seen on a tie: callers go closest first)."""
    access = row.access_level if level is None else level
    current = found.get(row.user_id)
    if current is None or access > current.access_level:
        found[row.user_id] = EffectiveMember(
            user_id=row.user_id,
            access_level=access,
            expires_at=row.expires_at,
            created_at=row.created_at,
            created_by_id=row.created_by_id,
        )


# --- the steps every membership read and write takes, for groups and projects alike -------
# The caller authorizes (the permission differs); these apply the common rules.


def filter_direct_members(
    members: QuerySet[M], *, query: str | None, user_ids: Sequence[int], skip_users: Sequence[int]
) -> QuerySet[M]:
    """Direct memberships matching GitLab's member filters, in the order they were added."""
    qs = members.filter(member_search_q(query, user_ids))
    if skip_users:
        qs = qs.exclude(user_id__in=list(skip_users))
    return qs.order_by("id")


def effective_member(members: dict[int, EffectiveMember], user_id: int) -> EffectiveMember:
    """The effective membership of `user_id` with its user, else `404 Not found`."""
    if user_id not in members:
        raise NotFound()
    return attach_users(list(get_user_model().objects.filter(pk=user_id)), members)[0]


def create_member(
    rows: Manager[M],
    *,
    actor: Actor,
    user_ref: str | int,
    by_username: bool,
    access_level: int,
    expires_at: dt.date | None,
    authorize: Callable[[], None],
    inherited: Callable[[int], GroupMember | None],
) -> M:
    """Add one user to `rows` (a group's or a project's `members`), in GitLab's API order: an
    unknown user is 404 and an existing member 409 (both before `authorize`, which raises 403),
    then the level and expiry are validated (400)."""
    user = find_user(user_ref, by_username=by_username)
    if user is None:
        raise NotFound("User")
    if rows.filter(user_id=user.pk).exists():
        raise Conflict("Member already exists")
    authorize()
    errors = membership_errors(
        access_level=access_level, expires_at=expires_at, inherited=inherited(user.pk)
    )
    if errors:
        raise ValidationFailed(errors)
    try:
        with transaction.atomic():
            return rows.create(
                user=user, access_level=access_level, expires_at=expires_at, created_by=actor.user
            )
    except IntegrityError:
        raise Conflict("Member already exists") from None


def add_or_update_members(
    rows: Manager[M],
    *,
    actor: Actor,
    user_refs: Sequence[str],
    by_username: bool,
    access_level: int,
    expires_at: dt.date | None,
    inherited: Callable[[int], GroupMember | None],
    locked: Callable[[M], str | None],
) -> dict[str, Any]:
    """Add several users to `rows` at once (comma-separated ids or usernames); the caller has
    authorized. GitLab's bulk answer: `{"status": "success"}` or `{"status": "error",
    "message": {<user>: <why>}}`. Existing members get the new level, as GitLab's bulk add
    does, unless `locked` names why that member cannot be changed."""
    if not any(r.strip() for r in user_refs):
        return {"status": "error", "message": "No users specified."}
    failures: dict[str, str] = {}
    for ref in dict.fromkeys(r.strip() for r in user_refs if r.strip()):
        user = find_user(ref, by_username=by_username)
        if user is None:
            failures[ref] = "User not found"
            continue
        errors = membership_errors(
            access_level=access_level, expires_at=expires_at, inherited=inherited(user.pk)
        )
        existing = rows.filter(user_id=user.pk).first()
        reason = locked(existing) if not errors and existing is not None else None
        if reason is not None:
            errors = {"base": [reason]}
        if errors:
            failures[user.username] = full_messages(errors)
            continue
        with transaction.atomic():
            rows.update_or_create(
                user=user,
                defaults={"access_level": access_level, "expires_at": expires_at},
                create_defaults={
                    "access_level": access_level,
                    "expires_at": expires_at,
                    "created_by": actor.user,
                },
            )
    if failures:
        return {"status": "error", "message": failures}
    return {"status": "success"}


def change_member(
    member: Any,
    *,
    access_level: int,
    expires_at: dt.date | Any | None,
    inherited: GroupMember | None,
) -> None:
    """Validate and save a membership's new level, and its expiry unless `UNSET`; the caller
    has authorized the change."""
    errors = membership_errors(
        access_level=access_level, expires_at=expires_at, inherited=inherited
    )
    if errors:
        raise ValidationFailed(errors)
    member.access_level = access_level
    fields = ["access_level"]
    if expires_at is not UNSET:
        member.expires_at = expires_at
        fields.append("expires_at")
    member.save(update_fields=fields)


# --- group members --------------------------------------------------------------------------


def find_source_for(actor: Actor, ref: str) -> Namespace:
    """The group named by `ref` if the actor may see it (404 otherwise)."""
    return get_group_for(actor, ref)


def _authorize_read(actor: Actor, group: Namespace) -> None:
    if actor.user is None:
        raise Unauthorized()
    if not can(actor, "read_group_member", group):
        raise Forbidden()


def _members(group: Namespace) -> QuerySet[GroupMember]:
    return GroupMember.objects.filter(group=group).select_related("user", "created_by")


def list_members_for(
    *,
    actor: Actor,
    source: Namespace,
    query: str | None = None,
    user_ids: Sequence[int] = (),
    skip_users: Sequence[int] = (),
) -> QuerySet[GroupMember]:
    """Direct members of the group."""
    _authorize_read(actor, source)
    return filter_direct_members(
        _members(source), query=query, user_ids=user_ids, skip_users=skip_users
    )


def effective_members(group: Namespace) -> dict[int, EffectiveMember]:
    """Each user with an active membership in the group or an ancestor, at their highest level."""
    rows = sorted(
        GroupMember.objects.filter(active_membership_q(), group_id__in=group.ancestor_ids)
        .select_related("group")
        .only(
            "user_id",
            "access_level",
            "expires_at",
            "created_at",
            "created_by_id",
            "group__traversal_ids",
        ),
        key=lambda r: -r.group.traversal_ids.count("/"),
    )
    found: dict[int, EffectiveMember] = {}
    for row in rows:
        merge_effective(found, row)
    return found


def list_all_members_for(
    *, actor: Actor, source: Namespace, query: str | None = None, user_ids: Sequence[int] = ()
) -> tuple[Any, dict[int, EffectiveMember]]:
    """Members including those inherited from ancestors: (users to paginate, memberships)."""
    _authorize_read(actor, source)
    members = effective_members(source)
    return users_of(members, query, user_ids), members


def direct_member(members: QuerySet[M], user_id: int) -> M:
    """The membership of `user_id` among `members`, else GitLab's `404 Not found`."""
    member = members.filter(user_id=user_id).first() if 0 < user_id <= MAX_ID else None
    if member is None:
        raise NotFound()
    return member


def get_member_for(*, actor: Actor, source: Namespace, user_id: int) -> GroupMember:
    _authorize_read(actor, source)
    return direct_member(_members(source), user_id)


def get_effective_member_for(*, actor: Actor, source: Namespace, user_id: int) -> EffectiveMember:
    _authorize_read(actor, source)
    return effective_member(effective_members(source), user_id)


def _inherited(group: Namespace, user_id: int) -> GroupMember | None:
    return highest_group_membership(user_id, group.ancestor_ids[:-1])


def _is_last_owner(group: Namespace, member: GroupMember) -> bool:
    """GitLab's `last_owner?`: the only Owner (a subgroup counts its ancestors' Owners)."""
    if member.access_level != AccessLevel.OWNER:
        return False
    ids = [group.pk] if group.parent_id is None else group.ancestor_ids
    owners = list(
        GroupMember.objects.filter(
            active_membership_q(), group_id__in=ids, access_level=AccessLevel.OWNER
        ).values_list("user_id", flat=True)[:2]
    )
    return owners == [member.user_id]


def _authorize_admin(actor: Actor, group: Namespace) -> None:
    if not can(actor, "admin_group_member", group):
        raise Forbidden()


def add_member(
    *,
    actor: Actor,
    source: Namespace,
    user_ref: str | int,
    by_username: bool = False,
    access_level: int,
    expires_at: dt.date | None = None,
) -> GroupMember:
    """Add one user to the group. Needs `admin_group_member` (Owner); the order of the
    checks is `create_member`'s."""
    member = create_member(
        source.members,
        actor=actor,
        user_ref=user_ref,
        by_username=by_username,
        access_level=access_level,
        expires_at=expires_at,
        authorize=lambda: _authorize_admin(actor, source),
        inherited=lambda user_id: _inherited(source, user_id),
    )
    return _members(source).get(pk=member.pk)


def add_members(
    *,
    actor: Actor,
    source: Namespace,
    user_refs: Sequence[str],
    by_username: bool = False,
    access_level: int,
    expires_at: dt.date | None = None,
) -> dict[str, Any]:
    """Add several users at once (see `add_or_update_members`); never changes the last
    Owner. Needs `admin_group_member`."""
    _authorize_admin(actor, source)

    def locked(existing: GroupMember) -> str | None:
        return "cannot change the last owner" if _is_last_owner(source, existing) else None

    return add_or_update_members(
        source.members,
        actor=actor,
        user_refs=user_refs,
        by_username=by_username,
        access_level=access_level,
        expires_at=expires_at,
        inherited=lambda user_id: _inherited(source, user_id),
        locked=locked,
    )


def update_member(
    *,
    actor: Actor,
    source: Namespace,
    user_id: int,
    access_level: int,
    expires_at: dt.date | Any | None = UNSET,
) -> GroupMember:
    """Change a member's level or expiry. Needs `admin_group_member`; never the last Owner."""
    member = direct_member(_members(source), user_id)
    if not can(actor, "admin_group_member", source) or _is_last_owner(source, member):
        raise Forbidden()
    change_member(
        member,
        access_level=access_level,
        expires_at=expires_at,
        inherited=_inherited(source, user_id),
    )
    return member


def remove_member(
    *, actor: Actor, source: Namespace, user_id: int, skip_subresources: bool = False
) -> None:
    """Remove a member (a user may leave by themselves); never the last Owner. Unless
    `skip_subresources`, the user's direct memberships below the group go too, as GitLab's."""
    member = direct_member(_members(source), user_id)
    leaving = actor.user is not None and actor.user.pk == user_id
    if not (leaving or can(actor, "admin_group_member", source)) or _is_last_owner(source, member):
        raise Forbidden()
    with transaction.atomic():
        member.delete()
        if not skip_subresources:
            below = list(
                Namespace.objects.filter(
                    traversal_ids__startswith=source.traversal_ids + "/"
                ).values_list("pk", flat=True)
            )
            GroupMember.objects.filter(group_id__in=below, user_id=user_id).delete()
            hooks.run_member_removal([source.pk, *below], user_id)
