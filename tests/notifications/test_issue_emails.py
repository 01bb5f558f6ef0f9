"""Issue and comment emails, through real API calls, checked in Django's locmem outbox:
who gets them (levels, participants, mentions, assignees, subscriptions) and GitLab's
threading headers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gitlab

from kiln.notifications.emails import host
from tests.notifications.support import (
    GUEST,
    REPORTER,
    header,
    mails_to,
    member,
    recipients,
    root_email,
    set_level,
)

MakeUser = Callable[..., tuple[Any, gitlab.Gitlab]]


def test_new_issue_and_status_emails(
    gl: gitlab.Gitlab, make_user: MakeUser, mailoutbox: list[Any]
) -> None:
    project = gl.projects.create({"name": "notif-mail"})
    watcher, wgl = make_user("n-watcher")
    quiet, _ = make_user("n-quiet")
    assignee, _ = make_user("n-assignee")
    mentioned, mgl = make_user("n-mentioned")
    for user in (watcher, quiet, assignee, mentioned):
        member(project, user)
    set_level(wgl, project.id, "watch")
    set_level(mgl, project.id, "mention")
    mailoutbox.clear()

    issue = project.issues.create(
        {"title": "Broken build", "description": "cc @n-mentioned", "assignee_ids": [assignee.pk]}
    )
    assert recipients(mailoutbox) == {watcher.email, assignee.email, mentioned.email}
    assert root_email() not in recipients(mailoutbox)  # the author of the action
    first = mails_to(mailoutbox, watcher)[0]
    root_id = f"<issue_{issue.id}@{host()}>"
    assert first.subject == f"notif-mail | Broken build (#{issue.iid})"
    assert header(first, "Message-ID") == root_id
    assert header(first, "X-GitLab-Project") == "notif-mail"
    assert header(first, "X-GitLab-Project-Id") == str(project.id)
    assert header(first, "X-GitLab-Project-Path") == "root/notif-mail"
    assert header(first, "X-GitLab-Issue-ID") == str(issue.id)
    assert header(first, "X-GitLab-Issue-IID") == str(issue.iid)
    assert header(first, "List-Id") == f"root/notif-mail <{project.id}.notif-mail.root.{host()}>"
    assert header(first, "Auto-Submitted") == "auto-generated"
    assert "(@root)" in header(first, "From")
    assert "Broken build" not in first.body or "created an issue" in first.body
    assert header(mails_to(mailoutbox, assignee)[0], "X-GitLab-NotificationReason") == "assigned"
    assert header(mails_to(mailoutbox, mentioned)[0], "X-GitLab-NotificationReason") == (
        "mentioned"
    )

    # Closing: an answer in the issue's thread, to watchers and participants only.
    mailoutbox.clear()
    issue.state_event = "close"
    issue.save()
    assert recipients(mailoutbox) == {watcher.email, assignee.email}
    closed = mails_to(mailoutbox, watcher)[0]
    assert closed.subject == f"Re: notif-mail | Broken build (#{issue.iid})"
    assert header(closed, "In-Reply-To") == root_id
    assert header(closed, "References") == root_id
    assert header(closed, "Message-ID") not in ("", root_id)
    assert "was closed by Administrator" in closed.body

    mailoutbox.clear()
    issue.state_event = "reopen"
    issue.save()
    assert recipients(mailoutbox) == {watcher.email, assignee.email}
    assert "was reopened" in mailoutbox[0].body

    # Reassignment: old and new assignees hear of it (as mentions: even `mention` level).
    set_level(gl, project.id, "participating")
    mailoutbox.clear()
    issue.assignee_ids = [quiet.pk]
    issue.save()
    assert recipients(mailoutbox) == {watcher.email, assignee.email, quiet.email}
    assert header(mails_to(mailoutbox, quiet)[0], "X-GitLab-NotificationReason") == "assigned"
    assert "Assignee changed from N-Assignee to N-Quiet" in mailoutbox[0].body

    # A description edit that mentions someone new mails just them.
    mailoutbox.clear()
    issue.description = "cc @n-mentioned and @n-watcher"
    issue.save()
    assert recipients(mailoutbox) == {watcher.email}
    assert "You have been mentioned" in mailoutbox[0].body


def test_comment_threads_mentions_and_unsubscribing(
    gl: gitlab.Gitlab, make_user: MakeUser, mailoutbox: list[Any]
) -> None:
    project = gl.projects.create({"name": "notif-notes"})
    author, agl = make_user("c-author")
    other, ogl = make_user("c-other")
    bystander, _ = make_user("c-bystander")
    for user in (author, other, bystander):
        member(project, user)
    issue = agl.projects.get(project.id).issues.create({"title": "Question"})
    mailoutbox.clear()

    # Root comments, mentioning `other`: the issue's author (a participant) and `other`.
    note = project.issues.get(issue.iid).notes.create({"body": "Ask @c-other"})
    assert recipients(mailoutbox) == {author.email, other.email}
    message = mails_to(mailoutbox, author)[0]
    root_id = f"<issue_{issue.id}@{host()}>"
    assert header(message, "Message-ID") == f"<note_{note.id}@{host()}>"
    assert header(message, "In-Reply-To") == root_id
    assert message.subject == f"Re: notif-notes | Question (#{issue.iid})"
    assert "Ask @c-other" in message.body
    assert header(mails_to(mailoutbox, other)[0], "X-GitLab-NotificationReason") == "mentioned"

    # A thread: the reply is threaded under the thread's earlier note.
    mailoutbox.clear()
    discussion = project.issues.get(issue.iid).discussions.create({"body": "Thread start"})
    first_id = discussion.attributes["notes"][0]["id"]
    mailoutbox.clear()
    reply = ogl.projects.get(project.id).issues.get(issue.iid)
    reply_note = reply.discussions.get(discussion.id).notes.create({"body": "Answer"})
    assert recipients(mailoutbox) == {author.email, root_email()}
    threaded = mails_to(mailoutbox, author)[0]
    assert header(threaded, "Message-ID") == f"<note_{reply_note.id}@{host()}>"
    assert header(threaded, "In-Reply-To") == f"<note_{first_id}@{host()}>"
    assert header(threaded, "References") == f"{root_id} <note_{first_id}@{host()}>"
    assert header(threaded, "X-GitLab-Discussion-ID") == discussion.id

    # Unsubscribed: no more comments, unless mentioned.
    agl.projects.get(project.id).issues.get(issue.iid).unsubscribe()
    mailoutbox.clear()
    project.issues.get(issue.iid).notes.create({"body": "Anyone?"})
    assert author.email not in recipients(mailoutbox)
    project.issues.get(issue.iid).notes.create({"body": "@c-author please look"})
    assert author.email in recipients(mailoutbox)

    # System notes (labels, titles...) mail nobody.
    mailoutbox.clear()
    edited = project.issues.get(issue.iid)
    edited.title = "Question, edited"
    edited.save()
    assert mailoutbox == []


def test_access_is_checked_when_sending(
    gl: gitlab.Gitlab, make_user: MakeUser, mailoutbox: list[Any]
) -> None:
    project = gl.projects.create({"name": "notif-access"})
    guest, ggl = make_user("a-guest")
    reporter, rgl = make_user("a-reporter")
    blocked, bgl = make_user("a-blocked")
    leaver, lgl = make_user("a-leaver")
    disabled, dgl = make_user("a-disabled")
    member(project, guest, GUEST)
    for user in (reporter, blocked, leaver, disabled):
        member(project, user, REPORTER)
    for client in (ggl, rgl, bgl, lgl):
        set_level(client, project.id, "watch")
    set_level(dgl, project.id, "disabled")
    gl.users.get(blocked.pk).block()
    project.members.delete(leaver.pk)
    mailoutbox.clear()

    # A confidential issue: never to a Guest (who may not see it), a blocked user, a user
    # who left the private project, nor to `disabled` (even as the assignee).
    project.issues.create({"title": "Secret", "confidential": True, "assignee_ids": [disabled.pk]})
    assert recipients(mailoutbox) == {reporter.email}

    # An internal note on an issue a Guest wrote: not to the Guest.
    issue = ggl.projects.get(project.id).issues.create({"title": "Guest issue"})
    assert recipients(mailoutbox) >= {reporter.email}
    mailoutbox.clear()
    project.issues.get(issue.iid).notes.create({"body": "internal", "internal": True})
    assert recipients(mailoutbox) == {reporter.email}
    mailoutbox.clear()
    project.issues.get(issue.iid).notes.create({"body": "public"})
    assert recipients(mailoutbox) == {reporter.email, guest.email}
