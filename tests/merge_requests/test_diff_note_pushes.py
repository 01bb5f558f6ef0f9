"""Diff discussions across real `git push`es: notes on lines a push leaves alone follow them
to the new version; notes on lines it changes stay on their version and read as outdated
(resolved, when the project resolves outdated threads); deleting a merge request or an issue
deletes its notes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gitlab
import pytest

from tests.conftest import ROOT_TOKEN, client
from tests.support.git import authed, commit_file, git, make_repo

pytestmark = pytest.mark.slow

BASE = "".join(f"line {n}\n" for n in range(1, 21))


@pytest.fixture
def root_gl(git_url: str) -> gitlab.Gitlab:
    return client(git_url, ROOT_TOKEN)


def _position(mr: Any, **lines: Any) -> dict[str, Any]:
    refs = mr.diff_refs
    return {
        "base_sha": refs["base_sha"],
        "start_sha": refs["start_sha"],
        "head_sha": refs["head_sha"],
        "position_type": "text",
        "old_path": "f.txt",
        "new_path": "f.txt",
        "old_line": None,
        "new_line": None,
        **lines,
    }


def _notes(mr: Any, discussion_id: str) -> list[dict[str, Any]]:
    notes: list[dict[str, Any]] = mr.discussions.get(discussion_id).attributes["notes"]
    return notes


def test_diff_notes_follow_or_outdate_on_push(
    root_gl: gitlab.Gitlab, git_url: str, tmp_path: Path
) -> None:
    project = root_gl.projects.create({"name": "diffnotes"})
    remote = authed(f"{git_url}/root/diffnotes.git", "root", ROOT_TOKEN)
    work = make_repo(tmp_path / "work", {"f.txt": BASE})
    git("push", "-q", remote, "main", cwd=work)
    git("checkout", "-q", "-b", "topic", cwd=work)
    changed = BASE.replace("line 10\n", "line ten\n")
    commit_file(work, "f.txt", changed, "Ten")
    git("push", "-q", remote, "topic", cwd=work)
    mr = project.mergerequests.create(
        {"source_branch": "topic", "target_branch": "main", "title": "Ten"}
    )
    added = mr.discussions.create({"body": "Why ten?", "position": _position(mr, new_line=10)})
    context = mr.discussions.create(
        {"body": "Context", "position": _position(mr, new_line=12, old_line=12)}
    )
    added.notes.create({"body": "A reply"})
    first_head = mr.sha

    # A push above both lines: both notes (and the reply) move down one line, to the new head.
    second = commit_file(work, "f.txt", "first\n" + changed, "Prepend")
    git("push", "-q", remote, "topic", cwd=work)
    mr = project.mergerequests.get(mr.iid)
    assert mr.sha == second
    for note in _notes(mr, added.id):
        assert (note["position"]["new_line"], note["position"]["head_sha"]) == (11, second)
    moved = _notes(mr, context.id)[0]["position"]
    assert (moved["new_line"], moved["old_line"], moved["head_sha"]) == (13, 12, second)

    # The project resolves outdated threads; a push rewriting the commented line outdates
    # that thread (it stays on its version) and resolves it; the other one follows.
    project.resolve_outdated_diff_discussions = True
    project.save()
    third = commit_file(
        work, "f.txt", "first\n" + changed.replace("line ten", "line 10!"), "Rewrite"
    )
    git("push", "-q", remote, "topic", cwd=work)
    mr = project.mergerequests.get(mr.iid)
    assert mr.sha == third
    stale = _notes(mr, added.id)
    assert stale[0]["position"]["head_sha"] == second != mr.sha
    assert all(note["resolved"] for note in stale)
    follows = _notes(mr, context.id)[0]
    assert (follows["position"]["new_line"], follows["position"]["head_sha"]) == (13, third)
    assert follows["resolved"] is False
    assert first_head not in (stale[0]["position"]["head_sha"], follows["position"]["head_sha"])


def test_deleting_noteables_deletes_their_notes(gl: gitlab.Gitlab) -> None:
    from kiln.notes.models import AwardEmoji, Note
    from tests.merge_requests.support import open_mr, project_with_branch

    project = project_with_branch(gl, "deletes-notes")
    mr = open_mr(project)
    note = mr.notes.create({"body": "Looks good"})
    note.awardemojis.create({"name": "thumbsup"})
    mr.awardemojis.create({"name": "tada"})
    issue = project.issues.create({"title": "Doomed"})
    issue.notes.create({"body": "bye"})
    assert Note.objects.filter(noteable_type="MergeRequest", noteable_id=mr.id).exists()

    project.mergerequests.delete(mr.iid)
    project.issues.delete(issue.iid)
    assert not Note.objects.filter(noteable_type="MergeRequest", noteable_id=mr.id).exists()
    assert not Note.objects.filter(noteable_type="Issue", noteable_id=issue.id).exists()
    assert not AwardEmoji.objects.filter(awardable_type="Note", awardable_id=note.id).exists()
    assert not AwardEmoji.objects.filter(awardable_type="MergeRequest", awardable_id=mr.id).exists()
