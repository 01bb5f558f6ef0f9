"""Explore: public projects and groups for everybody, internal ones once signed in, private
ones only for those who may see them; search, sorting, pagination."""

from __future__ import annotations

from typing import Any

import gitlab
import requests
from django.test import Client


def page(url: str, session: requests.Session | None = None) -> str:
    response = (session or requests).get(url, timeout=10)
    assert response.status_code == 200, url
    return response.text


def signed_in(server_url: str, username: str) -> requests.Session:
    """A browser-like session signed in through the real form."""
    session = requests.Session()
    form = session.get(f"{server_url}/users/sign_in", timeout=10)
    csrf = form.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    response = session.post(
        f"{server_url}/users/sign_in",
        data={"username": username, "password": "password-123", "csrfmiddlewaretoken": csrf},
        headers={"Referer": f"{server_url}/users/sign_in"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text
    return session


def test_explore_projects_follow_visibility(
    gl: gitlab.Gitlab, server_url: str, make_user: Any
) -> None:
    gl.projects.create({"name": "Open Kiln", "visibility": "public"})
    gl.projects.create({"name": "Inside Kiln", "visibility": "internal"})
    gl.projects.create({"name": "Secret Kiln", "visibility": "private"})
    make_user("alice")
    for path in ("/explore", "/explore/projects", "/explore/projects/starred"):
        anonymous = page(f"{server_url}{path}")
        assert "Open Kiln" in anonymous
        assert "Inside Kiln" not in anonymous
        assert "Secret Kiln" not in anonymous
    alice = signed_in(server_url, "alice")
    seen = page(f"{server_url}/explore", alice)
    assert "Open Kiln" in seen
    assert "Inside Kiln" in seen
    assert "Secret Kiln" not in seen
    # The CSP holds on these pages too: no inline script or style.
    response = requests.get(f"{server_url}/explore", timeout=10)
    assert "Content-Security-Policy" in response.headers
    assert "<script>" not in response.text
    assert "style=" not in response.text


def test_explore_search_sort_and_pages(gl: gitlab.Gitlab, server_url: str) -> None:
    for name in ("Bravo Pot", "Alpha Pot", "Charlie Vase"):
        gl.projects.create({"name": name, "visibility": "public"})
    starred = gl.projects.create({"name": "Delta Pot", "visibility": "public"})
    starred.star()
    found = page(f"{server_url}/explore/projects?name=pot")
    assert "Alpha Pot" in found
    assert "Charlie Vase" not in found
    by_name = page(f"{server_url}/explore/projects?sort=name_asc")
    assert by_name.index("Alpha Pot") < by_name.index("Bravo Pot") < by_name.index("Charlie Vase")
    by_name_desc = page(f"{server_url}/explore/projects?sort=name_desc")
    assert by_name_desc.index("Charlie Vase") < by_name_desc.index("Alpha Pot")
    most_starred = page(f"{server_url}/explore/projects/starred")
    assert most_starred.index("Delta Pot") < most_starred.index("Alpha Pot")
    newest = page(f"{server_url}/explore/projects?sort=created_desc")
    assert newest.index("Delta Pot") < newest.index("Bravo Pot")
    assert "selected>Stars" in page(f"{server_url}/explore/projects?sort=stars_desc")
    for n in range(21):
        gl.projects.create({"name": f"Mug {n:02d}", "visibility": "public"})
    first = page(f"{server_url}/explore/projects?name=mug&sort=name_asc")
    assert "Mug 19" in first
    assert "Mug 20" not in first
    second = page(f"{server_url}/explore/projects?name=mug&sort=name_asc&page=2")
    assert "Mug 20" in second
    assert "Mug 00" not in second
    # Hostile search input is echoed inert.
    hostile = page(f'{server_url}/explore/projects?name="><script>alert(1)</script>')
    assert "<script>alert(1)" not in hostile


def test_explore_groups(gl: gitlab.Gitlab, server_url: str, make_user: Any) -> None:
    gl.groups.create({"name": "Potters", "path": "potters", "visibility": "public"})
    gl.groups.create({"name": "Insiders", "path": "insiders", "visibility": "internal"})
    gl.groups.create({"name": "Cabal", "path": "cabal", "visibility": "private"})
    make_user("alice")
    anonymous = page(f"{server_url}/explore/groups")
    assert "Potters" in anonymous
    assert "Insiders" not in anonymous
    assert "Cabal" not in anonymous
    alice = signed_in(server_url, "alice")
    seen = page(f"{server_url}/explore/groups", alice)
    assert "Insiders" in seen
    assert "Cabal" not in seen
    assert "Potters" not in page(f"{server_url}/explore/groups?filter=insid", alice)
    by_name = page(f"{server_url}/explore/groups?sort=name_desc", alice)
    assert by_name.index("Potters") < by_name.index("Insiders")


def test_explore_is_public_but_accepts_no_posts(client: Client, db: None) -> None:
    assert client.get("/explore/groups").status_code == 200
    assert client.post("/explore").status_code == 405
