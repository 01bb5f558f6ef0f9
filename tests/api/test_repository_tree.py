"""/projects/:id/repository/tree, blobs, archive, compare, contributors, merge_base and
/languages, as GitLab's lib/api/repositories.rb answers them."""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.conftest import ROOT_TOKEN
from tests.repositories.support import (
    World,
    add_roles,
    bare_path,
    commit_files,
    create_project,
    error_of,
    fetch_into,
    head_of,
    world_for,
)
from tests.support.git import git

TREE_KEYS = ["id", "name", "type", "path", "mode"]


def _build(world: World) -> None:
    gl = world.root.gl
    project = create_project(
        gl,
        "trees",
        {
            "README.md": "# trees\n",
            "src/app.py": "print('hi')\n" * 20,
            "src/lib/util.py": "x = 1\n",
            "docs/guide.md": "guide\n",
            "web/app.js": "let a = 1;\n",
        },
    )
    project.branches.create({"branch": "feature", "ref": "main"})
    commit_files(project, {"src/app.py": "print('feature')\n"}, branch="feature", message="Feat")
    add_roles(world, project)
    world.projects["trees"] = project
    world.projects["public"] = create_project(
        gl, "public-tree", {"README.md": "pub\n"}, visibility="public"
    )


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


def test_tree_listing(world: World) -> None:
    project = world.projects["trees"]
    top = project.repository_tree(get_all=True)
    assert [(e["name"], e["type"], e["mode"]) for e in top] == [
        ("README.md", "blob", "100644"),
        ("docs", "tree", "040000"),
        ("src", "tree", "040000"),
        ("web", "tree", "040000"),
    ]
    assert list(top[0]) == TREE_KEYS
    deep = project.repository_tree(recursive=True, get_all=True)
    assert [e["path"] for e in deep] == [
        "README.md",
        "docs",
        "docs/guide.md",
        "src",
        "src/app.py",
        "src/lib",
        "src/lib/util.py",
        "web",
        "web/app.js",
    ]
    assert [e["name"] for e in project.repository_tree(path="src/lib", get_all=True)] == ["util.py"]
    assert len(project.repository_tree(ref="feature", get_all=True)) == 4
    raw = world.root.raw
    base = f"/projects/{project.id}/repository/tree"
    assert error_of(raw.get(base, params={"ref": "foo"})) == (
        404,
        {"message": "404 Tree Not Found"},
    )
    assert error_of(raw.get(base, params={"path": "bogus"})) == (
        404,
        {"message": "404 invalid revision or path Not Found"},
    )
    assert error_of(raw.get(base, params={"path": "README.md"})) == (
        404,
        {"message": "404 invalid revision or path Not Found"},
    )
    assert error_of(raw.get(base, params={"pagination": "none"})) == (
        400,
        {"error": 'pagination cannot be "none" unless "recursive" is true'},
    )
    unpaged = raw.get(base, params={"pagination": "none", "recursive": True})
    assert len(unpaged.json()) == 9
    assert "X-Page" not in unpaged.headers
    paged = raw.get(base, params={"recursive": True, "per_page": 4})
    assert paged.headers["X-Total"] == "9"
    assert paged.headers["X-Total-Pages"] == "3"


def test_tree_keyset_pagination(world: World) -> None:
    project = world.projects["trees"]
    raw = world.root.raw
    base = f"/projects/{project.id}/repository/tree"
    seen: list[str] = []
    url: str | None = f"{raw.base}{base}?recursive=true&pagination=keyset&per_page=4"
    pages = 0
    while url:
        response = raw.session.get(url, timeout=30)
        assert response.status_code == 200
        seen += [e["path"] for e in response.json()]
        url = response.links.get("next", {}).get("url")
        pages += 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == 9
    # A token GitLab clients build themselves (an entry's id) is accepted too.
    first = raw.get(base, params={"pagination": "keyset", "per_page": 1}).json()[0]
    after = raw.get(base, params={"pagination": "keyset", "page_token": first["id"]}).json()
    assert first["id"] not in [e["id"] for e in after]
    assert error_of(raw.get(base, params={"pagination": "keyset", "page_token": "nope"})) == (
        400,
        {"error": "page_token is invalid"},
    )


def test_blobs(world: World) -> None:
    project = world.projects["trees"]
    readme = next(e for e in project.repository_tree(get_all=True) if e["name"] == "README.md")
    blob = project.repository_blob(readme["id"])
    assert blob == {
        "size": 8,
        "encoding": "base64",
        "content": "IyB0cmVlcwo=",
        "sha": readme["id"],
    }
    assert project.repository_raw_blob(readme["id"]) == b"# trees\n"
    raw = world.root.raw
    response = raw.get(f"/projects/{project.id}/repository/blobs/{readme['id']}/raw")
    assert response.headers["Content-Disposition"] == "inline"
    assert response.headers["Cache-Control"] == (
        "max-age=0, private, must-revalidate, no-store, no-cache"
    )
    for sha in ("abcd9876", "nothex", head_of(project.id)):
        assert error_of(raw.get(f"/projects/{project.id}/repository/blobs/{sha}")) == (
            404,
            {"message": "404 Blob Not Found"},
        )


def _tar_names(data: bytes, mode: str) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data), mode=mode) as archive:
        return archive.getnames()


def test_archives(world: World) -> None:
    project = world.projects["trees"]
    sha = head_of(project.id)
    prefix = f"trees-main-{sha}"
    data = project.repository_archive()
    assert f"{prefix}/src/app.py" in _tar_names(data, "r:gz")
    bz2 = project.repository_archive(format="tar.bz2")
    assert f"{prefix}/README.md" in _tar_names(bz2, "r:bz2")
    zipped = project.repository_archive(format="zip")
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        assert archive.read(f"{prefix}/docs/guide.md") == b"guide\n"
    plain = project.repository_archive(format="tar")
    assert f"{prefix}/web/app.js" in _tar_names(plain, "r:")
    sub = project.repository_archive(path="src/lib")
    names = _tar_names(sub, "r:gz")
    assert f"trees-main-{sha}-src-lib/src/lib/util.py" in names
    assert not any(name.endswith("README.md") for name in names)
    feature = head_of(project.id, "feature")
    by_sha = world.root.raw.get(
        f"/projects/{project.id}/repository/archive.zip", params={"sha": "feature"}
    )
    assert by_sha.headers["Content-Disposition"] == (
        f'attachment; filename="trees-feature-{feature}.zip"'
    )
    assert by_sha.headers["Content-Type"] == "application/zip"
    raw = world.root.raw
    assert error_of(
        raw.get(f"/projects/{project.id}/repository/archive", params={"sha": "xxx"})
    ) == (
        404,
        {"message": "404 File Not Found"},
    )
    assert error_of(
        raw.get(f"/projects/{project.id}/repository/archive", params={"path": "missing"})
    ) == (404, {"message": "404 File Not Found"})
    assert raw.get(f"/projects/{project.id}/repository/archive.exe").status_code == 404
    assert error_of(world["guest"].raw.get(f"/projects/{project.id}/repository/archive")) == (
        403,
        {"message": "403 Forbidden"},
    )


def test_archive_keeps_symlinks_as_links(world: World, tmp_path: Path) -> None:
    project = create_project(world.root.gl, "archive-links", {"README.md": "x\n"})
    work = tmp_path / "work"
    git("clone", "-q", str(bare_path(project.id)), str(work))
    (work / "escape").symlink_to("../../../../../../etc/passwd")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "Link", cwd=work)
    fetch_into(project.id, work)
    data = project.repository_archive(format="tar")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("/escape"))
        assert member.issym()
        assert member.linkname == "../../../../../../etc/passwd"
    zipped = project.repository_archive(format="zip")
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        name = next(n for n in archive.namelist() if n.endswith("/escape"))
        assert archive.read(name) == b"../../../../../../etc/passwd"


def test_compare(world: World) -> None:
    project = world.projects["trees"]
    result = project.repository_compare("main", "feature")
    assert list(result) == [
        "commit",
        "commits",
        "diffs",
        "compare_timeout",
        "compare_same_ref",
        "web_url",
    ]
    assert [c["title"] for c in result["commits"]] == ["Feat"]
    assert result["commit"]["title"] == "Feat"
    assert [d["new_path"] for d in result["diffs"]] == ["src/app.py"]
    assert result["compare_same_ref"] is False
    back = project.repository_compare("feature", "main")
    assert back["commits"] == []
    assert back["commit"] is None
    straight = world.root.raw.get(
        f"/projects/{project.id}/repository/compare",
        params={"from": "feature", "to": "main", "straight": True},
    ).json()
    assert [d["new_path"] for d in straight["diffs"]] == ["src/app.py"]
    same = project.repository_compare("main", "main")
    assert (same["compare_same_ref"], same["commits"], same["diffs"]) == (True, [], [])
    raw = world.root.raw
    path = f"/projects/{project.id}/repository/compare"
    assert error_of(raw.get(path, params={"from": "unknown_ref", "to": "main"})) == (
        404,
        {"message": "404 Ref Not Found"},
    )
    assert error_of(raw.get(path, params={"from": "main"})) == (400, {"error": "to is missing"})


def test_contributors_merge_base_and_languages(world: World) -> None:
    project = world.projects["trees"]
    contributors = project.repository_contributors(get_all=True)
    assert contributors == [
        {
            "name": "Administrator",
            "email": "admin@example.com",
            "commits": 1,
            "additions": 24,
            "deletions": 0,
        }
    ]
    raw = world.root.raw
    listed = raw.get(f"/projects/{project.id}/repository/contributors")
    assert "order_by=commits" in listed.headers["Link"]
    assert "sort=asc" in listed.headers["Link"]

    feature = head_of(project.id, "feature")
    main = head_of(project.id)
    base = project.repository_merge_base([feature, "main"])
    assert base["id"] == main
    path = f"/projects/{project.id}/repository/merge_base"
    assert error_of(raw.get(path, params={"refs[]": ["main"]})) == (
        400,
        {"message": "Provide at least 2 refs"},
    )
    assert error_of(raw.get(path, params={"refs[]": ["main", "missing"]})) == (
        400,
        {"message": "Could not find ref: missing"},
    )
    assert error_of(raw.get(path, params={"refs[]": ["main", "x1", "x2"]})) == (
        400,
        {"message": "Could not find refs: x1, x2"},
    )

    languages = world.root.gl.http_get(f"/projects/{project.id}/languages")
    assert "Python" in languages
    assert "JavaScript" in languages
    assert round(sum(languages.values()), 2) == 100.0


def test_anonymous_and_guest(world: World) -> None:
    public = world["anonymous"].gl.projects.get(world.projects["public"].id, lazy=True)
    assert [e["name"] for e in public.repository_tree(get_all=True)] == ["README.md"]
    private = world.projects["trees"].id
    for path in ("tree", "contributors", "compare?from=main&to=main", "archive"):
        assert error_of(world["anonymous"].raw.get(f"/projects/{private}/repository/{path}")) == (
            404,
            {"message": "404 Project Not Found"},
        )
        assert error_of(world["guest"].raw.get(f"/projects/{private}/repository/{path}")) == (
            403,
            {"message": "403 Forbidden"},
        )
    assert world["reporter"].raw.get(f"/projects/{private}/repository/tree").status_code == 200
    assert error_of(world["guest"].raw.get(f"/projects/{private}/languages")) == (
        403,
        {"message": "403 Forbidden"},
    )


def test_empty_repository_reads(world: World) -> None:
    project = world.root.gl.projects.create({"name": "nothing-yet"})
    raw = world.root.raw
    assert error_of(raw.get(f"/projects/{project.id}/repository/tree")) == (
        404,
        {"message": "404 Tree Not Found"},
    )
    assert raw.get(f"/projects/{project.id}/repository/commits").json() == []
    assert raw.get(f"/projects/{project.id}/repository/branches").json() == []
    assert raw.get(f"/projects/{project.id}/repository/tags").json() == []
    assert raw.get(f"/projects/{project.id}/repository/contributors").json() == []
    assert raw.get(f"/projects/{project.id}/languages").json() == {}


def test_tree_of_2000_files_pages_without_reading_blobs(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory of 2,000 files: a page costs the same queries for 2 entries as for 20, and
    no blob is read to list it."""
    from kiln.gitstore.local.reads import ReadOps

    project = world.root.gl.projects.create({"name": "wide"})
    actions = [
        {"action": "create", "file_path": f"many/f{i:04d}.txt", "content": str(i)}
        for i in range(2000)
    ]
    project.commits.create({"branch": "main", "commit_message": "Wide", "actions": actions})
    blob_reads = []
    original = ReadOps._blob

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        blob_reads.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ReadOps, "_blob", counting)
    browser = Client()
    url = f"/api/v4/projects/{project.id}/repository/tree"
    params = {"path": "many", "per_page": 2}
    browser.get(url, params, HTTP_PRIVATE_TOKEN=ROOT_TOKEN)
    with CaptureQueriesContext(connection) as small:
        response = browser.get(url, params, HTTP_PRIVATE_TOKEN=ROOT_TOKEN)
    assert response["X-Total"] == "2000"
    with CaptureQueriesContext(connection) as large:
        response = browser.get(
            url, {**params, "per_page": 20, "page": 50}, HTTP_PRIVATE_TOKEN=ROOT_TOKEN
        )
    assert response.json()[0]["name"] == "f0980.txt"
    assert len(large) == len(small)
    assert blob_reads == []
