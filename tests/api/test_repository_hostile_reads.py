"""Hostile revisions and paths on the repository read endpoints: the answer GitLab gives for
something that names nothing, and git never sees the value (see
tests/repositories/hostile.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.repositories.hostile import HOSTILE_REFS, encoded, target_world, unchanged_target
from tests.repositories.support import World, error_of


@pytest.fixture(scope="module")
def world(kiln_server: Any, django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[World]:
    yield from target_world(kiln_server, django_db_blocker, tmp_path_factory.mktemp("reads"))


@pytest.fixture(autouse=True)
def db(django_db_blocker: Any) -> Iterator[None]:
    """Replaces pytest-django's `db` here: the module's world is committed once (see
    tests/api/test_repository_files.py)."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def unchanged(world: World) -> Iterator[int]:
    yield from unchanged_target(world)


@pytest.mark.parametrize("ref", HOSTILE_REFS)
def test_reads_with_a_hostile_ref(world: World, unchanged: int, ref: str) -> None:
    raw = world.root.raw
    base = f"/projects/{unchanged}"
    expected = {
        f"{base}/repository/files/README.md": (404, {"message": "404 Commit Not Found"}),
        f"{base}/repository/files/README.md/raw": (404, {"message": "404 Commit Not Found"}),
        f"{base}/repository/files/README.md/blame": (404, {"message": "404 Commit Not Found"}),
        f"{base}/repository/tree": (404, {"message": "404 Tree Not Found"}),
        f"{base}/repository/contributors": (404, {"message": "404 Not Found"}),
    }
    for path, answer in expected.items():
        assert error_of(raw.get(path, params={"ref": ref})) == answer, path
    assert error_of(raw.get(f"{base}/repository/commits", params={"ref_name": ref})) == (
        400,
        {"message": "ref_name is invalid"},
    )
    assert error_of(raw.get(f"{base}/repository/archive.zip", params={"sha": ref})) == (
        404,
        {"message": "404 File Not Found"},
    )
    assert error_of(raw.get(f"{base}/repository/compare", params={"from": ref, "to": "main"})) == (
        404,
        {"message": "404 Ref Not Found"},
    )
    assert error_of(raw.get(f"{base}/repository/merge_base", params={"refs[]": ["main", ref]})) == (
        400,
        {"message": f"Could not find ref: {ref}"},
    )
    assert error_of(raw.get(f"{base}/repository/commits/{encoded(ref)}")) == (
        404,
        {"message": "404 Commit Not Found"},
    )
    assert error_of(raw.get(f"{base}/repository/branches/{encoded(ref)}")) == (
        400,
        {"message": "The branch refname is invalid"},
    )
    assert error_of(raw.get(f"{base}/repository/tags/{encoded(ref)}")) == (
        400,
        {"message": "The tag refname is invalid"},
    )


@pytest.mark.parametrize("path", ["../", "/etc", "..", "a//b", ".git", "to-tmp"])
def test_tree_history_and_archive_paths(world: World, unchanged: int, path: str) -> None:
    raw = world.root.raw
    assert error_of(raw.get(f"/projects/{unchanged}/repository/tree", params={"path": path})) == (
        404,
        {"message": "404 invalid revision or path Not Found"},
    )
    history = raw.get(f"/projects/{unchanged}/repository/commits", params={"path": path})
    if path == "to-tmp":
        assert history.status_code == 200  # a real path: the symlink's history
    else:
        assert error_of(history) == (400, {"error": "path should be a valid file path"})
    archive = raw.get(f"/projects/{unchanged}/repository/archive", params={"path": path})
    if path != "to-tmp":
        assert error_of(archive) == (404, {"message": "404 File Not Found"})


def test_reading_through_a_symlink_does_not_follow_it(world: World, unchanged: int) -> None:
    raw = world.root.raw
    inside = raw.get(
        f"/projects/{unchanged}/repository/files/{encoded('to-real/in.txt')}",
        params={"ref": "main"},
    )
    assert error_of(inside) == (404, {"message": "404 File Not Found"})
    link = raw.get(f"/projects/{unchanged}/repository/files/to-tmp/raw")
    assert link.content == b"/tmp"
