"""Fixtures for project tests, built through the services (fast: no HTTP, no hashing)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from typing import Any

from kiln.core.access import Visibility
from kiln.core.actor import Actor
from kiln.core.names import PROJECT_PATH_MESSAGE
from kiln.namespaces.models import Namespace
from kiln.projects.models import Project

__all__ = ["PROJECT_PATH_MESSAGE"]

_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_counter)}"


def user(username: str | None = None, **fields: Any) -> Any:
    """A user with no password (nothing to hash) and a personal namespace."""
    from kiln.accounts.services import create_user_unchecked

    username = username or unique("user")
    return create_user_unchecked(
        username=username,
        name=fields.pop("name", username.title()),
        email=fields.pop("email", f"{username}@example.com"),
        password=None,
        **fields,
    )


def token(owner: Any, scopes: tuple[str, ...] = ("api",)) -> str:
    from kiln.accounts.access_tokens import create_personal_access_token_unchecked

    _, value = create_personal_access_token_unchecked(user=owner, name="t", scopes=scopes)
    return value


def actor(owner: Any) -> Actor:
    return Actor.for_user(owner)


def group(
    owner: Any,
    path: str | None = None,
    *,
    parent: Namespace | None = None,
    visibility: Visibility = Visibility.PUBLIC,
    **settings: Any,
) -> Namespace:
    from kiln.namespaces.groups import create_group

    path = path or unique("grp")
    return create_group(
        actor=actor(owner),
        name=settings.pop("name", path.title()),
        path=path,
        parent=parent,
        visibility_level=visibility,
        **settings,
    )


def add_member(group: Namespace, member: Any, level: int, *, by: Any) -> None:
    from kiln.namespaces.members import add_member as add

    add(actor=actor(by), source=group, user_ref=member.pk, access_level=level)


def project(
    owner: Any,
    name: str | None = None,
    *,
    namespace: Namespace | None = None,
    visibility: Visibility = Visibility.PRIVATE,
    **fields: Any,
) -> Project:
    from kiln.projects.services import create_project

    return create_project(
        actor=actor(owner),
        name=name or unique("Project "),
        namespace=namespace.pk if namespace is not None else None,
        visibility=visibility,
        **fields,
    )


class Api:
    """`requests` against the live server's API v4 as one caller (anonymous without a token)."""

    def __init__(self, server_url: str, token: str | None = None) -> None:
        import requests

        self.base = f"{server_url}/api/v4"
        self.session = requests.Session()
        if token is not None:
            self.session.headers["PRIVATE-TOKEN"] = token

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.base + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> Any:
        return self.request("HEAD", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)


@contextlib.contextmanager
def destroyed_projects() -> Iterator[list[Any]]:
    """Collect what `after_project_destroyed` reports while the block runs."""
    from kiln.projects.services import after_project_destroyed

    seen: list[Any] = []
    after_project_destroyed.register(seen.append)
    try:
        yield seen
    finally:
        after_project_destroyed.unregister(seen.append)


def root_user() -> Any:
    from kiln.accounts.models import User

    return User.objects.get(pk=1)


def counts() -> dict[str, int]:
    """Rows of every project table, to assert a refused request wrote nothing."""
    from kiln.projects.models import Project, ProjectGroupLink, ProjectMember, Star, Topic

    return {
        model.__name__: model.objects.count()
        for model in (Project, ProjectMember, ProjectGroupLink, Star, Topic)
    }
