"""The commit services without HTTP: what a concurrent push does to a web write, and the
README GitLab writes into an empty repository."""

from __future__ import annotations

from typing import Any

import pytest

from kiln.core.access import Visibility
from kiln.core.actor import Actor
from kiln.core.errors import PlainBadRequest
from kiln.gitstore import CommitAction, CommitActionKind, Identity
from kiln.repositories import files, queries
from kiln.repositories.storage import repo_path, store
from tests.projects import builders as b


@pytest.fixture
def owner(transactional_db: None) -> Any:
    return b.user("service-owner")


def test_a_push_racing_a_web_commit_wins_and_nothing_is_lost(
    owner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = b.project(owner, "Race", visibility=Visibility.PRIVATE)
    actor = Actor.for_user(owner)
    first = files.add_readme(actor=actor, project=project, content=b"one\n")
    path = repo_path(project)
    racing: list[str] = []
    checked = files.check_web_push

    def push_meanwhile(*args: Any, **kwargs: Any) -> None:
        checked(*args, **kwargs)
        # Someone pushes to main after the web write read the branch, before it moves it.
        commit = store().create_commit(
            relative_path=path,
            branch="main",
            actions=[CommitAction(action=CommitActionKind.CREATE, file_path="push.txt")],
            author=Identity(name="Pusher", email="p@example.com"),
            message="Pushed meanwhile",
        )
        racing.append(commit.id)

    monkeypatch.setattr(files, "check_web_push", push_meanwhile)
    with pytest.raises(PlainBadRequest) as lost:
        files.create_commit(
            actor=actor,
            project=project,
            branch="main",
            message="Web edit",
            actions=[files.FileAction(action="create", file_path="web.txt", content=b"w")],
        )
    assert lost.value.message == ("Could not update refs/heads/main. Please refresh and try again.")
    head = queries.find_commit(project, "main")
    assert head is not None
    assert head.id == racing[0]
    assert head.parent_ids == (first.id,)


def test_add_readme_starts_the_default_branch(owner: Any) -> None:
    project = b.project(owner, "Readme", visibility=Visibility.PRIVATE)
    assert queries.is_empty(project)
    commit = files.add_readme(actor=Actor.for_user(owner), project=project)
    assert commit.title == "Add README.md"
    project.refresh_from_db()
    assert project.empty_repo is False
    assert project.default_branch == "main"
    found = queries.get_file(project, file_path="README.md", ref="main")
    assert found.blob.data == b""


def test_a_reporter_cannot_commit(owner: Any) -> None:
    from kiln.core.errors import Forbidden

    project = b.project(owner, "Locked", visibility=Visibility.PUBLIC)
    stranger = b.user("stranger")
    with pytest.raises(Forbidden):
        files.add_readme(actor=Actor.for_user(stranger), project=project)
    assert queries.is_empty(project)
