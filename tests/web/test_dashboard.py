"""The dashboard: your projects and starred ones, groups, activity, issues and merge requests
(assigned, review requests), to-do items. Each list shows only what the user may see."""

from __future__ import annotations

from typing import Any

import gitlab
from django.test import Client


def as_user(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(client: Client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.content.decode()


def test_projects_yours_and_starred(gl: gitlab.Gitlab, make_user: Any) -> None:
    alice, alice_gl = make_user("alice")
    _bob, bob_gl = make_user("bob")
    mine = alice_gl.projects.create({"name": "Alice Pots", "visibility": "private"})
    secret = bob_gl.projects.create({"name": "Bob Secret", "visibility": "private"})
    public = bob_gl.projects.create({"name": "Bob Public", "visibility": "public"})
    public.members.create({"user_id": alice.pk, "access_level": 30})
    client = as_user(alice)
    for path in ("/", "/dashboard/projects"):
        page = text(client, path)
        assert "Alice Pots" in page
        assert "Bob Public" in page  # a member
        assert "Bob Secret" not in page
    assert "Alice Pots" not in text(client, "/dashboard/projects?name=public")
    assert "Bob Public" in text(client, "/dashboard/projects?name=public")
    assert "Bob Public" not in text(client, "/dashboard/projects/starred")
    alice_gl.projects.get(public.id).star()
    starred = text(client, "/dashboard/projects/starred")
    assert "Bob Public" in starred
    assert "Alice Pots" not in starred
    assert client.get("/dashboard")["Location"] == "/dashboard/projects"
    assert mine.visibility == "private"
    assert secret.visibility == "private"


def test_projects_paginate(gl: gitlab.Gitlab, make_user: Any) -> None:
    alice, alice_gl = make_user("alice")
    for n in range(23):
        alice_gl.projects.create({"name": f"Pot {n:02d}", "path": f"pot-{n:02d}"})
    client = as_user(alice)
    first = text(client, "/dashboard/projects?sort=name_asc")
    assert "Pot 00" in first
    assert "Pot 19" in first
    assert "Pot 20" not in first
    assert 'rel="next"' in first
    second = text(client, "/dashboard/projects?sort=name_asc&page=2")
    assert "Pot 20" in second
    assert "Pot 22" in second
    assert 'rel="next"' not in second
    assert 'rel="prev"' in second
    # Nonsense parameters fall back to the defaults.
    assert client.get("/dashboard/projects?page=abc&sort=nope").status_code == 200
    assert client.get("/dashboard/projects?page=-4").status_code == 200


def test_groups_lists_only_memberships(gl: gitlab.Gitlab, make_user: Any) -> None:
    alice, alice_gl = make_user("alice")
    alice_gl.groups.create({"name": "Alice Team", "path": "alice-team"})
    gl.groups.create({"name": "Public Other", "path": "public-other", "visibility": "public"})
    gl.groups.create({"name": "Hidden Other", "path": "hidden-other", "visibility": "private"})
    page = text(as_user(alice), "/dashboard/groups")
    assert "Alice Team" in page
    assert "Public Other" not in page
    assert "Hidden Other" not in page
    assert "Alice Team" not in text(as_user(alice), "/dashboard/groups?filter=zzz")


def test_activity_shows_visible_events_of_my_projects(gl: gitlab.Gitlab, make_user: Any) -> None:
    alice, alice_gl = make_user("alice")
    _bob, bob_gl = make_user("bob")
    shared = bob_gl.projects.create({"name": "Shared", "visibility": "private"})
    shared.members.create({"user_id": alice.pk, "access_level": 30})
    hidden = bob_gl.projects.create({"name": "Hidden", "visibility": "private"})
    bob_gl.projects.get(shared.id).issues.create({"title": "Glaze <b>recipe</b>"})
    bob_gl.projects.get(hidden.id).issues.create({"title": "Secret plan"})
    client = as_user(alice)
    page = text(client, "/dashboard/activity")
    assert "Glaze &lt;b&gt;recipe&lt;/b&gt;" in page
    assert "opened issue #1" in page
    assert f"/{shared.path_with_namespace}/-/issues/1" in page
    assert "Secret plan" not in page
    assert "Glaze" not in text(client, "/dashboard/activity?filter=own")
    assert "Glaze" not in text(client, "/dashboard/activity?filter=starred")
    alice_gl.projects.get(shared.id).star()
    assert "Glaze" in text(client, "/dashboard/activity?filter=starred")


def test_issues_assigned_to_me_by_default(gl: gitlab.Gitlab, make_user: Any) -> None:
    alice, _alice_gl = make_user("alice")
    bob, bob_gl = make_user("bob")
    project = bob_gl.projects.create({"name": "Kiln", "visibility": "public"})
    project.members.create({"user_id": alice.pk, "access_level": 30})
    issues = bob_gl.projects.get(project.id).issues
    issues.create({"title": "Fire the kiln", "assignee_ids": [alice.pk]})
    issues.create({"title": "Sweep the floor", "assignee_ids": [bob.pk]})
    closed = issues.create({"title": "Old chore", "assignee_ids": [alice.pk]})
    closed.state_event = "close"
    closed.save()
    hidden = bob_gl.projects.create({"name": "Private", "visibility": "private"})
    bob_gl.projects.get(hidden.id).issues.create({"title": "Invisible", "assignee_ids": [bob.pk]})
    client = as_user(alice)
    page = text(client, "/dashboard/issues")
    assert "Fire the kiln" in page
    assert "Sweep the floor" not in page
    assert "Old chore" not in page
    assert "Old chore" in text(client, "/dashboard/issues?state=closed")
    assert "Sweep the floor" in text(client, "/dashboard/issues?assignee_username=bob")
    assert "Invisible" not in text(client, "/dashboard/issues?assignee_username=bob")
    assert "Invisible" not in text(client, "/dashboard/issues?author_username=bob&state=all")
    assert "Fire the kiln" in text(client, "/dashboard/issues?search=kiln")
    assert "Fire the kiln" not in text(client, "/dashboard/issues?search=floor")


def test_merge_requests_assigned_and_review_requests(gl: gitlab.Gitlab, make_user: Any) -> None:
    alice, _alice_gl = make_user("alice")
    _bob, bob_gl = make_user("bob")
    project = bob_gl.projects.create(
        {"name": "Clay", "visibility": "public", "initialize_with_readme": True}
    )
    project.members.create({"user_id": alice.pk, "access_level": 30})
    project = bob_gl.projects.get(project.id)
    for branch in ("one", "two"):
        project.branches.create({"branch": branch, "ref": project.default_branch})
        project.files.create(
            {
                "file_path": f"{branch}.txt",
                "branch": branch,
                "content": branch,
                "commit_message": f"Add {branch}",
            }
        )
    project.mergerequests.create(
        {"source_branch": "one", "target_branch": "main", "title": "Assigned MR",
         "assignee_ids": [alice.pk]}
    )  # fmt: skip
    project.mergerequests.create(
        {"source_branch": "two", "target_branch": "main", "title": "Review me",
         "reviewer_ids": [alice.pk]}
    )  # fmt: skip
    client = as_user(alice)
    assigned = text(client, "/dashboard/merge_requests")
    assert "Assigned MR" in assigned
    assert "Review me" not in assigned
    review = text(client, "/dashboard/merge_requests?reviewer_username=alice")
    assert "Review me" in review
    assert "Assigned MR" not in review
    assert 'aria-current="page">Review requests' in review


def test_todos_mark_done_and_never_someone_elses(gl: gitlab.Gitlab, make_user: Any) -> None:
    from kiln.notes.models import Todo

    alice, _alice_gl = make_user("alice")
    bob, bob_gl = make_user("bob")
    project = bob_gl.projects.create({"name": "Kiln", "visibility": "private"})
    project.members.create({"user_id": alice.pk, "access_level": 30})
    bob_gl.projects.get(project.id).issues.create(
        {"title": "Load the kiln", "assignee_ids": [alice.pk]}
    )
    todo = Todo.objects.get(user=alice)
    client = as_user(alice)
    page = text(client, "/dashboard/todos")
    assert "assigned you" in page
    assert "Load the kiln" in page
    # Bob cannot mark Alice's to-do item done.
    assert as_user(bob).post(f"/dashboard/todos/{todo.pk}").status_code == 404
    assert client.get(f"/dashboard/todos/{todo.pk}").status_code == 405
    assert client.post(f"/dashboard/todos/{todo.pk}").status_code == 302
    todo.refresh_from_db()
    assert todo.state == "done"
    assert "Load the kiln" not in text(client, "/dashboard/todos")
    assert "Load the kiln" in text(client, "/dashboard/todos?state=done")
    bob_gl.projects.get(project.id).issues.create({"title": "More", "assignee_ids": [alice.pk]})
    assert client.post("/dashboard/todos/destroy_all").status_code == 302
    assert not Todo.objects.filter(user=alice, state="pending").exists()


def test_dashboard_pages_need_an_account(server_url: str) -> None:
    import requests

    for path in ("/dashboard/projects", "/dashboard/issues", "/dashboard/todos"):
        response = requests.get(f"{server_url}{path}", allow_redirects=False, timeout=10)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/users/sign_in?redirect_to=")
    response = requests.get(f"{server_url}/", allow_redirects=False, timeout=10)
    assert response.headers["Location"] == "/users/sign_in"
