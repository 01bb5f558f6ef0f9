"""Notes, discussions, award emoji and commit comments through GitLab's API v4."""

from __future__ import annotations

from typing import Any

import gitlab
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kiln.core.access import Visibility
from kiln.notes.models import AwardEmoji, Note
from tests.conftest import ROOT_TOKEN
from tests.issues import builders as ib
from tests.projects import builders as b

NOTE_KEYS = [
    "id",
    "type",
    "body",
    "attachment",
    "author",
    "created_at",
    "updated_at",
    "system",
    "noteable_id",
    "noteable_type",
    "project_id",
    "resolvable",
    "confidential",
    "internal",
    "imported",
    "imported_from",
    "noteable_iid",
    "commands_changes",
]


@pytest.fixture
def root(server_url: str) -> Any:
    return b.root_user()


@pytest.fixture
def project(root: Any) -> Any:
    return ib.project(root, visibility=Visibility.PUBLIC)


@pytest.fixture
def issue(project: Any, root: Any) -> Any:
    return ib.issue(project, root, "talk about it")


def test_note_crud_and_shape(gl: gitlab.Gitlab, project: Any, issue: Any, server_url: str) -> None:
    i = gl.projects.get(project.pk).issues.get(issue.iid)
    note = i.notes.create({"body": "first!"})
    api = b.Api(server_url, ROOT_TOKEN)
    raw = api.get(f"/projects/{project.pk}/issues/{issue.iid}/notes/{note.id}").json()
    assert list(raw) == NOTE_KEYS
    assert (raw["type"], raw["noteable_type"], raw["noteable_iid"]) == (None, "Issue", issue.iid)
    assert raw["author"]["username"] == "root"
    note.body = "edited"
    note.save()
    assert i.notes.get(note.id).body == "edited"
    i.notes.create({"body": "second"})
    assert [n.body for n in i.notes.list(get_all=True)] == ["second", "edited"]
    assert [n.body for n in i.notes.list(get_all=True, sort="asc")] == ["edited", "second"]
    note.delete()
    assert [n.body for n in i.notes.list(get_all=True)] == ["second"]
    assert api.get(f"/projects/{project.pk}/issues/{issue.iid}/notes/{note.id}").json() == {
        "message": "404 Note Not Found"
    }
    assert api.get(f"/projects/{project.pk}/issues/999/notes").json() == {
        "message": "404 Issue Not Found"
    }
    assert (
        b.Api(server_url).get(f"/projects/{project.pk}/issues/{issue.iid}/notes").status_code == 401
    )
    # The comment counts on the issue and bumps its activity.
    assert gl.projects.get(project.pk).issues.get(issue.iid).user_notes_count == 1


def test_only_authors_and_maintainers_edit_notes(
    project: Any, issue: Any, make_user: Any, root: Any, server_url: str
) -> None:
    _, author_gl = make_user("noteauthor")
    note = author_gl.projects.get(project.pk).issues.get(issue.iid).notes.create({"body": "mine"})
    _, other_gl = make_user("noteother")
    api = b.Api(server_url, other_gl.private_token)
    path = f"/projects/{project.pk}/issues/{issue.iid}/notes/{note.id}"
    assert api.put(path, json={"body": "hijacked"}).status_code == 403
    assert api.delete(path).status_code == 403
    assert Note.objects.get(pk=note.id).body == "mine"
    # The project owner may remove it.
    assert b.Api(server_url, ROOT_TOKEN).delete(path).status_code == 204


def test_discussions_and_replies(gl: gitlab.Gitlab, project: Any, issue: Any) -> None:
    i = gl.projects.get(project.pk).issues.get(issue.iid)
    single = i.notes.create({"body": "individual"})
    thread = i.discussions.create({"body": "a thread"})
    assert thread.individual_note is False
    assert thread.attributes["notes"][0]["type"] == "DiscussionNote"
    reply = thread.notes.create({"body": "a reply"})
    assert reply.type == "DiscussionNote"
    discussions = i.discussions.list(get_all=True)
    assert [(d.individual_note, len(d.attributes["notes"])) for d in discussions] == [
        (True, 1),
        (False, 2),
    ]
    # Replying to an individual note turns it into a thread.
    single_discussion = i.discussions.get(discussions[0].id)
    single_discussion.notes.create({"body": "now a thread"})
    again = i.discussions.get(discussions[0].id)
    assert again.individual_note is False
    assert [n["type"] for n in again.attributes["notes"]] == ["DiscussionNote", "DiscussionNote"]
    assert Note.objects.get(pk=single.id).note_type == "DiscussionNote"
    note = thread.notes.get(reply.id)
    note.body = "edited reply"
    note.save()
    assert i.discussions.get(thread.id).attributes["notes"][1]["body"] == "edited reply"
    thread.notes.delete(reply.id)
    assert len(i.discussions.get(thread.id).attributes["notes"]) == 1


def test_discussion_not_found(project: Any, issue: Any, server_url: str) -> None:
    api = b.Api(server_url, ROOT_TOKEN)
    base = f"/projects/{project.pk}/issues/{issue.iid}/discussions"
    assert api.get(f"{base}/{'0' * 40}").json() == {"message": "404 Discussion Not Found"}
    response = api.post(f"{base}/{'0' * 40}/notes", json={"body": "x"})
    assert response.json() == {"message": "404 Discussion Not Found"}
    # Issue threads are not resolvable: no such route.
    assert api.put(f"{base}/{'0' * 40}", json={"resolved": True}).status_code in (404, 405)


def test_internal_notes(
    gl: gitlab.Gitlab, project: Any, issue: Any, make_user: Any, root: Any
) -> None:
    guest, guest_gl = make_user("noteguest")
    ib.add_project_member(project, guest, ib.GUEST, by=root)
    reporter, reporter_gl = make_user("notereporter")
    ib.add_project_member(project, reporter, ib.REPORTER, by=root)
    i = gl.projects.get(project.pk).issues.get(issue.iid)
    internal = i.notes.create({"body": "between us", "internal": True})
    assert (internal.internal, internal.confidential) == (True, True)
    i.notes.create({"body": "for all"})
    as_guest = guest_gl.projects.get(project.pk).issues.get(issue.iid)
    assert [n.body for n in as_guest.notes.list(get_all=True)] == ["for all"]
    with pytest.raises(gitlab.GitlabGetError):
        as_guest.notes.get(internal.id)
    as_reporter = reporter_gl.projects.get(project.pk).issues.get(issue.iid)
    assert {n.body for n in as_reporter.notes.list(get_all=True)} == {"between us", "for all"}
    # A guest may not write internal notes.
    with pytest.raises(gitlab.GitlabCreateError) as refused:
        as_guest.notes.create({"body": "sneaky", "internal": True})
    assert refused.value.response_code == 403
    assert not Note.objects.filter(body="sneaky").exists()


def test_locked_discussion(gl: gitlab.Gitlab, project: Any, issue: Any, make_user: Any) -> None:
    _, outsider = make_user("lockedout")
    i = gl.projects.get(project.pk).issues.get(issue.iid)
    i.discussion_locked = True
    i.save()
    mine = outsider.projects.get(project.pk).issues.get(issue.iid)
    with pytest.raises(gitlab.GitlabCreateError) as refused:
        mine.notes.create({"body": "let me in"})
    assert refused.value.response_code == 403
    i.notes.create({"body": "members still can"})


def test_quick_actions_in_notes(
    gl: gitlab.Gitlab, project: Any, issue: Any, make_user: Any
) -> None:
    dev, _ = make_user("qadev")
    ib.add_project_member(project, dev, ib.DEVELOPER, by=b.root_user())
    p = gl.projects.get(project.pk)
    p.labels.create({"name": "bug", "color": "#ff0000"})
    p.labels.create({"name": "needs review", "color": "#00ff00"})
    p.milestones.create({"title": "v1 beta"})
    i = p.issues.get(issue.iid)
    note = i.notes.create(
        {
            "body": 'On it.\n/label ~bug ~"needs review"\n/assign @qadev\n'
            '/milestone %"v1 beta"\n/due 2031-12-24\n/award :thumbsup:\n'
            "```\n/close\n```"
        }
    )
    assert note.body == "On it.\n```\n/close\n```"
    fresh = p.issues.get(issue.iid)
    assert fresh.state == "opened"  # a command inside a code block is text
    assert sorted(fresh.labels) == ["bug", "needs review"]
    assert [a["username"] for a in fresh.assignees] == ["qadev"]
    assert fresh.milestone["title"] == "v1 beta"
    assert fresh.due_date == "2031-12-24"
    assert fresh.upvotes == 1
    i.notes.create({"body": "/unlabel ~bug\n/unassign\n/remove_milestone\n/lock\n/title Renamed"})
    fresh = p.issues.get(issue.iid)
    assert fresh.labels == ["needs review"]
    assert fresh.assignees == []
    assert fresh.milestone is None
    assert fresh.discussion_locked is True
    assert fresh.title == "Renamed"
    commands = b.Api(gl.url, ROOT_TOKEN).post(
        f"/projects/{project.pk}/issues/{issue.iid}/notes", json={"body": "/close"}
    )
    assert commands.status_code == 202
    assert commands.json() == {
        "commands_changes": {"state_event": "close"},
        "summary": ["Closed this issue."],
    }
    assert p.issues.get(issue.iid).state == "closed"
    # Quick actions in a new issue's description.
    created = p.issues.create({"title": "with commands", "description": "Body\n/label ~bug"})
    assert created.labels == ["bug"]
    assert created.description == "Body"


def test_award_emoji(
    gl: gitlab.Gitlab, project: Any, issue: Any, make_user: Any, server_url: str
) -> None:
    i = gl.projects.get(project.pk).issues.get(issue.iid)
    award = i.awardemojis.create({"name": "tada"})
    assert (award.name, award.user["username"], award.awardable_type) == ("tada", "root", "Issue")
    api = b.Api(server_url, ROOT_TOKEN)
    base = f"/projects/{project.pk}/issues/{issue.iid}/award_emoji"
    assert api.post(base, json={"name": "tada"}).json() == {
        "message": "404 Award Emoji Name has already been taken Not Found"
    }
    assert api.post(base, json={"name": "not_an_emoji"}).json() == {
        "message": "404 Award Emoji Name is not a valid emoji name Not Found"
    }
    note = i.notes.create({"body": "nice"})
    note_award = note.awardemojis.create({"name": "thumbsup"})
    assert note_award.awardable_type == "Note"
    assert [a.name for a in note.awardemojis.list(get_all=True)] == ["thumbsup"]
    _, other = make_user("awardother")
    theirs = b.Api(server_url, other.private_token)
    assert theirs.delete(f"{base}/{award.id}").status_code == 401
    assert AwardEmoji.objects.filter(pk=award.id).exists()
    i.awardemojis.delete(award.id)
    assert not AwardEmoji.objects.filter(pk=award.id).exists()


@pytest.fixture
def code_project(gl: gitlab.Gitlab, root: Any) -> Any:
    project = ib.project(root)
    gl.projects.get(project.pk).files.create(
        {
            "file_path": "README.md",
            "branch": "main",
            "content": "hello\n",
            "commit_message": "Add readme",
        }
    )
    return gl.projects.get(project.pk)


def test_commit_comments_and_discussions(code_project: Any, make_user: Any) -> None:
    sha = code_project.commits.list(get_all=True)[0].id
    commit = code_project.commits.get(sha)
    comment = commit.comments.create({"note": "nice commit", "path": "README.md", "line": 1})
    assert comment.note == "nice commit"
    assert (comment.path, comment.line, comment.line_type) == ("README.md", 1, "new")
    assert [c.note for c in commit.comments.list(get_all=True)] == ["nice commit"]
    thread = commit.discussions.create({"body": "let us talk"})
    thread.notes.create({"body": "sure"})
    discussions = commit.discussions.list(get_all=True)
    assert [len(d.attributes["notes"]) for d in discussions] == [1, 2]
    note = discussions[1].attributes["notes"][0]
    assert (note["noteable_type"], note["noteable_id"], note["noteable_iid"]) == (
        "Commit",
        None,
        None,
    )


def test_commit_notes_need_code_access(root: Any, server_url: str, make_user: Any) -> None:
    private = ib.project(root, visibility=Visibility.PRIVATE)
    gl = gitlab.Gitlab(server_url, private_token=ROOT_TOKEN)
    gl.projects.get(private.pk).files.create(
        {"file_path": "a.txt", "branch": "main", "content": "a", "commit_message": "a"}
    )
    sha = gl.projects.get(private.pk).commits.list(get_all=True)[0].id
    guest, guest_gl = make_user("commitguest")
    ib.add_project_member(private, guest, ib.GUEST, by=root)
    api = b.Api(server_url, guest_gl.private_token)
    assert api.get(f"/projects/{private.pk}/repository/commits/{sha}/discussions").json() == {
        "message": "404 Commit Not Found"
    }
    before = Note.objects.count()
    response = api.post(
        f"/projects/{private.pk}/repository/commits/{sha}/comments", json={"note": "x"}
    )
    assert response.status_code == 404
    assert Note.objects.count() == before


def test_notes_and_discussions_query_budget(project: Any, issue: Any, root: Any) -> None:
    for n in range(22):
        note = ib.note(issue, root, f"note {n}")
        if n % 2:
            from kiln.notes.services import create_note

            create_note(
                actor=b.actor(root), noteable=issue, body="reply", discussion_id=note.discussion_id
            )
    for path in ("notes", "discussions"):
        url = f"/api/v4/projects/{project.pk}/issues/{issue.iid}/{path}"

        def count(per_page: int, url: str = url) -> int:
            with CaptureQueriesContext(connection) as queries:
                response = Client().get(url, {"per_page": per_page}, HTTP_PRIVATE_TOKEN=ROOT_TOKEN)
            assert len(response.json()) == per_page
            return len(queries)

        count(2)
        assert count(2) == count(20), path


def test_commit_diff_discussion_with_position(code_project: Any, server_url: str) -> None:
    sha = code_project.commits.list(get_all=True)[0].id
    api = b.Api(server_url, ROOT_TOKEN)
    path = f"/projects/{code_project.id}/repository/commits/{sha}/discussions"
    form = {
        "body": "on this line",
        "position[base_sha]": sha,
        "position[start_sha]": sha,
        "position[head_sha]": sha,
        "position[position_type]": "text",
        "position[new_path]": "README.md",
        "position[new_line]": "1",
    }
    created = api.post(path, data=form)
    assert created.status_code == 201, created.text
    note = created.json()["notes"][0]
    assert note["type"] == "DiffNote"
    assert note["position"] == {
        "base_sha": sha, "start_sha": sha, "head_sha": sha, "old_path": None,
        "new_path": "README.md", "position_type": "text", "old_line": None, "new_line": 1,
        "line_range": None,
    }  # fmt: skip
    broken = api.post(path, json={"body": "x", "position": {"base_sha": sha}})
    assert broken.status_code == 400
    assert broken.json() == {
        "error": "position[start_sha] is missing, position[head_sha] is missing, "
        "position[position_type] is missing"
    }


def test_award_and_resource_event_lists_query_budget(
    project: Any, issue: Any, root: Any, make_user: Any
) -> None:
    from kiln.issues.services import update_issue
    from kiln.notes.awards import award_emoji

    labels = [ib.label(project, root, f"lbl{n}") for n in range(11)]
    for label in labels:
        update_issue(actor=b.actor(root), issue=issue, add_labels=[label.title])
        update_issue(actor=b.actor(root), issue=issue, remove_labels=[label.title])
    for n in range(22):
        user, _ = make_user(f"voter{n}")
        award_emoji(actor=b.actor(user), subject=issue, awardable_type="Issue",
                    awardable_id=issue.pk, name="thumbsup")  # fmt: skip
    for path in ("award_emoji", "resource_label_events"):
        url = f"/api/v4/projects/{project.pk}/issues/{issue.iid}/{path}"

        def count(per_page: int, url: str = url) -> int:
            with CaptureQueriesContext(connection) as queries:
                response = Client().get(url, {"per_page": per_page}, HTTP_PRIVATE_TOKEN=ROOT_TOKEN)
            assert len(response.json()) == per_page
            return len(queries)

        count(2)
        assert count(2) == count(20), path
