"""Reads of users, SSH keys and personal access tokens, restricted to what the actor may see.

User profiles are public on GitLab (blocked ones are hidden from non-admin lists, never from a
lookup by id); tokens are seen by their owner and by admins; keys are public, as GitLab lists
them for anyone who knows the user.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Case, Count, IntegerField, Max, Q, QuerySet, Value, When
from django.db.models.functions import Lower
from django.utils import timezone

from kiln.accounts.models import PersonalAccessToken, SSHKey, User, UserAvatar, UserState
from kiln.core.actor import Actor
from kiln.core.errors import NotFound, Unauthorized
from kiln.core.policy import can
from kiln.namespaces.access import active_membership_q
from kiln.namespaces.models import GroupMember, Namespace
from kiln.projects.models import Project, ProjectMember

# States GitLab hides from everyone but admins in user lists (`FORBIDDEN_SEARCH_STATES`).
_HIDDEN_STATES = (UserState.BLOCKED,)


def find_user(ref: str | int) -> User | None:
    """A user by id or username (case-insensitive), with no visibility check."""
    text = str(ref)
    if text.isdigit():
        return User.objects.filter(pk=int(text)).first()
    if not text or len(text) > 255:
        return None
    return User.objects.annotate(lu=Lower("username")).filter(lu=text.lower()).first()


def get_user_for(actor: Actor, ref: str | int) -> User:
    """The user (by id or username) if the actor may see it; else 404 `User Not Found`."""
    user = find_user(ref)
    if user is None or not can(actor, "read_user", user):
        raise NotFound("User")
    return user


@dataclass(frozen=True)
class UserFilters:
    """GitLab's `GET /users` filters (`UsersFinder`); admin-only ones are dropped for others."""

    username: str | None = None
    public_email: str | None = None
    search: str | None = None
    active: bool = False
    blocked: bool = False
    external: bool = False
    humans: bool = False
    exclude_active: bool = False
    exclude_external: bool = False
    exclude_humans: bool = False
    exclude_internal: bool = False
    without_project_bots: bool = False
    # Admins only.
    admins: bool = False
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    without_projects: bool = False
    two_factor: str | None = None
    # Ordering (GitLab lets everyone order; the default is id, descending).
    order_by: str | None = None
    sort: str | None = None


_ORDER_FIELDS = {
    "id": "id",
    "name": "name",
    "username": "username",
    "created_at": "created_at",
    "updated_at": "updated_at",
}


def _search_q(query: str, *, with_private_emails: bool) -> Q:
    lowered = query.lower()
    q = Q(name__icontains=query) | Q(username__icontains=query)
    q |= Q(public_email__iexact=lowered)
    if with_private_emails:
        q |= Q(email__iexact=lowered)
    return q


def list_users_for(actor: Actor, filters: UserFilters) -> QuerySet[User]:
    """Users the actor may list, filtered and ordered as GitLab's `UsersFinder` does.

    The caller checks that an anonymous actor gave a `username` (GitLab refuses a full list).
    """
    admin = actor.is_admin
    qs = User.objects.all()
    if admin:
        # Admins see `created_by` on every row: fetch it with the page.
        qs = qs.select_related("created_by")
    else:
        qs = qs.exclude(state__in=_HIDDEN_STATES)
    if filters.username is not None:
        qs = qs.annotate(lu=Lower("username")).filter(lu=filters.username.lower())
    if filters.public_email is not None:
        qs = qs.filter(public_email=filters.public_email) if filters.public_email else qs.none()
    if admin and filters.admins:
        qs = qs.filter(is_admin=True)
    if filters.humans:
        qs = qs.filter(bot=False)
    if filters.exclude_humans:
        qs = qs.filter(bot=True)
    if filters.blocked:
        qs = qs.filter(state=UserState.BLOCKED)
    if filters.active:
        qs = qs.filter(state=UserState.ACTIVE)
    if filters.exclude_active:
        qs = qs.exclude(state=UserState.ACTIVE)
    if filters.external:
        qs = qs.filter(external=True)
    if filters.exclude_external:
        qs = qs.filter(external=False)
    if filters.without_project_bots:
        qs = qs.filter(bot=False)
    # `exclude_internal`: Kiln has no internal users (GitLab's ghost and support bots), so the
    # filter leaves every row in.
    if admin:
        if filters.created_after is not None:
            qs = qs.filter(created_at__gt=filters.created_after)
        if filters.created_before is not None:
            qs = qs.filter(created_at__lt=filters.created_before)
        if filters.without_projects:
            qs = qs.exclude(pk__in=ProjectMember.objects.values("user_id")).exclude(
                pk__in=Project.objects.filter(namespace__owner__isnull=False).values(
                    "namespace__owner_id"
                )
            )
        if filters.two_factor == "enabled":
            # Kiln has no two-factor authentication yet: nobody has it enabled.
            qs = qs.none()
    search = (filters.search or "").removeprefix("@")
    if search:
        qs = qs.filter(_search_q(search, with_private_emails=admin))
    if search and filters.order_by is None and filters.sort is None:
        # GitLab's `User.search` order: exact matches of the public email, the username, the
        # name first, then by name.
        lowered = search.lower()
        rank = Case(
            When(public_email__iexact=lowered, then=Value(0)),
            When(username__iexact=lowered, then=Value(1)),
            When(name__iexact=lowered, then=Value(2)),
            default=Value(3),
            output_field=IntegerField(),
        )
        return qs.annotate(search_rank=rank).order_by("search_rank", "name", "id")
    field = _ORDER_FIELDS.get(filters.order_by or "id", "id")
    descending = (filters.sort or "desc") == "desc"
    prefix = "-" if descending else ""
    ordering = [f"{prefix}{field}"]
    if field != "id":
        ordering.append(f"{prefix}id")
    return qs.order_by(*ordering)


def personal_project_counts(user_ids: Iterable[int]) -> dict[int, int]:
    """Projects in each user's personal namespace, for `can_create_project` (one query)."""
    ids = list(user_ids)
    if not ids:
        return {}
    rows = (
        Project.objects.filter(namespace__owner_id__in=ids)
        .values("namespace__owner_id")
        .annotate(n=Count("id"))
    )
    return {row["namespace__owner_id"]: row["n"] for row in rows}


def personal_namespace_ids(user_ids: Iterable[int]) -> dict[int, int]:
    ids = list(user_ids)
    if not ids:
        return {}
    rows = Namespace.objects.filter(owner_id__in=ids).values_list("owner_id", "id")
    return {owner: ns for owner, ns in rows if owner is not None}


def highest_role(user: User) -> int:
    """The highest access level the user has in any group or project (0 when none)."""
    group = GroupMember.objects.filter(active_membership_q(), user_id=user.pk).aggregate(
        m=Max("access_level")
    )["m"]
    project = ProjectMember.objects.filter(active_membership_q(), user_id=user.pk).aggregate(
        m=Max("access_level")
    )["m"]
    return max(group or 0, project or 0)


def list_ssh_keys_for(actor: Actor, user: User) -> QuerySet[SSHKey]:
    """A user's SSH keys. Public keys are public: GitLab lists them to anyone."""
    return SSHKey.objects.filter(user=user).select_related("user").order_by("id")


def get_ssh_key_for(actor: Actor, user: User, key_id: int) -> SSHKey:
    key = SSHKey.objects.filter(user=user, pk=key_id).select_related("user").first()
    if key is None:
        raise NotFound("Key")
    return key


@dataclass(frozen=True)
class TokenFilters:
    """GitLab's `GET /personal_access_tokens` filters."""

    user_id: int | None = None
    user_id_given: bool = False
    revoked: bool | None = None
    state: str | None = None
    created_before: dt.datetime | None = None
    created_after: dt.datetime | None = None
    last_used_before: dt.datetime | None = None
    last_used_after: dt.datetime | None = None
    expires_before: dt.date | None = None
    expires_after: dt.date | None = None
    search: str | None = None
    sort: str | None = None


_TOKEN_SORTS: dict[str, tuple[str, ...]] = {
    "id_asc": ("id",),
    "id_desc": ("-id",),
    "created_asc": ("created_at", "id"),
    "created_desc": ("-created_at", "-id"),
    "expires_asc": ("expires_at", "-id"),
    "expires_desc": ("-expires_at", "-id"),
    "last_used_asc": ("last_used_at", "-id"),
    "last_used_desc": ("-last_used_at", "-id"),
    "name_asc": ("name", "id"),
    "name_desc": ("-name", "-id"),
}


def active_tokens_q(prefix: str = "") -> Q:
    today = timezone.now().date()
    not_expired = Q(**{f"{prefix}expires_at__isnull": True}) | Q(
        **{f"{prefix}expires_at__gt": today}
    )
    return Q(**{f"{prefix}revoked": False}) & not_expired


def list_personal_access_tokens_for(
    actor: Actor, filters: TokenFilters
) -> QuerySet[PersonalAccessToken]:
    """Tokens the actor may list: admins all (or one user's), others only their own.

    Raises as GitLab does: a non-admin naming another user's id gets 401, an admin naming a
    missing user 404.
    """
    if actor.user is None:
        raise Unauthorized()
    qs = PersonalAccessToken.objects.select_related("user")
    if actor.is_admin:
        if filters.user_id_given:
            user = User.objects.filter(pk=filters.user_id).first() if filters.user_id else None
            if user is None:
                raise NotFound()
            qs = qs.filter(user=user)
    else:
        if filters.user_id_given and filters.user_id is not None:
            target = User.objects.filter(pk=filters.user_id).first()
            if target is None or not can(actor, "read_user_personal_access_tokens", target):
                raise Unauthorized()
        qs = qs.filter(user_id=actor.user.pk, impersonation=False)
    if filters.revoked is not None:
        qs = qs.filter(revoked=filters.revoked)
    if filters.state == "active":
        qs = qs.filter(active_tokens_q())
    elif filters.state == "inactive":
        qs = qs.exclude(active_tokens_q())
    if filters.created_before is not None:
        qs = qs.filter(created_at__lt=filters.created_before)
    if filters.created_after is not None:
        qs = qs.filter(created_at__gt=filters.created_after)
    if filters.last_used_before is not None:
        qs = qs.filter(last_used_at__lte=filters.last_used_before)
    if filters.last_used_after is not None:
        qs = qs.filter(last_used_at__gte=filters.last_used_after)
    if filters.expires_before is not None:
        qs = qs.filter(expires_at__lt=filters.expires_before)
    if filters.expires_after is not None:
        qs = qs.filter(expires_at__gte=filters.expires_after)
    if filters.search:
        qs = qs.filter(name__icontains=filters.search)
    return qs.order_by(*_TOKEN_SORTS.get(filters.sort or "", ("id",)))


def find_personal_access_token(token_id: int) -> PersonalAccessToken | None:
    return PersonalAccessToken.objects.select_related("user").filter(pk=token_id).first()


def get_personal_access_token_for(actor: Actor, token_id: int) -> PersonalAccessToken:
    """The token if the actor may read it. GitLab tells only admins that a token is missing:
    everyone else gets 401 whether it exists or not."""
    token = find_personal_access_token(token_id)
    if token is not None and can(actor, "read_user_personal_access_tokens", token.user):
        return token
    if actor.is_admin:
        raise NotFound()
    raise Unauthorized()


def list_own_personal_access_tokens(actor: Actor, *, active: bool) -> QuerySet[PersonalAccessToken]:
    """The signed-in user's own tokens (never impersonation ones), active or inactive, newest
    first, for `/-/user_settings/personal_access_tokens`."""
    if actor.user is None:
        raise Unauthorized()
    qs = PersonalAccessToken.objects.filter(user_id=actor.user.pk, impersonation=False)
    qs = qs.filter(active_tokens_q()) if active else qs.exclude(active_tokens_q())
    return qs.order_by("-created_at", "-id")


def get_own_personal_access_token(actor: Actor, token_id: int) -> PersonalAccessToken:
    """One of the signed-in user's own tokens; anyone else's (even to an admin) is 404, as on
    GitLab's profile page."""
    token = None
    if actor.user is not None:
        token = (
            PersonalAccessToken.objects.select_related("user")
            .filter(pk=token_id, user_id=actor.user.pk, impersonation=False)
            .first()
        )
    if token is None:
        raise NotFound("Personal access token")
    return token


def get_avatar(user_id: int) -> UserAvatar | None:
    """A user's uploaded avatar. Avatars are public, as on GitLab."""
    return UserAvatar.objects.filter(user_id=user_id).first()
