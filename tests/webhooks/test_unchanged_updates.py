"""Updates that change nothing (every attribute sent with the value it has) keep `updated_at`
and send no `update` webhook, as GitLab's update services save nothing then: merge requests,
setting an automatic merge again exactly as it is, and issues. Each step is followed by a real
change, whose delivery must be the next one the receiver sees."""

from __future__ import annotations

import gitlab

from tests.merge_requests.support import open_mr, project_with_branch
from tests.merge_requests.test_services import pipelines  # noqa: F401
from tests.webhooks.conftest import Receiver, allow_local, receiver  # noqa: F401


def _action(delivery_body: dict[str, object]) -> object:
    attrs = delivery_body["object_attributes"]
    assert isinstance(attrs, dict)
    return attrs["action"]


def test_unchanged_merge_request_update(
    gl: gitlab.Gitlab,
    receiver: Receiver,  # noqa: F811
    allow_local: None,  # noqa: F811
    pipelines: dict[str, str],  # noqa: F811
) -> None:
    project = project_with_branch(gl, "unchanged-mr")
    project.labels.create({"name": "bug", "color": "#ff0000"})
    project.hooks.create({"url": receiver.url, "merge_requests_events": True, "push_events": False})
    mr = open_mr(project, remove_source_branch=False, labels="bug", assignee_ids=[1])
    receiver.wait_for(1)
    before = project.mergerequests.get(mr.iid)

    # Everything sent again as it is (python-gitlab sends every attribute set, even unchanged).
    same = project.mergerequests.get(mr.iid)
    same.title = before.title
    same.description = before.description
    same.target_branch = before.target_branch
    same.labels = ["bug"]
    same.assignee_ids = [1]
    same.reviewer_ids = []
    same.remove_source_branch = False
    same.squash = before.squash
    same.allow_collaboration = False
    same.discussion_locked = False
    same.save()
    after = project.mergerequests.get(mr.iid)
    assert after.updated_at == before.updated_at
    assert project.mergerequests.get(mr.iid).notes.list(get_all=True) == before.notes.list(
        get_all=True
    )

    # Setting the automatic merge, then setting it again exactly the same way.
    pipelines[mr.sha] = "running"
    mr.merge(merge_when_pipeline_succeeds=True, should_remove_source_branch=False)
    assert _action(receiver.wait_for(2)[1].json()) == "update"
    waiting = project.mergerequests.get(mr.iid)
    assert waiting.merge_when_pipeline_succeeds is True
    mr.merge(merge_when_pipeline_succeeds=True, should_remove_source_branch=False)
    assert project.mergerequests.get(mr.iid).updated_at == waiting.updated_at

    mr.title = "Really changed"
    mr.save()
    deliveries = receiver.wait_for(3)
    assert len(deliveries) == 3
    last = deliveries[2].json()
    assert _action(last) == "update"
    assert last["changes"]["title"]["current"] == "Really changed"
    assert project.mergerequests.get(mr.iid).updated_at > waiting.updated_at


def test_unchanged_issue_update(
    gl: gitlab.Gitlab,
    receiver: Receiver,  # noqa: F811
    allow_local: None,  # noqa: F811
) -> None:
    project = gl.projects.create({"name": "unchanged-issue"})
    project.hooks.create({"url": receiver.url, "issues_events": True, "push_events": False})
    issue = project.issues.create({"title": "Steady", "description": "Same", "labels": ["x"]})
    receiver.wait_for(1)
    before = project.issues.get(issue.iid)

    same = project.issues.get(issue.iid)
    same.title = "Steady"
    same.description = "Same"
    same.labels = ["x"]
    same.assignee_ids = []
    same.confidential = False
    same.discussion_locked = False
    same.save()
    assert project.issues.get(issue.iid).updated_at == before.updated_at

    issue.title = "Moved on"
    issue.save()
    deliveries = receiver.wait_for(2)
    assert len(deliveries) == 2
    assert deliveries[1].json()["object_attributes"]["title"] == "Moved on"
