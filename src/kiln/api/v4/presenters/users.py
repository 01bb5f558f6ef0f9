"""User shapes: `UserBasic` (in members, authors, owners) and richer ones for /users."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from kiln.accounts.models import User
from kiln.core.urls import base_url


def user_basic(user: User, request: HttpRequest | None) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.username,
        "public_email": user.public_email or None,
        "name": user.name,
        "state": user.state,
        "locked": user.locked_at is not None,
        "avatar_url": None,
        "web_url": f"{base_url(request)}/{user.username}",
    }
