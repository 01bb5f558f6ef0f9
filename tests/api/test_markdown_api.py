"""`POST /api/v4/markdown`, as GitLab: text, gfm, project; references only where visible."""

from __future__ import annotations

from typing import Any

import gitlab
import pytest

from kiln.core.access import Visibility
from tests.conftest import ROOT_TOKEN
from tests.issues import builders as ib
from tests.projects import builders as b


@pytest.fixture
def root(server_url: str) -> Any:
    return b.root_user()


def test_markdown_plain_and_gfm(gl: gitlab.Gitlab, root: Any, server_url: str) -> None:
    project = ib.project(root, visibility=Visibility.PUBLIC)
    issue = ib.issue(project, root, "Referenced issue")
    ib.label(project, root, "bug", "#d9534f")
    ib.milestone(project, root, "v1")
    plain = gl.markdown("**hi** #1")
    assert plain == "<p><strong>hi</strong> #1</p>"
    html = gl.markdown(
        f"see #{issue.iid}, ~bug, %v1 and @root", gfm=True, project=project.full_path
    )
    assert f'href="{server_url}/{project.full_path}/-/issues/{issue.iid}"' in html
    assert 'title="Referenced issue"' in html
    assert "gfm-label" in html
    assert "background-color: #d9534f" in html
    assert f'href="{server_url}/{project.full_path}/-/milestones/1"' in html
    assert f'href="{server_url}/root"' in html
    api = b.Api(server_url, ROOT_TOKEN)
    response = api.post("/markdown", json={"text": "`x`"})
    assert response.status_code == 201
    assert response.json() == {"html": "<p><code>x</code></p>"}
    assert api.post("/markdown", json={}).json() == {"error": "text is missing"}


def test_markdown_needs_a_user_and_a_visible_project(
    root: Any, server_url: str, make_user: Any
) -> None:
    private = ib.project(root, visibility=Visibility.PRIVATE)
    secret = ib.issue(private, root, "Private title")
    assert b.Api(server_url).post("/markdown", json={"text": "x"}).status_code == 401
    _, outsider = make_user("mdoutsider")
    api = b.Api(server_url, outsider.private_token)
    response = api.post("/markdown", json={"text": "#1", "gfm": True, "project": private.full_path})
    assert response.status_code == 404
    assert response.json() == {"message": "404 Project Not Found"}
    # A cross-project reference to something invisible stays text.
    public = ib.project(root, visibility=Visibility.PUBLIC)
    html = outsider.markdown(
        f"{private.full_path}#{secret.iid}", gfm=True, project=public.full_path
    )
    assert "<a" not in html
    assert "Private title" not in html


def test_commit_references_need_code_access(
    gl: gitlab.Gitlab, root: Any, server_url: str, make_user: Any
) -> None:
    project = ib.project(root, visibility=Visibility.PRIVATE)
    gl.projects.get(project.pk).files.create(
        {"file_path": "a.txt", "branch": "main", "content": "a", "commit_message": "Add a"}
    )
    sha = gl.projects.get(project.pk).commits.list(get_all=True)[0].id
    html = gl.markdown(f"fixed in {sha[:10]}", gfm=True, project=project.full_path)
    assert f'href="{server_url}/{project.full_path}/-/commit/{sha}"' in html
    assert 'title="Add a"' in html
    guest, guest_gl = make_user("mdguest")
    ib.add_project_member(project, guest, ib.GUEST, by=root)
    html = guest_gl.markdown(f"fixed in {sha[:10]}", gfm=True, project=project.full_path)
    assert html == f"<p>fixed in {sha[:10]}</p>"
