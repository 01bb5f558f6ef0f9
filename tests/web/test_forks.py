"""Forking from the UI (`/<project>/-/forks/new`, posting to `/-/forks`) and the forks list
(`/<project>/-/forks`): the fork's repository is a copy of its source's, the source counts
it, the fork is never more visible than its source; private sources are 404 to outsiders,
refusals create nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gitlab
import pytest

from kiln.projects.models import Project
from tests.web.test_issues import client_for, root


@pytest.fixture
def source(gl: gitlab.Gitlab) -> Any:
    project = gl.projects.create(
        {"name": "Upstream", "visibility": "public", "initialize_with_readme": True}
    )
    project.branches.create({"branch": "feature", "ref": "main"})
    project.tags.create({"tag_name": "v1", "ref": "main"})
    return project


def _fork_form(client: Any, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200
    return str(page.content.decode())


def test_fork_into_own_namespace_and_a_group(
    gl: gitlab.Gitlab, source: Any, make_user: Any
) -> None:
    forker, forker_gl = make_user("forker")
    client = client_for(forker)
    base = f"/{source.path_with_namespace}/-/forks"
    form = _fork_form(client, f"{base}/new")
    assert 'value="Upstream"' in form
    assert 'value="upstream"' in form
    assert ">forker</option>" in form
    response = client.post(base, {"name": "Upstream", "path": "upstream", "visibility_level": "0"})
    assert response.status_code == 302
    assert response["Location"] == "/forker/upstream"
    fork = forker_gl.projects.get("forker/upstream")
    assert fork.forked_from_project["id"] == source.id
    assert fork.visibility == "private"
    assert fork.default_branch == "main"
    assert fork.files.get("README.md", ref="main").file_name == "README.md"
    assert {b.name for b in fork.branches.list()} == {"main", "feature"}
    assert [t.name for t in fork.tags.list()] == ["v1"]
    assert gl.projects.get(source.id).forks_count == 1
    home = client.get(f"/{source.path_with_namespace}").content.decode()
    assert 'aria-label="Forks: 1"' in home
    # The same path again in the same namespace is refused, and nothing is created.
    again = client.post(base, {"name": "Upstream", "path": "upstream", "namespace_id": ""})
    assert again.status_code == 400
    assert "has already been taken" in again.content.decode()
    # Into a group where the user is a Developer, renamed.
    group = gl.groups.create({"name": "Team", "path": "team"})
    group.members.create({"user_id": forker.pk, "access_level": 30})
    assert ">team</option>" in _fork_form(client, f"{base}/new")
    response = client.post(
        base,
        {"name": "Team copy", "path": "team-copy", "namespace_id": str(group.id)},
    )
    assert response.status_code == 302
    assert response["Location"] == "/team/team-copy"
    assert gl.projects.get(source.id).forks_count == 2
    # The list shows the forks the viewer may see: the private one only to its owner.
    listing = client.get(base).content.decode()
    assert 'href="/forker/upstream"' in listing
    assert 'href="/team/team-copy"' in listing
    stranger, _ = make_user("stranger")
    others = client_for(stranger).get(base).content.decode()
    assert 'href="/forker/upstream"' not in others
    assert 'href="/team/team-copy"' not in others  # the group is private too
    # Deleting a fork: the source counts one less.
    forker_gl.projects.delete("forker/upstream")
    assert gl.projects.get(source.id).forks_count == 1


def test_refusals_create_nothing(gl: gitlab.Gitlab, source: Any, make_user: Any) -> None:
    forker, _ = make_user("forker2")
    client = client_for(forker)
    base = f"/{source.path_with_namespace}/-/forks"
    # A namespace the user may not create projects in.
    elsewhere = gl.groups.create({"name": "Elsewhere", "path": "elsewhere", "visibility": "public"})
    refused = client.post(base, {"name": "X", "path": "x", "namespace_id": str(elsewhere.id)})
    assert refused.status_code == 400
    assert "Namespace is not valid" in refused.content.decode()
    hostile = client.post(base, {"name": "X", "path": "../x", "namespace_id": ""})
    assert hostile.status_code == 400
    bad_level = client.post(base, {"name": "X", "path": "x", "visibility_level": "99"})
    assert bad_level.status_code == 400
    assert Project.objects.filter(forked_from_id=source.id).count() == 0
    assert gl.projects.get(source.id).forks_count == 0
    # Asking for more visibility than the source has gives the source's.
    private = gl.projects.create({"name": "Quiet", "visibility": "private"})
    private.members.create({"user_id": forker.pk, "access_level": 20})
    ok = client.post(
        f"/{private.path_with_namespace}/-/forks",
        {"name": "Quiet", "path": "quiet", "visibility_level": "20"},
    )
    assert ok.status_code == 302
    assert Project.objects.get(namespace__full_path="forker2", path="quiet").visibility_level == 0


def test_outsiders_get_404(gl: gitlab.Gitlab, source: Any, make_user: Any) -> None:
    private = gl.projects.create({"name": "Secret", "visibility": "private"})
    outsider, _ = make_user("outsider")
    for client in (client_for(outsider), client_for()):
        for url in (
            f"/{private.path_with_namespace}/-/forks/new",
            f"/{private.path_with_namespace}/-/forks",
        ):
            assert client.get(url).status_code == 404, url
        posted = client.post(f"/{private.path_with_namespace}/-/forks", {"name": "S", "path": "s"})
        assert posted.status_code == 404
    # Anonymous visitors of a public project are asked to sign in first.
    anonymous = client_for().get(f"/{source.path_with_namespace}/-/forks/new")
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/users/sign_in?redirect_to=")
    # Forking switched off: the form is 404 to a non-member, and the Fork link is gone.
    source.forking_access_level = "disabled"
    source.save()
    assert client_for(outsider).get(f"/{source.path_with_namespace}/-/forks/new").status_code == 404
    home = client_for(outsider).get(f"/{source.path_with_namespace}").content.decode()
    assert f'href="/{source.path_with_namespace}/-/forks/new"' not in home
    assert Project.objects.filter(forked_from__isnull=False).count() == 0
    assert client_for(root()).get(f"/{private.path_with_namespace}/-/forks").status_code == 200


def test_fork_in_the_browser(page: Any, sign_in: Any, server_url: str, source: Any) -> None:
    sign_in(server_url)
    page.goto(f"{server_url}/{source.path_with_namespace}")
    page.get_by_role("link", name="Fork", exact=True).click()
    page.wait_for_url(f"{server_url}/{source.path_with_namespace}/-/forks/new")
    page.get_by_label("Project name").fill("My upstream")
    assert page.get_by_label("Project slug").input_value() == "my-upstream"
    page.get_by_label("Private").check()
    page.get_by_role("button", name="Fork project").click()
    page.wait_for_url(f"{server_url}/root/my-upstream")
    assert "successfully forked" in page.locator(".flash").inner_text()
    assert page.get_by_role("link", name="README.md").count() >= 1
    page.goto(f"{server_url}/{source.path_with_namespace}")
    page.get_by_role("link", name="Forks: 1").click()
    page.wait_for_url(f"{server_url}/{source.path_with_namespace}/-/forks")
    assert page.locator('a[href="/root/my-upstream"]').count() == 1
    page.set_viewport_size({"width": 360, "height": 800})
    page.goto(f"{server_url}/{source.path_with_namespace}/-/forks/new")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.console_errors == []


def test_fork_whose_copy_failed(gl: gitlab.Gitlab, source: Any, make_user: Any) -> None:
    """The source's repository is corrupt on disk: the fork exists, empty, and says it failed
    (GitLab's `import_status` and `import_error`, and a notice on its home page)."""
    from django.conf import settings

    from kiln.repositories.storage import repo_path

    forker, forker_gl = make_user("unlucky")
    head = Path(settings.REPOSITORIES_DIR) / repo_path(Project.objects.get(pk=source.id)) / "HEAD"
    original = head.read_bytes()
    head.write_bytes(b"not a ref\n")
    try:
        client = client_for(forker)
        response = client.post(
            f"/{source.path_with_namespace}/-/forks", {"name": "Upstream", "path": "upstream"}
        )
    finally:
        head.write_bytes(original)
    assert response.status_code == 302
    assert response["Location"] == "/unlucky/upstream"
    fork = forker_gl.projects.get("unlucky/upstream")
    assert fork.forked_from_project["id"] == source.id
    assert fork.import_status == "failed"
    assert fork.import_error == (
        f"Every fork attempt has failed: Unable to fork project {fork.id}: "
        "Failed to create fork repository. Please try again."
    )
    assert fork.empty_repo is True
    assert fork.branches.list() == []
    assert gl.projects.get(source.id).forks_count == 1
    home = client.get("/unlucky/upstream").content.decode()
    assert "The fork of this project failed." in home
    assert f"Unable to fork project {fork.id}" in home
    assert "successfully forked" not in home
    # A Developer sees that it failed, not why (GitLab shows `import_error` to maintainers).
    dev, dev_gl = make_user("unlucky-dev")
    fork.members.create({"user_id": dev.pk, "access_level": 30})
    seen = dev_gl.projects.get(fork.id)
    assert seen.import_status == "failed"
    assert "import_error" not in seen.attributes
    dev_home = client_for(dev).get("/unlucky/upstream").content.decode()
    assert "The fork of this project failed." in dev_home
    assert "Ask a maintainer to check the import status for more details." in dev_home
    assert f"Unable to fork project {fork.id}" not in dev_home
    # The repository is usable: a push to the empty fork works.
    fork.files.create(
        {"file_path": "new.txt", "branch": "main", "content": "x", "commit_message": "Start"}
    )
    assert [b.name for b in fork.branches.list()] == ["main"]

    # With the source repaired, the next fork copies it and finishes.
    client.post(f"/{source.path_with_namespace}/-/forks", {"name": "Second", "path": "second"})
    second = forker_gl.projects.get("unlucky/second")
    assert (second.import_status, second.import_error) == ("finished", None)
    assert {b.name for b in second.branches.list()} == {"main", "feature"}
    assert "The fork of this project failed." not in client.get("/unlucky/second").content.decode()
    assert gl.projects.get(source.id).import_status == "none"
