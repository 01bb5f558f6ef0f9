"""Merge request emails (new, review requests, pushes, merged, closed, reopened) and levels
inherited from groups, through real API calls, checked in Django's locmem outbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gitlab

from kiln.notifications.emails import host
from tests.merge_requests.support import open_mr, project_with_branch
from tests.notifications.support import header, mails_to, member, recipients, set_level
from tests.repositories.support import commit_files

MakeUser = Callable[..., tuple[Any, gitlab.Gitlab]]


def test_merge_request_lifecycle_emails(
    gl: gitlab.Gitlab, make_user: MakeUser, mailoutbox: list[Any]
) -> None:
    project = project_with_branch(gl, "notif-mr")
    assignee, _ = make_user("m-assignee")
    reviewer, _ = make_user("m-reviewer")
    second, _ = make_user("m-second")
    watcher, wgl = make_user("m-watcher")
    for user in (assignee, reviewer, second, watcher):
        member(project, user)
    set_level(wgl, project.id, "watch")
    mailoutbox.clear()

    mr = open_mr(project, assignee_ids=[assignee.pk], reviewer_ids=[reviewer.pk])
    assert recipients(mailoutbox) == {assignee.email, reviewer.email, watcher.email}
    opened = mails_to(mailoutbox, reviewer)[0]
    root_id = f"<merge_request_{mr.id}@{host()}>"
    assert opened.subject == f"notif-mr | Add feature (!{mr.iid})"
    assert header(opened, "Message-ID") == root_id
    assert header(opened, "X-GitLab-MergeRequest-IID") == str(mr.iid)
    assert header(opened, "X-GitLab-NotificationReason") == "review_requested"
    assert "feature to main" in opened.body

    # A new reviewer: a review request email, in the thread.
    mailoutbox.clear()
    mr = project.mergerequests.get(mr.iid)
    mr.reviewer_ids = [reviewer.pk, second.pk]
    mr.save()
    assert second.email in recipients(mailoutbox)
    request = mails_to(mailoutbox, second)[0]
    assert header(request, "X-GitLab-NotificationReason") == "review_requested"
    assert header(request, "In-Reply-To") == root_id
    assert "M-Second was added as a reviewer." in request.body

    # A push to the source branch: participants, not watchers (GitLab leaves pushes out of
    # `watch`).
    mailoutbox.clear()
    commit_files(project, {"more.txt": "more\n"}, branch="feature", message="Add more")
    assert assignee.email in recipients(mailoutbox)
    assert watcher.email not in recipients(mailoutbox)
    pushed = mails_to(mailoutbox, assignee)[0]
    assert "pushed new commits" in pushed.body
    assert "Add more" in pushed.body

    # Merged: everyone involved, and the watcher.
    mailoutbox.clear()
    project.mergerequests.get(mr.iid).merge()
    assert recipients(mailoutbox) == {
        assignee.email,
        reviewer.email,
        second.email,
        watcher.email,
    }
    merged = mails_to(mailoutbox, watcher)[0]
    assert f"Merge request !{mr.iid} was merged" in merged.body
    assert merged.subject.startswith("Re: notif-mr | ")


def test_close_reopen_and_group_levels(
    gl: gitlab.Gitlab, make_user: MakeUser, mailoutbox: list[Any]
) -> None:
    group = gl.groups.create({"name": "notif-g", "path": "notif-g"})
    custom, cgl = make_user("g-custom")
    watcher, wgl = make_user("g-watcher")
    muted, mgl = make_user("g-muted")
    for user in (custom, watcher, muted):
        group.members.create({"user_id": user.pk, "access_level": 30})
    project = project_with_branch(gl, "notif-gp", namespace_id=group.id)

    # Group levels apply to the group's projects unless the project says otherwise.
    for client, level, events in (
        (cgl, "custom", {"new_issue": True, "close_merge_request": True}),
        (wgl, "watch", {}),
        (mgl, "watch", {}),
    ):
        setting = client.groups.get(group.id).notificationsettings.get()
        setting.level = level
        for name, value in events.items():
            setattr(setting, name, value)
        setting.save()
    set_level(mgl, project.id, "disabled")
    mailoutbox.clear()

    project.issues.create({"title": "Group issue"})
    assert recipients(mailoutbox) == {custom.email, watcher.email}

    mr = open_mr(project)
    mailoutbox.clear()
    mr.state_event = "close"
    mr.save()
    assert recipients(mailoutbox) == {custom.email, watcher.email}
    assert "was closed by Administrator" in mailoutbox[0].body
    mailoutbox.clear()
    mr.state_event = "reopen"
    mr.save()
    # `reopen_merge_request` is off for the custom level.
    assert recipients(mailoutbox) == {watcher.email}

    # Emails turned off for the group: nobody hears anything.
    gl.groups.update(group.id, {"emails_enabled": False})
    mailoutbox.clear()
    project.issues.create({"title": "Silent"})
    assert mailoutbox == []
