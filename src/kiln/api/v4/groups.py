"""API v4: groups (being written)."""

from ninja import Router

router = Router(tags=["groups"])
