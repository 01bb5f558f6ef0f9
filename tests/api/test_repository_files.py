"""/projects/:id/repository/files: read, HEAD, raw, blame, create, update, delete, as GitLab's
lib/api/files.rb answers them, through python-gitlab and raw HTTP."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gitlab
import pytest

from tests.repositories.support import (
    World,
    add_roles,
    commit_files,
    create_project,
    error_of,
    fetch_into,
    head_of,
    push_count,
    snapshot,
    world_for,
)
from tests.support.git import git

FILE_KEYS = [
    "file_name",
    "file_path",
    "size",
    "encoding",
    "content_sha256",
    "ref",
    "blob_id",
    "commit_id",
    "last_commit_id",
    "execute_filemode",
    "content",
]
BINARY = bytes(range(256)) * 4


def _build(world: World) -> None:
    gl = world.root.gl
    private = create_project(
        gl,
        "files-private",
        {"README.md": "# files\n", "dir/a.txt": "alpha\nbeta\n", "bin.dat": BINARY},
    )
    add_roles(world, private)
    world.projects["private"] = private
    world.projects["public"] = create_project(
        gl, "files-public", {"README.md": "public\n"}, visibility="public"
    )
    world.projects["writes"] = create_project(gl, "files-writes", {"README.md": "w\n"})
    add_roles(world, world.projects["writes"])


@pytest.fixture(scope="module")
def world(kiln_server: Any, django_db_blocker: Any) -> Iterator[World]:
    with world_for(kiln_server, django_db_blocker, _build) as built:
        yield built


@pytest.fixture(autouse=True)
def db(django_db_blocker: Any) -> Iterator[None]:
    """Replaces pytest-django's `db` for this module: the world is committed once and the live
    server's threads reach it; the name makes pytest-django create the test database even
    when this module runs alone."""
    with django_db_blocker.unblock():
        yield


def test_get_file_shape_headers_and_head(world: World) -> None:
    project = world.projects["private"]
    head = head_of(project.id)
    found = project.files.get("dir/a.txt", ref="main")
    shape = world.root.raw.get(
        f"/projects/{project.id}/repository/files/dir%2Fa.txt", params={"ref": "main"}
    )
    assert list(shape.json()) == FILE_KEYS
    assert found.decode() == b"alpha\nbeta\n"
    assert found.file_name == "a.txt"
    assert found.file_path == "dir/a.txt"
    assert found.size == 11
    assert found.encoding == "base64"
    assert found.content_sha256 == hashlib.sha256(b"alpha\nbeta\n").hexdigest()
    assert found.ref == "main"
    assert found.commit_id == head
    assert found.last_commit_id == head
    assert found.execute_filemode is False

    headers = project.files.head("dir/a.txt", ref="main")
    assert headers["X-Gitlab-File-Name"] == "a.txt"
    assert headers["X-Gitlab-File-Path"] == "dir/a.txt"
    assert headers["X-Gitlab-Size"] == "11"
    assert headers["X-Gitlab-Blob-Id"] == found.blob_id
    assert headers["X-Gitlab-Commit-Id"] == head
    assert headers["X-Gitlab-Last-Commit-Id"] == head
    assert headers["X-Gitlab-Execute-Filemode"] == "false"
    assert headers["X-Gitlab-Content-Sha256"] == found.content_sha256

    raw = world.root.raw
    response = raw.head(
        f"/projects/{project.id}/repository/files/dir%2Fa.txt", params={"ref": "main"}
    )
    assert response.status_code == 200
    assert response.content == b""
    # By commit id and by the project's URL-encoded path too.
    path = "root%2Ffiles-private"
    response = raw.get(f"/projects/{path}/repository/files/dir%2Fa.txt", params={"ref": head})
    assert response.status_code == 200
    assert response.json()["commit_id"] == head


def test_raw_blame_and_binary(world: World) -> None:
    project = world.projects["private"]
    raw = world.root.raw
    assert project.files.raw("dir/a.txt", ref="main") == b"alpha\nbeta\n"
    # Without ref, raw reads the default branch.
    response = raw.get(f"/projects/{project.id}/repository/files/dir%2Fa.txt/raw")
    assert response.status_code == 200
    assert response.content == b"alpha\nbeta\n"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith('inline; filename="a.txt"')
    assert response.headers["X-Gitlab-File-Path"] == "dir/a.txt"

    binary = raw.get(f"/projects/{project.id}/repository/files/bin.dat/raw", params={"ref": "main"})
    assert binary.content == BINARY
    assert binary.headers["Content-Type"] == "application/octet-stream"
    assert project.files.get("bin.dat", ref="main").decode() == BINARY

    blame = project.files.blame("dir/a.txt", ref="main")
    assert len(blame) == 1
    assert blame[0]["lines"] == ["alpha", "beta"]
    assert blame[0]["commit"]["id"] == head_of(project.id)
    assert blame[0]["commit"]["title"] == "Initial commit"
    ranged = raw.get(
        f"/projects/{project.id}/repository/files/dir%2Fa.txt/blame",
        params={"ref": "main", "range[start]": 2, "range[end]": 2},
    )
    assert ranged.json()[0]["lines"] == ["beta"]
    assert error_of(
        raw.get(
            f"/projects/{project.id}/repository/files/dir%2Fa.txt/blame",
            params={"ref": "main", "range[start]": 2, "range[end]": 1},
        )
    ) == (400, {"message": "range[start] must be less than or equal to range[end]"})


def test_read_errors(world: World) -> None:
    project = world.projects["private"]
    raw = world.root.raw
    base = f"/projects/{project.id}/repository/files"
    assert error_of(raw.get(f"{base}/nope.txt", params={"ref": "main"})) == (
        404,
        {"message": "404 File Not Found"},
    )
    assert error_of(raw.get(f"{base}/README.md", params={"ref": "no-such-branch"})) == (
        404,
        {"message": "404 Commit Not Found"},
    )
    assert error_of(raw.get(f"{base}/README.md")) == (
        400,
        {"error": "ref is missing, ref is empty"},
    )
    assert error_of(raw.get(f"{base}/README.md", params={"ref": ""})) == (
        400,
        {"error": "ref is empty"},
    )
    # A directory is not a file.
    assert raw.get(f"{base}/dir", params={"ref": "main"}).status_code == 404
    assert error_of(raw.get("/projects/999999/repository/files/README.md?ref=main")) == (
        404,
        {"message": "404 Project Not Found"},
    )


def test_create_update_delete_with_python_gitlab(world: World) -> None:
    project = world["maintainer"].gl.projects.get(world.projects["writes"].id)
    pushes = push_count(project.id)
    created = project.files.create(
        {
            "file_path": "docs/new file.md",
            "branch": "main",
            "content": "hello\n",
            "commit_message": "Add a file",
            "author_name": "Ada",
            "author_email": "ada@example.com",
        }
    )
    assert (created.file_path, created.branch) == ("docs/new file.md", "main")
    assert push_count(project.id) == pushes + 1
    commit = project.commits.get("main")
    assert commit.title == "Add a file"
    assert (commit.author_name, commit.author_email) == ("Ada", "ada@example.com")
    assert commit.committer_name == world["maintainer"].user.name

    found = project.files.get("docs/new file.md", ref="main")
    stale = found.last_commit_id
    found.content = base64.b64encode(b"\x00binary\xff").decode()
    found.encoding = "base64"
    found.save(branch="main", commit_message="Binary now")
    assert project.files.raw("docs/new file.md", ref="main") == b"\x00binary\xff"

    with pytest.raises(gitlab.GitlabUpdateError) as failed:
        project.files.update(
            "docs/new file.md",
            {
                "branch": "main",
                "content": "late edit",
                "commit_message": "Late",
                "last_commit_id": stale,
            },
        )
    assert failed.value.response_code == 400
    assert failed.value.error_message == (
        "You are attempting to update a file that has changed since you started editing it."
    )

    script = project.files.create(
        {
            "file_path": "run.sh",
            "branch": "main",
            "content": "#!/bin/sh\n",
            "commit_message": "Script",
            "execute_filemode": True,
        }
    )
    assert script.file_path == "run.sh"
    assert project.files.get("run.sh", ref="main").execute_filemode is True
    modes = {e["path"]: e["mode"] for e in project.repository_tree(get_all=True)}
    assert modes["run.sh"] == "100755"

    project.files.delete(file_path="run.sh", branch="main", commit_message="Remove")
    with pytest.raises(gitlab.GitlabGetError) as missing:
        project.files.get("run.sh", ref="main")
    assert missing.value.response_code == 404


def test_write_errors_write_nothing(world: World) -> None:
    project_id = world.projects["writes"].id
    raw = world["maintainer"].raw
    base = f"/projects/{project_id}/repository/files"
    before = snapshot(project_id)
    body = {"branch": "main", "content": "x", "commit_message": "m"}
    assert error_of(raw.post(f"{base}/README.md", json=body)) == (
        400,
        {"message": "A file with this name already exists"},
    )
    assert error_of(raw.put(f"{base}/missing.txt", json=body)) == (
        400,
        {"message": "A file with this name doesn't exist"},
    )
    assert error_of(raw.post(f"{base}/x.txt", json={"content": "x"})) == (
        400,
        {"error": "branch is missing, commit_message is missing"},
    )
    assert error_of(raw.post(f"{base}/x.txt", json={**body, "branch": " "})) == (
        400,
        {"error": "branch is empty"},
    )
    assert error_of(raw.post(f"{base}/x.txt", json={**body, "encoding": "rot13"})) == (
        400,
        {"error": "encoding does not have a valid value"},
    )
    assert error_of(raw.post(f"{base}/x.txt", json={**body, "branch": "nope"})) == (
        400,
        {"message": "You can only create or edit files when you are on a branch"},
    )
    assert error_of(
        raw.delete(f"{base}/missing.txt", params={"branch": "main", "commit_message": "m"})
    ) == (400, {"message": "A file with this name doesn't exist"})
    assert snapshot(project_id) == before


def test_permissions_on_a_private_project(world: World) -> None:
    project_id = world.projects["private"].id
    base = f"/projects/{project_id}/repository/files"
    body = {"branch": "main", "content": "x", "commit_message": "m"}
    before = snapshot(project_id)
    # Unseen: 404 for reads; anonymous writes are 401 before anything else.
    assert error_of(world["anonymous"].raw.get(f"{base}/README.md?ref=main")) == (
        404,
        {"message": "404 Project Not Found"},
    )
    assert error_of(world["anonymous"].raw.post(f"{base}/x.txt", json=body)) == (
        401,
        {"message": "401 Unauthorized"},
    )
    assert world["outsider"].raw.get(f"{base}/README.md?ref=main").status_code == 404
    # A guest sees the project but not its code.
    assert error_of(world["guest"].raw.get(f"{base}/README.md?ref=main")) == (
        403,
        {"message": "403 Forbidden"},
    )
    assert world["guest"].raw.get(f"{base}/README.md/raw").status_code == 403
    # A reporter reads but cannot write.
    assert world["reporter"].raw.get(f"{base}/README.md?ref=main").status_code == 200
    assert error_of(world["reporter"].raw.post(f"{base}/x.txt", json=body)) == (
        403,
        {"message": "403 Forbidden"},
    )
    # A developer cannot write to the protected default branch...
    assert error_of(world["developer"].raw.post(f"{base}/x.txt", json=body)) == (
        400,
        {"message": "You are not allowed to push into this branch"},
    )
    assert snapshot(project_id) == before
    # ...but may start a new branch from it.
    created = world["developer"].raw.post(
        f"{base}/dev.txt", json={**body, "branch": "dev-work", "start_branch": "main"}
    )
    assert created.status_code == 201, created.text
    assert head_of(project_id, "dev-work") is not None
    assert head_of(project_id) == before[0]["refs/heads/main"]
    # A maintainer writes to the protected branch.
    written = world["maintainer"].raw.post(f"{base}/maint.txt", json=body)
    assert written.status_code == 201, written.text
    assert head_of(project_id) != before[0]["refs/heads/main"]


def test_public_project_reads_anonymously(world: World) -> None:
    project = world["anonymous"].gl.projects.get(world.projects["public"].id, lazy=True)
    assert project.files.raw("README.md", ref="main") == b"public\n"
    assert project.files.get("README.md", ref="main").decode() == b"public\n"


def test_symlink_is_served_as_its_target(world: World, tmp_path: Path) -> None:
    project = create_project(world.root.gl, "files-links", {"README.md": "links\n"})
    work = tmp_path / "work"
    git("clone", "-q", str(_bare(project.id)), str(work))
    (work / "real").mkdir()
    (work / "real" / "inside.txt").write_text("inside\n")
    (work / "up").symlink_to("../../../../../../../../etc/passwd")
    (work / "abs").symlink_to("/etc/passwd")
    (work / "to-dir").symlink_to("real")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "Links", cwd=work)
    fetch_into(project.id, work)

    for name, target in (("up", b"../../../../../../../../etc/passwd"), ("abs", b"/etc/passwd")):
        assert project.files.raw(name, ref="main") == target
        found = project.files.get(name, ref="main")
        assert found.decode() == target
        assert found.size == len(target)
    modes = {e["path"]: e["mode"] for e in project.repository_tree(get_all=True)}
    assert modes["up"] == modes["abs"] == modes["to-dir"] == "120000"
    # A path through a symlink does not exist: it is never followed.
    with pytest.raises(gitlab.GitlabGetError) as through:
        project.files.get("to-dir/inside.txt", ref="main")
    assert through.value.response_code == 404


def _bare(project_id: int) -> Path:
    from tests.repositories.support import bare_path

    return bare_path(project_id)


def test_commit_files_helper_updates(world: World) -> None:
    project = world.projects["writes"]
    commit = commit_files(project, {"README.md": "changed\n"}, message="Update readme")
    assert commit["title"] == "Update readme"
    assert project.files.raw("README.md", ref="main") == b"changed\n"
