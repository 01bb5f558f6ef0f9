"""Merge requests through python-gitlab: create, read, list, update, close and reopen,
commits, changes, diffs, versions, and the hostile inputs of each."""

from __future__ import annotations

from typing import Any

import gitlab
import pytest

from tests.conftest import ROOT_TOKEN
from tests.merge_requests.support import api, call, commit_of, open_mr, project_with_branch
from tests.repositories.support import commit_files

MR_KEYS = {
    "id", "iid", "project_id", "title", "description", "state", "created_at", "updated_at",
    "merged_by", "merge_user", "merged_at", "closed_by", "closed_at", "target_branch",
    "source_branch", "user_notes_count", "upvotes", "downvotes", "author", "assignees",
    "assignee", "reviewers", "source_project_id", "target_project_id", "labels", "draft",
    "work_in_progress", "milestone", "merge_when_pipeline_succeeds", "merge_status",
    "detailed_merge_status", "sha", "merge_commit_sha", "squash_commit_sha",
    "discussion_locked", "should_remove_source_branch", "force_remove_source_branch",
    "reference", "references", "web_url", "time_stats", "squash", "task_completion_status",
    "has_conflicts", "blocking_discussions_resolved", "subscribed", "changes_count",
    "pipeline", "head_pipeline", "diff_refs", "merge_error", "user", "prepared_at",
}  # fmt: skip


def test_create_get_and_shape(gl: gitlab.Gitlab, server_url: str) -> None:
    project = project_with_branch(gl, "shape", changes={"feature.txt": "one\ntwo\n"})
    mr = open_mr(project, description="Adds a feature")
    assert mr.iid == 1
    assert mr.state == "opened"
    assert set(mr.attributes) >= MR_KEYS
    head = commit_of(project.id, "feature").id
    assert mr.sha == head
    assert mr.diff_refs["head_sha"] == head
    assert mr.diff_refs["base_sha"] == mr.diff_refs["start_sha"] == commit_of(project.id, "main").id
    assert mr.changes_count == "1"
    assert mr.references == {"short": "!1", "relative": "!1", "full": "root/shape!1"}
    assert mr.web_url == f"{server_url}/root/shape/-/merge_requests/1"
    assert mr.author["username"] == "root"
    assert mr.user == {"can_merge": True}

    fresh = project.mergerequests.get(mr.iid)
    assert fresh.merge_status == "can_be_merged"
    assert fresh.detailed_merge_status == "mergeable"
    assert fresh.has_conflicts is False


def test_changes_diffs_commits_and_versions(gl: gitlab.Gitlab, server_url: str) -> None:
    project = project_with_branch(
        gl, "changes", base={"a.txt": "1\n2\n3\n"}, changes={"a.txt": "1\nTWO\n3\n", "b.txt": "b\n"}
    )
    mr = open_mr(project)
    changes = mr.changes()
    assert changes["overflow"] is False
    by_path = {c["new_path"]: c for c in changes["changes"]}
    assert set(by_path) == {"a.txt", "b.txt"}
    assert "-2\n+TWO" in by_path["a.txt"]["diff"]
    assert by_path["b.txt"]["new_file"] is True

    session = api(server_url, ROOT_TOKEN)
    page = call(session, "GET", f"/projects/{project.id}/merge_requests/1/diffs?per_page=1")
    assert page.status_code == 200
    assert len(page.json()) == 1
    assert page.headers["X-Total"] == "2"
    raw = call(session, "GET", f"/projects/{project.id}/merge_requests/1/raw_diffs")
    assert raw.headers["Content-Type"].startswith("text/plain")
    assert "diff --git a/a.txt b/a.txt" in raw.text
    assert "+TWO" in raw.text

    commits = mr.commits()
    assert [c.title for c in commits] == ["Feature change"]

    versions = mr.diffs.list()
    assert len(versions) == 1
    version = mr.diffs.get(versions[0].id)
    assert version.head_commit_sha == mr.sha
    assert len(version.diffs) == 2
    assert version.commits[0]["id"] == mr.sha


def test_new_push_adds_a_version(gl: gitlab.Gitlab) -> None:
    project = project_with_branch(gl, "versions")
    mr = open_mr(project)
    first_sha = mr.sha
    commit_files(project, {"more.txt": "more\n"}, branch="feature", message="More work")
    mr = project.mergerequests.get(mr.iid)
    assert mr.sha != first_sha
    assert mr.sha == commit_of(project.id, "feature").id
    versions = mr.diffs.list()
    assert len(versions) == 2
    assert versions[0].head_commit_sha == mr.sha
    assert versions[1].head_commit_sha == first_sha
    assert len(mr.commits()) == 2


def test_update_close_reopen(gl: gitlab.Gitlab) -> None:
    project = project_with_branch(gl, "updates")
    mr = open_mr(project)
    mr.title = "Draft: renamed"
    mr.labels = ["bug", "ui"]
    mr.save()
    mr = project.mergerequests.get(mr.iid)
    assert mr.title == "Draft: renamed"
    assert mr.draft is True
    assert mr.work_in_progress is True
    assert sorted(mr.labels) == ["bug", "ui"]
    assert mr.detailed_merge_status == "draft_status"

    mr.state_event = "close"
    mr.save()
    mr = project.mergerequests.get(mr.iid)
    assert mr.state == "closed"
    assert mr.closed_by["username"] == "root"
    assert mr.detailed_merge_status == "not_open"

    mr.state_event = "reopen"
    mr.save()
    assert project.mergerequests.get(mr.iid).state == "opened"


def test_list_filters(gl: gitlab.Gitlab) -> None:
    project = project_with_branch(gl, "lists")
    project.branches.create({"branch": "other", "ref": "main"})
    commit_files(project, {"o.txt": "o\n"}, branch="other")
    open_mr(project, title="First")
    second = open_mr(project, source="other", title="Draft: second", labels="x")
    assert {m.iid for m in project.mergerequests.list(get_all=True)} == {1, 2}
    assert [m.iid for m in project.mergerequests.list(wip="yes")] == [second.iid]
    assert [m.iid for m in project.mergerequests.list(source_branch="other")] == [2]
    assert [m.iid for m in project.mergerequests.list(labels=["x"])] == [2]
    assert [m.iid for m in project.mergerequests.list(iids=[1])] == [1]
    assert [m.iid for m in project.mergerequests.list(search="First")] == [1]
    assert {m.iid for m in gl.mergerequests.list(get_all=True)} >= {1, 2}
    assert project.mergerequests.list(state="merged") == []


def test_create_errors(gl: gitlab.Gitlab, server_url: str) -> None:
    from kiln.merge_requests.models import MergeRequest

    project = project_with_branch(gl, "errors")
    session = api(server_url, ROOT_TOKEN)
    url = f"/projects/{project.id}/merge_requests"
    before = MergeRequest.objects.count()

    def post(data: dict[str, Any]) -> tuple[int, Any]:
        response = call(session, "POST", url, json=data)
        return response.status_code, response.json()

    assert post({"source_branch": "feature", "target_branch": "main"}) == (
        400,
        {"error": "title is missing"},
    )
    assert post({"title": "t", "source_branch": "--output=x", "target_branch": "main"}) == (
        422,
        {"message": ['Source branch "--output=x" does not exist']},
    )
    assert post({"title": "t", "source_branch": "feature", "target_branch": "feature"}) == (
        422,
        {"message": ["You must select different branches"]},
    )
    assert post({"title": "x" * 256, "source_branch": "feature", "target_branch": "main"}) == (
        400,
        {"message": {"title": ["is too long (maximum is 255 characters)"]}},
    )
    status, body = post(
        {
            "title": "t",
            "description": "d" * 1_048_577,
            "source_branch": "feature",
            "target_branch": "main",
        }
    )
    assert (status, body) == (
        400,
        {"message": {"description": ["is too long (maximum is 1048576 characters)"]}},
    )
    assert MergeRequest.objects.count() == before
    assert post({"title": "t", "source_branch": "feature", "target_branch": "main"})[0] == 201
    assert post({"title": "again", "source_branch": "feature", "target_branch": "main"}) == (
        409,
        {"message": ["Another open merge request already exists for this source branch: !1"]},
    )
    assert MergeRequest.objects.count() == before + 1
    empty = call(session, "PUT", f"{url}/1", json={})
    assert empty.status_code == 400
    assert "at least one parameter must be provided" in empty.json()["error"]
    blank = call(session, "PUT", f"{url}/1", json={"title": "  "})
    assert (blank.status_code, blank.json()) == (400, {"error": "title is empty"})


def test_missing_merge_request_is_404(gl: gitlab.Gitlab, server_url: str) -> None:
    project = project_with_branch(gl, "missing")
    session = api(server_url, ROOT_TOKEN)
    for iid in ("999", "0", "abc", "1" * 30, "%2e%2e"):
        response = call(session, "GET", f"/projects/{project.id}/merge_requests/{iid}")
        assert response.status_code == 404, iid
    missing = call(session, "GET", f"/projects/{project.id}/merge_requests/999")
    assert missing.json() == {"message": "404 Merge Request Not Found"}
    version = call(session, "GET", f"/projects/{project.id}/merge_requests/999/versions/1")
    assert version.status_code == 404


def test_people_subscriptions_and_delete(
    gl: gitlab.Gitlab, server_url: str, make_user: Any
) -> None:
    project = project_with_branch(gl, "people")
    developer, dev_gl = make_user("mr-people-dev")
    project.members.create({"user_id": developer.pk, "access_level": 30})
    mr = open_mr(project, assignee_ids=[developer.pk], reviewer_ids=[developer.pk])
    assert mr.assignee["username"] == "mr-people-dev"
    assert [r["username"] for r in mr.reviewers] == ["mr-people-dev"]
    assert {u["username"] for u in mr.participants()} == {"root", "mr-people-dev"}
    session = api(server_url, ROOT_TOKEN)
    base = f"/projects/{project.id}/merge_requests/{mr.iid}"
    reviewers = call(session, "GET", f"{base}/reviewers").json()
    assert [(r["user"]["username"], r["state"]) for r in reviewers] == [
        ("mr-people-dev", "unreviewed")
    ]
    assert call(session, "GET", f"{base}/time_stats").json()["time_estimate"] == 0
    # The author participates, so is subscribed already: 304, then unsubscribe.
    assert call(session, "POST", f"{base}/subscribe").status_code == 304
    assert call(session, "POST", f"{base}/unsubscribe").json()["subscribed"] is False
    assert call(session, "POST", f"{base}/subscribe").json()["subscribed"] is True

    mine = dev_gl.projects.get(project.id, lazy=True).mergerequests.get(mr.iid)
    with pytest.raises(gitlab.exceptions.GitlabDeleteError) as forbidden:
        mine.delete()
    assert forbidden.value.response_code == 403
    mr.delete()
    assert call(session, "GET", base).status_code == 404
