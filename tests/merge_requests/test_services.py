"""Merge requests with the rest of Kiln: CI's hook points (pipeline status, merge when the
pipeline succeeds), quick actions in notes, issues closed on merge, `!N` references."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import gitlab
import pytest

from kiln.merge_requests import hooks
from tests.conftest import ROOT_TOKEN
from tests.merge_requests.support import api, call, open_mr, project_with_branch


@pytest.fixture
def pipelines() -> Iterator[dict[str, str]]:
    """A pipeline status provider standing in for CI: sha -> status."""
    statuses: dict[str, str] = {}

    def provider(project: Any, sha: str, ref: str) -> hooks.PipelineInfo | None:
        status = statuses.get(sha)
        if status is None:
            return None
        return hooks.PipelineInfo(id=7, iid=1, sha=sha, ref=ref, status=status)

    hooks.register_pipeline_status_provider(provider)
    try:
        yield statuses
    finally:
        hooks._PROVIDERS.remove(provider)


def test_merge_when_pipeline_succeeds(
    gl: gitlab.Gitlab, server_url: str, pipelines: dict[str, str]
) -> None:
    from kiln.merge_requests.merging import pipeline_succeeded

    project = project_with_branch(gl, "mwps")
    mr = open_mr(project)
    pipelines[mr.sha] = "running"
    assert project.mergerequests.get(mr.iid).head_pipeline["status"] == "running"
    mr.merge(merge_when_pipeline_succeeds=True, should_remove_source_branch=False)
    waiting = project.mergerequests.get(mr.iid)
    assert waiting.state == "opened"
    assert waiting.merge_when_pipeline_succeeds is True
    assert waiting.merge_user["username"] == "root"

    # Cancelling and setting it again.
    cancelled = waiting.cancel_merge_when_pipeline_succeeds()
    assert cancelled["merge_when_pipeline_succeeds"] is False
    session = api(server_url, ROOT_TOKEN)
    again = call(
        session,
        "POST",
        f"/projects/{project.id}/merge_requests/1/cancel_merge_when_pipeline_succeeds",
    )
    assert (again.status_code, again.json()) == (
        406,
        {"message": "Can't cancel the automatic merge"},
    )
    mr.merge(merge_when_pipeline_succeeds=True)

    pipelines[mr.sha] = "success"
    assert pipeline_succeeded(project_id=project.id, sha=mr.sha, ref="feature") == [mr.id]
    merged = project.mergerequests.get(mr.iid)
    assert merged.state == "merged"
    assert merged.merge_when_pipeline_succeeds is False


def test_pipeline_must_succeed(
    gl: gitlab.Gitlab, server_url: str, pipelines: dict[str, str]
) -> None:
    project = project_with_branch(gl, "ci-must-pass")
    project.only_allow_merge_if_pipeline_succeeds = True
    project.save()
    mr = open_mr(project)
    assert project.mergerequests.get(mr.iid).detailed_merge_status == "ci_must_pass"
    session = api(server_url, ROOT_TOKEN)
    url = f"/projects/{project.id}/merge_requests/{mr.iid}/merge"
    assert call(session, "PUT", url).status_code == 405
    pipelines[mr.sha] = "running"
    assert project.mergerequests.get(mr.iid).detailed_merge_status == "ci_still_running"
    pipelines[mr.sha] = "failed"
    assert call(session, "PUT", url).status_code == 405
    pipelines[mr.sha] = "success"
    assert project.mergerequests.get(mr.iid).detailed_merge_status == "mergeable"
    assert call(session, "PUT", url).status_code == 200


def test_quick_actions_in_notes(gl: gitlab.Gitlab, make_user: Callable[..., Any]) -> None:
    project = project_with_branch(gl, "commands")
    developer, dev_gl = make_user("mr-commander")
    project.members.create({"user_id": developer.pk, "access_level": 40})
    mr = open_mr(project, remove_source_branch=False)
    theirs = dev_gl.projects.get(project.id).mergerequests.get(mr.iid)

    theirs.notes.create({"body": "/draft"})
    assert project.mergerequests.get(mr.iid).draft is True
    theirs.notes.create({"body": "/ready"})
    assert project.mergerequests.get(mr.iid).draft is False
    theirs.notes.create({"body": "Looks good\n/approve"})
    assert [a["user"]["username"] for a in mr.approvals.get().approved_by] == ["mr-commander"]
    theirs.notes.create({"body": f"/assign_reviewer @{developer.username}"})
    assert [r["username"] for r in project.mergerequests.get(mr.iid).reviewers] == ["mr-commander"]
    project.labels.create({"name": "reviewed", "color": "#00aa00"})
    theirs.notes.create({"body": "/label ~reviewed\n/close"})
    closed = project.mergerequests.get(mr.iid)
    assert (closed.labels, closed.state) == (["reviewed"], "closed")
    theirs.notes.create({"body": "/reopen"})
    theirs.notes.create({"body": "/merge"})
    assert project.mergerequests.get(mr.iid).state == "merged"


def test_closes_issues_on_merge(gl: gitlab.Gitlab, server_url: str) -> None:
    project = project_with_branch(gl, "closing")
    issue = project.issues.create({"title": "A bug"})
    other = project.issues.create({"title": "Unrelated"})
    mr = open_mr(project, description=f"Fixes the bug.\n\nCloses #{issue.iid}")
    assert [i.iid for i in mr.closes_issues()] == [issue.iid]
    assert project.issues.get(issue.iid).merge_requests_count == 1
    assert project.issues.get(other.iid).merge_requests_count == 0
    mr.merge()
    assert project.issues.get(issue.iid).state == "closed"
    assert project.issues.get(other.iid).state == "opened"


def test_merge_request_references_render_for_readers(
    gl: gitlab.Gitlab, make_user: Callable[..., Any]
) -> None:
    from kiln.core.actor import Actor
    from kiln.issues.references import render_for
    from kiln.projects.models import Project

    project = project_with_branch(gl, "referenced")
    mr = open_mr(project, title="Referenced")
    row = Project.objects.get(pk=project.id)
    root_html = render_for(Actor(user=row.creator), f"See !{mr.iid}", project=row)
    assert f"/root/referenced/-/merge_requests/{mr.iid}" in root_html
    outsider, _ = make_user("mr-ref-outsider")
    hidden = render_for(Actor(user=outsider), f"See !{mr.iid}", project=row)
    assert "merge_requests" not in hidden
    assert "Referenced" not in hidden


def test_assignment_and_review_todos(gl: gitlab.Gitlab, make_user: Callable[..., Any]) -> None:
    project = project_with_branch(gl, "todos")
    reviewer, reviewer_gl = make_user("mr-todo-reviewer")
    assignee, assignee_gl = make_user("mr-todo-assignee")
    for user in (reviewer, assignee):
        project.members.create({"user_id": user.pk, "access_level": 30})
    mr = open_mr(project, assignee_ids=[assignee.pk], reviewer_ids=[reviewer.pk])
    assert [(t.action_name, t.target["iid"]) for t in reviewer_gl.todos.list()] == [
        ("review_requested", mr.iid)
    ]
    assert [(t.action_name, t.target_type) for t in assignee_gl.todos.list()] == [
        ("assigned", "MergeRequest")
    ]
    assert gl.todos.list() == []  # the author did it: no todo for themselves
