"""Writes to namespaces: personal namespaces of users (groups are in `groups.py`)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from kiln.core.access import Visibility
from kiln.namespaces.models import Namespace, NamespaceKind


def create_personal_namespace(*, user: Any) -> Namespace:
    """The namespace of a new user. The caller validated the username and owns the transaction."""
    namespace = Namespace.objects.create(
        name=user.name or user.username,
        path=user.username,
        full_path=user.username,
        full_name=user.name or user.username,
        kind=NamespaceKind.USER,
        owner=user,
        visibility_level=Visibility.PUBLIC,
    )
    return namespace


@transaction.atomic
def rename_personal_namespace(*, user: Any, username: str) -> None:
    """Follow a username change. Caller checked the new name is free and valid."""
    namespace = Namespace.objects.select_for_update().get(owner=user)
    namespace.path = username
    namespace.full_path = username
    namespace.save(update_fields=["path", "full_path", "updated_at"])
