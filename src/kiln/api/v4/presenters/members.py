"""Member shape (GitLab's Entities::Member): the user's basic fields, then the membership."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import HttpRequest

from kiln.api.v4.presenters.common import iso, iso_date
from kiln.api.v4.presenters.users import user_basic


def member_entity(row: Any, request: HttpRequest | None) -> dict[str, Any]:
    """`row` is a GroupMember, a ProjectMember or an EffectiveMember with `user` loaded."""
    data = user_basic(row.user, request)
    data["access_level"] = row.access_level
    data["created_at"] = iso(row.created_at)
    # GitLab leaves `created_by` out when nobody is recorded (expose_nil: false).
    if row.created_by is not None:
        data["created_by"] = user_basic(row.created_by, request)
    data["expires_at"] = iso_date(row.expires_at)
    data["membership_state"] = "active"
    return data


def member_entities(rows: Iterable[Any], request: HttpRequest | None) -> list[dict[str, Any]]:
    """A page of members; users and creators must already be loaded (select_related)."""
    return [member_entity(row, request) for row in rows]
