"""API v4: members (being written)."""

from ninja import Router

router = Router(tags=["members"])
