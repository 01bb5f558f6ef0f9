"""Approvals, automatic merges, comments on commits and `@group` mentions, through real API
calls, checked in Django's locmem outbox: recipients, subjects and threading headers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gitlab

from kiln.notifications.emails import host
from tests.merge_requests.support import project_with_branch
from tests.notifications.support import (
    MAINTAINER,
    header,
    mails_to,
    member,
    recipients,
    root_email,
    set_custom,
    set_custom_all_but,
    set_level,
)
from tests.repositories.support import commit_files

MakeUser = Callable[..., tuple[Any, gitlab.Gitlab]]

CI = "test:\n  script:\n    - echo hi\n"


def test_approvals_and_merge_when_pipeline_succeeds(
    gl: gitlab.Gitlab, make_user: MakeUser, mailoutbox: list[Any]
) -> None:
    # The feature branch has a CI file: its pipeline stays pending (no runner), so an
    # automatic merge can be set.
    project = project_with_branch(gl, "notif-review", changes={".gitlab-ci.yml": CI})
    author, augl = make_user("r-author")
    reviewer, _ = make_user("r-reviewer")
    watcher, wgl = make_user("r-watcher")
    opted, ogl = make_user("r-opted")
    declined, dgl = make_user("r-declined")
    for user in (author, reviewer, watcher, opted, declined):
        member(project, user)
    set_level(wgl, project.id, "watch")
    set_custom(ogl, project.id, on={"merge_when_pipeline_succeeds"})
    set_custom_all_but(dgl, project.id, "merge_when_pipeline_succeeds")
    created = augl.projects.get(project.id).mergerequests.create(
        {
            "source_branch": "feature",
            "target_branch": "main",
            "title": "Review me",
            "reviewer_ids": [reviewer.pk],
        }
    )
    mr = project.mergerequests.get(created.iid)
    root_id = f"<merge_request_{mr.id}@{host()}>"
    mailoutbox.clear()

    # Approvals: the author and participants, and watchers (no custom event takes them).
    mr.approve()
    assert recipients(mailoutbox) == {author.email, reviewer.email, watcher.email}
    approved = mails_to(mailoutbox, author)[0]
    assert approved.subject == f"Re: notif-review | Review me (!{mr.iid})"
    assert header(approved, "In-Reply-To") == root_id
    assert header(approved, "X-GitLab-NotificationReason") == ""
    assert f"Merge request !{mr.iid} was approved by Administrator" in approved.body
    mailoutbox.clear()
    mr.unapprove()
    assert recipients(mailoutbox) == {author.email, reviewer.email, watcher.email}
    assert "was unapproved by Administrator" in mails_to(mailoutbox, reviewer)[0].body

    mailoutbox.clear()
    mr.merge(merge_when_pipeline_succeeds=True)
    assert project.mergerequests.get(mr.iid).merge_when_pipeline_succeeds is True
    assert recipients(mailoutbox) == {author.email, reviewer.email, watcher.email, opted.email}
    auto = mails_to(mailoutbox, opted)[0]
    assert auto.subject == f"Re: notif-review | Review me (!{mr.iid})"
    assert header(auto, "References") == root_id
    assert "Administrator set merge request" in auto.body
    assert "when its pipeline succeeds" in auto.body
    # Set again: nothing new, no email.
    mailoutbox.clear()
    mr.merge(merge_when_pipeline_succeeds=True)
    assert mailoutbox == []


def test_comments_on_commits(gl: gitlab.Gitlab, make_user: MakeUser, mailoutbox: list[Any]) -> None:
    project = gl.projects.create({"name": "notif-commits"})
    coder, cgl = make_user("c-coder")
    replier, rgl = make_user("c-replier")
    named, _ = make_user("c-named")
    outsider, _ = make_user("c-outsider")  # mentioned, but may not read the private project
    member(project, coder, MAINTAINER)
    for user in (replier, named):
        member(project, user)
    sha = commit_files(
        cgl.projects.get(project.id), {"app.py": "print()\n"}, message="Add the app"
    )["id"]
    mailoutbox.clear()

    commit = project.commits.get(sha)
    thread = commit.discussions.create({"body": "Why? cc @c-named @c-outsider"})
    first_note = thread.attributes["notes"][0]["id"]
    # The commit's author (a user by their email) and the mentioned member.
    assert recipients(mailoutbox) == {coder.email, named.email}
    assert outsider.email not in recipients(mailoutbox)
    first = mails_to(mailoutbox, coder)[0]
    root_id = f"<commit_{sha}@{host()}>"
    assert first.subject == f"Re: notif-commits | Add the app ({sha[:8]})"
    assert header(first, "Message-ID") == f"<note_{first_note}@{host()}>"
    assert header(first, "In-Reply-To") == root_id
    assert header(first, "References") == root_id
    assert header(first, "X-GitLab-Commit-ID") == sha
    assert header(first, "X-GitLab-Discussion-ID") == thread.id
    assert header(mails_to(mailoutbox, named)[0], "X-GitLab-NotificationReason") == "mentioned"
    assert f"/root/notif-commits/-/commit/{sha}#note_{first_note}" in first.body

    # A reply in the thread: the earlier commenter, the commit's author, and who was
    # mentioned in the thread (a participant now).
    mailoutbox.clear()
    reply = (
        rgl.projects.get(project.id)
        .commits.get(sha)
        .discussions.get(thread.id)
        .notes.create({"body": "Because."})
    )
    assert recipients(mailoutbox) == {root_email(), coder.email, named.email}
    answer = mails_to(mailoutbox, coder)[0]
    note_id = f"<note_{first_note}@{host()}>"
    assert header(answer, "Message-ID") == f"<note_{reply.id}@{host()}>"
    assert header(answer, "In-Reply-To") == note_id
    assert header(answer, "References") == f"{root_id} {note_id}"


def test_group_mentions_reach_members_who_may_see_it(
    gl: gitlab.Gitlab, make_user: MakeUser, mailoutbox: list[Any]
) -> None:
    team = gl.groups.create({"name": "notif-team", "path": "notif-team", "visibility": "public"})
    hidden = gl.groups.create({"name": "hidden-team", "path": "hidden-team"})  # private
    writer, wgl = make_user("g-writer")
    listener, _ = make_user("g-listener")
    muted, mgl = make_user("g-muted")
    stranger, _ = make_user("g-stranger")  # in the team, not in the private project
    secret, _ = make_user("g-secret")  # in the hidden team and the project
    for user in (listener, muted, stranger):
        team.members.create({"user_id": user.pk, "access_level": 30})
    hidden.members.create({"user_id": secret.pk, "access_level": 30})
    project = gl.projects.create({"name": "notif-mentions"})
    for user in (writer, listener, muted, secret):
        member(project, user)
    set_level(mgl, project.id, "disabled")
    issue = project.issues.create({"title": "Needs eyes"})
    mailoutbox.clear()

    wgl.projects.get(project.id).issues.get(issue.iid).notes.create(
        {"body": "Ping @notif-team and @hidden-team"}
    )
    # The team's owner (root, who created it) and member; not the muted member, not the
    # one who cannot see the project, not the hidden team the writer cannot see.
    assert recipients(mailoutbox) == {root_email(), listener.email}
    pinged = mails_to(mailoutbox, listener)[0]
    assert header(pinged, "X-GitLab-NotificationReason") == "mentioned"

    # Mentions turned off for the group: nobody is reached through it.
    gl.groups.update(team.id, {"mentions_disabled": True})
    mailoutbox.clear()
    wgl.projects.get(project.id).issues.get(issue.iid).notes.create({"body": "Again @notif-team"})
    assert listener.email not in recipients(mailoutbox)
