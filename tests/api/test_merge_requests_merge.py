"""Merging through the API: methods (merge commit, semi-linear, fast-forward) with and without
squash, source branch removal, and two merges racing for one merge request."""

from __future__ import annotations

import threading
from typing import Any

import gitlab
import pytest

from tests.conftest import ROOT_TOKEN
from tests.merge_requests.support import (
    api,
    branch_head,
    call,
    commit_of,
    open_mr,
    project_with_branch,
)
from tests.repositories.support import commit_files


def _merge(server_url: str, token: str, project_id: int, iid: int, **data: Any) -> Any:
    return call(
        api(server_url, token),
        "PUT",
        f"/projects/{project_id}/merge_requests/{iid}/merge",
        json=data,
    )


@pytest.mark.parametrize("squash", [False, True])
def test_merge_commit_method(gl: gitlab.Gitlab, server_url: str, squash: bool) -> None:
    project = project_with_branch(gl, f"merge-commit-{squash}", changes={"f.txt": "f\n"})
    target_before = branch_head(project.id, "main")
    mr = open_mr(project, title="Add f", remove_source_branch=False)
    head = mr.sha
    response = _merge(server_url, ROOT_TOKEN, project.id, mr.iid, squash=squash)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["state"] == "merged"
    assert body["merged_by"]["username"] == "root"
    assert body["merge_user"]["username"] == "root"
    assert body["merged_at"] is not None
    main = branch_head(project.id, "main")
    assert body["merge_commit_sha"] == main
    merge_commit = commit_of(project.id, main)
    assert merge_commit.message.startswith("Merge branch 'feature' into 'main'\n\nAdd f\n\n")
    assert merge_commit.message.rstrip().endswith(
        f"See merge request root/merge-commit-{str(squash).lower()}!1"
    )
    if squash:
        squashed = commit_of(project.id, body["squash_commit_sha"])
        assert squashed.parent_ids == (target_before,)
        assert squashed.message.strip() == "Add f"
        assert merge_commit.parent_ids == (target_before, squashed.id)
    else:
        assert body["squash_commit_sha"] is None
        assert merge_commit.parent_ids == (target_before, head)
    assert branch_head(project.id, "feature") == head  # kept: remove_source_branch=False
    # A merged merge request cannot be merged again.
    again = _merge(server_url, ROOT_TOKEN, project.id, mr.iid)
    assert (again.status_code, again.json()) == (405, {"message": "405 Method Not Allowed"})


@pytest.mark.parametrize("squash", [False, True])
def test_fast_forward_method(gl: gitlab.Gitlab, server_url: str, squash: bool) -> None:
    project = project_with_branch(gl, f"ff-{squash}", changes={"f.txt": "f\n"})
    project.merge_method = "ff"
    project.save()
    target_before = branch_head(project.id, "main")
    mr = open_mr(project)
    response = _merge(server_url, ROOT_TOKEN, project.id, mr.iid, squash=squash)
    assert response.status_code == 200, response.text
    body = response.json()
    main = branch_head(project.id, "main")
    assert body["merge_commit_sha"] is None
    if squash:
        assert body["squash_commit_sha"] == main
        assert commit_of(project.id, main).parent_ids == (target_before,)
    else:
        assert main == mr.sha
        assert body["squash_commit_sha"] is None


def test_semi_linear_needs_a_rebase(gl: gitlab.Gitlab, server_url: str) -> None:
    project = project_with_branch(gl, "semi", changes={"f.txt": "f\n"})
    project.merge_method = "rebase_merge"
    project.save()
    mr = open_mr(project)
    commit_files(project, {"other.txt": "moved on\n"}, branch="main", message="Target moves")
    fresh = project.mergerequests.get(mr.iid)
    assert fresh.detailed_merge_status == "need_rebase"
    refused = _merge(server_url, ROOT_TOKEN, project.id, mr.iid)
    assert (refused.status_code, refused.json()) == (422, {"message": "Branch cannot be merged"})

    assert mr.rebase() == {"rebase_in_progress": True}
    rebased = project.mergerequests.get(mr.iid, include_rebase_in_progress=True)
    assert rebased.rebase_in_progress is False
    assert rebased.merge_error is None
    assert rebased.sha != mr.sha
    assert commit_of(project.id, rebased.sha).parent_ids == (branch_head(project.id, "main"),)
    assert rebased.detailed_merge_status == "mergeable"

    target_before = branch_head(project.id, "main")
    merged = _merge(server_url, ROOT_TOKEN, project.id, mr.iid)
    assert merged.status_code == 200, merged.text
    merge_commit = commit_of(project.id, branch_head(project.id, "main"))
    assert merge_commit.parent_ids == (target_before, rebased.sha)


def test_source_branch_removal(gl: gitlab.Gitlab, server_url: str) -> None:
    project = project_with_branch(gl, "removal")
    mr = open_mr(project, remove_source_branch=False)
    assert mr.force_remove_source_branch is False
    response = _merge(server_url, ROOT_TOKEN, project.id, mr.iid, should_remove_source_branch=True)
    assert response.status_code == 200
    assert response.json()["should_remove_source_branch"] is True
    assert branch_head(project.id, "feature") is None

    # The project's default (remove_source_branch_after_merge) applies when nothing is said.
    project.branches.create({"branch": "second", "ref": "main"})
    commit_files(project, {"s.txt": "s\n"}, branch="second")
    second = open_mr(project, source="second")
    assert second.force_remove_source_branch is True
    assert _merge(server_url, ROOT_TOKEN, project.id, second.iid).status_code == 200
    assert branch_head(project.id, "second") is None


def test_two_concurrent_merges_one_wins(gl: gitlab.Gitlab, server_url: str) -> None:
    project = project_with_branch(gl, "race")
    target_before = branch_head(project.id, "main")
    mr = open_mr(project, remove_source_branch=False)
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def merge() -> None:
        barrier.wait()
        statuses.append(_merge(server_url, ROOT_TOKEN, project.id, mr.iid).status_code)

    threads = [threading.Thread(target=merge) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 405]
    merged = project.mergerequests.get(mr.iid)
    assert merged.state == "merged"
    main = commit_of(project.id, branch_head(project.id, "main"))
    # One merge commit, not two: the merge's first parent is the target as it was.
    assert main.parent_ids == (target_before, mr.sha)
