"""A real `git push` to the real server (`kiln web` under gunicorn) produces GitLab's Push Hook
and Tag Push Hook at a real receiver, filtered by the hook's branch filter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gitlab
import pytest
import requests

from tests.conftest import ROOT_TOKEN, client
from tests.support.git import authed, commit_file, git, make_repo
from tests.webhooks.conftest import Receiver

pytestmark = pytest.mark.slow


@pytest.fixture
def root_gl(git_url: str) -> gitlab.Gitlab:
    # The server process reads the setting it is told about at once.
    response = requests.put(
        f"{git_url}/api/v4/application/settings",
        headers={"PRIVATE-TOKEN": ROOT_TOKEN},
        json={"allow_local_requests_from_web_hooks_and_services": True},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return client(git_url, ROOT_TOKEN)


def test_git_push_sends_push_and_tag_push_hooks(
    root_gl: gitlab.Gitlab, git_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    project = root_gl.projects.create({"name": "hooked"})
    hook = project.hooks.create(
        {
            "url": f"{receiver.url}/push",
            "token": "push-secret",
            "push_events": True,
            "tag_push_events": True,
        }
    )
    work = make_repo(tmp_path / "work", {"README.md": "# hi\n"}, message="First")
    second = commit_file(work, "src/app.py", "print(1)\n", message="Second\n\nDetails here.")
    remote = authed(f"{git_url}/root/hooked.git", "root", ROOT_TOKEN)
    git("push", "-q", remote, "main", cwd=work)

    (request,) = receiver.wait_for(1)
    assert request.path == "/push"
    headers = request.headers
    assert headers["X-Gitlab-Event"] == "Push Hook"
    assert headers["X-Gitlab-Token"] == "push-secret"
    assert headers["X-Gitlab-Instance"] == git_url
    assert headers["User-Agent"].startswith("GitLab/")
    for name in ("X-Gitlab-Event-UUID", "X-Gitlab-Webhook-UUID", "Idempotency-Key"):
        assert len(headers[name]) == 36
    data = request.json()
    assert data["object_kind"] == "push"
    assert data["before"] == "0" * 40
    assert data["after"] == data["checkout_sha"] == second
    assert data["ref"] == "refs/heads/main"
    assert data["user_username"] == "root"
    assert data["project"]["path_with_namespace"] == "root/hooked"
    assert data["project"]["git_http_url"] == f"{git_url}/root/hooked.git"
    assert data["total_commits_count"] == 2
    titles = [c["title"] for c in data["commits"]]
    assert titles == ["First", "Second"]  # oldest first, as GitLab lists them
    assert data["commits"][1]["id"] == second
    assert data["commits"][1]["added"] == ["src/app.py"]
    assert data["commits"][0]["added"] == ["README.md"]
    assert data["commits"][1]["author"] == {"name": "Test Author", "email": "author@example.com"}

    git("tag", "-a", "v1.0", "-m", "Release 1.0", cwd=work)
    git("push", "-q", remote, "v1.0", cwd=work)
    tag_request = receiver.wait_for(2)[1]
    assert tag_request.headers["X-Gitlab-Event"] == "Tag Push Hook"
    tag = tag_request.json()
    assert tag["object_kind"] == tag["event_name"] == "tag_push"
    assert tag["ref"] == "refs/tags/v1.0"
    assert tag["checkout_sha"] == second
    assert tag["message"] == "Release 1.0\n"
    assert [c["id"] for c in tag["commits"]] == [second]
    assert tag["total_commits_count"] == 1

    events = project.hooks.get(hook.id).manager.gitlab.http_get(
        f"/projects/{project.id}/hooks/{hook.id}/events"
    )
    assert [e["trigger"] for e in events] == ["tag_push_hooks", "push_hooks"]
    assert all(e["request_headers"]["X-Gitlab-Token"] == "[REDACTED]" for e in events)


def test_branch_filters_on_real_pushes(
    root_gl: gitlab.Gitlab, git_url: str, make_receiver: Any, tmp_path: Path
) -> None:
    project = root_gl.projects.create({"name": "filtered"})
    wildcard, regex = make_receiver(), make_receiver()
    project.hooks.create({"url": wildcard.url, "push_events_branch_filter": "feature/*"})
    project.hooks.create(
        {
            "url": regex.url,
            "push_events_branch_filter": r"^rel-[0-9]+$",
            "branch_filter_strategy": "regex",
        }
    )
    work = make_repo(tmp_path / "work")
    remote = authed(f"{git_url}/root/filtered.git", "root", ROOT_TOKEN)
    git("push", "-q", remote, "main", cwd=work)
    for branch in ("other", "feature/login", "rel-12", "rel-x"):
        git("push", "-q", remote, f"main:refs/heads/{branch}", cwd=work)
    # Pushes are delivered during the push itself (the test server's queue is immediate): by
    # now every hook that was going to get one has it.
    assert [r.json()["ref"] for r in wildcard.wait_for(1)] == ["refs/heads/feature/login"]
    assert [r.json()["ref"] for r in regex.wait_for(1)] == ["refs/heads/rel-12"]


def test_a_push_of_many_branches_triggers_no_push_hooks(
    root_gl: gitlab.Gitlab, git_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    project = root_gl.projects.create({"name": "bulk"})
    project.hooks.create({"url": receiver.url})
    work = make_repo(tmp_path / "work")
    remote = authed(f"{git_url}/root/bulk.git", "root", ROOT_TOKEN)
    git("push", "-q", remote, "main", cwd=work)
    receiver.wait_for(1)
    # Four new branches in one push: over GitLab's push_event_hooks_limit (3), no hook fires.
    git("push", "-q", remote, *(f"main:refs/heads/b{n}" for n in range(4)), cwd=work)
    git("push", "-q", remote, "main:refs/heads/single", cwd=work)
    refs = [r.json()["ref"] for r in receiver.wait_for(2)]
    assert refs == ["refs/heads/main", "refs/heads/single"]
