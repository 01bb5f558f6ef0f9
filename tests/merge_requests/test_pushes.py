"""Merge requests and real `git push` over HTTP: a pushed branch becomes a merge request, new
pushes add diff versions and "added N commits" notes, deleting the source closes it."""

from __future__ import annotations

from pathlib import Path

import gitlab
import pytest

from tests.conftest import ROOT_TOKEN, client
from tests.support.git import authed, commit_file, git, make_repo

pytestmark = pytest.mark.slow


@pytest.fixture
def root_gl(git_url: str) -> gitlab.Gitlab:
    return client(git_url, ROOT_TOKEN)


def test_pushed_branch_merge_request_follows_pushes(
    root_gl: gitlab.Gitlab, git_url: str, tmp_path: Path
) -> None:
    project = root_gl.projects.create({"name": "pushed"})
    remote = authed(f"{git_url}/root/pushed.git", "root", ROOT_TOKEN)
    work = make_repo(tmp_path / "work", {"app.py": "print('hello')\n"})
    git("push", "-q", remote, "main", cwd=work)
    git("checkout", "-q", "-b", "topic", cwd=work)
    first = commit_file(work, "app.py", "print('hello, world')\n", "Greet the world")
    git("push", "-q", remote, "topic", cwd=work)

    mr = project.mergerequests.create(
        {"source_branch": "topic", "target_branch": "main", "title": "Greeting"}
    )
    assert mr.sha == first
    changes = mr.changes()["changes"]
    assert [c["new_path"] for c in changes] == ["app.py"]
    assert "-print('hello')\n+print('hello, world')" in changes[0]["diff"]

    second = commit_file(work, "NEWS", "greeting\n", "Add news")
    git("push", "-q", remote, "topic", cwd=work)
    mr = project.mergerequests.get(mr.iid)
    assert mr.sha == second
    assert mr.diff_refs["head_sha"] == second
    versions = mr.diffs.list()
    assert [v.head_commit_sha for v in versions] == [second, first]
    system = [n.body for n in mr.notes.list(get_all=True) if n.system]
    assert any(body.startswith("added 1 commit") and second[:8] in body for body in system)

    # A force push rewrites the branch: a new version with the rewritten commit.
    git("commit", "-q", "--amend", "-m", "Add news (amended)", cwd=work)
    amended = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    git("push", "-q", "--force", remote, "topic", cwd=work)
    mr = project.mergerequests.get(mr.iid)
    assert mr.sha == amended
    assert [c.title for c in mr.commits()] == ["Add news (amended)", "Greet the world"]

    # Deleting the source branch closes the merge request, as GitLab's RefreshService does.
    git("push", "-q", remote, ":topic", cwd=work)
    assert project.mergerequests.get(mr.iid).state == "closed"


def test_push_to_target_with_the_source_merges_it(
    root_gl: gitlab.Gitlab, git_url: str, tmp_path: Path
) -> None:
    project = root_gl.projects.create({"name": "manual"})
    remote = authed(f"{git_url}/root/manual.git", "root", ROOT_TOKEN)
    work = make_repo(tmp_path / "work")
    git("push", "-q", remote, "main", cwd=work)
    git("checkout", "-q", "-b", "topic", cwd=work)
    commit_file(work, "a.txt", "a\n", "Add a")
    git("push", "-q", remote, "topic", cwd=work)
    mr = project.mergerequests.create(
        {"source_branch": "topic", "target_branch": "main", "title": "Manual"}
    )
    git("push", "-q", remote, "topic:main", cwd=work)
    assert project.mergerequests.get(mr.iid).state == "merged"
