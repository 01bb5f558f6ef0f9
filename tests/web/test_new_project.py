"""`/projects/new`: namespaces the user may create projects in, the README option, the
service's validation, and hostile input shown as text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gitlab
import pytest

from tests.web.test_project_settings import XSS, Web, forms_have_csrf, web_factory


@pytest.fixture
def web(server_url: str) -> Callable[..., Web]:
    return web_factory(server_url)


def test_new_project_with_readme_in_a_group(
    web: Callable[..., Web], gl: gitlab.Gitlab, make_user: Any
) -> None:
    dev, _ = make_user("dev")
    reporter, _ = make_user("rep")
    group = gl.groups.create({"name": "Crew", "path": "crew", "visibility": "private"})
    # A Maintainer: the default branch's protection lets only Maintainers make the README
    # commit (a Developer's project starts empty; see the report of the UI issue).
    group.members.create({"user_id": dev.pk, "access_level": 40})
    group.members.create({"user_id": reporter.pk, "access_level": 20})
    other = gl.groups.create({"name": "Closed", "path": "closed", "visibility": "private"})
    session = web("dev")
    form = session.get("/projects/new", namespace_id=str(group.id))
    assert form.status_code == 200
    forms_have_csrf(form.text)
    assert f'<option value="{group.id}" selected>crew</option>' in form.text
    assert ">dev</option>" in form.text
    assert f'value="{other.id}"' not in form.text
    # The reporter may not create projects in the group: not offered.
    assert f'value="{group.id}"' not in web("rep").get("/projects/new").text

    created = session.post(
        "/projects/new",
        {
            "name": "Web App",
            "path": "",
            "namespace_id": str(group.id),
            "visibility_level": "0",
            "description": XSS,
            "initialize_with_readme": "1",
        },
    )
    assert created.headers["Location"] == "/crew/web-app"
    project = gl.projects.get("crew/web-app")
    assert project.description == XSS
    assert project.default_branch == "main"
    readme = project.files.get("README.md", ref="main")
    assert readme.decode() == b"# Web App\n"
    # Without the README the repository stays empty.
    session.post("/projects/new", {"name": "Bare", "namespace_id": str(group.id)})
    assert gl.projects.get("crew/bare").empty_repo is True


def test_new_project_refusals(web: Callable[..., Web], gl: gitlab.Gitlab, make_user: Any) -> None:
    make_user("eve")
    closed = gl.groups.create({"name": "Closed", "path": "closed", "visibility": "private"})
    session = web("eve")
    session.post("/projects/new", {"name": "Mine"})
    assert gl.projects.get("eve/mine").name == "Mine"
    taken = session.post("/projects/new", {"name": "Mine"})
    assert taken.status_code == 200
    assert "has already been taken" in taken.text
    foreign = session.post("/projects/new", {"name": "Sneaky", "namespace_id": str(closed.id)})
    assert "Namespace is not valid" in foreign.text
    hostile = session.post("/projects/new", {"name": XSS})
    assert XSS not in hostile.text
    assert 'role="alert"' in hostile.text
    anonymous = web()
    first = anonymous.http.get(f"{anonymous.base}/projects/new", allow_redirects=False, timeout=60)
    assert first.status_code == 302  # sign in first
    assert first.headers["Location"].startswith("/users/sign_in")
