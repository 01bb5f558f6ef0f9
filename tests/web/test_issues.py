"""Issue pages: the list and its filters, new/edit, the issue page with its notes thread and
quick actions, the Markdown preview; who may see and do what (404 otherwise, confidential
issues included); hostile titles and descriptions rendered inert; and the browser path."""

from __future__ import annotations

import re
from typing import Any

import gitlab
import pytest
from django.test import Client

from kiln.accounts.models import User

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "[click](javascript:alert(1))",
]


def client_for(user: Any | None = None, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    if user is not None:
        client.force_login(user, backend="kiln.accounts.backends.KilnBackend")
    return client


def root() -> User:
    return User.objects.get(username="root")


def assert_inert(html: str) -> None:
    """No payload became markup: scripts, handlers and javascript: URLs stay text."""
    assert "<script>alert" not in html
    assert not re.search(r"<img[^>]*\sonerror=", html, re.I)
    assert not re.search(r"<svg[^>]*\sonload=", html, re.I)
    assert not re.search(r"href=[\"']?\s*javascript:", html, re.I)
    assert "Traceback" not in html


@pytest.fixture
def private_project(gl: gitlab.Gitlab) -> Any:
    project = gl.projects.create({"name": "Secret", "visibility": "private"})
    project.issues.create({"title": "Hidden issue", "description": "**secret**"})
    return project


def test_private_project_issue_pages_are_404_to_outsiders(
    private_project: Any, make_user: Any
) -> None:
    outsider, _ = make_user("outsider")
    base = f"/{private_project.path_with_namespace}/-/issues"
    pages = [base, f"{base}/new", f"{base}/1", f"{base}/1/edit", f"{base}/999"]
    for client in (client_for(), client_for(outsider)):
        for page in pages:
            response = client.get(page)
            assert response.status_code == 404, page
            assert "Hidden issue" not in response.content.decode()
    poster = client_for(outsider)
    for action, data in [
        (f"{base}/1/notes", {"note": "hi"}),
        (f"{base}/1", {"state_event": "close"}),
        (base, {"issue[title]": "x"}),
        (f"/{private_project.path_with_namespace}/-/preview_markdown", {"text": "x"}),
    ]:
        assert poster.post(action, data).status_code == 404, action
    owner = client_for(root())
    assert owner.get(f"{base}/1").status_code == 200
    assert "<strong>secret</strong>" in owner.get(f"{base}/1").content.decode()


def test_confidential_issues_only_for_those_who_may_see_them(
    gl: gitlab.Gitlab, make_user: Any
) -> None:
    project = gl.projects.create({"name": "Open", "visibility": "public"})
    project.issues.create({"title": "Public bug"})
    project.issues.create({"title": "Embargoed vuln", "confidential": True})
    guest, _ = make_user("guest")
    planner, _ = make_user("planner")
    project.members.create({"user_id": guest.pk, "access_level": 10})
    project.members.create({"user_id": planner.pk, "access_level": 15})
    base = f"/{project.path_with_namespace}/-/issues"
    for client in (client_for(), client_for(guest)):
        listing = client.get(f"{base}?state=all").content.decode()
        assert "Public bug" in listing
        assert "Embargoed vuln" not in listing
        assert client.get(f"{base}/2").status_code == 404
        assert client.get(f"{base}/2/edit").status_code == 404
    assert client_for(guest).post(f"{base}/2/notes", {"note": "peek"}).status_code == 404
    seeing = client_for(planner)
    assert "Embargoed vuln" in seeing.get(base).content.decode()
    assert seeing.get(f"{base}/2").status_code == 200


def test_issue_list_filters_tabs_and_pagination(gl: gitlab.Gitlab) -> None:
    project = gl.projects.create({"name": "Busy"})
    project.labels.create({"name": "bug", "color": "#ff0000"})
    milestone = project.milestones.create({"title": "v1"})
    for n in range(23):
        project.issues.create({"title": f"Issue {n:02d}"})
    project.issues.create({"title": "Labelled one", "labels": "bug", "milestone_id": milestone.id})
    closed = project.issues.create({"title": "Done already"})
    closed.state_event = "close"
    closed.save()
    base = f"/{project.path_with_namespace}/-/issues"
    owner = client_for(root())
    page = owner.get(base).content.decode()
    assert 'Open <span class="badge">24</span>' in page
    assert 'Closed <span class="badge">1</span>' in page
    assert "Done already" not in page
    assert "Page 1 of 2" in page
    assert "Issue 03" in owner.get(f"{base}?page=2").content.decode()
    only_bug = owner.get(f"{base}?label_name[]=bug").content.decode()
    assert "Labelled one" in only_bug
    assert "Issue 01" not in only_bug
    by_milestone = owner.get(f"{base}?milestone_title=v1").content.decode()
    assert "Labelled one" in by_milestone
    assert "Issue 01" not in by_milestone
    searched = owner.get(f"{base}?search=Issue+07").content.decode()
    assert "Issue 07" in searched
    assert "Issue 08" not in searched
    assert "Done already" in owner.get(f"{base}?state=closed").content.decode()
    oldest = owner.get(f"{base}?sort=created_asc").content.decode()
    assert oldest.index("Issue 00") < oldest.index("Issue 01")
    assert "Issue 00" in owner.get(f"{base}?author_username=root&sort=created_asc").content.decode()


def test_create_edit_comment_and_quick_actions(gl: gitlab.Gitlab) -> None:
    project = gl.projects.create({"name": "Work"})
    label = project.labels.create({"name": "bug", "color": "#ff0000"})
    project.labels.create({"name": "docs", "color": "#00ff00"})
    milestone = project.milestones.create({"title": "v1"})
    base = f"/{project.path_with_namespace}/-/issues"
    owner = client_for(root(), csrf=False)
    form = owner.get(f"{base}/new").content.decode()
    assert 'name="csrfmiddlewaretoken"' in form
    assert 'data-preview-url="/root/work/-/preview_markdown"' in form
    response = owner.post(
        base,
        {
            "issue[title]": "Crash on start",
            "issue[description]": "It *crashes*.\n\n/due 2031-01-02",
            "issue[label_ids][]": [str(label.id)],
            "issue[milestone_id]": str(milestone.id),
            "issue[assignee_ids][]": [str(root().pk)],
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"{base}/1"
    issue = project.issues.get(1)
    assert issue.labels == ["bug"]
    assert issue.milestone["title"] == "v1"
    assert issue.assignees[0]["username"] == "root"
    assert issue.due_date == "2031-01-02"
    page = owner.get(f"{base}/1").content.decode()
    assert "<em>crashes</em>" in page
    assert "Crash on start" in page
    # A comment with quick actions: the note is posted and the commands applied.
    response = owner.post(f"{base}/1/notes", {"note": "Looking.\n/label ~docs\n/close"})
    assert response.status_code == 302
    issue = project.issues.get(1)
    assert sorted(issue.labels) == ["bug", "docs"]
    assert issue.state == "closed"
    page = owner.get(f"{base}/1").content.decode()
    assert "Looking." in page
    assert "closed" in page  # the system note
    assert "Reopen issue" in page
    # Reply to a comment: it becomes a thread.
    note_id = re.search(r'id="note_(\d+)"', page[page.index("Looking.") - 2000 :]).group(1)  # type: ignore[union-attr]
    discussion = re.search(r'name="discussion_id" value="([0-9a-f]+)"', page)
    assert discussion is not None
    owner.post(f"{base}/1/notes", {"note": "A reply", "discussion_id": discussion.group(1)})
    assert "A reply" in owner.get(f"{base}/1").content.decode()
    # Edit and delete a comment.
    owner.post(f"{base}/1/notes/{note_id}", {"note": "Edited words"})
    owner.post(f"{base}/1", {"state_event": "reopen"})
    assert project.issues.get(1).state == "opened"
    # Edit the issue: title, description, labels replaced, milestone removed.
    response = owner.post(
        f"{base}/1/edit",
        {
            "issue[title]": "Crash on start (Linux)",
            "issue[description]": "Only on Linux.",
            "issue[label_ids][]": [str(label.id)],
            "issue[milestone_id]": "",
            "issue[due_date]": "",
        },
    )
    assert response.status_code == 302
    issue = project.issues.get(1)
    assert issue.title == "Crash on start (Linux)"
    assert issue.labels == ["bug"]
    assert issue.milestone is None
    assert issue.due_date is None
    # A blank title is refused with GitLab's message, on the form.
    response = owner.post(f"{base}/1/edit", {"issue[title]": " ", "issue[description]": ""})
    assert response.status_code == 400
    assert "can&#x27;t be blank" in response.content.decode()


def test_guest_may_open_issues_but_not_set_metadata_or_edit_others(
    gl: gitlab.Gitlab, make_user: Any
) -> None:
    project = gl.projects.create({"name": "Team", "visibility": "private"})
    label = project.labels.create({"name": "bug", "color": "#ff0000"})
    project.issues.create({"title": "By root"})
    guest, _ = make_user("guest2")
    project.members.create({"user_id": guest.pk, "access_level": 10})
    base = f"/{project.path_with_namespace}/-/issues"
    client = client_for(guest)
    form = client.get(f"{base}/new").content.decode()
    assert 'name="issue[label_ids][]"' not in form  # no metadata for guests
    client.post(base, {"issue[title]": "From guest", "issue[label_ids][]": [str(label.id)]})
    created = project.issues.get(2)
    assert created.labels == []
    assert client.get(f"{base}/1/edit").status_code == 404
    assert client.post(f"{base}/1", {"state_event": "close"}).status_code == 404
    assert project.issues.get(1).state == "opened"
    assert client.get(f"{base}/2/edit").status_code == 200  # their own


def test_forms_need_the_csrf_token(gl: gitlab.Gitlab) -> None:
    project = gl.projects.create({"name": "Csrf"})
    strict = client_for(root(), csrf=True)
    response = strict.post(f"/{project.path_with_namespace}/-/issues", {"issue[title]": "x"})
    assert response.status_code == 403
    assert project.issues.list() == []


def test_preview_renders_markdown_for_the_viewer(gl: gitlab.Gitlab, make_user: Any) -> None:
    project = gl.projects.create({"name": "Prev", "visibility": "public"})
    project.issues.create({"title": "Secret", "confidential": True})
    url = f"/{project.path_with_namespace}/-/preview_markdown"
    owner = client_for(root())
    body = owner.post(url, {"text": "**bold** #1 <script>alert(1)</script>"}).json()["body"]
    assert "<strong>bold</strong>" in body
    assert 'href="' in body
    assert "/-/issues/1" in body
    assert_inert(body)
    other, _ = make_user("reader")
    body = client_for(other).post(url, {"text": "see #1"}).json()["body"]
    assert "/-/issues/1" not in body  # a confidential issue stays plain text
    assert client_for(other).get(url).status_code == 405


def test_hostile_issue_content_is_inert(gl: gitlab.Gitlab) -> None:
    project = gl.projects.create({"name": "Hostile", "visibility": "public"})
    payload = " ".join(HOSTILE)
    project.labels.create({"name": "<img src=x onerror=alert(1)>", "color": "#ff0000"})
    milestone = project.milestones.create({"title": "<svg onload=alert(1)>"})
    issue = project.issues.create(
        {
            "title": payload,
            "description": payload,
            "labels": "<img src=x onerror=alert(1)>",
            "milestone_id": milestone.id,
        }
    )
    issue.notes.create({"body": payload})
    owner = client_for(root())
    anonymous = client_for()
    base = f"/{project.path_with_namespace}/-/issues"
    for client in (owner, anonymous):
        for url in (base, f"{base}/1", f"{base}?search=%3Cscript%3E", f"{base}/1/edit"):
            response = client.get(url)
            if response.status_code == 200:
                assert_inert(response.content.decode())
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(f"{base}/1").content.decode()
