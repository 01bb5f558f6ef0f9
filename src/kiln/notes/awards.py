"""Award emoji on issues, merge requests and notes.

`awardable_type` is GitLab's class name ("Issue", "MergeRequest", "Note"). The caller
found the awardable (so the actor may read it) and passes the policy subject to check
`award_emoji` on; errors answer as GitLab's API does (404 "Award Emoji ..." messages).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet

from kiln.core.actor import Actor
from kiln.core.errors import NotFound, Unauthorized
from kiln.core.policy import can
from kiln.markdown.emoji import EMOJI
from kiln.notes.models import AwardEmoji

UPVOTE = "thumbsup"
DOWNVOTE = "thumbsdown"
_ALIASES = {"+1": UPVOTE, "-1": DOWNVOTE}


class AwardNotFound(NotFound):
    """GitLab's `not_found!("Award Emoji <why>")`."""

    def __init__(self, why: str = "") -> None:
        super().__init__(f"Award Emoji {why}".strip())


def list_awards(awardable_type: str, awardable_id: int) -> QuerySet[AwardEmoji]:
    return (
        AwardEmoji.objects.filter(awardable_type=awardable_type, awardable_id=awardable_id)
        .select_related("user")
        .order_by("id")
    )


def get_award(awardable_type: str, awardable_id: int, award_id: int) -> AwardEmoji:
    award = list_awards(awardable_type, awardable_id).filter(pk=award_id).first()
    if award is None:
        raise NotFound()
    return award


def award_emoji(
    *, actor: Actor, subject: object, awardable_type: str, awardable_id: int, name: str
) -> AwardEmoji:
    """Award `name`; `subject` is what the policy checks `award_emoji` on."""
    if actor.user is None or not can(actor, "award_emoji", subject):
        raise AwardNotFound()
    name = _ALIASES.get(name.strip(), name.strip())
    if name not in EMOJI:
        raise AwardNotFound("Name is not a valid emoji name")
    try:
        with transaction.atomic():
            return AwardEmoji.objects.create(
                awardable_type=awardable_type,
                awardable_id=awardable_id,
                user=actor.user,
                name=name,
            )
    except IntegrityError:
        raise AwardNotFound("Name has already been taken") from None


def toggle_award(
    *, actor: Actor, subject: object, awardable_type: str, awardable_id: int, name: str
) -> bool:
    """`/award :x:`: award, or take back an award already given. True when awarded."""
    assert actor.user is not None
    name = _ALIASES.get(name, name)
    existing = AwardEmoji.objects.filter(
        awardable_type=awardable_type, awardable_id=awardable_id, user=actor.user, name=name
    )
    if existing.exists():
        existing.delete()
        return False
    award_emoji(
        actor=actor,
        subject=subject,
        awardable_type=awardable_type,
        awardable_id=awardable_id,
        name=name,
    )
    return True


def remove_award(*, actor: Actor, award: AwardEmoji) -> None:
    """Only the user who awarded (or an admin) may take it back (401 otherwise, as GitLab)."""
    if actor.user is None or (award.user_id != actor.user.pk and not actor.is_admin):
        raise Unauthorized()
    award.delete()


def vote_counts(awardable_type: str, ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """(upvotes, downvotes) per awardable, in one query."""
    id_list = list(ids)
    if not id_list:
        return {}
    rows = (
        AwardEmoji.objects.filter(awardable_type=awardable_type, awardable_id__in=id_list)
        .values("awardable_id")
        .annotate(
            up=Count("pk", filter=Q(name=UPVOTE)),
            down=Count("pk", filter=Q(name=DOWNVOTE)),
        )
    )
    return {row["awardable_id"]: (row["up"], row["down"]) for row in rows}


def awards_by_awardable(awardable_type: str, ids: Iterable[int]) -> dict[int, list[AwardEmoji]]:
    """Every award of these awardables with its user, oldest first, in one query (the caller
    found the awardables, so the actor may read them)."""
    found: dict[int, list[AwardEmoji]] = {}
    id_list = list(ids)
    if not id_list:
        return found
    rows = AwardEmoji.objects.filter(
        awardable_type=awardable_type, awardable_id__in=id_list
    ).select_related("user")
    for award in rows.order_by("id"):
        found.setdefault(award.awardable_id, []).append(award)
    return found
