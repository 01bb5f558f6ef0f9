"""Who a text mentions, for emails: `@user`, and `@group` expanded to the group's members.

As GitLab's user reference parser: a group mention reaches the group's direct members (not
those of its parents or subgroups), only when the group allows mentions
(`mentions_disabled` off) and the writer of the text may see the group. Whether each member
may see what was written, and wants to hear of it, is checked later with every other
recipient (`kiln.notifications.recipients.build`).
"""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from kiln.accounts.models import User
from kiln.core.actor import Actor
from kiln.core.policy import can
from kiln.namespaces.models import GroupMember, Namespace, NamespaceKind
from kiln.notes.mentions import mentioned_names
from kiln.projects.models import Project


def mentioned_ids(text: str, *, project: Project, author_id: int | None) -> list[int]:
    """Users mentioned in `text` by name or through a group, in order, each once."""
    names = mentioned_names(text, project=project)
    if not names:
        return []
    by_name = Q(pk__in=[])
    for name in names:
        by_name |= Q(username__iexact=name)
    ids = [u.pk for u in User.objects.filter(by_name).order_by("pk") if u.is_active]
    by_path = Q(pk__in=[])
    for name in names:
        by_path |= Q(full_path__iexact=name)
    groups = list(
        Namespace.objects.filter(by_path, kind=NamespaceKind.GROUP, mentions_disabled=False)
    )
    if groups:
        author = User.objects.filter(pk=author_id).first() if author_id is not None else None
        actor = Actor(user=author)
        readable = [g.pk for g in groups if can(actor, "read_group", g)]
        today = timezone.localdate()
        members = (
            GroupMember.objects.filter(group_id__in=readable)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gte=today))
            .order_by("user_id")
            .values_list("user_id", flat=True)
        )
        ids += list(members)
    return list(dict.fromkeys(ids))
