"""The fork API through python-gitlab: `POST /projects/:id/fork` (namespace by id, path or the
deprecated `namespace`, one branch, GitLab's refusals), `GET /projects/:id/forks` with the
project list filters, the fork relation endpoints, and the fork's repository cloned with
real git over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gitlab
import pytest
import requests

from kiln.projects.models import Project
from tests.conftest import ROOT_TOKEN
from tests.support.git import authed, git
from tests.web import test_forks as web_forks

# The fixture: a public project with a README, a `feature` branch and a `v1` tag.
source = web_forks.source


def _error(exc: gitlab.exceptions.GitlabError) -> Any:
    return json.loads(exc.response_body or b"null")


def test_fork_into_own_namespace_and_clone_it(
    gl: gitlab.Gitlab, source: Any, make_user: Any, server_url: str, tmp_path: Path
) -> None:
    _forker, forker_gl = make_user("forker")
    upstream = forker_gl.projects.get(source.id, lazy=True)
    fork = upstream.forks.create({})
    assert fork.path_with_namespace == "forker/upstream"
    assert fork.forked_from_project["id"] == source.id
    assert fork.forked_from_project["path_with_namespace"] == source.path_with_namespace
    assert fork.visibility == "public"
    assert fork.default_branch == "main"
    assert fork.import_status == "finished"  # copied when its creation committed
    project = forker_gl.projects.get(fork.id)
    assert project.forked_from_project["id"] == source.id
    assert project.empty_repo is False
    assert gl.projects.get(source.id).forks_count == 1
    # The source's feature levels come along (GitLab copies the project's features).
    assert project.issues_access_level == "enabled"
    # Real git sees the source's branches and tags in the fork.
    url = authed(f"{server_url}/forker/upstream.git", "forker", forker_gl.private_token)
    target = tmp_path / "clone"
    git("clone", "-q", url, str(target))
    assert (target / "README.md").read_text() == "# Upstream\n"
    remote = git("ls-remote", "--heads", "--tags", url).stdout
    assert "refs/heads/main" in remote
    assert "refs/heads/feature" in remote
    assert "refs/tags/v1" in remote
    # The fork's branches are its own: deleting one leaves the source's.
    forker_gl.projects.get(fork.id, lazy=True).branches.delete("feature")
    assert {b.name for b in gl.projects.get(source.id).branches.list()} == {"main", "feature"}


def test_fork_into_a_group_renamed_and_less_visible(
    gl: gitlab.Gitlab, source: Any, make_user: Any
) -> None:
    forker, forker_gl = make_user("forker")
    group = gl.groups.create({"name": "Team", "path": "team", "visibility": "internal"})
    group.members.create({"user_id": forker.pk, "access_level": 30})
    upstream = forker_gl.projects.get(source.id, lazy=True)
    by_path = upstream.forks.create(
        {
            "namespace_path": "team",
            "name": "Team copy",
            "path": "team-copy",
            "description": "our copy",
        }
    )
    assert by_path.path_with_namespace == "team/team-copy"
    assert by_path.name == "Team copy"
    assert by_path.description == "our copy"
    assert by_path.visibility == "internal"  # never more visible than its namespace
    by_id = upstream.forks.create(
        {"namespace_id": group.id, "path": "private-copy", "name": "P", "visibility": "private"}
    )
    assert by_id.visibility == "private"
    legacy = upstream.forks.create({"namespace": "team", "path": "legacy", "name": "Legacy"})
    assert legacy.namespace["full_path"] == "team"
    assert gl.projects.get(source.id).forks_count == 3


def test_fork_of_one_branch(gl: gitlab.Gitlab, source: Any, make_user: Any) -> None:
    _, forker_gl = make_user("forker")
    upstream = forker_gl.projects.get(source.id, lazy=True)
    fork = upstream.forks.create({"branches": "feature"})
    assert fork.default_branch == "feature"
    project = forker_gl.projects.get(fork.id)
    assert project.default_branch == "feature"
    assert [b.name for b in project.branches.list()] == ["feature"]
    assert project.branches.get("feature").protected is True
    for branch in ("nope", "--output=/tmp/x", "../main", "refs/heads/main"):
        with pytest.raises(gitlab.exceptions.GitlabCreateError) as missing:
            upstream.forks.create({"branches": branch, "path": "other", "name": "Other"})
        assert missing.value.response_code == 404
        assert _error(missing.value) == {"message": "404 Source Branch Not Found"}
    assert Project.objects.filter(forked_from_id=source.id).count() == 1


def test_refusals(
    gl: gitlab.Gitlab, anon_gl: gitlab.Gitlab, source: Any, make_user: Any, server_url: str
) -> None:
    _forker, forker_gl = make_user("forker")
    upstream = forker_gl.projects.get(source.id, lazy=True)
    upstream.forks.create({})

    def refused(attrs: dict[str, Any], code: int, body: Any, project: Any = upstream) -> None:
        with pytest.raises(gitlab.exceptions.GitlabCreateError) as error:
            project.forks.create(attrs)
        assert error.value.response_code == code, attrs
        assert _error(error.value) == body, attrs

    # The same path in the same namespace: GitLab's 409 with the validation messages.
    refused(
        {},
        409,
        {
            "message": [
                "Project namespace name has already been taken",
                "Name has already been taken",
                "Path has already been taken",
            ]
        },
    )
    with pytest.raises(gitlab.exceptions.GitlabCreateError) as traversal:
        upstream.forks.create({"path": "../x", "name": "X"})
    assert traversal.value.response_code == 409
    assert any(m.startswith("Path ") for m in _error(traversal.value)["message"])
    # Namespaces: missing, invisible, or where the user may not create projects.
    refused({"namespace_id": 999999}, 404, {"message": "404 Namespace Not Found"})
    refused({"namespace_path": "nowhere"}, 404, {"message": "404 Namespace Not Found"})
    hidden = gl.groups.create({"name": "Hidden", "path": "hidden", "visibility": "private"})
    refused({"namespace_id": hidden.id}, 404, {"message": "404 Namespace Not Found"})
    public = gl.groups.create({"name": "Open", "path": "open", "visibility": "public"})
    refused({"namespace_id": public.id}, 404, {"message": "404 Target Namespace Not Found"})
    refused({"namespace": "root"}, 404, {"message": "404 Namespace Not Found"})
    # Hostile parameter shapes.
    for attrs in ({"visibility": "secret"}, {"namespace_id": "abc"}):
        with pytest.raises(gitlab.exceptions.GitlabCreateError) as bad:
            upstream.forks.create(attrs)
        assert bad.value.response_code == 400, attrs
    response = requests.post(
        f"{server_url}/api/v4/projects/{source.id}/fork",
        json={"namespace": {"id": 1}},
        headers={"PRIVATE-TOKEN": forker_gl.private_token},
        timeout=30,
    )
    assert response.status_code == 400
    # Anonymous callers are 401; a private project the caller cannot see is 404.
    with pytest.raises(gitlab.exceptions.GitlabAuthenticationError):
        anon_gl.projects.get(source.id, lazy=True).forks.create({})
    private = gl.projects.create({"name": "Secret", "visibility": "private"})
    refused(
        {}, 404, {"message": "404 Project Not Found"}, forker_gl.projects.get(private.id, lazy=True)
    )
    # Forking switched off: 404, as GitLab's `not_found!`.
    quiet = gl.projects.create({"name": "Quiet", "visibility": "public"})
    quiet.forking_access_level = "disabled"
    quiet.save()
    refused({}, 404, {"message": "404 Not found"}, forker_gl.projects.get(quiet.id, lazy=True))
    # Only the first fork exists.
    assert Project.objects.filter(forked_from__isnull=False).count() == 1
    assert gl.projects.get(source.id).forks_count == 1


def test_list_forks_with_filters(
    gl: gitlab.Gitlab, anon_gl: gitlab.Gitlab, source: Any, make_user: Any
) -> None:
    _alice, alice_gl = make_user("alice")
    _bob, bob_gl = make_user("bob")
    alice_gl.projects.get(source.id, lazy=True).forks.create({"visibility": "private"})
    bob_fork = bob_gl.projects.get(source.id, lazy=True).forks.create({"name": "Bobs"})
    gl.projects.get(source.id, lazy=True).forks.create({"path": "root-copy", "name": "Root copy"})
    # Each sees the forks visible to them, newest first.
    names = [p.path_with_namespace for p in alice_gl.projects.get(source.id).forks.list()]
    assert names == ["root/root-copy", "bob/upstream", "alice/upstream"]
    names = [p.path_with_namespace for p in bob_gl.projects.get(source.id).forks.list()]
    assert names == ["root/root-copy", "bob/upstream"]
    anonymous = anon_gl.projects.get(source.id, lazy=True).forks.list()
    assert [p.path_with_namespace for p in anonymous] == ["root/root-copy", "bob/upstream"]
    assert "permissions" not in anonymous[0].attributes
    # The usual filters, ordering and pagination.
    upstream = gl.projects.get(source.id, lazy=True)
    assert [p.id for p in upstream.forks.list(owned=True)] == [
        p.id for p in upstream.forks.list(search="root-copy")
    ]
    assert [p.path for p in upstream.forks.list(visibility="private")] == ["upstream"]
    assert [p.name for p in upstream.forks.list(order_by="name", sort="asc")] == [
        "Bobs",
        "Root copy",
        "Upstream",
    ]
    pages = upstream.forks.list(per_page=2, iterator=True)
    assert pages.total == 3
    assert pages.total_pages == 2
    assert len(upstream.forks.list(per_page=2, page=2)) == 1
    simple = upstream.forks.list(simple=True)
    assert "merge_method" not in simple[0].attributes
    assert bob_fork.id in [p.id for p in upstream.forks.list(membership=False)]
    with pytest.raises(gitlab.exceptions.GitlabListError) as bad:
        upstream.forks.list(order_by="secret")
    assert bad.value.response_code == 400
    # Forks of a private project are 404 to outsiders.
    private = gl.projects.create({"name": "Secret", "visibility": "private"})
    with pytest.raises(gitlab.exceptions.GitlabListError) as hidden:
        alice_gl.projects.get(private.id, lazy=True).forks.list()
    assert hidden.value.response_code == 404


def test_fork_relation_endpoints(gl: gitlab.Gitlab, source: Any, make_user: Any) -> None:
    _owner, owner_gl = make_user("owner")
    dev, dev_gl = make_user("dev")
    mine = owner_gl.projects.create({"name": "Mine"})
    mine.members.create({"user_id": dev.pk, "access_level": 40})
    # A Maintainer is not enough; the Owner links it.
    with pytest.raises(gitlab.exceptions.GitlabCreateError) as maintainer:
        dev_gl.projects.get(mine.id, lazy=True).create_fork_relation(source.id)
    assert maintainer.value.response_code == 403
    with pytest.raises(gitlab.exceptions.GitlabCreateError) as missing:
        mine.create_fork_relation(999999)
    assert missing.value.response_code == 404
    with pytest.raises(gitlab.exceptions.GitlabCreateError) as itself:
        mine.create_fork_relation(mine.id)
    assert itself.value.response_code == 400
    assert _error(itself.value) == {"message": "Target project cannot be equal to source project"}
    mine.create_fork_relation(source.id)
    linked = owner_gl.projects.get(mine.id)
    assert linked.forked_from_project["id"] == source.id
    assert gl.projects.get(source.id).forks_count == 1
    with pytest.raises(gitlab.exceptions.GitlabCreateError) as again:
        mine.create_fork_relation(source.id)
    assert again.value.response_code == 409
    assert _error(again.value) == {"message": "Project already forked"}
    # A private source the owner cannot see is 404.
    private = gl.projects.create({"name": "Secret", "visibility": "private"})
    other = owner_gl.projects.create({"name": "Other"})
    with pytest.raises(gitlab.exceptions.GitlabCreateError) as unseen:
        other.create_fork_relation(private.id)
    assert unseen.value.response_code == 404
    # Unlinking: Maintainers may not; the Owner may, once (then 304).
    with pytest.raises(gitlab.exceptions.GitlabDeleteError) as denied:
        dev_gl.projects.get(mine.id, lazy=True).delete_fork_relation()
    assert denied.value.response_code == 403
    mine.delete_fork_relation()
    assert "forked_from_project" not in owner_gl.projects.get(mine.id).attributes
    assert gl.projects.get(source.id).forks_count == 0
    response = requests.delete(
        f"{gl.url}/api/v4/projects/{mine.id}/fork",
        headers={"PRIVATE-TOKEN": ROOT_TOKEN},
        timeout=30,
    )
    assert response.status_code == 304
    assert gl.projects.get(source.id).forks_count == 0
