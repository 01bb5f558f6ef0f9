"""API v4: projects (being written)."""

from ninja import Router

router = Router(tags=["projects"])
