"""API v4: application_settings (being written)."""

from ninja import Router

router = Router(tags=["application_settings"])
