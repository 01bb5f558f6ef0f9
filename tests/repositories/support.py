"""Helpers shared by the repository API tests: a module-wide world of users and projects
(built once, removed after the module, as tests/api/test_project_permissions.py does), raw
HTTP, and ways to look at the repository on disk to assert that nothing was written."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gitlab
import requests
from django.core.management import call_command

from tests.conftest import ROOT_PASSWORD, ROOT_TOKEN, client
from tests.support.git import git

# The roles a world has, and their project access levels (0: signed in, no membership).
ROLES = {"guest": 10, "reporter": 20, "developer": 30, "maintainer": 40, "outsider": 0}


class Raw:
    """`requests` against the live server's API v4 (anonymous without a token)."""

    def __init__(self, server_url: str, token: str | None = ROOT_TOKEN) -> None:
        self.base = f"{server_url}/api/v4"
        self.session = requests.Session()
        if token is not None:
            self.session.headers["PRIVATE-TOKEN"] = token

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        return self.session.request(method, self.base + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("HEAD", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


@dataclass
class Person:
    name: str
    user: Any
    token: str | None
    gl: gitlab.Gitlab
    raw: Raw


@dataclass
class World:
    server_url: str
    people: dict[str, Person] = field(default_factory=dict)
    projects: dict[str, Any] = field(default_factory=dict)

    @property
    def root(self) -> Person:
        return self.people["root"]

    def __getitem__(self, name: str) -> Person:
        return self.people[name]


def _person(server_url: str, name: str, user: Any, token: str | None) -> Person:
    return Person(name, user, token, client(server_url, token), Raw(server_url, token))


def build_people(server_url: str) -> dict[str, Person]:
    """root, anonymous, and one user per role (members of nothing yet)."""
    from kiln.accounts.models import User
    from tests.projects import builders as b

    people = {
        "root": _person(server_url, "root", User.objects.get(pk=1), ROOT_TOKEN),
        "anonymous": _person(server_url, "anonymous", None, None),
    }
    for role in ROLES:
        user = b.user(f"r-{role}")
        people[role] = _person(server_url, role, user, b.token(user))
    return people


def add_roles(world: World, project: Any) -> None:
    """Make each role's user a member of `project` at its level (outsiders stay out)."""
    for role, level in ROLES.items():
        if level:
            project.members.create({"user_id": world[role].user.pk, "access_level": level})


@contextlib.contextmanager
def world_for(
    kiln_server: Any, django_db_blocker: Any, build: Callable[[World], None]
) -> Iterator[World]:
    """A seeded database and a world `build` fills, flushed again after the module."""
    from kiln.accounts.services import seed_root

    with django_db_blocker.unblock():
        try:
            seed_root(password=ROOT_PASSWORD, token_value=ROOT_TOKEN)
            world = World(server_url=kiln_server.url, people=build_people(kiln_server.url))
            build(world)
            yield world
        finally:
            call_command("flush", interactive=False, verbosity=0)


def create_project(
    gl: gitlab.Gitlab,
    name: str,
    files: dict[str, str | bytes] | None = None,
    *,
    visibility: str = "private",
    message: str = "Initial commit",
) -> Any:
    """A project (owned by `gl`'s user) whose default branch holds `files`, in one commit."""
    project = gl.projects.create({"name": name, "visibility": visibility})
    if files:
        commit_files(project, files, message=message)
    return gl.projects.get(project.id)


def commit_files(
    project: Any, files: dict[str, str | bytes], *, branch: str = "main", message: str = "Change"
) -> dict[str, Any]:
    actions = []
    for path, content in files.items():
        exists = True
        try:
            project.files.head(path, ref=branch)
        except gitlab.GitlabError:
            exists = False
        action: dict[str, Any] = {"action": "update" if exists else "create", "file_path": path}
        if isinstance(content, bytes):
            action.update(content=base64.b64encode(content).decode(), encoding="base64")
        else:
            action["content"] = content
        actions.append(action)
    commit = project.commits.create(
        {"branch": branch, "commit_message": message, "actions": actions}
    )
    return dict(commit.attributes)


def head_of(project_id: int, branch: str = "main") -> str | None:
    """A branch's commit, read from git (not through the API under test)."""
    return repo_refs(project_id).get(f"refs/heads/{branch}")


def repo_refs(project_id: int) -> dict[str, str]:
    """Every branch and tag of the project's repository, straight from the store."""
    from kiln.projects.models import Project
    from kiln.repositories.storage import repo_path, store

    path = repo_path(Project.objects.get(pk=project_id))
    refs = {f"refs/heads/{b.name}": b.commit.id for b in store().list_branches(relative_path=path)}
    refs.update({f"refs/tags/{t.name}": t.target_id for t in store().list_tags(relative_path=path)})
    return refs


def push_count(project_id: int) -> int:
    from kiln.repositories.models import Push

    return Push.objects.filter(project_id=project_id).count()


def snapshot(project_id: int) -> tuple[dict[str, str], int]:
    """What a refused write must leave as it was: the refs and the push records."""
    return repo_refs(project_id), push_count(project_id)


def bare_path(project_id: int) -> Path:
    from django.conf import settings

    from kiln.projects.models import Project
    from kiln.repositories.storage import repo_path

    return Path(settings.REPOSITORIES_DIR) / repo_path(Project.objects.get(pk=project_id))


def fetch_into(project_id: int, work: Path, branch: str = "main") -> None:
    """Put a local repository's branch into the project's repository (as a push would, without
    the transport), then let the database follow git."""
    from django.db import transaction

    from kiln.projects.models import Project
    from kiln.repositories.services import sync_project_state

    git(
        "--git-dir",
        str(bare_path(project_id)),
        "fetch",
        "-q",
        str(work),
        f"+{branch}:refs/heads/{branch}",
    )
    with transaction.atomic():
        sync_project_state(Project.objects.get(pk=project_id))


def error_of(response: requests.Response) -> tuple[int, Any]:
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return response.status_code, body
