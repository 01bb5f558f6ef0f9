"""/projects/:id/repository/branches and /protected_branches, as GitLab's lib/api/branches.rb
and lib/api/protected_branches.rb answer them."""

from __future__ import annotations

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
    repo_refs,
    snapshot,
    world_for,
)

BRANCH_KEYS = [
    "name",
    "commit",
    "merged",
    "protected",
    "developers_can_push",
    "developers_can_merge",
    "can_push",
    "default",
    "web_url",
]
PROTECTED_BRANCH_KEYS = [
    "id",
    "name",
    "push_access_levels",
    "merge_access_levels",
    "unprotect_access_levels",
    "allow_force_push",
    "code_owner_approval_required",
]


def _build(world: World) -> None:
    gl = world.root.gl
    project = create_project(gl, "branching", {"README.md": "b\n"})
    for name in ("feature/a", "feature/b", "release/1.0", "merged-one"):
        project.branches.create({"branch": name, "ref": "main"})
    commit_files(project, {"a.txt": "a"}, branch="feature/a", message="On feature/a")
    project.protectedbranches.create({"name": "release/*", "push_access_level": 40})
    add_roles(world, project)
    world.projects["branching"] = project


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


def test_list_search_regex_and_shape(world: World) -> None:
    project = world.projects["branching"]
    names = [b.name for b in project.branches.list(get_all=True)]
    assert names == ["feature/a", "feature/b", "main", "merged-one", "release/1.0"]
    search = lambda term: [b.name for b in project.branches.list(get_all=True, search=term)]  # noqa: E731
    assert search("FEATURE") == ["feature/a", "feature/b"]
    assert search("^rel") == ["release/1.0"]
    assert search("b$") == ["feature/b"]
    regex = [b.name for b in project.branches.list(get_all=True, regex="^feature/[a]$")]
    assert regex == ["feature/a"]
    raw = world.root.raw
    listed = raw.get(f"/projects/{project.id}/repository/branches", params={"per_page": 2})
    assert listed.headers["X-Total"] == "5"
    assert listed.headers["X-Next-Page"] == "2"
    body = listed.json()
    assert list(body[0]) == BRANCH_KEYS
    assert error_of(
        raw.get(f"/projects/{project.id}/repository/branches", params={"regex": "(unclosed"})
    ) == (400, {"error": "regex is invalid"})


def test_get_and_head(world: World) -> None:
    project = world.projects["branching"]
    main = project.branches.get("main")
    assert (main.protected, main.default, main.merged, main.can_push) == (True, True, False, True)
    assert main.web_url.endswith("/root/branching/-/tree/main")
    feature = project.branches.get("feature/a")
    assert (feature.protected, feature.default, feature.merged) == (False, False, False)
    assert project.branches.get("merged-one").merged is True
    release = project.branches.get("release/1.0")
    assert release.protected is True
    assert release.developers_can_push is False
    dev_view = world["developer"].gl.projects.get(project.id, lazy=True).branches.get("release/1.0")
    assert dev_view.can_push is False
    assert (
        world["developer"].gl.projects.get(project.id, lazy=True).branches.get("feature/b").can_push
        is True
    )
    raw = world.root.raw
    base = f"/projects/{project.id}/repository/branches"
    assert raw.head(f"{base}/feature%2Fa").status_code == 204
    assert raw.head(f"{base}/nope").status_code == 404
    assert error_of(raw.get(f"{base}/nope")) == (404, {"message": "404 Branch Not Found"})
    assert error_of(raw.get(f"{base}/branch*")) == (
        400,
        {"message": "The branch refname is invalid"},
    )


def test_create_branch(world: World) -> None:
    project = world["developer"].gl.projects.get(world.projects["branching"].id)
    pushes = push_count(project.id)
    created = project.branches.create({"branch": "dev/new", "ref": "main"})
    assert created.name == "dev/new"
    assert created.commit["id"] == head_of(project.id)
    assert push_count(project.id) == pushes + 1
    from_sha = project.branches.create(
        {"branch": "from-sha", "ref": head_of(project.id, "feature/a")}
    )
    assert from_sha.commit["title"] == "On feature/a"

    raw = world["developer"].raw
    base = f"/projects/{project.id}/repository/branches"
    before = snapshot(project.id)
    assert error_of(raw.post(base, json={"branch": "dev/new", "ref": "main"})) == (
        400,
        {"message": "Branch already exists"},
    )
    assert error_of(raw.post(base, json={"branch": "new design", "ref": "main"})) == (
        400,
        {"message": "Branch name is invalid"},
    )
    assert error_of(raw.post(base, json={"branch": "new_design3", "ref": "foo"})) == (
        400,
        {"message": "Failed to create branch 'new_design3': invalid reference name 'foo'"},
    )
    assert error_of(raw.post(base, json={"branch": "dev", "ref": "main"})) == (
        400,
        {
            "message": "Failed to create branch 'dev': "
            "Branch name conflicts with existing branch hierarchy."
        },
    )
    assert error_of(raw.post(base, json={"branch": "x"})) == (400, {"error": "ref is missing"})
    # A developer may not create a branch only Maintainers may push to.
    assert error_of(raw.post(base, json={"branch": "release/2.0", "ref": "main"})) == (
        400,
        {"message": "You are not allowed to create protected branches on this project."},
    )
    assert error_of(world["reporter"].raw.post(base, json={"branch": "r", "ref": "main"})) == (
        403,
        {"message": "403 Forbidden"},
    )
    assert error_of(world["anonymous"].raw.post(base, json={"branch": "r", "ref": "main"})) == (
        401,
        {"message": "401 Unauthorized"},
    )
    assert snapshot(project.id) == before
    # A Maintainer may create it.
    assert world["maintainer"].raw.post(base, json={"branch": "release/2.0", "ref": "main"}).ok


def test_create_branch_in_an_empty_repository_adds_a_readme(world: World) -> None:
    gl = world.root.gl
    project = gl.projects.create({"name": "empty-branching"})
    created = project.branches.create({"branch": "dev", "ref": "main"})
    project = gl.projects.get(project.id)
    assert project.empty_repo is False
    assert project.default_branch == "main"
    main = project.commits.get("main")
    assert main.title == "Add README.md"
    assert created.commit["id"] == main.id
    assert project.files.raw("README.md", ref="main") == b""


def test_delete_branch(world: World) -> None:
    project_id = world.projects["branching"].id
    base = f"/projects/{project_id}/repository/branches"
    root = world.root.raw
    root.post(base, json={"branch": "to-delete", "ref": "main"})
    root.post(base, json={"branch": "release/old", "ref": "main"})
    pushes = push_count(project_id)
    assert root.delete(f"{base}/to-delete").status_code == 204
    assert "refs/heads/to-delete" not in repo_refs(project_id)
    assert push_count(project_id) == pushes + 1
    assert error_of(root.delete(f"{base}/to-delete")) == (404, {"message": "404 Branch Not Found"})
    assert error_of(root.delete(f"{base}/bad..name")) == (
        400,
        {"message": "The branch refname is invalid"},
    )
    before = snapshot(project_id)
    assert error_of(world["developer"].raw.delete(f"{base}/release%2Fold")) == (
        400,
        {
            "message": "You are not allowed to delete protected branches from this project. "
            "Only a project maintainer or owner can delete a protected branch."
        },
    )
    assert error_of(root.delete(f"{base}/main")) == (
        400,
        {"message": "The default branch of a project cannot be deleted."},
    )
    assert error_of(world["reporter"].raw.delete(f"{base}/feature%2Fb")) == (
        403,
        {"message": "403 Forbidden"},
    )
    assert snapshot(project_id) == before
    assert world["maintainer"].raw.delete(f"{base}/release%2Fold").status_code == 204


def test_delete_merged_branches(world: World) -> None:
    project = create_project(world.root.gl, "merged-cleanup", {"README.md": "m\n"})
    for name in ("done-1", "done-2", "release/keep", "wip"):
        project.branches.create({"branch": name, "ref": "main"})
    commit_files(project, {"wip.txt": "w"}, branch="wip", message="Not merged")
    project.protectedbranches.create({"name": "release/*"})
    raw = world.root.raw
    assert error_of(raw.delete(f"/projects/{project.id}/repository/merged_branches")) == (
        202,
        {"message": "202 Accepted"},
    )
    assert sorted(b.name for b in project.branches.list(get_all=True)) == [
        "main",
        "release/keep",
        "wip",
    ]


def test_protected_branches_api(world: World) -> None:
    project = world.projects["branching"]
    rules = project.protectedbranches.list(get_all=True)
    assert [r.name for r in rules] == ["main", "release/*"]
    raw = world.root.raw
    listed = raw.get(f"/projects/{project.id}/protected_branches").json()
    assert list(listed[0]) == PROTECTED_BRANCH_KEYS
    assert listed[0]["push_access_levels"][0]["access_level"] == 40
    assert listed[0]["push_access_levels"][0]["access_level_description"] == "Maintainers"
    wildcard = project.protectedbranches.get("release/*")
    assert wildcard.name == "release/*"

    created = project.protectedbranches.create(
        {
            "name": "hotfix-*",
            "push_access_level": 30,
            "merge_access_level": 0,
            "allow_force_push": True,
        }
    )
    assert created.push_access_levels[0]["access_level_description"] == "Developers + Maintainers"
    assert created.merge_access_levels[0]["access_level_description"] == "No one"
    assert created.allow_force_push is True
    base = f"/projects/{project.id}/protected_branches"
    assert error_of(raw.post(base, json={"name": "hotfix-*"})) == (
        409,
        {"message": "Protected branch 'hotfix-*' already exists"},
    )
    assert error_of(raw.post(base, json={"name": "x", "push_access_level": 35})) == (
        400,
        {"error": "push_access_level does not have a valid value"},
    )
    patched = raw.patch(f"{base}/hotfix-%2A", json={"allow_force_push": False}).json()
    assert patched["allow_force_push"] is False
    assert error_of(world["developer"].raw.post(base, json={"name": "dev-*"})) == (
        403,
        {"message": "403 Forbidden"},
    )
    assert world["developer"].raw.get(base).status_code == 200
    assert error_of(world["guest"].raw.get(base)) == (403, {"message": "403 Forbidden"})
    assert error_of(world["developer"].raw.delete(f"{base}/hotfix-%2A")) == (
        403,
        {"message": "403 Forbidden"},
    )
    created.delete()
    assert error_of(raw.get(f"{base}/hotfix-%2A")) == (404, {"message": "404 Not found"})


def test_protection_rules_are_enforced_on_web_writes(world: World) -> None:
    project_id = world.projects["branching"].id
    commits = f"/projects/{project_id}/repository/commits"
    rules = f"/projects/{project_id}/protected_branches"
    body = {
        "branch": "feature/b",
        "commit_message": "m",
        "actions": [{"action": "create", "file_path": "rule.txt", "content": "r"}],
    }
    root = world.root.raw
    assert root.post(rules, json={"name": "feature/b", "push_access_level": 0}).status_code == 201
    before = snapshot(project_id)
    assert error_of(world["maintainer"].raw.post(commits, json=body)) == (
        403,
        {"message": "403 Forbidden - You are not allowed to push into this branch"},
    )
    assert snapshot(project_id) == before
    # The most permissive matching rule wins: a wildcard letting Developers push.
    assert root.post(rules, json={"name": "feature/*", "push_access_level": 30}).status_code == 201
    assert world["developer"].raw.post(commits, json=body).status_code == 201
    assert root.delete(f"{rules}/feature%2Fb").status_code == 204
    assert root.delete(f"{rules}/feature%2F%2A").status_code == 204


def test_legacy_protect_and_unprotect(world: World) -> None:
    project_id = world.projects["branching"].id
    base = f"/projects/{project_id}/repository/branches"
    raw = world.root.raw
    protected = raw.put(f"{base}/merged-one/protect", json={"developers_can_push": True}).json()
    assert (protected["protected"], protected["developers_can_push"]) == (True, True)
    assert protected["developers_can_merge"] is False
    unprotected = raw.put(f"{base}/merged-one/unprotect").json()
    assert unprotected["protected"] is False
    assert error_of(world["developer"].raw.put(f"{base}/merged-one/protect")) == (
        403,
        {"message": "403 Forbidden"},
    )


def test_private_project_visibility(world: World) -> None:
    base = f"/projects/{world.projects['branching'].id}/repository/branches"
    assert error_of(world["anonymous"].raw.get(base)) == (
        404,
        {"message": "404 Project Not Found"},
    )
    assert error_of(world["guest"].raw.get(base)) == (403, {"message": "403 Forbidden"})
    assert world["reporter"].raw.get(base).status_code == 200


def test_list_query_budget(world: World) -> None:
    from kiln.projects.models import Project
    from kiln.repositories.storage import repo_path, store

    project = create_project(world.root.gl, "many-branches", {"README.md": "x"})
    path = repo_path(Project.objects.get(pk=project.id))
    head = head_of(project.id)
    for i in range(24):
        store().create_branch(relative_path=path, name=f"b{i:02d}", revision=head)
    project.protectedbranches.create({"name": "b1*", "push_access_level": 30})
    browser = Client()
    url = f"/api/v4/projects/{project.id}/repository/branches"
    browser.get(url, {"per_page": 2}, HTTP_PRIVATE_TOKEN=ROOT_TOKEN)
    with CaptureQueriesContext(connection) as small:
        assert browser.get(url, {"per_page": 2}, HTTP_PRIVATE_TOKEN=ROOT_TOKEN).status_code == 200
    with CaptureQueriesContext(connection) as large:
        response = browser.get(url, {"per_page": 20}, HTTP_PRIVATE_TOKEN=ROOT_TOKEN)
    assert len(response.json()) == 20
    assert len(large) == len(small)
    rules = f"/api/v4/projects/{project.id}/protected_branches"
    with CaptureQueriesContext(connection) as rule_queries:
        assert browser.get(rules, HTTP_PRIVATE_TOKEN=ROOT_TOKEN).status_code == 200
    assert len(rule_queries) <= len(small)


def test_python_gitlab_delete(world: World) -> None:
    project = world.projects["branching"]
    project.branches.create({"branch": "short-lived", "ref": "main"})
    project.branches.delete("short-lived")
    with pytest.raises(gitlab.GitlabGetError):
        project.branches.get("short-lived")
