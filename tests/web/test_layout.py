"""The UI's frame: assets served from the package, the strict CSP, error pages, and the
namespace routes (user, group, project) answering 404 for what the visitor may not see."""

from __future__ import annotations

from typing import Any

import gitlab
import pytest
import requests

from kiln.web.middleware import CONTENT_SECURITY_POLICY


def test_assets_are_served_from_the_package(server_url: str) -> None:
    for name in ("kiln.css", "kiln.js", "htmx.min.js"):
        response = requests.get(f"{server_url}/assets/kiln/{name}", timeout=10)
        assert response.status_code == 200, name
        assert len(response.content) > 500
    assert requests.get(f"{server_url}/assets/kiln/nope.js", timeout=10).status_code == 404


def test_pages_carry_a_strict_content_security_policy(server_url: str) -> None:
    response = requests.get(f"{server_url}/users/sign_in", timeout=10)
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "<script>" not in response.text  # no inline script
    assert "style=" not in response.text  # no inline style
    api = requests.get(f"{server_url}/api/v4/version", timeout=10)
    assert "Content-Security-Policy" not in api.headers


def test_unknown_page_is_a_friendly_404(server_url: str) -> None:
    response = requests.get(f"{server_url}/no-such-namespace", timeout=10)
    assert response.status_code == 404
    assert "Page not found" in response.text
    assert "Traceback" not in response.text
    deep = requests.get(f"{server_url}/a/b/c/-/nothing-here", timeout=10)
    assert deep.status_code == 404
    api = requests.get(f"{server_url}/api/v4/nothing-here", timeout=10)
    assert api.status_code == 404
    assert api.json() == {"error": "404 Not Found"}  # GitLab's answer for an unknown route


def test_namespace_routes_follow_visibility(
    gl: gitlab.Gitlab, server_url: str, make_user: Any
) -> None:
    group = gl.groups.create({"name": "Team", "path": "team", "visibility": "private"})
    project = gl.projects.create({"name": "Secret", "namespace_id": group.id})
    public = gl.projects.create({"name": "Open", "visibility": "public"})
    make_user("bob")
    for path in ("/team", "/team/secret"):
        anonymous = requests.get(f"{server_url}{path}", timeout=10)
        assert anonymous.status_code == 404, path
        assert "Secret" not in anonymous.text
    assert requests.get(f"{server_url}/{public.path_with_namespace}", timeout=10).status_code == 200
    assert requests.get(f"{server_url}/bob", timeout=10).status_code == 200
    assert project.path_with_namespace == "team/secret"


@pytest.mark.parametrize("width", [360, 1280])
def test_sign_in_in_the_browser(page: Any, sign_in: Any, server_url: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 800})
    sign_in(server_url)
    assert page.url.rstrip("/") == server_url
    menu = page.locator("details.menu > summary")
    assert menu.inner_text().strip() == "root"
    # Nothing overflows the viewport horizontally at phone width.
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width
    assert page.console_errors == []
