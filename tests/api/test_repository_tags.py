"""/projects/:id/repository/tags and /protected_tags, as GitLab's lib/api/tags.rb and
lib/api/protected_tags.rb answer them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

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
    repo_refs,
    snapshot,
    world_for,
)

TAG_KEYS = ["name", "message", "target", "commit", "release", "protected", "created_at"]


def _build(world: World) -> None:
    gl = world.root.gl
    project = create_project(gl, "tagging", {"README.md": "t\n"})
    project.tags.create({"tag_name": "v1.2.0", "ref": "main"})
    commit_files(project, {"a.txt": "a"}, message="Second")
    time.sleep(1.1)  # distinct commit dates: `updated` orders by them
    project.tags.create({"tag_name": "v1.10.0", "ref": "main", "message": "Release 1.10"})
    time.sleep(1.1)
    commit_files(project, {"b.txt": "b"}, message="Third")
    project.tags.create({"tag_name": "beta", "ref": "main"})
    add_roles(world, project)
    world.projects["tagging"] = project


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


def test_list_orders_and_search(world: World) -> None:
    project = world.projects["tagging"]
    names = lambda **kw: [t.name for t in project.tags.list(get_all=True, **kw)]  # noqa: E731
    assert names()[0] == "beta"  # newest first by default
    assert names(order_by="name", sort="asc") == ["beta", "v1.10.0", "v1.2.0"]
    assert names(order_by="version", sort="asc") == ["beta", "v1.2.0", "v1.10.0"]
    assert names(search="^v1") == ["v1.10.0", "v1.2.0"] or names(search="^v1") == [
        "v1.2.0",
        "v1.10.0",
    ]
    assert names(search="0$", order_by="name", sort="asc") == ["v1.10.0", "v1.2.0"]
    raw = world.root.raw.get(f"/projects/{project.id}/repository/tags")
    assert list(raw.json()[0]) == TAG_KEYS
    assert raw.headers["X-Total"] == "3"
    assert error_of(
        world.root.raw.get(f"/projects/{project.id}/repository/tags", params={"order_by": "x"})
    ) == (400, {"error": "order_by does not have a valid value"})


def test_get_lightweight_and_annotated(world: World) -> None:
    project = world.projects["tagging"]
    light = project.tags.get("v1.2.0")
    assert light.message is None
    assert light.created_at is None
    assert light.target == light.commit["id"]
    assert light.commit["title"] == "Initial commit"
    assert light.protected is False
    assert light.release is None
    annotated = project.tags.get("v1.10.0")
    assert annotated.message == "Release 1.10\n"
    assert annotated.target != annotated.commit["id"]
    assert annotated.commit["title"] == "Second"
    assert annotated.created_at is not None
    raw = world.root.raw
    assert error_of(raw.get(f"/projects/{project.id}/repository/tags/nope")) == (
        404,
        {"message": "404 Tag Not Found"},
    )


def test_create_and_delete(world: World) -> None:
    project = world["developer"].gl.projects.get(world.projects["tagging"].id)
    pushes = push_count(project.id)
    tag = project.tags.create({"tag_name": "dev-tag", "ref": "main", "message": "  Notes  "})
    assert tag.message == "Notes\n"
    assert push_count(project.id) == pushes + 1
    assert repo_refs(project.id)["refs/tags/dev-tag"] == tag.target
    raw = world["developer"].raw
    base = f"/projects/{project.id}/repository/tags"
    before = snapshot(project.id)
    assert error_of(raw.post(base, json={"tag_name": "dev-tag", "ref": "main"})) == (
        400,
        {"message": "Tag dev-tag already exists"},
    )
    assert error_of(raw.post(base, json={"tag_name": "bad tag", "ref": "main"})) == (
        400,
        {"message": "Tag name invalid"},
    )
    assert error_of(raw.post(base, json={"tag_name": "t2", "ref": "nope"})) == (
        400,
        {"message": "Target nope is invalid"},
    )
    assert error_of(raw.post(base, json={"tag_name": "t2"})) == (400, {"error": "ref is missing"})
    assert error_of(world["reporter"].raw.post(base, json={"tag_name": "r", "ref": "main"})) == (
        403,
        {"message": "403 Forbidden"},
    )
    assert snapshot(project.id) == before
    assert world["maintainer"].raw.delete(f"{base}/dev-tag").status_code == 204
    assert "refs/tags/dev-tag" not in repo_refs(project.id)
    assert error_of(raw.delete(f"{base}/dev-tag")) == (404, {"message": "404 Tag Not Found"})


def test_protected_tags(world: World) -> None:
    project = world.projects["tagging"]
    rule = project.protectedtags.create({"name": "release-*", "create_access_level": 40})
    assert rule.create_access_levels[0]["access_level"] == 40
    assert rule.create_access_levels[0]["access_level_description"] == "Maintainers"
    assert [r.name for r in project.protectedtags.list(get_all=True)] == ["release-*"]
    assert project.protectedtags.get("release-*").name == "release-*"
    raw = world.root.raw
    base = f"/projects/{project.id}/protected_tags"
    assert error_of(raw.post(base, json={"name": "release-*"})) == (
        409,
        {"message": "Protected tag 'release-*' already exists"},
    )
    assert error_of(world["developer"].raw.post(base, json={"name": "x-*"})) == (
        403,
        {"message": "403 Forbidden"},
    )
    tags = f"/projects/{project.id}/repository/tags"
    before = snapshot(project.id)
    assert error_of(
        world["developer"].raw.post(tags, json={"tag_name": "release-1", "ref": "main"})
    ) == (
        400,
        {"message": "You are not allowed to create this tag as it is protected."},
    )
    assert snapshot(project.id) == before
    created = world["maintainer"].raw.post(tags, json={"tag_name": "release-1", "ref": "main"})
    assert created.status_code == 201
    assert created.json()["protected"] is True
    # Refused by the web push rules (GitLab's text would be its "delete protected tags" one;
    # Kiln's git_access currently answers "change existing tags" first, see the report).
    refused = world["developer"].raw.delete(f"{tags}/release-1")
    assert refused.status_code == 400
    assert "tags" in refused.json()["message"]
    assert snapshot(project.id)[0]["refs/tags/release-1"] == created.json()["target"]
    assert world["maintainer"].raw.delete(f"{tags}/release-1").status_code == 204
    rule.delete()
    assert error_of(raw.get(f"{base}/release-%2A")) == (404, {"message": "404 Not found"})


def test_visibility(world: World) -> None:
    base = f"/projects/{world.projects['tagging'].id}/repository/tags"
    assert error_of(world["anonymous"].raw.get(base)) == (
        404,
        {"message": "404 Project Not Found"},
    )
    assert error_of(world["guest"].raw.get(base)) == (403, {"message": "403 Forbidden"})
    assert world["reporter"].raw.get(base).status_code == 200


def test_list_query_budget(world: World) -> None:
    from kiln.projects.models import Project
    from kiln.repositories.storage import repo_path, store

    project = create_project(world.root.gl, "many-tags", {"README.md": "x"})
    path = repo_path(Project.objects.get(pk=project.id))
    head = head_of(project.id)
    assert head is not None
    for i in range(24):
        store().create_tag(relative_path=path, name=f"t{i:02d}", revision=head)
    project.protectedtags.create({"name": "t1*"})
    browser = Client()
    url = f"/api/v4/projects/{project.id}/repository/tags"
    browser.get(url, {"per_page": 2}, HTTP_PRIVATE_TOKEN=ROOT_TOKEN)
    with CaptureQueriesContext(connection) as small:
        assert browser.get(url, {"per_page": 2}, HTTP_PRIVATE_TOKEN=ROOT_TOKEN).status_code == 200
    with CaptureQueriesContext(connection) as large:
        response = browser.get(url, {"per_page": 20}, HTTP_PRIVATE_TOKEN=ROOT_TOKEN)
    assert len(response.json()) == 20
    assert len(large) == len(small)
