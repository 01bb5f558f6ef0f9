"""API v4: users (being written)."""

from ninja import Router

router = Router(tags=["users"])
