"""Contract: the last commit of each entry of a directory, and branch divergence counts."""

from __future__ import annotations

import pytest

from kiln.gitstore import GitStore, PathNotFound
from tests.gitstore.conftest import BOB, write


def test_last_commits_for_tree(store: GitStore, repo: str) -> None:
    first = write(store, repo, {"a.txt": b"a\n", "dir/x.txt": b"x\n", "dir/sub/y.txt": b"y\n"})
    second = write(store, repo, {"dir/sub/y.txt": b"Y\n"}, author=BOB)
    third = write(store, repo, {"b.txt": b"b\n"})
    root = store.last_commits_for_tree(relative_path=repo, revision="main")
    assert {name: c.id for name, c in root.items()} == {
        "a.txt": first.id,
        "dir": second.id,
        "b.txt": third.id,
    }
    inner = store.last_commits_for_tree(relative_path=repo, revision="main", path="dir")
    assert {name: c.id for name, c in inner.items()} == {"x.txt": first.id, "sub": second.id}
    assert inner["sub"].author.name == BOB.name
    # Older revisions see only their own history.
    old = store.last_commits_for_tree(relative_path=repo, revision=first.id, path="dir")
    assert {name: c.id for name, c in old.items()} == {"x.txt": first.id, "sub": first.id}
    with pytest.raises(PathNotFound):
        store.last_commits_for_tree(relative_path=repo, revision="main", path="a.txt")
    with pytest.raises(PathNotFound):
        store.last_commits_for_tree(relative_path=repo, revision="main", path="nope")


def test_count_divergence(store: GitStore, repo: str) -> None:
    base = write(store, repo, {"a.txt": b"a\n"})
    write(store, repo, {"b.txt": b"b\n"}, branch="topic", start_branch="main")
    write(store, repo, {"c.txt": b"c\n"}, branch="topic")
    write(store, repo, {"d.txt": b"d\n"})
    assert store.count_divergence(
        relative_path=repo, from_revision="main", to_revision="topic"
    ) == (1, 2)
    assert store.count_divergence(
        relative_path=repo, from_revision=base.id, to_revision=base.id
    ) == (0, 0)
