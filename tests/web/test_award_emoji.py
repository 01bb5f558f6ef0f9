"""Award emoji on issues, merge requests and comments: the reactions row, toggling through
`kiln.notes.awards` (htmx answers the row, plain POSTs redirect back), who awarded on hover;
404 for what the viewer may not read, nothing awarded by refusals."""

from __future__ import annotations

from typing import Any

import gitlab

from kiln.notes.models import Note
from tests.web.test_issues import client_for, root

HX = {"HTTP_HX_REQUEST": "true"}


def _project_with_issue_and_mr(gl: gitlab.Gitlab, name: str, visibility: str) -> Any:
    project = gl.projects.create(
        {"name": name, "visibility": visibility, "initialize_with_readme": True}
    )
    project.issues.create({"title": "Wobbly table"})
    project.branches.create({"branch": "fix", "ref": "main"})
    project.files.create(
        {"file_path": "fix.txt", "branch": "fix", "content": "x", "commit_message": "fix"}
    )
    project.mergerequests.create({"source_branch": "fix", "target_branch": "main", "title": "Fix"})
    return project


def test_toggle_on_issue_merge_request_and_comment(gl: gitlab.Gitlab, make_user: Any) -> None:
    project = _project_with_issue_and_mr(gl, "Reactions", "public")
    issue = project.issues.get(1)
    note = issue.notes.create({"body": "Same here"})
    base = f"/{project.path_with_namespace}/-"
    owner = client_for(root())
    page = owner.get(f"{base}/issues/1").content.decode()
    assert f'action="{base}/issues/1/toggle_award_emoji"' in page
    assert f'action="{base}/notes/{note.id}/toggle_award_emoji"' in page
    assert 'title="Thumbs up"' in page
    # Without JavaScript: the form posts and comes back to the issue.
    response = owner.post(f"{base}/issues/1/toggle_award_emoji", {"name": "thumbsup"})
    assert response.status_code == 302
    assert response["Location"] == f"{base}/issues/1"
    assert [a.name for a in issue.awardemojis.list()] == ["thumbsup"]
    # With htmx: the row comes back, counted, with who awarded in its title.
    other, _ = make_user("fan", name="Fan Person")
    fan = client_for(other)
    row = fan.post(f"{base}/issues/1/toggle_award_emoji", {"name": "thumbsup"}, **HX)
    assert row.status_code == 200
    html = row.content.decode()
    assert html.lstrip().startswith('<div class="awards" id="awards">')
    assert 'title="You and Administrator reacted with :thumbsup:"' in html
    assert 'aria-label=":thumbsup: 2"' in html
    assert 'aria-pressed="true"' in html
    # Toggling again takes the viewer's award back, and only theirs.
    again = fan.post(f"{base}/issues/1/toggle_award_emoji", {"name": "thumbsup"}, **HX)
    assert 'aria-label=":thumbsup: 1"' in again.content.decode()
    assert [a.user["username"] for a in issue.awardemojis.list()] == ["root"]
    # A comment, from the picker's list or any other emoji name GitLab knows.
    note_url = f"{base}/notes/{note.id}/toggle_award_emoji"
    assert fan.post(note_url, {"name": "tada"}).status_code == 302
    picked = fan.post(note_url, {"name": "rocket"}, **HX).content.decode()
    assert f'id="awards-note-{note.id}"' in picked
    assert 'title="You reacted with :rocket:"' in picked
    assert sorted(a.name for a in issue.notes.get(note.id).awardemojis.list()) == [
        "rocket",
        "tada",
    ]
    # A merge request.
    mr_url = f"{base}/merge_requests/1/toggle_award_emoji"
    assert fan.post(mr_url, {"name": "thumbsdown"}).status_code == 302
    assert [a.name for a in project.mergerequests.get(1).awardemojis.list()] == ["thumbsdown"]
    assert (
        'title="Fan Person reacted with :thumbsdown:"'
        in owner.get(f"{base}/merge_requests/1").content.decode()
    )


def test_refusals_change_nothing(gl: gitlab.Gitlab, make_user: Any) -> None:
    public = _project_with_issue_and_mr(gl, "Open house", "public")
    secret = public.issues.create({"title": "Hush", "confidential": True})
    secret_note = secret.notes.create({"body": "internal detail"})
    private = _project_with_issue_and_mr(gl, "Closed house", "private")
    private_note = private.issues.get(1).notes.create({"body": "private detail"})
    private.commits.get("main").comments.create({"note": "on a commit"})
    commit_note = Note.objects.get(noteable_type="Commit", body="on a commit")
    outsider, _ = make_user("outsider")
    stranger = client_for(outsider)
    pub = f"/{public.path_with_namespace}/-"
    priv = f"/{private.path_with_namespace}/-"
    hidden = [
        f"{priv}/issues/1/toggle_award_emoji",
        f"{priv}/merge_requests/1/toggle_award_emoji",
        f"{priv}/notes/{private_note.id}/toggle_award_emoji",
        f"{pub}/issues/{secret.iid}/toggle_award_emoji",
        f"{pub}/notes/{secret_note.id}/toggle_award_emoji",
        f"{pub}/notes/{private_note.id}/toggle_award_emoji",  # another project's note
        f"{pub}/issues/999/toggle_award_emoji",
        f"{pub}/notes/99999999999999999/toggle_award_emoji",
    ]
    for client in (stranger, client_for()):
        for url in hidden:
            assert client.post(url, {"name": "thumbsup"}).status_code == 404, url
    # Commit comments have no reactions row here.
    owner = client_for(root())
    commit_toggle = f"{priv}/notes/{commit_note.pk}/toggle_award_emoji"
    assert owner.post(commit_toggle, {"name": "thumbsup"}).status_code == 404
    # Not an emoji name, or a GET: nothing happens.
    assert stranger.post(f"{pub}/issues/1/toggle_award_emoji", {"name": "nope"}).status_code == 404
    assert stranger.post(f"{pub}/issues/1/toggle_award_emoji", {}).status_code == 404
    assert stranger.get(f"{pub}/issues/1/toggle_award_emoji").status_code == 405
    # Anonymous visitors of a public project see the counts and are sent to sign in.
    anonymous = client_for().post(f"{pub}/issues/1/toggle_award_emoji", {"name": "thumbsup"})
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/users/sign_in?redirect_to=")
    assert "toggle_award_emoji" not in client_for().get(f"{pub}/issues/1").content.decode()
    assert public.issues.get(1).awardemojis.list() == []
    assert secret.awardemojis.list() == []
    assert private.issues.get(1).awardemojis.list() == []
    assert private.issues.get(1).notes.get(private_note.id).awardemojis.list() == []


def test_react_in_the_browser(page: Any, sign_in: Any, server_url: str, gl: gitlab.Gitlab) -> None:
    project = _project_with_issue_and_mr(gl, "Browser reactions", "private")
    note = project.issues.get(1).notes.create({"body": "First comment"})
    sign_in(server_url)
    page.goto(f"{server_url}/{project.path_with_namespace}/-/issues/1")
    # A marker on the window survives only if htmx swapped the rows (no page load).
    page.evaluate("window.kilnMarker = 1")
    row = page.locator("#awards")
    row.get_by_role("button", name=":thumbsup: 0").click()
    thumbs = row.get_by_role("button", name=":thumbsup: 1")
    thumbs.wait_for()
    assert thumbs.get_attribute("aria-pressed") == "true"
    assert thumbs.get_attribute("title") == "You reacted with :thumbsup:"
    # The picker on a comment: htmx swaps only that comment's row.
    note_row = page.locator(f"#awards-note-{note.id}")
    note_row.get_by_label("Add reaction").click()
    note_row.get_by_role("button", name="React with :tada:").click()
    note_row.get_by_role("button", name=":tada: 1").wait_for()
    assert page.locator("#awards").get_by_role("button", name=":thumbsup: 1").count() == 1
    assert [a.name for a in project.issues.get(1).notes.get(note.id).awardemojis.list()] == ["tada"]
    assert page.evaluate("window.kilnMarker") == 1
    # Taking it back.
    note_row.get_by_role("button", name=":tada: 1").click()
    page.locator(f"#awards-note-{note.id}").get_by_role("button", name=":tada: 1").wait_for(
        state="detached"
    )
    page.set_viewport_size({"width": 360, "height": 800})
    page.locator(f"#awards-note-{note.id}").get_by_label("Add reaction").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.console_errors == []
