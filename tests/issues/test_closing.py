"""Issues closed by "Closes #N" in commits pushed to the default branch (web commits and a
real `git push`), and "mentioned in commit" cross references."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gitlab
import pytest

from kiln.issues.closing import closing_references
from kiln.issues.models import Issue
from tests.conftest import ROOT_TOKEN, client
from tests.issues import builders as ib
from tests.projects import builders as b
from tests.support.git import authed, commit_file, git, make_repo


@pytest.fixture
def root(server_url: str) -> Any:
    return b.root_user()


def test_closing_pattern(root: Any) -> None:
    project = ib.project(root)
    other = ib.project(root)
    refs = closing_references(
        f"Fixes #1, closes #2 and resolves {other.full_path}#3.\nImplements issue #4\n"
        f"see #5; Closing: https://kiln.example/{project.full_path}/-/issues/6",
        project,
    )
    assert [(p.pk, iid) for p, iid in refs] == [
        (project.pk, 1),
        (project.pk, 2),
        (other.pk, 3),
        (project.pk, 4),
        (project.pk, 6),
    ]
    assert closing_references("mentions #7 without closing it", project) == []


def test_web_commit_closes_issues_on_default_branch(gl: gitlab.Gitlab, root: Any) -> None:
    project = ib.project(root)
    p = gl.projects.get(project.pk)
    p.files.create({"file_path": "a", "branch": "main", "content": "a", "commit_message": "init"})
    first = ib.issue(project, root, "to close")
    second = ib.issue(project, root, "only mentioned")
    other_branch = ib.issue(project, root, "closed elsewhere")
    p.branches.create({"branch": "feature", "ref": "main"})
    p.files.create(
        {
            "file_path": "b",
            "branch": "feature",
            "content": "b",
            "commit_message": f"Work\n\nCloses #{other_branch.iid}",
        }
    )
    commit = p.commits.create(
        {
            "branch": "main",
            "commit_message": f"Fix the crash\n\nCloses #{first.iid}, see #{second.iid}",
            "actions": [{"action": "create", "file_path": "c", "content": "c"}],
        }
    )
    closed = p.issues.get(first.iid)
    assert closed.state == "closed"
    assert closed.attributes["closed_by"]["username"] == "root"
    bodies = [n.body for n in closed.notes.list(get_all=True)]
    assert f"closed via commit {commit.id}" in bodies
    events = closed.resourcestateevents.list(get_all=True)
    assert events[0].state == "closed"
    assert p.issues.get(second.iid).state == "opened"
    assert f"mentioned in commit {commit.id}" in [
        n.body for n in p.issues.get(second.iid).notes.list(get_all=True)
    ]
    assert Issue.objects.get(pk=other_branch.pk).state == "opened"


def test_commit_by_someone_who_may_not_update_does_not_close(root: Any, make_user: Any) -> None:
    project = ib.project(root)
    outsider, _ = make_user("closer")
    issue = ib.issue(project, root, "stays open")
    from kiln.issues.closing import close_issues_mentioned

    closed = close_issues_mentioned(
        actor=b.actor(outsider), project=project, text=f"Closes #{issue.iid}", commit_sha="a" * 40
    )
    assert closed == []
    assert Issue.objects.get(pk=issue.pk).state == "opened"


@pytest.mark.slow
def test_git_push_closes_issue(git_url: str, tmp_path: Path) -> None:
    gl = client(git_url, ROOT_TOKEN)
    project = gl.projects.create({"name": "closing-by-push", "visibility": "private"})
    issue = project.issues.create({"title": "Broken build"})
    work = make_repo(tmp_path / "work")
    sha = commit_file(work, "fix.txt", "fixed\n", message=f"Repair\n\nFixes #{issue.iid}")
    git(
        "push",
        "-q",
        authed(f"{git_url}/root/closing-by-push.git", "root", ROOT_TOKEN),
        "main",
        cwd=work,
    )
    fresh = project.issues.get(issue.iid)
    assert fresh.state == "closed"
    assert f"closed via commit {sha}" in [n.body for n in fresh.notes.list(get_all=True)]
