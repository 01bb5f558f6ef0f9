"""Issue and note webhook payloads, and the confidential scopes they go to."""

from __future__ import annotations

from typing import Any

import pytest

from kiln.webhooks import triggers
from kiln.webhooks.payloads import sample_for
from tests.issues import builders as ib
from tests.projects import builders as b


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(*, project: Any, data: dict[str, Any], trigger: str) -> None:
        calls.append((trigger, data))

    monkeypatch.setattr(triggers, "execute_project_hooks", record)
    return calls


def test_issue_and_note_hooks(
    db: None, sent: list[tuple[str, dict[str, Any]]], django_capture_on_commit_callbacks: Any
) -> None:
    owner = b.user("hookowner")
    project = ib.project(owner)
    with django_capture_on_commit_callbacks(execute=True):
        issue = ib.issue(project, owner, "Hooked", labels=["bug"], assignee_ids=[owner.pk])
    trigger, data = sent[-1]
    assert trigger == "issue_hooks"
    assert (data["object_kind"], data["event_type"]) == ("issue", "issue")
    attrs = data["object_attributes"]
    assert (attrs["action"], attrs["iid"], attrs["title"], attrs["state"]) == (
        "open",
        issue.iid,
        "Hooked",
        "opened",
    )
    assert [lb["title"] for lb in data["labels"]] == ["bug"]
    assert data["assignees"][0]["username"] == "hookowner"
    assert data["project"]["path_with_namespace"] == project.full_path
    from kiln.issues.services import update_issue

    with django_capture_on_commit_callbacks(execute=True):
        update_issue(actor=b.actor(owner), issue=issue, confidential=True)
    assert sent[-1][0] == "confidential_issue_hooks"
    assert sent[-1][1]["event_type"] == "confidential_issue"
    with django_capture_on_commit_callbacks(execute=True):
        ib.note(issue, owner, "a comment")
    trigger, data = sent[-1]
    assert trigger == "confidential_note_hooks"
    assert data["object_attributes"]["note"] == "a comment"
    assert data["issue"]["iid"] == issue.iid


def test_hook_test_samples(db: None) -> None:
    from kiln.webhooks.payloads import TestDataUnavailable

    owner = b.user("sampleowner")
    project = ib.project(owner)
    with pytest.raises(TestDataUnavailable, match=r"Ensure the project has issues\."):
        sample_for("issues_events", project, b.actor(owner))
    issue = ib.issue(project, owner, "sample")
    assert sample_for("issues_events", project, b.actor(owner))["object_kind"] == "issue"
    with pytest.raises(TestDataUnavailable, match=r"Ensure the project has notes\."):
        sample_for("note_events", project, b.actor(owner))
    ib.note(issue, owner, "sample note")
    assert sample_for("note_events", project, b.actor(owner))["object_kind"] == "note"
