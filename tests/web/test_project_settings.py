"""Project settings pages: general, members, repository (protected branches and tags), merge
requests and webhooks. Who may see each page (the API's levels: Maintainer for settings, Owner
for visibility, archive, transfer and delete), CSRF on every form, hostile input rendered inert,
and the actions going through the same services as the API."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import gitlab
import pytest
import requests

from tests.web.conftest import ROOT_PASSWORD

PASSWORD = "password-123"  # make_user's default
XSS = '<img src=x onerror="alert(1)">'


class Web:
    """A browser-like session on the live server, signed in through the real form."""

    def __init__(self, base: str, username: str | None = None, password: str = PASSWORD) -> None:
        self.base = base
        self.http = requests.Session()
        if username is not None:
            page = self.http.get(f"{base}/users/sign_in", timeout=60)
            response = self.http.post(
                f"{base}/users/sign_in",
                data={
                    "username": username,
                    "password": password,
                    "csrfmiddlewaretoken": _token(page.text),
                },
                allow_redirects=False,
                timeout=60,
            )
            assert response.status_code == 302, response.text[:500]

    def get(self, path: str, **params: str) -> requests.Response:
        return self.http.get(f"{self.base}{path}", params=params, timeout=60)

    def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True) -> Any:
        body = dict(data or {})
        if csrf:
            body["csrfmiddlewaretoken"] = self.http.cookies.get("csrftoken", "")
        return self.http.post(f"{self.base}{path}", data=body, allow_redirects=False, timeout=60)

    def follow(self, path: str, data: dict[str, Any] | None = None) -> requests.Response:
        """POST, then GET where it redirected (the page with the flash message)."""
        response = self.post(path, data)
        assert response.status_code == 302, (response.status_code, response.text[:2000])
        return self.get(response.headers["Location"])


def _token(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def forms_have_csrf(html: str) -> None:
    """Every POST form of the page carries the CSRF token."""
    forms = re.findall(r"<form[^>]*>.*?</form>", html, flags=re.S | re.I)
    posts = [f for f in forms if 'method="post"' in f.lower()]
    assert posts, "no form on the page"
    for form in posts:
        assert "csrfmiddlewaretoken" in form, form[:300]


def web_factory(server_url: str) -> Callable[..., Web]:
    """`web(username)`: a signed-in session (anonymous without a username)."""

    def make(username: str | None = None, password: str = PASSWORD) -> Web:
        return Web(server_url, username, password)

    return make


@pytest.fixture
def web(server_url: str) -> Callable[..., Web]:
    return web_factory(server_url)


@pytest.fixture
def team(gl: gitlab.Gitlab, make_user: Any) -> dict[str, Any]:
    """A private group with a project (README on main, a `feature` branch) and one user per
    role in the project, an outsider, and root (admin)."""
    group = gl.groups.create({"name": "Team", "path": "team", "visibility": "private"})
    project = gl.projects.create(
        {"name": "App", "path": "app", "namespace_id": group.id, "initialize_with_readme": True}
    )
    project.branches.create({"branch": "feature", "ref": "main"})
    roles = {"guest": 10, "reporter": 20, "developer": 30, "maintainer": 40, "owner": 50}
    users = {}
    for role, level in roles.items():
        user, _ = make_user(role)
        project.members.create({"user_id": user.pk, "access_level": level})
        users[role] = user
    users["outsider"], _ = make_user("outsider")
    return {"group": group, "project": project, "users": users, "path": "/team/app"}


SETTINGS_PAGES = [
    "/-/settings/general",
    "/-/settings/repository",
    "/-/settings/merge_requests",
    "/-/hooks",
]
MAY_ADMIN = {"maintainer", "owner", "root"}


def test_settings_pages_need_maintainer(team: dict[str, Any], web: Callable[..., Web]) -> None:
    sessions = {name: web(name) for name in team["users"]}
    sessions["root"] = web("root", ROOT_PASSWORD)
    sessions["anonymous"] = web()
    for page in SETTINGS_PAGES:
        for name, session in sessions.items():
            response = session.get(team["path"] + page)
            expected = 200 if name in MAY_ADMIN else 404
            assert response.status_code == expected, (page, name)
            if expected == 404:
                assert "Page not found" in response.text
                assert "Traceback" not in response.text
            else:
                forms_have_csrf(response.text)
    # Members: every member may read the list; outsiders of a private project may not.
    for name, session in sessions.items():
        response = session.get(team["path"] + "/-/project_members")
        expected = 404 if name in ("outsider", "anonymous") else 200
        assert response.status_code == expected, name
    members = sessions["guest"].get(team["path"] + "/-/project_members").text
    assert "Invite" not in members
    assert "Remove" not in members
    assert "Invite a member" in sessions["maintainer"].get(team["path"] + "/-/project_members").text


def test_posts_need_the_level_and_the_csrf_token(
    team: dict[str, Any], web: Callable[..., Web], gl: gitlab.Gitlab
) -> None:
    path = team["path"]
    developer, maintainer, owner = web("developer"), web("maintainer"), web("owner")
    # Below Maintainer nothing changes, whatever is posted.
    for action, data in [
        ("/-/settings/general", {"name": "Pwned"}),
        ("/-/protected_branches", {"name": "feature"}),
        ("/-/hooks", {"url": "https://example.com/h", "push_events": "1"}),
        ("/-/project_members", {"username": "outsider", "access_level": "30"}),
    ]:
        assert developer.post(path + action, data).status_code == 404, action
    # Maintainers may not do what needs an Owner: visibility, archive, transfer, delete.
    assert (
        maintainer.post(path + "/-/settings/general", {"visibility_level": "20"}).status_code == 404
    )
    for action in ("archive", "transfer", "delete"):
        response = maintainer.post(f"{path}/-/settings/general/{action}", {"confirm": "team/app"})
        assert response.status_code == 404, action
    general = maintainer.get(path + "/-/settings/general").text
    assert "Delete project" not in general
    assert "Transfer project" not in general
    # Without the CSRF token even the owner is refused.
    refused = owner.post(path + "/-/settings/general", {"name": "Nope"}, csrf=False)
    assert refused.status_code == 403
    project = gl.projects.get(team["project"].id)
    assert project.name == "App"
    assert project.visibility == "private"
    assert not project.archived


def test_general_settings_update_archive_and_delete(
    team: dict[str, Any], web: Callable[..., Web], gl: gitlab.Gitlab
) -> None:
    path = team["path"]
    maintainer, owner = web("maintainer"), web("owner")
    page = maintainer.follow(
        path + "/-/settings/general",
        {
            "name": "App 2",
            "description": f"Hello {XSS}",
            "topics": "python, web , python",
            "default_branch": "feature",
        },
    )
    assert "was successfully updated" in page.text
    project = gl.projects.get(team["project"].id)
    assert (project.name, project.default_branch) == ("App 2", "feature")
    assert project.topics == ["python", "web"]
    assert XSS not in page.text
    assert "&lt;img src=x" in page.text
    # A service refusal comes back on the form with its own words.
    taken = maintainer.post(path + "/-/settings/general", {"path": "-bad"})
    assert taken.status_code == 200
    assert "Path can contain only letters" in taken.text
    # Owners change visibility (the group is private: public is refused by the service).
    refused = owner.post(path + "/-/settings/general", {"visibility_level": "20"})
    assert "is not allowed in a private group" in refused.text
    # Archive, unarchive.
    owner.follow(path + "/-/settings/general/archive")
    assert gl.projects.get(team["project"].id).archived
    owner.follow(path + "/-/settings/general/unarchive")
    assert not gl.projects.get(team["project"].id).archived
    # Delete needs the path typed exactly.
    wrong = owner.post(path + "/-/settings/general/delete", {"confirm": "app"})
    assert wrong.status_code == 200
    assert "to confirm the deletion" in wrong.text
    gone = owner.post(path + "/-/settings/general/delete", {"confirm": "team/app"})
    assert gone.status_code == 302
    with pytest.raises(gitlab.GitlabGetError):
        gl.projects.get(team["project"].id)


def test_transfer_to_another_namespace(
    team: dict[str, Any], web: Callable[..., Web], gl: gitlab.Gitlab
) -> None:
    other = gl.groups.create({"name": "Other", "path": "other", "visibility": "private"})
    root = web("root", ROOT_PASSWORD)
    page = root.get(team["path"] + "/-/settings/general").text
    assert f'<option value="{other.id}">other</option>' in page
    mismatch = root.post(
        team["path"] + "/-/settings/general/transfer",
        {"new_namespace_id": str(other.id), "confirm": "wrong"},
    )
    assert "to confirm the transfer" in mismatch.text
    moved = root.post(
        team["path"] + "/-/settings/general/transfer",
        {"new_namespace_id": str(other.id), "confirm": "team/app"},
    )
    assert moved.headers["Location"] == "/other/app/-/settings/general"
    assert gl.projects.get(team["project"].id).path_with_namespace == "other/app"


def test_members_add_change_remove(
    team: dict[str, Any], web: Callable[..., Web], gl: gitlab.Gitlab
) -> None:
    path = team["path"]
    maintainer, owner = web("maintainer"), web("owner")
    outsider = team["users"]["outsider"]
    added = maintainer.follow(
        path + "/-/project_members", {"username": "outsider", "access_level": "30"}
    )
    assert "outsider was added" in added.text
    project = gl.projects.get(team["project"].id)
    assert project.members.get(outsider.pk).access_level == 30
    # Unknown users and duplicates are told, not crashed on.
    unknown = maintainer.post(
        path + "/-/project_members", {"username": "nobody", "access_level": "30"}
    )
    assert "User nobody not found." in unknown.text
    again = maintainer.post(
        path + "/-/project_members", {"username": "outsider", "access_level": "30"}
    )
    assert "Member already exists" in again.text
    # Maintainers may not grant Owner (the service's rule); Owners may.
    assert (
        maintainer.post(
            f"{path}/-/project_members/{outsider.pk}", {"access_level": "50"}
        ).status_code
        == 404
    )
    owner.follow(f"{path}/-/project_members/{outsider.pk}", {"access_level": "40"})
    assert project.members.get(outsider.pk).access_level == 40
    owner.follow(f"{path}/-/project_members/{outsider.pk}/remove")
    with pytest.raises(gitlab.GitlabGetError):
        project.members.get(outsider.pk)
    # A guest may leave by themselves.
    guest = web("guest")
    left = guest.post(f"{path}/-/project_members/{team['users']['guest'].pk}/remove")
    assert left.status_code == 302


def test_protect_and_unprotect_branches_and_tags(
    team: dict[str, Any], web: Callable[..., Web], gl: gitlab.Gitlab
) -> None:
    path = team["path"]
    maintainer = web("maintainer")
    page = maintainer.follow(
        path + "/-/protected_branches",
        {
            "name": "feature",
            "push_access_level": "0",
            "merge_access_level": "30",
            "allow_force_push": "1",
        },
    )
    assert "Branch &#x27;feature&#x27; is protected." in page.text
    project = gl.projects.get(team["project"].id)
    rule = project.protectedbranches.get("feature")
    assert rule.push_access_levels[0]["access_level"] == 0
    assert rule.merge_access_levels[0]["access_level"] == 30
    assert rule.allow_force_push is True
    duplicate = maintainer.post(path + "/-/protected_branches", {"name": "feature"})
    assert "Protected branch &#x27;feature&#x27; already exists" in duplicate.text
    # A hostile rule name is shown as text.
    hostile = maintainer.follow(path + "/-/protected_branches", {"name": f"x{XSS}"})
    assert XSS not in hostile.text
    assert "x&lt;img src=x onerror=" in hostile.text
    bad_level = maintainer.post(
        path + "/-/protected_branches", {"name": "v2", "push_access_level": "7"}
    )
    assert "is not included in the list" in bad_level.text
    # Tags.
    maintainer.follow(path + "/-/protected_tags", {"name": "v*", "create_access_level": "40"})
    assert project.protectedtags.get("v*").create_access_levels[0]["access_level"] == 40
    # Unprotect.
    from kiln.repositories.models import ProtectedBranch, ProtectedTag

    rule_id = ProtectedBranch.objects.get(project_id=project.id, name="feature").pk
    maintainer.follow(f"{path}/-/protected_branches/{rule_id}/unprotect")
    with pytest.raises(gitlab.GitlabGetError):
        project.protectedbranches.get("feature")
    tag_id = ProtectedTag.objects.get(project_id=project.id, name="v*").pk
    maintainer.follow(f"{path}/-/protected_tags/{tag_id}/unprotect")
    assert [t.name for t in project.protectedtags.list()] == []
    # Default branch from the repository page: only an existing branch.
    missing = maintainer.post(path + "/-/settings/repository", {"default_branch": "nope"})
    assert "Default branch does not exist" in missing.text
    maintainer.follow(path + "/-/settings/repository", {"default_branch": "feature"})
    assert gl.projects.get(project.id).default_branch == "feature"


def test_merge_request_settings(
    team: dict[str, Any], web: Callable[..., Web], gl: gitlab.Gitlab
) -> None:
    path = team["path"]
    maintainer = web("maintainer")
    maintainer.follow(
        path + "/-/settings/merge_requests",
        {
            "merge_method": "ff",
            "squash_option": "always",
            "approvals_before_merge": "2",
            "only_allow_merge_if_all_discussions_are_resolved": "1",
        },
    )
    project = gl.projects.get(team["project"].id)
    assert project.merge_method == "ff"
    assert project.squash_option == "always"
    assert project.only_allow_merge_if_all_discussions_are_resolved is True
    assert project.remove_source_branch_after_merge is False  # unchecked box
    assert project.approvals.get().approvals_before_merge == 2
    refused = maintainer.post(
        path + "/-/settings/merge_requests", {"merge_method": "octopus", "squash_option": "never"}
    )
    assert "Merge method is not included in the list" in refused.text
    assert gl.projects.get(project.id).merge_method == "ff"


def test_webhooks_add_test_resend_edit_delete(
    team: dict[str, Any], web: Callable[..., Web], gl: gitlab.Gitlab
) -> None:
    from tests.webhooks.conftest import Receiver, set_local_requests

    path = team["path"]
    maintainer = web("maintainer")
    receiver = Receiver()
    receiver.start()
    try:
        # Local addresses are refused with the service's message while the admin setting is off.
        refused = maintainer.post(
            path + "/-/hooks", {"url": f"{receiver.url}/hook", "push_events": "1"}
        )
        assert refused.status_code == 200
        assert "Invalid url given" in refused.text
        loopback = maintainer.post(path + "/-/hooks", {"url": "http://127.0.0.1:9/x"})
        assert "Invalid url given" in loopback.text
        assert gl.projects.get(team["project"].id).hooks.list() == []

        set_local_requests(web_hooks=True)
        page = maintainer.follow(
            path + "/-/hooks",
            {
                "url": f"{receiver.url}/hook",
                "token": "s3cret",
                "push_events": "1",
                "issues_events": "1",
                "enable_ssl_verification": "1",
                "name": XSS,
            },
        )
        assert "Webhook was created." in page.text
        assert XSS not in page.text
        hook = gl.projects.get(team["project"].id).hooks.list()[0]
        assert hook.push_events
        assert hook.issues_events
        assert not hook.tag_push_events
        assert "s3cret" not in page.text

        tested = maintainer.follow(f"{path}/-/hooks/{hook.id}/test", {"trigger": "push_events"})
        assert "Hook executed successfully: HTTP 200" in tested.text
        sent = receiver.wait_for(1)[0]
        assert sent.headers["X-Gitlab-Token"] == "s3cret"
        assert sent.json()["object_kind"] == "push"

        edit = maintainer.get(f"{path}/-/hooks/{hook.id}/edit")
        assert edit.status_code == 200
        log_id = re.search(rf"/-/hooks/{hook.id}/hook_logs/(\d+)", edit.text).group(1)  # type: ignore[union-attr]
        detail = maintainer.get(f"{path}/-/hooks/{hook.id}/hook_logs/{log_id}")
        assert "Request body" in detail.text
        assert "s3cret" not in detail.text
        resent = maintainer.follow(f"{path}/-/hooks/{hook.id}/hook_logs/{log_id}/retry")
        assert "Hook executed successfully" in resent.text
        assert len(receiver.wait_for(2)) == 2

        # Editing keeps the token when left blank; a hook of another project is not found.
        maintainer.follow(
            f"{path}/-/hooks/{hook.id}/edit",
            {"url": f"{receiver.url}/hook", "tag_push_events": "1"},
        )
        updated = gl.projects.get(team["project"].id).hooks.get(hook.id)
        assert updated.tag_push_events
        assert not updated.push_events
        other = gl.projects.create({"name": "elsewhere"})
        assert maintainer.get(f"/root/elsewhere/-/hooks/{hook.id}/edit").status_code == 404
        assert other.id

        maintainer.follow(f"{path}/-/hooks/{hook.id}/delete")
        assert gl.projects.get(team["project"].id).hooks.list() == []
    finally:
        receiver.stop()
