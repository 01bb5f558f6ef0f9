"""Hostile branch names, tag names and revisions on the repository write endpoints: each a
400 with GitLab's text, nothing written (see tests/repositories/hostile.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.repositories.hostile import HOSTILE_REFS, encoded, target_world, unchanged_target
from tests.repositories.support import World, error_of


@pytest.fixture(scope="module")
def world(kiln_server: Any, django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[World]:
    yield from target_world(kiln_server, django_db_blocker, tmp_path_factory.mktemp("refs"))


@pytest.fixture(autouse=True)
def db(django_db_blocker: Any) -> Iterator[None]:
    """Replaces pytest-django's `db` here: the module's world is committed once (see
    tests/api/test_repository_files.py)."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def unchanged(world: World) -> Iterator[int]:
    yield from unchanged_target(world)


@pytest.mark.parametrize("name", HOSTILE_REFS)
def test_branch_and_tag_names(world: World, unchanged: int, name: str) -> None:
    raw = world.root.raw
    branches = f"/projects/{unchanged}/repository/branches"
    assert error_of(raw.post(branches, json={"branch": name, "ref": "main"})) == (
        400,
        {"message": "Branch name is invalid"},
    )
    assert error_of(raw.post(branches, json={"branch": "fine", "ref": name})) == (
        400,
        {"message": f"Failed to create branch 'fine': invalid reference name '{name}'"},
    )
    tags = f"/projects/{unchanged}/repository/tags"
    assert error_of(raw.post(tags, json={"tag_name": name, "ref": "main"})) == (
        400,
        {"message": "Tag name invalid"},
    )
    assert error_of(raw.post(tags, json={"tag_name": "fine", "ref": name})) == (
        400,
        {"message": f"Target {name} is invalid"},
    )
    assert error_of(raw.delete(f"{branches}/{encoded(name)}")) == (
        400,
        {"message": "The branch refname is invalid"},
    )
    assert error_of(raw.delete(f"{tags}/{encoded(name)}")) == (
        400,
        {"message": "The tag refname is invalid"},
    )
    rules = f"/projects/{unchanged}/protected_branches/{encoded(name)}"
    assert error_of(raw.delete(rules)) == (404, {"message": "404 Not found"})


@pytest.mark.parametrize("name", HOSTILE_REFS)
def test_commit_refs(world: World, unchanged: int, name: str) -> None:
    raw = world.root.raw
    path = f"/projects/{unchanged}/repository/commits"
    create = [{"action": "create", "file_path": "new.txt", "content": "x"}]
    body = {"branch": name, "commit_message": "m", "actions": create}
    assert error_of(raw.post(path, json=body)) == (400, {"message": "Branch name is invalid"})
    body = {"branch": "fresh", "start_branch": name, "commit_message": "m", "actions": create}
    assert error_of(raw.post(path, json=body)) == (
        400,
        {"message": "You can only create or edit files when you are on a branch"},
    )
    body = {"branch": "fresh", "start_sha": name, "commit_message": "m", "actions": create}
    assert error_of(raw.post(path, json=body)) == (
        400,
        {"message": f"Invalid start_sha '{name}'"},
    )
    files = f"/projects/{unchanged}/repository/files/new.txt"
    body = {"branch": name, "content": "x", "commit_message": "m"}
    assert error_of(raw.post(files, json=body)) == (400, {"message": "Branch name is invalid"})
    pick = f"/projects/{unchanged}/repository/commits/main/cherry_pick"
    assert error_of(raw.post(pick, json={"branch": name})) == (
        400,
        {"message": "The branch refname is invalid"},
    )
    assert error_of(
        raw.post(
            f"/projects/{unchanged}/repository/commits/{encoded(name)}/revert",
            json={"branch": "feature"},
        )
    ) == (
        404,
        {"message": "404 Commit Not Found"},
    )
