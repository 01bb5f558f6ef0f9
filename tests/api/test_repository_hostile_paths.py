"""Hostile file paths on the files and commits endpoints (`../`, absolute, `.git/`, control
characters, writes through a committed symlink): each a 400 with GitLab's body, nothing
written (see tests/repositories/hostile.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.repositories.hostile import (
    FILE_PATH_ERROR,
    HOSTILE_PATHS,
    encoded,
    target_world,
    unchanged_target,
)
from tests.repositories.support import World, error_of


@pytest.fixture(scope="module")
def world(kiln_server: Any, django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[World]:
    yield from target_world(kiln_server, django_db_blocker, tmp_path_factory.mktemp("paths"))


@pytest.fixture(autouse=True)
def db(django_db_blocker: Any) -> Iterator[None]:
    """Replaces pytest-django's `db` here: the module's world is committed once (see
    tests/api/test_repository_files.py)."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def unchanged(world: World) -> Iterator[int]:
    yield from unchanged_target(world)


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_file_paths(world: World, unchanged: int, path: str) -> None:
    raw = world.root.raw
    url = f"/projects/{unchanged}/repository/files/{encoded(path)}"
    body = {"branch": "main", "content": "owned", "commit_message": "m"}
    assert error_of(raw.get(url, params={"ref": "main"})) == (400, FILE_PATH_ERROR)
    assert raw.head(url, params={"ref": "main"}).status_code == 400
    assert error_of(raw.get(f"{url}/blame", params={"ref": "main"})) == (400, FILE_PATH_ERROR)
    assert error_of(raw.post(url, json=body)) == (400, FILE_PATH_ERROR)
    assert error_of(raw.put(url, json=body)) == (400, FILE_PATH_ERROR)
    assert error_of(raw.delete(url, params={"branch": "main", "commit_message": "m"})) == (
        400,
        FILE_PATH_ERROR,
    )
    if not path.startswith("/"):
        assert error_of(raw.get(f"{url}/raw")) == (400, FILE_PATH_ERROR)


def test_raw_accepts_a_leading_slash_as_gitlab_does(world: World, unchanged: int) -> None:
    response = world.root.raw.get(f"/projects/{unchanged}/repository/files/%2FREADME.md/raw")
    assert response.status_code == 200
    assert response.content == b"t\n"


def test_nul_in_a_file_path(world: World, unchanged: int) -> None:
    url = f"/projects/{unchanged}/repository/files/a%00b"
    assert world.root.raw.get(url, params={"ref": "main"}).status_code == 400
    body = {"branch": "main", "content": "x", "commit_message": "m"}
    assert world.root.raw.post(url, json=body).status_code == 400


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../outside.txt", "Path cannot include directory traversal"),
        ("a/../../outside.txt", "Path cannot include directory traversal"),
        ("/etc/passwd", "invalid path: '/etc/passwd'"),
        (".git/hooks/post-receive", "invalid path: '.git/hooks/post-receive'"),
        ("a/.GIT/config", "invalid path: 'a/.GIT/config'"),
        ("a\x00b", "invalid path: 'a\x00b'"),
    ],
)
def test_commit_action_paths(world: World, unchanged: int, path: str, message: str) -> None:
    url = f"/projects/{unchanged}/repository/commits"
    for action in (
        {"action": "create", "file_path": path, "content": "x"},
        {"action": "move", "file_path": path, "previous_path": "README.md"},
        {"action": "move", "file_path": "moved.md", "previous_path": path},
    ):
        body = {"branch": "main", "commit_message": "m", "actions": [action]}
        assert error_of(world.root.raw.post(url, json=body)) == (400, {"message": message})


def test_empty_action_path(world: World, unchanged: int) -> None:
    url = f"/projects/{unchanged}/repository/commits"
    action = {"action": "create", "file_path": "", "content": "x"}
    body = {"branch": "main", "commit_message": "m", "actions": [action]}
    assert error_of(world.root.raw.post(url, json=body)) == (
        400,
        {"message": "You must provide a file path"},
    )


@pytest.mark.parametrize("target", ["to-real/new.txt", "to-tmp/pwned", "to-tmp/x/y"])
def test_writes_through_a_committed_symlink(world: World, unchanged: int, target: str) -> None:
    raw = world.root.raw
    message = {
        "message": f"Cannot write '{target}': a parent in the path is a file, a symlink or a "
        "submodule."
    }
    files = f"/projects/{unchanged}/repository/files/{encoded(target)}"
    body = {"branch": "main", "content": "owned", "commit_message": "m"}
    assert error_of(raw.post(files, json=body)) == (400, message)
    commits = f"/projects/{unchanged}/repository/commits"
    action = {"action": "create", "file_path": target, "content": "owned"}
    body = {"branch": "main", "commit_message": "m", "actions": [action]}
    assert error_of(raw.post(commits, json=body)) == (400, message)
    assert not Path("/tmp/pwned").exists()
    assert not Path("/tmp/x/y").exists()
