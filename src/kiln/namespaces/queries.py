"""Reads of namespaces and groups, already restricted to what the actor may see."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from kiln.core.access import Visibility
from kiln.core.actor import Actor
from kiln.core.errors import NotFound
from kiln.core.policy import authorize
from kiln.namespaces.access import member_group_traversals, subtree_q
from kiln.namespaces.models import Namespace, NamespaceKind

# Packages above this one (projects) tell which namespaces hold things the actor is a member
# of, so that the groups around them become visible without this package importing theirs.
MembershipSource = Callable[[Actor], list[str]]
_MEMBERSHIP_SOURCES: list[MembershipSource] = []


def register_membership_source(source: MembershipSource) -> None:
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


def visible_groups_q(actor: Actor) -> Q:
    if actor.is_admin:
        return Q(kind=NamespaceKind.GROUP)
    q = Q(visibility_level=Visibility.PUBLIC)
    if actor.user is not None and not actor.user.external:
        q |= Q(visibility_level__gte=Visibility.INTERNAL)
    q |= subtree_q(member_group_traversals(actor))
    ancestors = {int(p) for t in membership_traversals(actor) for p in t.split("/") if p}
    if ancestors:
        q |= Q(pk__in=ancestors)
    return Q(kind=NamespaceKind.GROUP) & q


def list_groups_for(actor: Actor) -> QuerySet[Namespace]:
    return Namespace.objects.filter(visible_groups_q(actor))


def find_namespace(ref: str | int) -> Namespace | None:
    """A namespace by id or full path (case-insensitive), with no visibility check."""
    text = str(ref)
    qs = Namespace.objects.select_related("parent", "owner")
    if text.isdigit():
        return qs.filter(pk=int(text)).first()
    return qs.annotate(lp=Lower("full_path")).filter(lp=text.lower()).first()


def get_group_for(actor: Actor, ref: str | int, *, action: str = "read_group") -> Namespace:
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
