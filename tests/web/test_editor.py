"""The web editor: create, edit, rename and delete files through the forms, onto the branch or
a new one (with the merge request redirect), refused with the services' messages."""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import gitlab
import requests

from tests.web.test_repository import csrf, make_project, session_for


def content_of(project: Any, path: str, ref: str = "main") -> str:
    return base64.b64decode(project.files.get(file_path=path, ref=ref).content).decode()


def post(
    session: requests.Session, server_url: str, path: str, form_path: str, data: dict[str, str]
) -> requests.Response:
    token = csrf(session, server_url, form_path)
    return session.post(
        f"{server_url}{path}",
        data={"csrfmiddlewaretoken": token, **data},
        timeout=30,
        allow_redirects=False,
    )


def test_create_edit_rename_delete_as_maintainer(gl: gitlab.Gitlab, server_url: str) -> None:
    project = make_project(gl, "Edits", {"docs/a.txt": "one\r\ntwo\r\n", "b.txt": "b\n"})
    session = session_for(server_url, "root", "root-password-1")
    new_form = get_ok(session, f"{server_url}/root/edits/-/new/main/docs")
    assert 'value="docs/"' in new_form

    created = post(
        session,
        server_url,
        "/root/edits/-/new/main/docs",
        "/root/edits/-/new/main/docs",
        {
            "file_path": "docs/new.md",
            "content": "# New\r\nline\r\n",
            "commit_message": "Add new.md from the web",
            "branch_name": "main",
        },
    )
    assert created.status_code == 302, created.text[:400]
    assert created.headers["Location"] == "/root/edits/-/blob/main/docs/new.md"
    assert content_of(project, "docs/new.md") == "# New\nline\n"  # textarea CRLF normalized
    assert project.commits.list(get_all=False)[0].title == "Add new.md from the web"

    edit_path = "/root/edits/-/edit/main/docs/a.txt"
    form = get_ok(session, server_url + edit_path)
    assert "one\r\ntwo" in form or "one\ntwo" in form
    edited = post(
        session,
        server_url,
        edit_path,
        edit_path,
        {
            "file_path": "docs/a.txt",
            "content": "one\r\nTWO\r\n",
            "commit_message": "Shout two",
            "branch_name": "main",
        },
    )
    assert edited.status_code == 302
    assert content_of(project, "docs/a.txt") == "one\r\nTWO\r\n"  # the file's CRLF kept

    renamed = post(
        session,
        server_url,
        edit_path,
        edit_path,
        {
            "file_path": "docs/renamed.txt",
            "content": "one\r\nTWO\r\n",
            "commit_message": "Rename a.txt",
            "branch_name": "main",
        },
    )
    assert renamed.headers["Location"] == "/root/edits/-/blob/main/docs/renamed.txt"
    names = {item["path"] for item in project.repository_tree(path="docs", ref="main")}
    assert names == {"docs/new.md", "docs/renamed.txt"}

    deleted = post(
        session,
        server_url,
        "/root/edits/-/blob/main/b.txt",
        "/root/edits/-/blob/main/b.txt",
        {"_method": "delete", "commit_message": "Drop b", "branch_name": "main"},
    )
    assert deleted.status_code == 302
    assert "b.txt" not in {item["path"] for item in project.repository_tree(ref="main")}

    # A stale edit (the file changed since the form was opened) is refused on the form.
    form = get_ok(session, f"{server_url}/root/edits/-/edit/main/docs/new.md")
    opened_at = re.search(r'name="last_commit_id" value="([0-9a-f]+)"', form)
    assert opened_at is not None
    project.commits.create(
        {
            "branch": "main",
            "commit_message": "Meanwhile",
            "actions": [{"action": "update", "file_path": "docs/new.md", "content": "other\n"}],
        }
    )
    stale = post(
        session,
        server_url,
        "/root/edits/-/edit/main/docs/new.md",
        "/root/edits/-/edit/main/docs/new.md",
        {
            "file_path": "docs/new.md",
            "content": "late\n",
            "commit_message": "Late",
            "branch_name": "main",
            "last_commit_id": opened_at[1],
        },
    )
    assert stale.status_code == 400
    assert "changed since you started editing" in stale.text
    assert content_of(project, "docs/new.md") == "other\n"


def get_ok(session: requests.Session, url: str) -> str:
    response = session.get(url, timeout=30)
    assert response.status_code == 200, (url, response.status_code)
    return response.text


def test_developer_on_protected_branch_commits_to_a_new_branch(
    gl: gitlab.Gitlab, server_url: str, make_user: Any
) -> None:
    project = make_project(gl, "Guarded", {"a.txt": "a\n"})
    developer, _ = make_user("dev2")
    project.members.create({"user_id": developer.pk, "access_level": 30})
    session = session_for(server_url, "dev2", "password-123")
    edit_path = "/root/guarded/-/edit/main/a.txt"
    form = get_ok(session, server_url + edit_path)
    assert "You are not allowed to push into this branch" in form
    assert 'value="dev2-main-patch-1"' in form

    refused = post(
        session,
        server_url,
        edit_path,
        edit_path,
        {"file_path": "a.txt", "content": "b\n", "commit_message": "Try", "branch_name": "main"},
    )
    assert refused.status_code == 400
    assert "You are not allowed to push into this branch" in refused.text
    assert content_of(project, "a.txt") == "a\n"

    proposed = post(
        session,
        server_url,
        edit_path,
        edit_path,
        {
            "file_path": "a.txt",
            "content": "b\n",
            "commit_message": "Propose b",
            "branch_name": "dev2-main-patch-1",
            "create_merge_request": "1",
        },
    )
    assert proposed.status_code == 302
    location = urlsplit(proposed.headers["Location"])
    assert location.path == "/root/guarded/-/merge_requests/new"
    query = parse_qs(location.query)
    assert query["merge_request[source_branch]"] == ["dev2-main-patch-1"]
    assert query["merge_request[target_branch]"] == ["main"]
    assert content_of(project, "a.txt", ref="dev2-main-patch-1") == "b\n"
    assert content_of(project, "a.txt") == "a\n"

    # An existing branch is never overwritten from another start point.
    clash = post(
        session,
        server_url,
        edit_path,
        edit_path,
        {
            "file_path": "a.txt",
            "content": "c\n",
            "commit_message": "Again",
            "branch_name": "dev2-main-patch-1",
        },
    )
    assert clash.status_code == 400
    assert "already exists" in clash.text

    # Hostile paths are refused by the service, nothing is written.
    for bad in ("../escape.txt", "a/../../x", ".git/config"):
        response = post(
            session,
            server_url,
            "/root/guarded/-/new/main/",
            "/root/guarded/-/new/main/",
            {"file_path": bad, "content": "x", "commit_message": "x", "branch_name": "evil"},
        )
        assert response.status_code == 400, bad
        assert 'role="alert"' in response.text
    assert "evil" not in {b.name for b in project.branches.list(get_all=True)}
