"""Merge request webhooks: GitLab's payload for open, update and merge, and the test sample."""

from __future__ import annotations

import gitlab

from tests.merge_requests.support import open_mr, project_with_branch
from tests.webhooks.conftest import Receiver, allow_local, receiver  # noqa: F401


def test_merge_request_events(
    gl: gitlab.Gitlab,
    receiver: Receiver,  # noqa: F811
    allow_local: None,  # noqa: F811
) -> None:
    project = project_with_branch(gl, "hooked")
    project.hooks.create({"url": receiver.url, "merge_requests_events": True, "push_events": False})
    mr = open_mr(project, remove_source_branch=False)
    opened = receiver.wait_for(1)[0]
    assert opened.headers["X-Gitlab-Event"] == "Merge Request Hook"
    body = opened.json()
    assert (body["object_kind"], body["event_type"]) == ("merge_request", "merge_request")
    attrs = body["object_attributes"]
    assert (attrs["action"], attrs["iid"], attrs["state"], attrs["state_id"]) == (
        "open",
        mr.iid,
        "opened",
        1,
    )
    assert attrs["last_commit"]["id"] == mr.sha
    assert body["user"]["username"] == "root"
    assert body["project"]["path_with_namespace"] == "root/hooked"

    mr.title = "Renamed"
    mr.save()
    updated = receiver.wait_for(2)[1].json()
    assert updated["object_attributes"]["action"] == "update"
    assert updated["changes"]["title"] == {"previous": "Add feature", "current": "Renamed"}

    mr.merge()
    merged = receiver.wait_for(3)[2].json()
    assert merged["object_attributes"]["action"] == "merge"
    assert merged["object_attributes"]["state"] == "merged"

    sample = project.hooks.list()[0]
    gl.http_post(f"/projects/{project.id}/hooks/{sample.id}/test/merge_requests_events")
    tested = receiver.wait_for(4)[3].json()
    assert tested["object_attributes"]["iid"] == mr.iid
