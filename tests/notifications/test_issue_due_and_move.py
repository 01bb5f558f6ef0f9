"""Issues coming due (the worker's daily run, through its periodic scheduler) and moved
issues, driven through the real API and checked in Django's locmem outbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import gitlab
from django.utils import timezone

from kiln.ci.periodic import run_due
from kiln.notifications import tasks
from kiln.notifications.emails import host
from tests.notifications.support import header, mails_to, member, recipients, set_custom, set_level

MakeUser = Callable[..., tuple[Any, gitlab.Gitlab]]


def test_issue_due_tomorrow_emails_participants_once_a_day(
    gl: gitlab.Gitlab, make_user: MakeUser, mailoutbox: list[Any]
) -> None:
    project = gl.projects.create({"name": "notif-due"})
    author, agl = make_user("d-author")
    assignee, _ = make_user("d-assignee")
    muted, mgl = make_user("d-muted")  # a participant whose custom level leaves due dates off
    watcher, wgl = make_user("d-watcher")  # `watch` leaves due dates out
    opted, ogl = make_user("d-opted")  # not a participant, `issue_due` on
    for user in (author, assignee, muted, watcher, opted):
        member(project, user)
    set_custom(mgl, project.id, on={"new_note", "close_issue"})
    set_level(wgl, project.id, "watch")
    set_custom(ogl, project.id, on={"issue_due"})
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    own = agl.projects.get(project.id)
    issue = own.issues.create(
        {
            "title": "Ship it",
            "due_date": tomorrow.isoformat(),
            "assignee_ids": [assignee.pk, muted.pk],
        }
    )
    own.issues.create({"title": "Later", "due_date": (tomorrow + dt.timedelta(days=1)).isoformat()})
    closed = own.issues.create({"title": "Done", "due_date": tomorrow.isoformat()})
    closed.state_event = "close"
    closed.save()
    mailoutbox.clear()

    assert "notifications.issue_due" in run_due()
    # Nobody "acted": the author hears of it too.
    assert recipients(mailoutbox) == {author.email, assignee.email, opted.email}
    due = mails_to(mailoutbox, assignee)[0]
    root_id = f"<issue_{issue.id}@{host()}>"
    assert due.subject == f"Re: notif-due | Ship it (#{issue.iid})"
    assert header(due, "In-Reply-To") == root_id
    assert header(due, "References") == root_id
    assert "(@d-author)" in header(due, "From")
    assert f"is due on {tomorrow.isoformat()}" in due.body

    # Once a day, however often the scheduler runs the task.
    mailoutbox.clear()
    assert tasks.send_issue_due_notifications.call() == 0
    assert mailoutbox == []
    assert tasks._claim_day(timezone.now() + dt.timedelta(days=1))


def test_moved_issue_emails_say_where_it_went_to_those_who_may_see_it(
    gl: gitlab.Gitlab, make_user: MakeUser, mailoutbox: list[Any]
) -> None:
    source = gl.projects.create({"name": "move-from"})
    target = gl.projects.create({"name": "move-to"})
    both, _ = make_user("mv-both")
    local, lgl = make_user("mv-local")
    watcher, wgl = make_user("mv-watcher")
    for user in (both, local, watcher):
        member(source, user)
    member(target, both)
    set_level(wgl, source.id, "watch")
    issue = source.issues.create({"title": "Wandering", "assignee_ids": [both.pk]})
    lgl.projects.get(source.id).issues.get(issue.iid).notes.create({"body": "Me too"})
    old_id, old_iid = issue.id, issue.iid
    mailoutbox.clear()

    issue.move(target.id)  # python-gitlab's object becomes the copy
    assert recipients(mailoutbox) == {both.email, local.email, watcher.email}
    assert len(mailoutbox) == 3  # the move closes the issue without a second email
    moved = mails_to(mailoutbox, both)[0]
    assert moved.subject == f"Re: move-from | Wandering (#{old_iid})"
    assert header(moved, "In-Reply-To") == f"<issue_{old_id}@{host()}>"
    assert "was moved to another project by Administrator" in moved.body
    assert f"New issue location: http://{host()}" in moved.body
    assert f"/root/move-to/-/issues/{issue.iid}\n" in moved.body
    hidden = mails_to(mailoutbox, local)[0]
    assert "move-to" not in hidden.body
    assert "You don't have access to the project it was moved to." in hidden.body
