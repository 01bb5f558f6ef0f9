"""The project permission matrix, generated from ONE table (GitLab's permissions, as its API
answers them).

Rows: who asks. Columns: what they do, to a private, an internal and a public project. A cell
is the HTTP status GitLab answers (for "list": whether the project appears in `/projects`).
What a caller may not see answers 404 exactly as a missing project; a visible project the
caller may not change answers 403; an anonymous write is 401 before anything else; a blocked
user's token is refused (403) whatever the request.

The projects live in a public group whose members are the guest ... owner rows; the
"personal" row asks about projects in its own namespace. The world is built per row through
the services (fast); each cell is a subtest sending one request with `requests`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from kiln.core.access import AccessLevel, Visibility
from kiln.projects.models import Project
from tests.conftest import ROOT_TOKEN
from tests.projects import builders as b

VISIBILITIES = ("private", "internal", "public")
ACTIONS = ("get", "list", "update", "visibility", "archive", "delete", "star", "transfer", "share")
Y, N = "listed", "hidden"

# fmt: off
#                   private  internal  public
TABLE: dict[str, dict[str, tuple[Any, Any, Any]]] = {
    "anonymous": {
        "get":        (404, 404, 200),
        "list":       (N,   N,   Y),
        "update":     (401, 401, 401),
        "visibility": (401, 401, 401),
        "archive":    (401, 401, 401),
        "delete":     (401, 401, 401),
        "star":       (401, 401, 401),
        "transfer":   (401, 401, 401),
        "share":      (401, 401, 401),
    },
    "non_member": {
        "get":        (404, 200, 200),
        "list":       (N,   Y,   Y),
        "update":     (404, 403, 403),
        "visibility": (404, 403, 403),
        "archive":    (404, 403, 403),
        "delete":     (404, 403, 403),
        "star":       (404, 201, 201),
        "transfer":   (404, 403, 403),
        "share":      (404, 403, 403),
    },
    "external": {
        "get":        (404, 404, 200),
        "list":       (N,   N,   Y),
        "update":     (404, 404, 403),
        "visibility": (404, 404, 403),
        "archive":    (404, 404, 403),
        "delete":     (404, 404, 403),
        "star":       (404, 404, 201),
        "transfer":   (404, 404, 403),
        "share":      (404, 404, 403),
    },
    "blocked": {
        "get":        (403, 403, 403),
        "list":       (403, 403, 403),
        "update":     (403, 403, 403),
        "visibility": (403, 403, 403),
        "archive":    (403, 403, 403),
        "delete":     (403, 403, 403),
        "star":       (403, 403, 403),
        "transfer":   (403, 403, 403),
        "share":      (403, 403, 403),
    },
    "guest": {
        "get":        (200, 200, 200),
        "list":       (Y,   Y,   Y),
        "update":     (403, 403, 403),
        "visibility": (403, 403, 403),
        "archive":    (403, 403, 403),
        "delete":     (403, 403, 403),
        "star":       (201, 201, 201),
        "transfer":   (403, 403, 403),
        "share":      (403, 403, 403),
    },
    "reporter": {
        "get":        (200, 200, 200),
        "list":       (Y,   Y,   Y),
        "update":     (403, 403, 403),
        "visibility": (403, 403, 403),
        "archive":    (403, 403, 403),
        "delete":     (403, 403, 403),
        "star":       (201, 201, 201),
        "transfer":   (403, 403, 403),
        "share":      (403, 403, 403),
    },
    "developer": {
        "get":        (200, 200, 200),
        "list":       (Y,   Y,   Y),
        "update":     (403, 403, 403),
        "visibility": (403, 403, 403),
        "archive":    (403, 403, 403),
        "delete":     (403, 403, 403),
        "star":       (201, 201, 201),
        "transfer":   (403, 403, 403),
        "share":      (403, 403, 403),
    },
    "maintainer": {
        "get":        (200, 200, 200),
        "list":       (Y,   Y,   Y),
        "update":     (200, 200, 200),
        "visibility": (403, 403, 403),
        "archive":    (403, 403, 403),
        "delete":     (403, 403, 403),
        "star":       (201, 201, 201),
        "transfer":   (403, 403, 403),
        "share":      (201, 201, 201),
    },
    "owner": {
        "get":        (200, 200, 200),
        "list":       (Y,   Y,   Y),
        "update":     (200, 200, 200),
        "visibility": (200, 200, 200),
        "archive":    (201, 201, 201),
        "delete":     (202, 202, 202),
        "star":       (201, 201, 201),
        "transfer":   (200, 200, 200),
        "share":      (201, 201, 201),
    },
    "personal": {
        "get":        (200, 200, 200),
        "list":       (Y,   Y,   Y),
        "update":     (200, 200, 200),
        "visibility": (200, 200, 200),
        "archive":    (201, 201, 201),
        "delete":     (202, 202, 202),
        "star":       (201, 201, 201),
        "transfer":   (200, 200, 200),
        "share":      (201, 201, 201),
    },
    "admin": {
        "get":        (200, 200, 200),
        "list":       (Y,   Y,   Y),
        "update":     (200, 200, 200),
        "visibility": (200, 200, 200),
        "archive":    (201, 201, 201),
        "delete":     (202, 202, 202),
        "star":       (201, 201, 201),
        "transfer":   (200, 200, 200),
        "share":      (201, 201, 201),
    },
}
# fmt: on

GROUP_LEVELS = {
    "guest": AccessLevel.GUEST,
    "reporter": AccessLevel.REPORTER,
    "developer": AccessLevel.DEVELOPER,
    "maintainer": AccessLevel.MAINTAINER,
    "owner": AccessLevel.OWNER,
}
# Actions whose success changes the project for good: such cells get a project of their own.
DESTRUCTIVE = {"delete", "transfer", "share"}


@dataclass
class World:
    """What one row of the table needs: its caller, and the projects it asks about."""

    server_url: str
    actor: str
    token: str | None = None
    # visibility -> the project the caller asks about
    shared: dict[str, Project] = field(default_factory=dict)
    # (visibility, action) -> a project of its own for a destructive success
    own: dict[tuple[str, str], Project] = field(default_factory=dict)
    transfer_target: str = "root"
    share_group: int = 0

    def project(self, visibility: str, action: str) -> Project:
        return self.own.get((visibility, action)) or self.shared[visibility]


def _build(server_url: str, actor: str) -> World:
    """The row's world, built through the services."""
    from kiln.accounts.models import UserState

    root = b.root_user()
    world = World(server_url=server_url, actor=actor)
    user = root
    if actor == "admin":
        world.token = ROOT_TOKEN
    elif actor != "anonymous":
        user = b.user(f"m-{actor}", external=(actor == "external"))
        world.token = b.token(user)
        world.transfer_target = f"m-{actor}"
    if actor == "blocked":
        user.state = UserState.BLOCKED
        user.save(update_fields=["state"])

    home = b.group(root, "matrix", visibility=Visibility.PUBLIC)
    if actor in GROUP_LEVELS:
        b.add_member(home, user, GROUP_LEVELS[actor], by=root)
    if actor == "personal":
        # Where a personal project may be transferred: a group the caller owns.
        target = b.group(root, "personal-target", visibility=Visibility.PUBLIC)
        b.add_member(target, user, AccessLevel.OWNER, by=root)
        world.transfer_target = "personal-target"
    share_with = b.group(root, "share-with", visibility=Visibility.PUBLIC)
    if actor not in ("anonymous", "admin"):
        b.add_member(share_with, user, AccessLevel.GUEST, by=root)
    world.share_group = share_with.pk

    owner = user if actor == "personal" else root
    namespace = None if actor == "personal" else home
    for visibility in VISIBILITIES:
        level = Visibility.from_label(visibility)
        world.shared[visibility] = b.project(
            owner, f"Shared {visibility}", namespace=namespace, visibility=level
        )
        for action in DESTRUCTIVE:
            expected = TABLE[actor][action][VISIBILITIES.index(visibility)]
            if isinstance(expected, int) and expected < 300:
                world.own[(visibility, action)] = b.project(
                    owner, f"{action} {visibility}", namespace=namespace, visibility=level
                )
    return world


def _request(world: World, visibility: str, action: str) -> Any:
    project = world.project(visibility, action)
    api = b.Api(world.server_url, world.token)
    path = f"/projects/{project.pk}"
    if action == "get":
        return api.get(path)
    if action == "list":
        return api.get("/projects", params={"per_page": 100})
    if action == "update":
        return api.put(path, json={"description": f"edited by {world.actor}"})
    if action == "visibility":
        # The same level again: GitLab checks the permission whenever visibility is sent.
        return api.put(path, json={"visibility": visibility})
    if action == "archive":
        return api.post(f"{path}/archive")
    if action == "delete":
        return api.delete(path)
    if action == "star":
        return api.post(f"{path}/star")
    if action == "transfer":
        return api.put(f"{path}/transfer", json={"namespace": world.transfer_target})
    if action == "share":
        return api.post(f"{path}/share", json={"group_id": world.share_group, "group_access": 30})
    raise AssertionError(action)


def _check(world: World, visibility: str, action: str) -> None:
    actor = world.actor
    expected = TABLE[actor][action][VISIBILITIES.index(visibility)]
    project = world.project(visibility, action)
    before = _state(project.pk)
    response = _request(world, visibility, action)
    if action == "list":
        if expected == 403:
            assert response.status_code == 403
            return
        assert response.status_code == 200, response.text
        listed = project.pk in {p["id"] for p in response.json()}
        assert (Y if listed else N) == expected
        return
    assert response.status_code == expected, response.text
    body = response.json() if response.content else None
    if expected == 404:
        assert body == {"message": "404 Project Not Found"}
    elif expected == 401:
        assert body == {"message": "401 Unauthorized"}
    elif expected == 403 and actor == "blocked":
        assert body == {"message": "403 Forbidden - Your account has been blocked."}
    elif expected == 403:
        assert body == {"message": "403 Forbidden"}
    if action == "delete" and expected == 202:
        assert _state(project.pk) is None
    elif expected >= 400:
        assert _state(project.pk) == before, "a refused request changed the project"


def _state(project_id: int) -> tuple[Any, ...] | None:
    """What any of the actions could change (None once the project is gone)."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return None
    return (
        project.description,
        project.visibility_level,
        project.archived,
        project.namespace_id,
        project.star_count,
        project.stars.count(),
        project.group_links.count(),
    )


@pytest.mark.parametrize("actor", list(TABLE))
def test_matrix(server_url: str, subtests: Any, actor: str) -> None:
    """One row of the table: every action on a private, an internal and a public project."""
    world = _build(server_url, actor)
    for action in ACTIONS:
        for visibility in VISIBILITIES:
            with subtests.test(msg=f"{actor}-{visibility}-{action}"):
                _check(world, visibility, action)
