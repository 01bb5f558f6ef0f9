"""`/version`, `/metadata`, `/license`: what clients ask to learn whom they talk to."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from kiln import GITLAB_COMPAT_VERSION, __version__
from kiln.api.v4.auth import require_user
from kiln.core.errors import NotFound

router = Router(tags=["metadata"])


def _version() -> dict[str, Any]:
    return {"version": GITLAB_COMPAT_VERSION, "revision": f"kiln-{__version__}"}


@router.get("/version")
def version(request: HttpRequest) -> dict[str, Any]:
    require_user(request)
    return _version()


@router.get("/metadata")
def metadata(request: HttpRequest) -> dict[str, Any]:
    require_user(request)
    return {
        **_version(),
        "kas": {
            "enabled": False,
            "externalUrl": None,
            "externalK8sProxyUrl": None,
            "version": None,
        },
        "enterprise": False,
    }


@router.get("/license")
def license_(request: HttpRequest) -> dict[str, Any]:
    # Kiln has no license to report; GitLab CE answers 404 here too.
    raise NotFound()
