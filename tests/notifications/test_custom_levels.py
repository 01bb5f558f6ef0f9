"""The custom level, event by event, through real API calls: a member who turned the event on
gets the email, a member who turned every other event on does not; and participation does
not bring back an event `watch` leaves out (a push) when its flag is off."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gitlab

from tests.merge_requests.support import open_mr, project_with_branch
from tests.notifications.support import (
    member,
    recipients,
    set_custom,
    set_custom_all_but,
    set_level,
)
from tests.repositories.support import commit_files

MakeUser = Callable[..., tuple[Any, gitlab.Gitlab]]


class Pair:
    """Two members with the custom level: `on` has only the event, `off` all but it."""

    def __init__(self, make_user: MakeUser, project: Any, prefix: str) -> None:
        self.project = project
        self.on, self.on_gl = make_user(f"{prefix}-on")
        self.off, self.off_gl = make_user(f"{prefix}-off")
        member(project, self.on)
        member(project, self.off)

    def expect(self, outbox: list[Any], event: str, action: Callable[[], object]) -> None:
        set_custom(self.on_gl, self.project.id, on={event})
        set_custom_all_but(self.off_gl, self.project.id, event)
        outbox.clear()
        action()
        sent = recipients(outbox)
        assert self.on.email in sent, event
        assert self.off.email not in sent, event


def test_custom_issue_events(gl: gitlab.Gitlab, make_user: MakeUser, mailoutbox: list[Any]) -> None:
    project = gl.projects.create({"name": "custom-issues"})
    pair = Pair(make_user, project, "ci")
    assignee, _ = make_user("ci-assignee")
    member(project, assignee)
    created: list[Any] = []

    pair.expect(
        mailoutbox,
        "new_issue",
        lambda: created.append(project.issues.create({"title": "Custom"})),
    )
    issue = created[0]

    def reassign() -> None:
        issue.assignee_ids = [assignee.pk]
        issue.save()

    pair.expect(mailoutbox, "reassign_issue", reassign)
    pair.expect(mailoutbox, "new_note", lambda: issue.notes.create({"body": "A comment"}))

    def state(event: str) -> Callable[[], None]:
        def change() -> None:
            issue.state_event = event
            issue.save()

        return change

    pair.expect(mailoutbox, "close_issue", state("close"))
    pair.expect(mailoutbox, "reopen_issue", state("reopen"))


def test_custom_merge_request_events(
    gl: gitlab.Gitlab, make_user: MakeUser, mailoutbox: list[Any]
) -> None:
    project = project_with_branch(gl, "custom-mrs")
    pair = Pair(make_user, project, "cm")
    assignee, agl = make_user("cm-assignee")
    reviewer, _ = make_user("cm-reviewer")
    for user in (assignee, reviewer):
        member(project, user)
    created: list[Any] = []

    pair.expect(mailoutbox, "new_merge_request", lambda: created.append(open_mr(project)))
    mr = project.mergerequests.get(created[0].iid)

    def update(**attrs: Any) -> Callable[[], None]:
        def change() -> None:
            for name, value in attrs.items():
                setattr(mr, name, value)
            mr.save()

        return change

    pair.expect(mailoutbox, "reassign_merge_request", update(assignee_ids=[assignee.pk]))
    pair.expect(mailoutbox, "change_reviewer_merge_request", update(reviewer_ids=[reviewer.pk]))
    pair.expect(mailoutbox, "new_note", lambda: mr.notes.create({"body": "Looks fine"}))

    # The assignee is a participant with the custom level and every event off: the push is
    # one `watch` leaves out, so participation does not bring it back; a close still comes.
    set_custom(agl, project.id)
    pair.expect(
        mailoutbox,
        "push_to_merge_request",
        lambda: commit_files(project, {"more.txt": "more\n"}, branch="feature", message="More"),
    )
    assert assignee.email not in recipients(mailoutbox)
    pair.expect(mailoutbox, "close_merge_request", update(state_event="close"))
    assert assignee.email in recipients(mailoutbox)
    set_level(agl, project.id, "participating")
    pair.expect(mailoutbox, "reopen_merge_request", update(state_event="reopen"))
    pair.expect(
        mailoutbox,
        "push_to_merge_request",
        lambda: commit_files(project, {"again.txt": "x\n"}, branch="feature", message="Again"),
    )
    assert assignee.email in recipients(mailoutbox)  # `participating` takes pushes
    pair.expect(mailoutbox, "merge_merge_request", lambda: mr.merge())
