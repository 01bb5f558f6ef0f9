"""Absolute URLs: from KILN_EXTERNAL_URL when set, else from the request's scheme and host."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def base_url(request: HttpRequest | None = None) -> str:
    if settings.EXTERNAL_URL:
        return str(settings.EXTERNAL_URL)
    if request is not None:
        return f"{request.scheme}://{request.get_host()}"
    return f"http://{settings.LISTEN}"


def absolute_url(path: str, request: HttpRequest | None = None) -> str:
    return base_url(request) + path
