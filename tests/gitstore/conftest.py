"""Fixtures for the gitstore contract suite: every test runs against every implementation.

An implementation is listed in `IMPLEMENTATIONS` with how to build a store in a temporary
directory and how to push a hand-made work tree into one of its repositories (needed for
content the API cannot create on purpose, such as symlinks).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from kiln.gitstore import (
    Commit,
    CommitAction,
    CommitActionKind,
    GitStore,
    Identity,
    LocalGitStore,
    PathNotFound,
    hashed_relative_path,
)

TZ_PLUS_2 = timezone(timedelta(hours=2))
ALICE = Identity(
    "Alice Example", "alice@example.com", datetime(2024, 1, 2, 3, 4, 5, tzinfo=TZ_PLUS_2)
)
BOB = Identity("Bob Example", "bob@example.com", datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC))


def git_env(home: Path) -> dict[str, str]:
    """An environment for test-side git that ignores the machine's own configuration."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_AUTHOR_NAME": "Worker",
        "GIT_AUTHOR_EMAIL": "worker@example.com",
        "GIT_COMMITTER_NAME": "Worker",
        "GIT_COMMITTER_EMAIL": "worker@example.com",
        "LC_ALL": "C",
    }


def run_git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**git_env(cwd), **(env or {})},
        capture_output=True,
        check=True,
    )
    return result.stdout.decode()


def _push_local(
    store: GitStore, relative_path: str, workdir: Path, refspecs: Sequence[str]
) -> None:
    assert isinstance(store, LocalGitStore)
    run_git(workdir, "push", "--quiet", "--force", str(store.root / relative_path), *refspecs)


@dataclass(frozen=True)
class Implementation:
    name: str
    make: Callable[[Path], GitStore]
    push: Callable[[GitStore, str, Path, Sequence[str]], None]


IMPLEMENTATIONS = [
    Implementation("local", lambda tmp: LocalGitStore(tmp / "storage"), _push_local),
]


@pytest.fixture(params=IMPLEMENTATIONS, ids=lambda implementation: implementation.name)
def implementation(request: pytest.FixtureRequest) -> Implementation:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def store(implementation: Implementation, tmp_path: Path) -> GitStore:
    return implementation.make(tmp_path)


@pytest.fixture
def repo(store: GitStore) -> str:
    relative_path = hashed_relative_path(uuid.uuid4().hex)
    store.create_repository(relative_path=relative_path)
    return relative_path


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A non-bare work tree on branch main, for building content by hand."""
    path = tmp_path / "work"
    path.mkdir()
    run_git(path, "init", "--quiet", "--initial-branch=main")
    return path


@pytest.fixture
def push(implementation: Implementation, store: GitStore) -> Callable[..., None]:
    def push(relative_path: str, workdir: Path, *refspecs: str) -> None:
        implementation.push(store, relative_path, workdir, refspecs or ("--all",))

    return push


def write(
    store: GitStore,
    relative_path: str,
    files: Mapping[str, bytes | None],
    *,
    branch: str = "main",
    message: str = "change",
    author: Identity = ALICE,
    start_branch: str | None = None,
) -> Commit:
    """Commit ``files`` (None deletes) through the store, choosing create or update."""
    missing = store.find_branch(relative_path=relative_path, name=branch) is None
    base = start_branch if missing else branch
    actions = []
    for path, content in files.items():
        exists = False
        if base is not None and store.find_branch(relative_path=relative_path, name=base):
            try:
                store.get_blob_at(relative_path=relative_path, revision=base, path=path)
                exists = True
            except PathNotFound:
                exists = False
        if content is None:
            kind = CommitActionKind.DELETE
        else:
            kind = CommitActionKind.UPDATE if exists else CommitActionKind.CREATE
        actions.append(CommitAction(action=kind, file_path=path, content=content))
    return store.create_commit(
        relative_path=relative_path,
        branch=branch,
        actions=actions,
        author=author,
        message=message,
        start_branch=start_branch if missing else None,
    )
