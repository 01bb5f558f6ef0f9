"""`/notification_settings`, `/projects/:id/notification_settings`,
`/groups/:id/notification_settings` through python-gitlab, with GitLab's shapes and errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gitlab
import pytest
import requests

EVENTS = [
    "new_release",
    "new_note",
    "new_issue",
    "reopen_issue",
    "close_issue",
    "reassign_issue",
    "issue_due",
    "new_merge_request",
    "push_to_merge_request",
    "reopen_merge_request",
    "close_merge_request",
    "reassign_merge_request",
    "change_reviewer_merge_request",
    "merge_merge_request",
    "failed_pipeline",
    "fixed_pipeline",
    "success_pipeline",
    "moved_project",
    "merge_when_pipeline_succeeds",
]


def _shown(setting: Any) -> dict[str, Any]:
    """What the server sent (python-gitlab adds the parent's id to the attributes)."""
    return {k: v for k, v in setting.attributes.items() if k not in ("project_id", "group_id")}


def _put(server_url: str, token: str, path: str, **params: Any) -> requests.Response:
    return requests.put(
        f"{server_url}/api/v4{path}",
        headers={"PRIVATE-TOKEN": token},
        json=params,
        timeout=30,
    )


def test_global_settings_default_and_update(
    make_user: Callable[..., tuple[Any, gitlab.Gitlab]],
) -> None:
    _user, ugl = make_user("notif-global")
    settings = ugl.notificationsettings.get()
    assert settings.attributes == {
        "level": "participating",
        "notification_email": "notif-global@example.com",
    }
    settings.level = "watch"
    settings.save()
    assert ugl.notificationsettings.get().attributes["level"] == "watch"

    settings.level = "custom"
    settings.new_note = True
    settings.save()
    fresh = ugl.notificationsettings.get().attributes
    assert fresh["level"] == "custom"
    assert list(fresh["events"]) == EVENTS
    assert fresh["events"]["new_note"] is True
    assert fresh["events"]["new_issue"] is False
    # GitLab keeps pipeline failures on for custom levels unless turned off.
    assert fresh["events"]["failed_pipeline"] is True
    assert fresh["notification_email"] == "notif-global@example.com"


def test_project_and_group_settings(
    gl: gitlab.Gitlab, make_user: Callable[..., tuple[Any, gitlab.Gitlab]]
) -> None:
    _user, ugl = make_user("notif-source")
    group = gl.groups.create({"name": "notif-grp", "path": "notif-grp", "visibility": "public"})
    project = gl.projects.create(
        {"name": "notif-proj", "namespace_id": group.id, "visibility": "public"}
    )
    mine = ugl.projects.get(project.id)
    assert _shown(mine.notificationsettings.get()) == {"level": "global"}
    setting = mine.notificationsettings.get()
    setting.level = "custom"
    setting.close_issue = True
    setting.save()
    shown = _shown(mine.notificationsettings.get())
    assert shown["level"] == "custom"
    assert shown["events"]["close_issue"] is True

    # By path, too.
    by_path = ugl.projects.get("notif-grp/notif-proj").notificationsettings.get()
    assert by_path.attributes["level"] == "custom"

    theirs = ugl.groups.get(group.id)
    assert _shown(theirs.notificationsettings.get()) == {"level": "global"}
    gsetting = theirs.notificationsettings.get()
    gsetting.level = "disabled"
    gsetting.save()
    assert _shown(theirs.notificationsettings.get()) == {"level": "disabled"}
    # Other users' settings are their own.
    assert _shown(gl.groups.get(group.id).notificationsettings.get()) == {"level": "global"}


def test_hostile_input(
    server_url: str, gl: gitlab.Gitlab, make_user: Callable[..., tuple[Any, gitlab.Gitlab]]
) -> None:
    _user, ugl = make_user("notif-hostile")
    token = ugl.private_token
    assert token is not None

    # An unknown level: 400 with GitLab's message, and nothing else written either.
    response = _put(server_url, token, "/notification_settings", level="loud", new_note=True)
    assert response.status_code == 400
    assert response.json() == {"message": "'loud' is not a valid level"}
    assert ugl.notificationsettings.get().attributes["level"] == "participating"
    response = _put(server_url, token, "/notification_settings", level="custom")
    assert response.json().get("events", {}).get("new_note") is False

    response = _put(server_url, token, "/notification_settings", new_note="maybe")
    assert response.status_code == 400
    assert "new_note" in response.json()["error"]

    response = _put(server_url, token, "/notification_settings", level=5)
    assert response.status_code == 400

    # Someone else's address is refused; the own primary address is fine.
    response = _put(
        server_url, token, "/notification_settings", notification_email="root@example.com"
    )
    assert response.status_code == 400
    assert response.json() == {
        "message": {"notification_email": ["must be an email you have verified"]}
    }
    response = _put(
        server_url, token, "/notification_settings", notification_email="notif-hostile@example.com"
    )
    assert response.status_code == 200

    # Private projects and groups of others: 404, as if missing.
    private = gl.projects.create({"name": "notif-private"})
    response = _put(
        server_url, token, f"/projects/{private.id}/notification_settings", level="watch"
    )
    assert response.status_code == 404
    assert response.json() == {"message": "404 Project Not Found"}
    hidden = gl.groups.create({"name": "notif-hidden", "path": "notif-hidden"})
    response = _put(server_url, token, f"/groups/{hidden.id}/notification_settings", level="watch")
    assert response.status_code == 404
    response = _put(server_url, token, "/projects/99999999/notification_settings", level="x")
    assert response.status_code == 404

    # Signed in only.
    anonymous = requests.get(f"{server_url}/api/v4/notification_settings", timeout=30)
    assert anonymous.status_code == 401
    with pytest.raises(gitlab.GitlabGetError):
        ugl.projects.get(private.id)
