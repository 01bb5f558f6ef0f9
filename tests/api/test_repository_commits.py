"""/projects/:id/repository/commits: history, one commit, its diff and refs, commits with
actions, cherry-pick and revert, as GitLab's lib/api/commits.rb answers them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import gitlab
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.conftest import ROOT_TOKEN
from tests.repositories.support import (
    World,
    add_roles,
    commit_files,
    create_project,
    error_of,
    head_of,
    push_count,
    snapshot,
    world_for,
)

COMMIT_KEYS = [
    "id",
    "short_id",
    "created_at",
    "parent_ids",
    "title",
    "message",
    "author_name",
    "author_email",
    "authored_date",
    "committer_name",
    "committer_email",
    "committed_date",
    "trailers",
    "extended_trailers",
    "web_url",
]
DIFF_KEYS = [
    "diff",
    "collapsed",
    "too_large",
    "new_path",
    "old_path",
    "a_mode",
    "b_mode",
    "new_file",
    "renamed_file",
    "deleted_file",
    "generated_file",
]


def _build(world: World) -> None:
    gl = world.root.gl
    project = create_project(gl, "history", {"README.md": "one\n"}, message="First")
    commit_files(project, {"src/a.py": "a = 1\n"}, message="Second")
    project.branches.create({"branch": "feature", "ref": "main"})
    commit_files(project, {"feature.txt": "f\n"}, branch="feature", message="Feature work")
    commit_files(project, {"README.md": "two\n"}, message="Third\n\nWith a body.")
    project.tags.create({"tag_name": "v1", "ref": "feature"})
    add_roles(world, project)
    world.projects["history"] = gl.projects.get(project.id)
    world.projects["writes"] = create_project(gl, "commit-writes", {"README.md": "w\n"})
    add_roles(world, world.projects["writes"])


@pytest.fixture(scope="module")
def world(kiln_server: Any, django_db_blocker: Any) -> Iterator[World]:
    with world_for(kiln_server, django_db_blocker, _build) as built:
        yield built


@pytest.fixture(autouse=True)
def db(django_db_blocker: Any) -> Iterator[None]:
    """Replaces pytest-django's `db` here: the module's world is committed once (see
    tests/api/test_repository_files.py)."""
    with django_db_blocker.unblock():
        yield


def test_list_shape_order_and_pagination(world: World) -> None:
    project = world.projects["history"]
    commits = project.commits.list(get_all=True)
    assert [c.title for c in commits] == ["Third", "Second", "First"]
    raw = world.root.raw.get(f"/projects/{project.id}/repository/commits", params={"per_page": 1})
    assert list(raw.json()[0]) == COMMIT_KEYS
    assert raw.json()[0]["message"] == "Third\n\nWith a body.\n"
    assert raw.headers["X-Next-Page"] == "2"
    assert "X-Total" not in raw.headers  # GitLab does not count history
    assert 'rel="next"' in raw.headers["Link"]
    walked = [c.id for c in project.commits.list(iterator=True, per_page=1)]
    assert walked == [c.id for c in commits]
    last = world.root.raw.get(
        f"/projects/{project.id}/repository/commits", params={"per_page": 1, "page": 3}
    )
    assert last.headers["X-Next-Page"] == ""
    first = commits[-1]
    assert first.parent_ids == []
    assert first.web_url.endswith(f"/root/history/-/commit/{first.id}")
    assert first.short_id == first.id[:8]
    assert dt.datetime.fromisoformat(first.committed_date).tzinfo is not None


def test_list_filters(world: World) -> None:
    project = world.projects["history"]

    def titles(**params: Any) -> list[str]:
        # `query_parameters`: python-gitlab reads a `path` keyword as the URL to list.
        found = project.commits.list(get_all=True, query_parameters=params)
        return [c.title for c in found]

    assert titles(ref_name="feature") == ["Feature work", "Second", "First"]
    assert titles(path="src/a.py") == ["Second"]
    assert titles(ref_name="v1") == ["Feature work", "Second", "First"]
    assert sorted(titles(all=True)) == ["Feature work", "First", "Second", "Third"]
    assert titles(first_parent=True) == ["Third", "Second", "First"]
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    assert titles(since=future) == []
    assert len(titles(until=future)) == 3
    assert titles(ref_name="no-such-branch") == []
    with_stats = project.commits.list(get_all=True, with_stats=True)
    assert with_stats[0].stats == {"additions": 1, "deletions": 1, "total": 2}
    raw = world.root.raw
    path = f"/projects/{project.id}/repository/commits"
    assert error_of(raw.get(path, params={"ref_name": "--output=/tmp/x"})) == (
        400,
        {"message": "ref_name is invalid"},
    )
    assert error_of(raw.get(path, params={"since": "not a date"})) == (
        400,
        {"error": "since is invalid"},
    )


def test_get_commit_diff_refs_and_sequence(world: World) -> None:
    project = world.projects["history"]
    commit = project.commits.get("main")
    assert commit.title == "Third"
    assert commit.stats == {"additions": 1, "deletions": 1, "total": 2}
    assert commit.status is None
    assert commit.last_pipeline is None
    assert commit.project_id == project.id
    raw = world.root.raw
    bare = raw.get(
        f"/projects/{project.id}/repository/commits/{commit.id}", params={"stats": False}
    )
    assert list(bare.json()) == [*COMMIT_KEYS, "status", "project_id", "last_pipeline"]
    assert error_of(raw.get(f"/projects/{project.id}/repository/commits/deadbeef")) == (
        404,
        {"message": "404 Commit Not Found"},
    )

    diffs = commit.diff(get_all=True)
    assert len(diffs) == 1
    assert list(diffs[0]) == DIFF_KEYS
    assert diffs[0]["new_path"] == "README.md"
    assert diffs[0]["diff"].startswith("@@ -1 +1 @@")
    assert "-one\n+two\n" in diffs[0]["diff"]
    unified = raw.get(
        f"/projects/{project.id}/repository/commits/{commit.id}/diff", params={"unidiff": True}
    ).json()
    assert unified[0]["diff"].startswith("--- a/README.md\n+++ b/README.md\n@@")

    second = project.commits.list(get_all=True, query_parameters={"path": "src/a.py"})[0]
    refs = project.commits.get(second.id).refs(get_all=True)
    assert refs == [
        {"type": "branch", "name": "feature"},
        {"type": "branch", "name": "main"},
        {"type": "tag", "name": "v1"},
    ]
    assert project.commits.get(second.id).refs(type="tag", get_all=True) == [
        {"type": "tag", "name": "v1"}
    ]
    assert project.commits.get(second.id).sequence() == {"count": 2}
    # A branch name with a slash, URL-encoded in the path.
    project.branches.create({"branch": "topic/x", "ref": "main"})
    assert project.commits.get("topic/x").id == commit.id


def test_create_commit_with_every_action(world: World) -> None:
    project = world["maintainer"].gl.projects.get(world.projects["writes"].id)
    pushes = push_count(project.id)
    created = project.commits.create(
        {
            "branch": "main",
            "commit_message": "Many files",
            "actions": [
                {"action": "create", "file_path": "a.txt", "content": "a\n"},
                {
                    "action": "create",
                    "file_path": "b/b.bin",
                    "content": "AAEC",
                    "encoding": "base64",
                },
                {"action": "create", "file_path": "old.txt", "content": "moving\n"},
                {"action": "create", "file_path": "tool", "content": "#!/bin/sh\n"},
            ],
        }
    )
    assert created.title == "Many files"
    assert created.stats == {"additions": 3, "deletions": 0, "total": 3}
    assert push_count(project.id) == pushes + 1
    second = project.commits.create(
        {
            "branch": "main",
            "commit_message": "Change them",
            "actions": [
                {"action": "update", "file_path": "a.txt", "content": "A\n"},
                {"action": "move", "file_path": "new/place.txt", "previous_path": "old.txt"},
                {"action": "delete", "file_path": "b/b.bin"},
                {"action": "chmod", "file_path": "tool", "execute_filemode": True},
            ],
            "stats": False,
        }
    )
    assert "stats" not in second.attributes
    tree = {e["path"]: e["mode"] for e in project.repository_tree(recursive=True, get_all=True)}
    assert "b/b.bin" not in tree
    assert "old.txt" not in tree
    assert tree["tool"] == "100755"
    assert project.files.raw("new/place.txt", ref="main") == b"moving\n"
    assert project.files.raw("a.txt", ref="main") == b"A\n"

    # A new branch from another, from a commit, and a forced rewrite.
    project.commits.create(
        {
            "branch": "side",
            "start_branch": "main",
            "commit_message": "Side",
            "actions": [{"action": "create", "file_path": "side.txt", "content": "s"}],
        }
    )
    assert project.commits.get("side").parent_ids == [second.id]
    from_sha = project.commits.create(
        {
            "branch": "from-sha",
            "start_sha": created.id,
            "commit_message": "From a sha",
            "actions": [{"action": "create", "file_path": "s.txt", "content": "s"}],
        }
    )
    assert from_sha.parent_ids == [created.id]
    forced = project.commits.create(
        {
            "branch": "side",
            "start_sha": created.id,
            "force": True,
            "commit_message": "Rewrite side",
            "actions": [{"action": "create", "file_path": "r.txt", "content": "r"}],
        }
    )
    assert project.commits.get("side").id == forced.id
    assert forced.parent_ids == [created.id]


def test_create_commit_errors_write_nothing(world: World) -> None:
    project_id = world.projects["writes"].id
    raw = world["maintainer"].raw
    path = f"/projects/{project_id}/repository/commits"
    main = head_of(project_id)

    def post(**body: Any) -> tuple[int, Any]:
        payload = {"branch": "main", "commit_message": "m", **body}
        return error_of(raw.post(path, json=payload))

    create = {"action": "create", "file_path": "x.txt", "content": "x"}
    before = snapshot(project_id)
    assert post(actions=[{"action": "explode", "file_path": "x"}]) == (
        400,
        {"error": "actions[0][action] does not have a valid value"},
    )
    assert post(actions=[{"action": "move", "file_path": "x"}]) == (
        400,
        {"error": "actions[0][previous_path] is missing"},
    )
    assert post(actions=[{"action": "update", "file_path": "README.md"}]) == (
        400,
        {"error": "actions[0][content] is missing"},
    )
    assert post(actions=[create], start_branch="main", start_sha=main) == (
        400,
        {"error": "start_branch, start_sha are mutually exclusive"},
    )
    assert post(actions=[{"action": "create", "file_path": "README.md", "content": "x"}]) == (
        400,
        {"message": "A file with this name already exists"},
    )
    assert post(actions=[{"action": "delete", "file_path": "nope.txt"}]) == (
        400,
        {"message": "A file with this name doesn't exist"},
    )
    assert post(actions=[create], branch="no-such-branch") == (
        400,
        {"message": "You can only create or edit files when you are on a branch"},
    )
    assert post(actions=[create], start_sha=main) == (
        400,
        {
            "message": "A branch called 'main' already exists. "
            "Switch to that branch in order to make changes"
        },
    )
    assert post(actions=[create], branch="new", start_sha="abc") == (
        400,
        {"message": "Invalid start_sha 'abc'"},
    )
    assert post(actions=[create], branch="new", start_sha="0" * 40) == (
        400,
        {"message": f"Cannot find start_sha '{'0' * 40}'"},
    )
    assert post(actions=[]) == (400, {"message": "actions is required"})
    assert snapshot(project_id) == before

    # last_commit_id: an edit based on an older version of the file is refused.
    old = head_of(project_id)
    commit_files(world.projects["writes"], {"README.md": "newer\n"}, message="Newer")
    before = snapshot(project_id)
    stale = {"action": "update", "file_path": "README.md", "content": "x", "last_commit_id": old}
    assert post(actions=[stale]) == (
        400,
        {"message": "The file has changed since you started editing it: README.md"},
    )
    assert snapshot(project_id) == before
    fresh = {**stale, "last_commit_id": head_of(project_id)}
    assert raw.post(path, json={"branch": "main", "commit_message": "ok", "actions": [fresh]}).ok


def test_commit_permissions(world: World) -> None:
    project_id = world.projects["writes"].id
    path = f"/projects/{project_id}/repository/commits"
    body = {
        "branch": "main",
        "commit_message": "m",
        "actions": [{"action": "create", "file_path": "perm.txt", "content": "p"}],
    }
    before = snapshot(project_id)
    assert error_of(world["anonymous"].raw.post(path, json=body)) == (
        401,
        {"message": "401 Unauthorized"},
    )
    assert error_of(world["outsider"].raw.post(path, json=body)) == (
        404,
        {"message": "404 Project Not Found"},
    )
    assert error_of(world["guest"].raw.post(path, json=body)) == (403, {"message": "403 Forbidden"})
    assert error_of(world["guest"].raw.get(path)) == (403, {"message": "403 Forbidden"})
    assert world["reporter"].raw.get(path).status_code == 200
    assert error_of(world["reporter"].raw.post(path, json=body)) == (
        403,
        {"message": "403 Forbidden"},
    )
    assert error_of(world["developer"].raw.post(path, json=body)) == (
        403,
        {"message": "403 Forbidden - You are not allowed to push into this branch"},
    )
    assert snapshot(project_id) == before
    dev = world["developer"].raw.post(path, json={**body, "branch": "dev", "start_branch": "main"})
    assert dev.status_code == 201, dev.text
    assert world["maintainer"].raw.post(path, json=body).status_code == 201


def test_cherry_pick_and_revert(world: World) -> None:
    gl = world["maintainer"].gl
    project = gl.projects.get(world.projects["history"].id)
    picked_from = project.commits.get("feature")
    main_before = head_of(project.id)

    dry = picked_from.cherry_pick(branch="main", dry_run=True)
    assert dry == {"dry_run": "success"}
    assert head_of(project.id) == main_before
    assert not any(name.startswith("refs/heads/kiln-dry-run") for name in _refs(project.id))

    picked = picked_from.cherry_pick(branch="main")
    assert picked["title"] == "Feature work"
    assert picked["message"].endswith(f"(cherry picked from commit {picked_from.id})\n")
    assert picked["author_name"] == picked_from.author_name
    assert head_of(project.id) == picked["id"]

    raw = world["maintainer"].raw
    again = raw.post(
        f"/projects/{project.id}/repository/commits/{picked_from.id}/cherry_pick",
        json={"branch": "main"},
    )
    assert again.status_code == 400
    assert again.json()["error_code"] == "empty"
    assert again.json()["message"].startswith("Commit cherry-pick failed: ")
    dry_failed = raw.post(
        f"/projects/{project.id}/repository/commits/{picked_from.id}/cherry_pick",
        json={"branch": "main", "dry_run": True},
    )
    assert dry_failed.json()["dry_run"] == "error"

    reverted = project.commits.get(picked["id"]).revert(branch="main")
    assert reverted["title"] == 'Revert "Feature work"'
    assert f"This reverts commit {picked['id']}." in reverted["message"]
    assert head_of(project.id) == reverted["id"]

    assert error_of(
        raw.post(
            f"/projects/{project.id}/repository/commits/{picked_from.id}/cherry_pick",
            json={"branch": "no-such"},
        )
    ) == (404, {"message": "404 Branch Not Found"})
    assert error_of(
        raw.post(
            f"/projects/{project.id}/repository/commits/{'1' * 40}/cherry_pick",
            json={"branch": "main"},
        )
    ) == (404, {"message": "404 Commit Not Found"})
    dev = world["developer"].raw.post(
        f"/projects/{project.id}/repository/commits/{picked_from.id}/revert",
        json={"branch": "main"},
    )
    assert error_of(dev) == (
        403,
        {"message": "403 Forbidden - You are not allowed to push into this branch"},
    )


def test_cherry_pick_conflict_has_error_code(world: World) -> None:
    project = create_project(world.root.gl, "conflicts", {"f.txt": "base\n"})
    project.branches.create({"branch": "other", "ref": "main"})
    commit_files(project, {"f.txt": "other\n"}, branch="other", message="Other")
    commit_files(project, {"f.txt": "main\n"}, message="Main")
    before = snapshot(project.id)
    response = world.root.raw.post(
        f"/projects/{project.id}/repository/commits/other/cherry_pick", json={"branch": "main"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "message": "Commit cherry-pick failed: Can't perform this action automatically. It may "
        "have already been done, or a more recent commit may have updated some of this content. "
        "Please perform this action locally.",
        "error_code": "conflict",
    }
    assert snapshot(project.id) == before


def test_web_commits_drive_empty_repo_and_default_branch(world: World) -> None:
    from kiln.repositories.models import Push

    gl = world.root.gl
    project = gl.projects.create({"name": "starts-empty"})
    assert project.empty_repo is True
    project.commits.create(
        {
            "branch": "trunk",
            "commit_message": "Begin",
            "actions": [{"action": "create", "file_path": "x.txt", "content": "x"}],
        }
    )
    project = gl.projects.get(project.id)
    assert project.empty_repo is False
    assert project.default_branch == "trunk"
    push = Push.objects.get(project_id=project.id)
    assert (push.ref, push.before, push.protocol) == ("refs/heads/trunk", "0" * 40, "web")
    assert push.commit_count == 1
    assert push.commits[0]["title"] == "Begin"
    assert push.author_id == 1


def test_list_query_budget(world: World) -> None:
    """The commit list costs the same queries for 2 commits as for 20 (history is in git)."""
    project = world.projects["writes"]
    for i in range(4):
        commit_files(project, {f"budget/{i}.txt": str(i)}, message=f"Budget {i}")
    browser = Client()
    path = f"/api/v4/projects/{project.id}/repository/commits"
    browser.get(path, {"per_page": 2}, HTTP_PRIVATE_TOKEN=ROOT_TOKEN)
    with CaptureQueriesContext(connection) as small:
        assert browser.get(path, {"per_page": 2}, HTTP_PRIVATE_TOKEN=ROOT_TOKEN).status_code == 200
    with CaptureQueriesContext(connection) as large:
        response = browser.get(path, {"per_page": 20}, HTTP_PRIVATE_TOKEN=ROOT_TOKEN)
    assert len(response.json()) > 5
    assert len(large) == len(small)


def _refs(project_id: int) -> dict[str, str]:
    from tests.repositories.support import repo_refs

    return repo_refs(project_id)


def test_python_gitlab_errors_are_typed(world: World) -> None:
    project = world.projects["history"]
    with pytest.raises(gitlab.GitlabGetError) as failed:
        project.commits.get("no-such-ref")
    assert failed.value.response_code == 404
