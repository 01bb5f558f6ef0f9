"""Moved projects (GitLab's `project_was_moved`): a transfer or a new path emails the project's
Maintainers and Owners at its new place, through the real API, as their levels allow."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gitlab
import pytest

from kiln.core.urls import base_url
from tests.notifications.support import (
    DEVELOPER,
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

MakeUser = Callable[..., tuple[Any, gitlab.Gitlab]]


def test_transfer_emails_maintainers_of_the_new_place(
    gl: gitlab.Gitlab, make_user: MakeUser, mailoutbox: list[Any]
) -> None:
    old = gl.groups.create({"name": "Old Home", "path": "old-home", "visibility": "private"})
    new = gl.groups.create({"name": "New Home", "path": "new-home", "visibility": "private"})
    project = gl.projects.create(
        {"name": "Wanderer", "namespace_id": old.id, "visibility": "private"}
    )
    keeper, _ = make_user("mv-keeper")  # direct Maintainer, default level (participating)
    dev, _ = make_user("mv-dev")  # a Developer: not asked
    opted, ogl = make_user("mv-opted")  # custom with only `moved_project`
    unopted, ugl = make_user("mv-unopted")  # custom with everything but `moved_project`
    muted, mgl = make_user("mv-muted")  # disabled
    mentioned, ngl = make_user("mv-mention")  # mention: not a mention
    watcher, wgl = make_user("mv-watcher")  # watch
    blocked, _ = make_user("mv-blocked")
    leaver, _ = make_user("mv-leaver")  # Maintainer of the old group only: loses access
    newcomer, _ = make_user("mv-newcomer")  # Maintainer of the new group
    for user in (keeper, opted, unopted, muted, mentioned, watcher, blocked):
        member(project, user, MAINTAINER)
    member(project, dev, DEVELOPER)
    old.members.create({"user_id": leaver.pk, "access_level": MAINTAINER})
    new.members.create({"user_id": newcomer.pk, "access_level": MAINTAINER})
    set_custom(ogl, project.id, on={"moved_project"})
    set_custom_all_but(ugl, project.id, "moved_project")
    set_level(mgl, project.id, "disabled")
    set_level(ngl, project.id, "mention")
    set_level(wgl, project.id, "watch")
    gl.users.get(blocked.pk).block()
    mailoutbox.clear()

    project.transfer("new-home")

    # The root user moved it and owns both groups: GitLab names no acting user here.
    assert recipients(mailoutbox) == {
        keeper.email,
        opted.email,
        watcher.email,
        newcomer.email,
        root_email(),
    }
    mail = mails_to(mailoutbox, keeper)[0]
    assert mail.subject == "Wanderer | Project was moved"
    assert "Project old-home/wanderer was moved to another location." in mail.body
    assert f"{base_url()}/new-home/wanderer\n" in mail.body
    assert f"git remote set-url origin {base_url()}/new-home/wanderer.git" in mail.body
    assert header(mail, "X-GitLab-Project-Path") == "new-home/wanderer"
    assert header(mail, "X-GitLab-Project-Id") == str(project.id)


def test_new_path_emails_and_other_changes_do_not(
    gl: gitlab.Gitlab, make_user: MakeUser, mailoutbox: list[Any]
) -> None:
    owner, ogl = make_user("mv-owner")
    keeper, _ = make_user("mv-keeper2")
    mine = ogl.projects.create({"name": "Renamed", "visibility": "private"})
    member(mine, keeper, MAINTAINER)
    mailoutbox.clear()

    mine.name = "Renamed Again"
    mine.description = "Same path"
    mine.save()
    assert mailoutbox == []  # the path stayed

    mine.path = "renamed-again"
    mine.save()
    # The owner of the personal namespace is an Owner of the project; they moved it.
    assert recipients(mailoutbox) == {owner.email, keeper.email}
    mail = mails_to(mailoutbox, keeper)[0]
    assert mail.subject == "Renamed Again | Project was moved"
    assert "Project mv-owner/renamed was moved to another location." in mail.body
    assert f"{base_url()}/mv-owner/renamed-again\n" in mail.body

    # A refused rename changes nothing and emails nobody.
    mailoutbox.clear()
    other = ogl.projects.create({"name": "Taken"})
    mine.path = other.path
    with pytest.raises(gitlab.GitlabUpdateError) as refused:
        mine.save()
    assert refused.value.response_code == 400
    assert mailoutbox == []


def test_project_emails_disabled_sends_nothing(
    gl: gitlab.Gitlab, make_user: MakeUser, mailoutbox: list[Any]
) -> None:
    keeper, _ = make_user("mv-quiet")
    project = gl.projects.create({"name": "Quiet", "emails_enabled": False})
    member(project, keeper, MAINTAINER)
    mailoutbox.clear()
    project.path = "quieter"
    project.save()
    assert mailoutbox == []
