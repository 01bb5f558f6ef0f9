"""Absolute URLs: from KILN_EXTERNAL_URL when set, else from the request's scheme and host."""

from __future__ import annotations

from urllib.parse import urlsplit

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


def ssh_clone_base(base: str) -> str:
    """The start of an SSH clone URL (`git@host:` or `ssh://git@host:port/`), as the API's
    `ssh_url_to_repo` builds it: the host of `base`, the port of KILN_SSH_LISTEN."""
    host = urlsplit(base).hostname or "localhost"
    listen = str(getattr(settings, "SSH_LISTEN", "") or "")
    port = listen.rpartition(":")[2] if ":" in listen else "22"
    if port in ("", "22"):
        return f"git@{host}:"
    return f"ssh://git@{host}:{port}/"
