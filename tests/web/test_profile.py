"""A user's profile page `/<username>`: name, avatar, bio, their projects and activity as far
as the visitor may see them."""

from __future__ import annotations

from typing import Any

import gitlab
import requests

XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def test_profile_shows_only_what_the_visitor_may_see(
    gl: gitlab.Gitlab, server_url: str, make_user: Any
) -> None:
    alice, alice_gl = make_user("alice", name=XSS, bio=f"Potter {XSS}", location="Lyon")
    open_project = alice_gl.projects.create({"name": "Open Pots", "visibility": "public"})
    secret = alice_gl.projects.create({"name": "Secret Pots", "visibility": "private"})
    alice_gl.projects.get(open_project.id).issues.create({"title": "Public idea"})
    alice_gl.projects.get(secret.id).issues.create({"title": "Hidden idea"})
    response = requests.get(f"{server_url}/alice", timeout=10)
    assert response.status_code == 200
    text = response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script>alert(1)" not in text
    assert "<img src=x" not in text
    assert "Lyon" in text
    assert "Open Pots" in text
    assert "Public idea" in text
    assert "Secret Pots" not in text
    assert "Hidden idea" not in text
    assert alice.bio.startswith("Potter")


def test_profile_of_a_member_sees_shared_private_projects(
    gl: gitlab.Gitlab, server_url: str, make_user: Any
) -> None:
    from django.test import Client

    alice, alice_gl = make_user("alice")
    bob, _ = make_user("bob")
    secret = alice_gl.projects.create({"name": "Secret Pots", "visibility": "private"})
    secret.members.create({"user_id": bob.pk, "access_level": 20})
    client = Client()
    client.force_login(bob)
    assert "Secret Pots" in client.get("/alice").content.decode()
    outsider = Client()
    outsider.force_login(make_user("carol")[0])
    assert "Secret Pots" not in outsider.get("/alice").content.decode()
    assert alice.username == "alice"


def test_unknown_user_is_a_404(server_url: str) -> None:
    response = requests.get(f"{server_url}/no-such-user", timeout=10)
    assert response.status_code == 404
    assert "Page not found" in response.text
