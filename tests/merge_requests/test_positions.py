"""Diff note positions: stored with GitLab's `position`, followed across pushes that leave
their line alone, outdated by pushes that change it."""

from __future__ import annotations

import gitlab

from kiln.merge_requests.positions import new_to_old, old_to_new, parse_hunks, removed_in
from tests.merge_requests.support import open_mr, project_with_branch
from tests.repositories.support import commit_files

PATCH = "@@ -2,3 +2,4 @@ a\n b\n-c\n+C\n+C2\n d\n@@ -10,0 +12,2 @@\n+x\n+y\n"


def test_line_arithmetic() -> None:
    hunks = parse_hunks(PATCH)
    assert [(h.old_start, h.old_count, h.new_start, h.new_count) for h in hunks] == [
        (2, 3, 2, 4),
        (10, 0, 12, 2),
    ]
    assert old_to_new(hunks, 1) == 1
    assert old_to_new(hunks, 2) == 2
    assert old_to_new(hunks, 3) is None  # removed
    assert old_to_new(hunks, 4) == 5
    assert old_to_new(hunks, 10) == 11
    assert old_to_new(hunks, 11) == 14
    assert new_to_old(hunks, 3) == ("+", None)
    assert new_to_old(hunks, 5) == (" ", 4)
    assert new_to_old(hunks, 12) == ("+", None)
    assert new_to_old(hunks, 20) == (" ", 17)
    assert removed_in(hunks, 3) is True
    assert removed_in(hunks, 4) is False


def test_diff_note_follows_untouched_lines(gl: gitlab.Gitlab) -> None:
    from kiln.merge_requests.diffs import latest_diff
    from kiln.merge_requests.models import MergeRequest
    from kiln.merge_requests.positions import trace

    base = "".join(f"line {n}\n" for n in range(1, 21))
    changed = base.replace("line 10\n", "line ten\n")
    project = project_with_branch(gl, "positions", base={"f.txt": base}, changes={"f.txt": changed})
    mr = open_mr(project)
    refs = mr.diff_refs
    position = {
        "base_sha": refs["base_sha"],
        "start_sha": refs["start_sha"],
        "head_sha": refs["head_sha"],
        "position_type": "text",
        "old_path": "f.txt",
        "new_path": "f.txt",
        "new_line": 10,
        "old_line": None,
    }
    discussion = mr.discussions.create({"body": "Why ten?", "position": position})
    note = discussion.attributes["notes"][0]
    assert note["type"] == "DiffNote"
    assert note["position"]["new_line"] == 10
    assert note["resolvable"] is True

    # A push above the line shifts it down by one; the note follows.
    commit_files(project, {"f.txt": "new first\n" + changed}, branch="feature")
    row = MergeRequest.objects.select_related("project").get(project_id=project.id, iid=mr.iid)
    version = latest_diff(row)
    assert version is not None
    moved = trace(row, position, version)
    assert moved is not None
    assert (moved["new_line"], moved["old_line"], moved["head_sha"]) == (
        11,
        None,
        version.head_commit_sha,
    )
    # An unchanged line keeps both sides.
    context = trace(row, {**position, "new_line": 15, "old_line": 15}, version)
    assert context is not None
    assert (context["new_line"], context["old_line"]) == (16, 15)

    # A push that rewrites the line outdates the note.
    commit_files(project, {"f.txt": "new first\n" + changed.replace("line ten", "line 10!")},
                 branch="feature")  # fmt: skip
    newer = latest_diff(row)
    assert newer is not None
    assert trace(row, moved, newer) is None
    fresh = project.mergerequests.get(mr.iid)
    shown = fresh.discussions.get(discussion.id).attributes["notes"][0]["position"]
    assert shown["head_sha"] != fresh.sha  # still pinned to the version it was written on
