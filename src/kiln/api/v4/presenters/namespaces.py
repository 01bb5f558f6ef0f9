"""Namespace shapes: the `namespace` object inside a project and `/namespaces` entries."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from kiln.core.urls import base_url
from kiln.namespaces.models import Namespace


def namespace_web_url(
    namespace: Namespace, request: HttpRequest | None, *, base: str | None = None
) -> str:
    """`base`: the request's `base_url`, when the caller presenting a page has it already."""
    if base is None:
        base = base_url(request)
    if namespace.is_group:
        return f"{base}/groups/{namespace.full_path}"
    return f"{base}/{namespace.full_path}"


def namespace_basic(
    namespace: Namespace, request: HttpRequest | None, *, base: str | None = None
) -> dict[str, Any]:
    return {
        "id": namespace.pk,
        "name": namespace.name,
        "path": namespace.path,
        "kind": namespace.kind,
        "full_path": namespace.full_path,
        "parent_id": namespace.parent_id,
        "avatar_url": None,
        "web_url": namespace_web_url(namespace, request, base=base),
    }
