"""Subscriptions to an issue or merge request's notifications.

Without an explicit row, participants are subscribed (GitLab's `subscribed?`): the author,
assignees and everyone who commented. A row records an explicit choice either way.
"""

from __future__ import annotations

from collections.abc import Iterable

from kiln.core.actor import Actor
from kiln.notes import noteables
from kiln.notes.models import Note, Subscription


def _id(nt: noteables.NoteableType, noteable: object) -> int:
    """Subscriptions are for noteables with a row id (issues, merge requests)."""
    noteable_id = nt.id_of(noteable)
    if noteable_id is None:
        raise LookupError(f"{nt.name} has no subscriptions")
    return noteable_id


def participant_ids(noteable: object) -> list[int]:
    """Author, assignees (as the noteable type says) and note authors, in that order."""
    nt = noteables.type_of(noteable)
    ids = list(dict.fromkeys(nt.participants(noteable)))
    noteable_id = nt.id_of(noteable)
    if noteable_id is not None:
        authors = (
            Note.objects.filter(
                noteable_type=nt.name,
                noteable_id=noteable_id,
                system=False,
                author__isnull=False,
            )
            .order_by("id")
            .values_list("author_id", flat=True)
        )
        for author_id in authors:
            if author_id not in ids:
                ids.append(author_id)
    return ids


def is_subscribed(actor: Actor, noteable: object) -> bool:
    if actor.user is None:
        return False
    nt = noteables.type_of(noteable)
    row = Subscription.objects.filter(
        subscribable_type=nt.name, subscribable_id=_id(nt, noteable), user_id=actor.user.pk
    ).first()
    if row is not None:
        return row.subscribed
    return actor.user.pk in participant_ids(noteable)


def set_subscription(*, actor: Actor, noteable: object, subscribed: bool) -> bool:
    """Subscribe or unsubscribe; False when nothing changed (the API answers 304)."""
    assert actor.user is not None
    if is_subscribed(actor, noteable) == subscribed:
        return False
    nt = noteables.type_of(noteable)
    Subscription.objects.update_or_create(
        subscribable_type=nt.name,
        subscribable_id=_id(nt, noteable),
        user=actor.user,
        defaults={"project": nt.project_of(noteable), "subscribed": subscribed},
    )
    return True


def subscriber_ids(noteable: object, extra: Iterable[int] = ()) -> list[int]:
    """Who gets notifications: participants and explicit subscribers, minus those who
    unsubscribed."""
    nt = noteables.type_of(noteable)
    rows = dict(
        Subscription.objects.filter(
            subscribable_type=nt.name, subscribable_id=_id(nt, noteable)
        ).values_list("user_id", "subscribed")
    )
    ids = [*participant_ids(noteable), *extra, *[u for u, s in rows.items() if s]]
    return [u for u in dict.fromkeys(ids) if rows.get(u, True)]
