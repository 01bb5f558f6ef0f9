"""A server killed with -9 in the middle of a push loses nothing and blocks nothing."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import gitlab
import pytest

from tests.conftest import ROOT_TOKEN, client
from tests.support.git import authed, git, make_repo
from tests.support.processes import KilnProcess, database_url, free_port

pytestmark = pytest.mark.slow


def _project_repo(project_id: int) -> str:
    from kiln.projects.models import Project
    from kiln.repositories.storage import repo_path

    return repo_path(Project.objects.get(pk=project_id))


def test_kill_9_mid_push_leaves_repository_clean(git_url: str, tmp_path: Path) -> None:
    from django.conf import settings
    from django.db import connection

    from kiln.repositories.storage import store

    gl = client(git_url, ROOT_TOKEN)
    project = gl.projects.create({"name": "crashy"})
    work = make_repo(tmp_path / "work")
    git("push", "-q", authed(f"{git_url}/root/crashy.git", "root", ROOT_TOKEN), "main", cwd=work)
    before = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    # A push big enough to still be streaming when the server dies.
    (work / "big.bin").write_bytes(os.urandom(60 * 1024 * 1024))
    git("add", "big.bin", cwd=work)
    git("commit", "-q", "-m", "big", cwd=work)

    victim = KilnProcess(
        "web",
        Path(settings.DATA_DIR),
        database_url(connection.settings_dict),
        web_port=free_port(),
    )
    victim.wait_ready()
    result: dict[str, Any] = {}

    def push() -> None:
        result["push"] = git(
            "push", "-q", authed(f"{victim.url}/root/crashy.git", "root", ROOT_TOKEN), "main",
            cwd=work, check=False,
        )  # fmt: skip

    pusher = threading.Thread(target=push)
    pusher.start()
    time.sleep(0.8)
    victim.kill()
    pusher.join(timeout=120)
    assert result["push"].returncode != 0, "the push finished before the kill; make it bigger"

    path = _project_repo(project.id)
    assert store().fsck(relative_path=path) == ()
    assert store().find_branch(relative_path=path, name="main").commit.id == before
    # No stale lock or leftover quarantine blocks the next push, through the live server.
    git("push", "-q", authed(f"{git_url}/root/crashy.git", "root", ROOT_TOKEN), "main", cwd=work)
    head = store().find_branch(relative_path=path, name="main").commit.id
    assert head == git("rev-parse", "HEAD", cwd=work).stdout.strip()


def test_check_repair_makes_the_database_follow_git(git_url: str, tmp_path: Path) -> None:
    from kiln.projects.models import Project
    from kiln.repositories.reconcile import check_repositories

    gl: gitlab.Gitlab = client(git_url, ROOT_TOKEN)
    project = gl.projects.create({"name": "drifted"})
    work = make_repo(tmp_path / "work")
    git("branch", "-m", "trunk", cwd=work)
    git("push", "-q", authed(f"{git_url}/root/drifted.git", "root", ROOT_TOKEN), "trunk", cwd=work)
    # As if the server had died between git's ref update and the post-receive bookkeeping.
    Project.objects.filter(pk=project.id).update(empty_repo=True, default_branch="main")

    findings = check_repositories(repair=False)
    assert [f.project for f in findings] == ["root/drifted"]
    assert Project.objects.get(pk=project.id).empty_repo is True  # a check changes nothing

    repaired = check_repositories(repair=True)
    assert repaired[0].repaired is True
    fixed = Project.objects.get(pk=project.id)
    assert (fixed.empty_repo, fixed.default_branch) == (False, "trunk")
    assert check_repositories(repair=False) == []
