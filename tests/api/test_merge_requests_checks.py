"""The merge checks through the API: conflicts, a stale `sha`, drafts, protected targets,
required approvals, unresolved threads — each refusal as GitLab's `PUT .../merge` answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gitlab
import pytest

from tests.conftest import ROOT_TOKEN
from tests.merge_requests.support import (
    api,
    branch_head,
    call,
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


def test_conflicts(gl: gitlab.Gitlab, server_url: str) -> None:
    project = project_with_branch(
        gl, "conflicts", base={"a.txt": "base\n"}, changes={"a.txt": "feature\n"}
    )
    commit_files(project, {"a.txt": "main\n"}, branch="main", message="Main changes a")
    mr = open_mr(project)
    fresh = project.mergerequests.get(mr.iid)
    assert fresh.merge_status == "cannot_be_merged"
    assert fresh.detailed_merge_status in ("conflict", "broken_status")
    assert fresh.has_conflicts is True
    before = branch_head(project.id, "main")
    response = _merge(server_url, ROOT_TOKEN, project.id, mr.iid)
    assert (response.status_code, response.json()) == (422, {"message": "Branch cannot be merged"})
    assert branch_head(project.id, "main") == before
    assert project.mergerequests.get(mr.iid).state == "opened"


def test_push_to_target_rechecks_mergeability(gl: gitlab.Gitlab) -> None:
    project = project_with_branch(
        gl, "recheck", base={"a.txt": "base\n"}, changes={"a.txt": "feature\n"}
    )
    mr = open_mr(project)
    assert project.mergerequests.get(mr.iid).merge_status == "can_be_merged"
    commit_files(project, {"a.txt": "main\n"}, branch="main", message="Clash")
    assert project.mergerequests.get(mr.iid).merge_status == "cannot_be_merged"


def test_stale_sha_is_409(gl: gitlab.Gitlab, server_url: str) -> None:
    project = project_with_branch(gl, "stale")
    mr = open_mr(project)
    stale = branch_head(project.id, "main")
    response = _merge(server_url, ROOT_TOKEN, project.id, mr.iid, sha=stale)
    assert response.status_code == 409
    assert response.json() == {"message": f"SHA does not match HEAD of source branch: {mr.sha}"}
    ok = _merge(server_url, ROOT_TOKEN, project.id, mr.iid, sha=mr.sha)
    assert ok.status_code == 200


def test_draft_is_405(gl: gitlab.Gitlab, server_url: str) -> None:
    project = project_with_branch(gl, "drafts")
    mr = open_mr(project, title="[Draft] not yet")
    assert mr.draft is True
    response = _merge(server_url, ROOT_TOKEN, project.id, mr.iid)
    assert (response.status_code, response.json()) == (405, {"message": "405 Method Not Allowed"})
    mr.title = "ready now"
    mr.save()
    assert _merge(server_url, ROOT_TOKEN, project.id, mr.iid).status_code == 200


def test_protected_target_needs_merge_rights(
    gl: gitlab.Gitlab, server_url: str, make_user: Callable[..., Any]
) -> None:
    project = project_with_branch(gl, "protected")
    developer, dev_gl = make_user("mr-dev")
    project.members.create({"user_id": developer.pk, "access_level": 30})
    mr = open_mr(dev_gl.projects.get(project.id))
    assert dev_gl.projects.get(project.id).mergerequests.get(mr.iid).user == {"can_merge": False}
    token = dev_gl.private_token
    response = _merge(server_url, token, project.id, mr.iid)
    assert (response.status_code, response.json()) == (401, {"message": "401 Unauthorized"})
    assert branch_head(project.id, "main") != mr.sha

    # Developers may merge once the rule lets them.
    project.protectedbranches.delete("main")
    project.protectedbranches.create(
        {"name": "main", "push_access_level": 40, "merge_access_level": 30}
    )
    assert _merge(server_url, token, project.id, mr.iid).status_code == 200


def test_required_approvals(
    gl: gitlab.Gitlab, server_url: str, make_user: Callable[..., Any]
) -> None:
    project = project_with_branch(gl, "approvals")
    settings = project.approvals.get()
    assert settings.approvals_before_merge == 0
    project.approvals.update(approvals_before_merge=1)
    assert project.approvals.get().approvals_before_merge == 1
    reviewer, reviewer_gl = make_user("mr-approver")
    project.members.create({"user_id": reviewer.pk, "access_level": 30})
    mr = open_mr(project)
    state = mr.approvals.get()
    assert (state.approved, state.approvals_required, state.approvals_left) == (False, 1, 1)
    assert project.mergerequests.get(mr.iid).detailed_merge_status == "not_approved"
    refused = _merge(server_url, ROOT_TOKEN, project.id, mr.iid)
    assert refused.status_code == 405

    # The author may not approve their own merge request (merge_requests_author_approval).
    # GitLab answers 401 here, which python-gitlab reports as an authentication error.
    with pytest.raises(gitlab.exceptions.GitlabAuthenticationError) as own:
        mr.approve()
    assert own.value.response_code == 401

    theirs = reviewer_gl.projects.get(project.id, lazy=True).mergerequests.get(mr.iid)
    approved = theirs.approve(sha=mr.sha)
    assert approved["approved"] is True
    assert approved["user_has_approved"] is True
    assert [a["user"]["username"] for a in approved["approved_by"]] == ["mr-approver"]
    with pytest.raises(gitlab.exceptions.GitlabAuthenticationError) as twice:
        theirs.approve()
    assert twice.value.response_code == 401
    theirs.unapprove()
    with pytest.raises(gitlab.exceptions.GitlabMRApprovalError) as none_left:
        theirs.unapprove()
    assert none_left.value.response_code == 404
    theirs.approve()
    state = project.mergerequests.get(mr.iid).approval_state.get()
    assert state.rules[0]["approved"] is True
    assert _merge(server_url, ROOT_TOKEN, project.id, mr.iid).status_code == 200


def test_approvals_reset_on_push(gl: gitlab.Gitlab, make_user: Callable[..., Any]) -> None:
    project = project_with_branch(gl, "reset")
    reviewer, reviewer_gl = make_user("mr-resetter")
    project.members.create({"user_id": reviewer.pk, "access_level": 30})
    mr = open_mr(project)
    reviewer_gl.projects.get(project.id, lazy=True).mergerequests.get(mr.iid).approve()
    assert mr.approvals.get().approved_by
    commit_files(project, {"new.txt": "n\n"}, branch="feature", message="New work")
    assert mr.approvals.get().approved_by == []


def test_unresolved_threads_block_when_required(gl: gitlab.Gitlab, server_url: str) -> None:
    from kiln.core.actor import Actor
    from kiln.merge_requests.models import MergeRequest
    from kiln.notes import services as notes

    project = project_with_branch(gl, "threads")
    project.only_allow_merge_if_all_discussions_are_resolved = True
    project.save()
    mr = open_mr(project)
    row = MergeRequest.objects.select_related("project").get(project_id=project.id, iid=mr.iid)
    root = Actor(user=row.author)
    result = notes.create_note(
        actor=root, noteable=row, body="Please fix", note_type="DiscussionNote"
    )
    assert result.note is not None
    fresh = project.mergerequests.get(mr.iid)
    assert fresh.blocking_discussions_resolved is False
    assert fresh.detailed_merge_status == "discussions_not_resolved"
    assert _merge(server_url, ROOT_TOKEN, project.id, mr.iid).status_code == 405
    notes.resolve_discussion(
        actor=root, noteable=row, discussion_id=result.note.discussion_id, resolved=True
    )
    assert project.mergerequests.get(mr.iid).blocking_discussions_resolved is True
    assert _merge(server_url, ROOT_TOKEN, project.id, mr.iid).status_code == 200
