"""API v4: namespaces (being written)."""

from ninja import Router

router = Router(tags=["namespaces"])
