"""Reads of namespaces and groups, already restricted to what the actor may see.

Lists build one `Q` from visibility and the actor's memberships (never load-then-check), so a
list, its count and a lookup by id filter alike; whatever the actor may not see is absent, and
a lookup answers 404 exactly as for a missing row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Lower

from kiln.core.access import AccessLevel, Visibility
from kiln.core.actor import Actor
from kiln.core.errors import NotFound
from kiln.core.names import path_from_name
from kiln.core.policy import authorize, can
from kiln.namespaces.access import (
    active_membership_q,
    ancestors_ids_q,
    member_group_traversals,
    subtree_q,
)
from kiln.namespaces.models import GroupMember, Namespace, NamespaceKind

# Packages above this one (projects) tell which namespaces hold things the actor is a member
# of, so that the groups around them become visible without this package importing theirs.
MembershipSource = Callable[[Actor], list[str]]
_MEMBERSHIP_SOURCES: list[MembershipSource] = []

# GitLab matches a search of fewer than 3 characters exactly, longer ones anywhere.
MIN_CHARS_FOR_PARTIAL_MATCHING = 3

GroupOrder = Literal["name", "path", "id", "similarity"]
SortDirection = Literal["asc", "desc"]


def register_membership_source(source: MembershipSource) -> None:
    if source not in _MEMBERSHIP_SOURCES:
        _MEMBERSHIP_SOURCES.append(source)


def membership_traversals(actor: Actor) -> list[str]:
    """Traversal ids of every namespace holding a group or project membership of the actor."""
    if actor.user is None:
        return []
    key = ("membership_traversals",)
    if key not in actor.memo:
        found = set(member_group_traversals(actor))
        for source in _MEMBERSHIP_SOURCES:
            found.update(source(actor))
        actor.memo[key] = sorted(found)
    return list(actor.memo[key])


def has_membership_below(actor: Actor, group: Namespace) -> bool:
    prefix = group.traversal_ids + "/"
    return any(t.startswith(prefix) for t in membership_traversals(actor))


def authorized_groups_q(actor: Actor) -> Q:
    """Groups the actor belongs to: below a group membership, or around any membership."""
    if actor.user is None:
        return Q(pk__in=[])
    return subtree_q(member_group_traversals(actor)) | ancestors_ids_q(membership_traversals(actor))


def _least_visible_level(actor: Actor) -> int:
    """Groups at this visibility or more are visible to the actor whatever their memberships."""
    if actor.user is not None and not actor.user.external:
        return Visibility.INTERNAL
    return Visibility.PUBLIC


def visible_groups_q(actor: Actor) -> Q:
    if actor.is_admin:
        return Q(kind=NamespaceKind.GROUP)
    q = Q(visibility_level__gte=_least_visible_level(actor))
    return Q(kind=NamespaceKind.GROUP) & (q | authorized_groups_q(actor))


def visible_group_ids(actor: Actor, groups: Mapping[int, int]) -> set[int]:
    """Which of these groups (id -> visibility level) the actor may see, as `visible_groups_q`
    decides: by visibility alone where that suffices, else by memberships (one query)."""
    if actor.is_admin:
        return set(groups)
    least = _least_visible_level(actor)
    visible = {group_id for group_id, level in groups.items() if level >= least}
    if rest := [group_id for group_id in groups if group_id not in visible]:
        found = Namespace.objects.filter(visible_groups_q(actor), pk__in=rest)
        visible.update(found.values_list("pk", flat=True))
    return visible


def list_groups_for(actor: Actor) -> QuerySet[Namespace]:
    """Every group the actor may see."""
    return Namespace.objects.filter(visible_groups_q(actor))


def _search_q(search: str, fields: Sequence[str]) -> Q:
    q = Q(pk__in=[])
    lookup = "icontains" if len(search) >= MIN_CHARS_FOR_PARTIAL_MATCHING else "iexact"
    for field in fields:
        q |= Q(**{f"{field}__{lookup}": search})
    return q


def _order(
    qs: QuerySet[Namespace], order_by: GroupOrder, sort: SortDirection, search: str | None
) -> QuerySet[Namespace]:
    if order_by == "similarity" and search:
        # Closest first: exact path, exact name, path prefix, name prefix, the rest; then
        # GitLab's tie-breakers (subgroups before top-level groups, newest first).
        rank = Case(
            When(path__iexact=search, then=Value(0)),
            When(name__iexact=search, then=Value(1)),
            When(path__istartswith=search, then=Value(2)),
            When(name__istartswith=search, then=Value(3)),
            default=Value(4),
            output_field=IntegerField(),
        )
        return qs.annotate(similarity_rank=rank).order_by("similarity_rank", "-parent_id", "-id")
    field = "name" if order_by == "similarity" else order_by
    prefix = "-" if sort == "desc" else ""
    if field == "id":
        return qs.order_by(f"{prefix}id")
    return qs.order_by(f"{prefix}{field}", "id")


def search_groups_for(
    actor: Actor,
    *,
    parent: Namespace | None = None,
    include_descendants: bool = False,
    all_available: bool | None = None,
    owned: bool = False,
    min_access_level: int | None = None,
    top_level_only: bool = False,
    search: str | None = None,
    visibility: int | None = None,
    skip_groups: Sequence[int] = (),
    order_by: GroupOrder = "name",
    sort: SortDirection = "asc",
) -> QuerySet[Namespace]:
    """GitLab's GroupsFinder: `GET /groups`, `/groups/:id/subgroups`, `/descendant_groups`.

    Without a parent: `owned` and `min_access_level` narrow to the actor's memberships;
    otherwise admins see every group, anonymous users the public ones, and signed-in users the
    groups they belong to, plus every group they may see with `all_available`. With a parent
    (whose visibility the caller checked): its children (or descendants) the actor may see.
    """
    if owned:
        base = _direct_groups_q(actor, AccessLevel.OWNER)
    elif min_access_level is not None:
        base = subtree_q(member_group_traversals(actor, min_access_level))
    elif parent is not None:
        base = visible_groups_q(actor)
    elif actor.is_admin and all_available is not False:
        base = Q()
    elif actor.user is None or all_available:
        base = visible_groups_q(actor)
    else:
        base = authorized_groups_q(actor)
    qs = Namespace.objects.filter(Q(kind=NamespaceKind.GROUP) & base)
    if parent is not None:
        if include_descendants:
            qs = qs.filter(traversal_ids__startswith=parent.traversal_ids + "/")
        else:
            qs = qs.filter(parent_id=parent.pk)
    if top_level_only:
        qs = qs.filter(parent__isnull=True)
    if search:
        # Top-level lists search the full path and name, as GitLab's `include_parents`.
        fields = ("path", "name") if parent is not None else ("full_path", "full_name")
        qs = qs.filter(_search_q(search, fields))
    if visibility is not None:
        qs = qs.filter(visibility_level=visibility)
    if skip_groups:
        qs = qs.exclude(pk__in=list(skip_groups))
    return _order(qs.select_related("parent"), order_by, sort, search)


def _direct_groups_q(actor: Actor, level: int) -> Q:
    if actor.user is None:
        return Q(pk__in=[])
    ids = GroupMember.objects.filter(
        active_membership_q(), user_id=actor.user.pk, access_level__gte=level
    ).values("group_id")
    return Q(pk__in=ids)


def find_namespace(ref: str | int) -> Namespace | None:
    """A namespace by id or full path (case-insensitive), with no visibility check."""
    text = str(ref)
    qs = Namespace.objects.select_related("parent", "owner")
    # `[:1]`, not `.first()`: at most one row matches, and ordering it costs CPU.
    if text.isdigit():
        return next(iter(qs.filter(pk=int(text))[:1]), None)
    return next(iter(qs.alias(lp=Lower("full_path")).filter(lp=text.lower())[:1]), None)


def find_namespace_by_path(full_path: str) -> Namespace | None:
    """A namespace by full path only (case-insensitive; `123` is a path here, not an id)."""
    qs = Namespace.objects.select_related("parent", "owner")
    return next(iter(qs.alias(lp=Lower("full_path")).filter(lp=full_path.lower())[:1]), None)


def get_group_for(actor: Actor, ref: str | int, *, action: str = "read_group") -> Namespace:
    """The group if the actor may see it and do `action` to it; else 404 as if missing."""
    group = find_namespace(ref)
    if group is None or not group.is_group:
        raise NotFound("Group")
    authorize(actor, "read_group", group, what="Group")
    if action != "read_group":
        authorize(actor, action, group, what="Group")
    return group


def get_namespace_for(actor: Actor, ref: str | int) -> Namespace:
    namespace = find_namespace(ref)
    if namespace is None:
        raise NotFound("Namespace")
    if namespace.is_group:
        authorize(actor, "read_group", namespace, what="Namespace")
    elif not actor.is_admin and namespace.owner_id != actor.user_id:
        # Personal namespaces are listed only to their owner and admins, as on GitLab.
        raise NotFound("Namespace")
    return namespace


# --- /namespaces -------------------------------------------------------------------------


def list_namespaces_for(
    actor: Actor, *, owned_only: bool = False, top_level_only: bool = False, search: str | None
) -> QuerySet[Namespace]:
    """GitLab's `/namespaces`: admins see all; a user their own namespace and the groups they
    are a direct member of (`owned_only`: an Owner of)."""
    if actor.is_admin:
        qs = Namespace.objects.all()
    elif actor.user is None:
        qs = Namespace.objects.none()
    else:
        level = AccessLevel.OWNER if owned_only else AccessLevel.GUEST
        qs = Namespace.objects.filter(
            Q(kind=NamespaceKind.USER, owner_id=actor.user.pk)
            | (Q(kind=NamespaceKind.GROUP) & _direct_groups_q(actor, level))
        )
    if top_level_only:
        qs = qs.filter(parent__isnull=True)
    if search:
        qs = qs.filter(_search_q(search, ("path", "name")))
    return qs.select_related("owner").order_by("id")


def get_namespace_via_membership_for(actor: Actor, ref: str | int) -> Namespace:
    """`GET /namespaces/:id`: a group the actor has access to, or their own namespace."""
    namespace = find_namespace(ref)
    if namespace is None or not can(actor, "read_namespace_via_membership", namespace):
        raise NotFound("Namespace")
    return namespace


def namespace_exists(path: str, *, parent_id: int | None) -> tuple[bool, list[str]]:
    """Whether `path` is taken among the parent's children (top level when None), with a free
    alternative when it is: GitLab's `/namespaces/:id/exists`. Visibility is not checked, as on
    GitLab: a path is taken whoever may see the namespace."""
    siblings = Namespace.objects.filter(parent_id=parent_id)
    exists = siblings.annotate(lp=Lower("path")).filter(lp=path.lower()).exists()
    if not exists:
        return False, []
    base = path_from_name(path)
    taken = {
        value.lower()
        for pair in siblings.filter(
            Q(path__istartswith=base) | Q(name__istartswith=base)
        ).values_list("path", "name")
        for value in pair
    }
    suggestion = base
    counter = 0
    while suggestion.lower() in taken:
        counter += 1
        suggestion = f"{base}{counter}"
    return True, [suggestion]
