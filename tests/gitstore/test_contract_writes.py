"""The GitStore contract, part 2: commits without a work tree, merges, cherry-picks,
reverts and rebases. Every failing write must leave the branch where it was.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kiln.gitstore import (
    CommitAction,
    CommitActionError,
    CommitActionKind,
    GitStore,
    InvalidArgument,
    InvalidPath,
    MergeConflict,
    NoChanges,
    NotFastForward,
    PathNotFound,
    RefConflict,
    RevisionNotFound,
)

from .conftest import ALICE, BOB, run_git, write

CREATE, UPDATE, DELETE = CommitActionKind.CREATE, CommitActionKind.UPDATE, CommitActionKind.DELETE
MOVE, CHMOD = CommitActionKind.MOVE, CommitActionKind.CHMOD


def commit(store: GitStore, repo: str, *actions: CommitAction, **kwargs: object) -> str:
    options: dict[str, object] = {"branch": "main", "author": ALICE, "message": "m", **kwargs}
    return store.create_commit(relative_path=repo, actions=actions, **options).id  # type: ignore[arg-type]


def read(store: GitStore, repo: str, path: str, revision: str = "main") -> bytes:
    return store.get_blob_at(relative_path=repo, revision=revision, path=path).data


def head(store: GitStore, repo: str, branch: str = "main") -> str | None:
    return store.resolve_revision(relative_path=repo, revision=branch)


# -- create_commit ----------------------------------------------------------------------------


def test_first_commit_in_empty_repository(store: GitStore, repo: str) -> None:
    new = store.create_commit(
        relative_path=repo,
        branch="main",
        actions=[CommitAction(action=CREATE, file_path="docs/README.md", content=b"# hi\n")],
        author=ALICE,
        committer=BOB,
        message="Initial commit",
    )
    assert new.parent_ids == ()
    assert new.message == "Initial commit\n"
    assert (new.author.email, new.committer.email) == (ALICE.email, BOB.email)
    assert head(store, repo) == new.id
    assert read(store, repo, "docs/README.md") == b"# hi\n"
    assert store.get_default_branch(relative_path=repo) == "main"


def test_every_action_kind(store: GitStore, repo: str) -> None:
    first = commit(
        store,
        repo,
        CommitAction(action=CREATE, file_path="a.txt", content=b"a\n"),
        CommitAction(action=CREATE, file_path="dir/b.txt", content=b"b\n"),
        CommitAction(
            action=CREATE, file_path="run.sh", content=b"#!/bin/sh\n", execute_filemode=True
        ),
        CommitAction(action=CREATE, file_path="empty.txt"),
    )
    second = commit(
        store,
        repo,
        CommitAction(action=UPDATE, file_path="a.txt", content=b"A\n", last_commit_id=first),
        CommitAction(action=MOVE, file_path="moved/b.txt", previous_path="dir/b.txt"),
        CommitAction(action=CHMOD, file_path="run.sh", execute_filemode=False),
        CommitAction(action=DELETE, file_path="empty.txt"),
    )
    assert store.get_commit(relative_path=repo, revision=second).parent_ids == (first,)
    assert read(store, repo, "a.txt") == b"A\n"
    assert read(store, repo, "moved/b.txt") == b"b\n"
    tree = {
        e.path: e.mode for e in store.list_tree(relative_path=repo, revision="main", recursive=True)
    }
    # "dir" disappeared with its last file; git has no empty directories.
    assert tree == {
        "a.txt": "100644",
        "moved": "040000",
        "moved/b.txt": "100644",
        "run.sh": "100644",
    }
    assert store.get_blob_at(relative_path=repo, revision=first, path="run.sh").mode == "100755"
    # A move may also change the content.
    commit(
        store,
        repo,
        CommitAction(action=MOVE, file_path="c.txt", previous_path="a.txt", content=b"C\n"),
    )
    assert read(store, repo, "c.txt") == b"C\n"


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (CommitAction(action=CREATE, file_path="a.txt", content=b"x"), "already exists"),
        (CommitAction(action=CREATE, file_path="dir", content=b"x"), "directory with this name"),
        (CommitAction(action=UPDATE, file_path="missing.txt", content=b"x"), "doesn't exist"),
        (CommitAction(action=DELETE, file_path="missing.txt"), "doesn't exist"),
        (CommitAction(action=DELETE, file_path="dir"), "doesn't exist"),
        (CommitAction(action=MOVE, file_path="new.txt", previous_path="nope.txt"), "doesn't exist"),
        (CommitAction(action=MOVE, file_path="dir/f.txt", previous_path="a.txt"), "already exists"),
        (CommitAction(action=MOVE, file_path="x.txt"), "previous path"),
        (
            CommitAction(action=CREATE, file_path="a.txt/inner", content=b"x"),
            "a parent in the path",
        ),
    ],
)
def test_actions_that_do_not_apply(
    store: GitStore, repo: str, action: CommitAction, message: str
) -> None:
    before = commit(
        store,
        repo,
        CommitAction(action=CREATE, file_path="a.txt", content=b"a"),
        CommitAction(action=CREATE, file_path="dir/f.txt", content=b"f"),
    )
    with pytest.raises(CommitActionError, match=message):
        commit(store, repo, action)
    assert head(store, repo) == before


def test_update_of_a_file_changed_since_last_commit_id(store: GitStore, repo: str) -> None:
    first = commit(store, repo, CommitAction(action=CREATE, file_path="a.txt", content=b"1"))
    commit(store, repo, CommitAction(action=UPDATE, file_path="a.txt", content=b"2"))
    other = commit(store, repo, CommitAction(action=CREATE, file_path="b.txt", content=b"b"))
    with pytest.raises(CommitActionError, match="changed since"):
        commit(
            store,
            repo,
            CommitAction(action=UPDATE, file_path="a.txt", content=b"3", last_commit_id=first),
        )
    assert head(store, repo) == other
    # A commit that did not touch the file is fine when the content is what it was then.
    commit(
        store,
        repo,
        CommitAction(action=UPDATE, file_path="a.txt", content=b"3", last_commit_id=other),
    )


def test_branch_start_points(store: GitStore, repo: str) -> None:
    base = commit(store, repo, CommitAction(action=CREATE, file_path="a", content=b"1"))
    main2 = commit(store, repo, CommitAction(action=UPDATE, file_path="a", content=b"2"))
    from_sha = commit(
        store,
        repo,
        CommitAction(action=CREATE, file_path="b", content=b"b"),
        branch="from-sha",
        start_sha=base,
    )
    assert store.get_commit(relative_path=repo, revision=from_sha).parent_ids == (base,)
    from_branch = commit(
        store,
        repo,
        CommitAction(action=CREATE, file_path="c", content=b"c"),
        branch="from-branch",
        start_branch="main",
    )
    assert store.get_commit(relative_path=repo, revision=from_branch).parent_ids == (main2,)
    # An existing branch with a different start point needs force, which rewrites it.
    with pytest.raises(CommitActionError, match="already exists"):
        commit(
            store,
            repo,
            CommitAction(action=CREATE, file_path="d", content=b"d"),
            branch="from-sha",
            start_branch="main",
        )
    forced = commit(
        store,
        repo,
        CommitAction(action=CREATE, file_path="d", content=b"d"),
        branch="from-sha",
        start_branch="main",
        force=True,
    )
    assert store.get_commit(relative_path=repo, revision=forced).parent_ids == (main2,)
    with pytest.raises(RevisionNotFound):
        commit(
            store,
            repo,
            CommitAction(action=CREATE, file_path="e", content=b"e"),
            branch="n",
            start_branch="nope",
        )
    with pytest.raises(CommitActionError, match="does not exist"):
        commit(
            store, repo, CommitAction(action=CREATE, file_path="e", content=b"e"), branch="orphan"
        )
    with pytest.raises(InvalidArgument):
        commit(
            store,
            repo,
            CommitAction(action=CREATE, file_path="e", content=b"e"),
            branch="x",
            start_branch="main",
            start_sha=base,
        )


def test_create_commit_compare_and_swap(store: GitStore, repo: str) -> None:
    first = commit(store, repo, CommitAction(action=CREATE, file_path="a", content=b"1"))
    second = commit(store, repo, CommitAction(action=UPDATE, file_path="a", content=b"2"))
    with pytest.raises(RefConflict):
        commit(
            store,
            repo,
            CommitAction(action=UPDATE, file_path="a", content=b"3"),
            expected_old_oid=first,
        )
    assert head(store, repo) == second
    third = commit(
        store,
        repo,
        CommitAction(action=UPDATE, file_path="a", content=b"3"),
        expected_old_oid=second,
    )
    assert head(store, repo) == third


def test_create_commit_argument_checks(store: GitStore, repo: str) -> None:
    with pytest.raises(CommitActionError):
        commit(store, repo)  # no actions
    with pytest.raises(InvalidArgument):
        commit(store, repo, CommitAction(action=CREATE, file_path="a", content=b"1"), message="  ")
    with pytest.raises(InvalidArgument):
        commit(store, repo, CommitAction(action="explode", file_path="a"))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        commit(store, repo, CommitAction(action=CHMOD, file_path="a"))
    assert store.is_empty(relative_path=repo)


# -- merge ------------------------------------------------------------------------------------


def diverged(store: GitStore, repo: str) -> tuple[str, str, str]:
    """main and feature diverging from a base; returns (base, main head, feature head)."""
    base = write(store, repo, {"shared.txt": b"1\n2\n3\n", "main.txt": b"m\n"}).id
    feature = write(store, repo, {"feature.txt": b"f\n"}, branch="feature", start_branch="main").id
    main = write(store, repo, {"main.txt": b"m2\n"}).id
    return base, main, feature


def test_merge_commit(store: GitStore, repo: str) -> None:
    _, main, feature = diverged(store, repo)
    assert store.find_conflicts(relative_path=repo, source="feature", target="main") == ()
    assert store.can_merge(relative_path=repo, source="feature", target="main")
    result = store.merge(
        relative_path=repo,
        source="feature",
        target="main",
        message="Merge branch 'feature'",
        author=BOB,
        expected_target_oid=main,
    )
    assert not result.fast_forward
    assert result.commit.parent_ids == (main, feature)
    assert result.commit.author.name == BOB.name
    assert head(store, repo) == result.commit.id
    assert read(store, repo, "feature.txt") == b"f\n"
    assert read(store, repo, "main.txt") == b"m2\n"
    with pytest.raises(NoChanges):
        store.merge(
            relative_path=repo, source="feature", target="main", message="again", author=BOB
        )


def test_merge_always_creates_a_merge_commit_unless_fast_forward_only(
    store: GitStore, repo: str
) -> None:
    base = write(store, repo, {"a": b"1"}).id
    feature = write(store, repo, {"b": b"2"}, branch="feature", start_branch="main").id
    merged = store.merge(
        relative_path=repo, source="feature", target="main", message="m", author=ALICE
    )
    assert merged.commit.parent_ids == (base, feature)
    store.create_branch(relative_path=repo, name="ff-target", revision=base)
    fast = store.merge(
        relative_path=repo,
        source=feature,
        target="ff-target",
        message="m",
        author=ALICE,
        fast_forward_only=True,
    )
    assert fast.fast_forward
    assert fast.commit.id == feature
    assert head(store, repo, "ff-target") == feature


def test_squash_merge(store: GitStore, repo: str) -> None:
    _, main, _ = diverged(store, repo)
    write(store, repo, {"feature2.txt": b"g\n"}, branch="feature")
    result = store.merge(
        relative_path=repo,
        source="feature",
        target="main",
        message="Squashed",
        author=ALICE,
        squash=True,
    )
    assert result.commit.parent_ids == (main,)
    assert read(store, repo, "feature.txt") == b"f\n"
    assert read(store, repo, "feature2.txt") == b"g\n"


def test_fast_forward_only_refuses_diverged_branches(store: GitStore, repo: str) -> None:
    _, main, _ = diverged(store, repo)
    with pytest.raises(NotFastForward):
        store.merge(
            relative_path=repo,
            source="feature",
            target="main",
            message="m",
            author=ALICE,
            fast_forward_only=True,
        )
    assert head(store, repo) == main


def test_merge_conflict(store: GitStore, repo: str) -> None:
    write(store, repo, {"f.txt": b"1\n2\n3\n", "g.txt": b"g\n"})
    write(
        store,
        repo,
        {"f.txt": b"1\nfeature\n3\n", "g.txt": b"feature\n"},
        branch="feature",
        start_branch="main",
    )
    main = write(store, repo, {"f.txt": b"1\nmain\n3\n", "g.txt": b"main\n"}).id
    assert store.find_conflicts(relative_path=repo, source="feature", target="main") == (
        "f.txt",
        "g.txt",
    )
    assert not store.can_merge(relative_path=repo, source="feature", target="main")
    with pytest.raises(MergeConflict) as raised:
        store.merge(relative_path=repo, source="feature", target="main", message="m", author=ALICE)
    assert raised.value.paths == ("f.txt", "g.txt")
    assert head(store, repo) == main


def test_merge_compare_and_swap(store: GitStore, repo: str) -> None:
    base, main, _ = diverged(store, repo)
    with pytest.raises(RefConflict):
        store.merge(
            relative_path=repo,
            source="feature",
            target="main",
            message="m",
            author=ALICE,
            expected_target_oid=base,
        )
    assert head(store, repo) == main
    with pytest.raises(RevisionNotFound):
        store.merge(relative_path=repo, source="feature", target="nope", message="m", author=ALICE)


# -- cherry-pick, revert, rebase --------------------------------------------------------------


def test_cherry_pick(store: GitStore, repo: str) -> None:
    write(store, repo, {"a.txt": b"1\n2\n3\n"})
    picked = write(
        store,
        repo,
        {"b.txt": b"fix\n"},
        branch="feature",
        start_branch="main",
        author=BOB,
        message="Fix it",
    ).id
    before = write(store, repo, {"a.txt": b"1\n2\n3\n4\n"}).id
    new = store.cherry_pick(relative_path=repo, commit=picked, branch="main", committer=ALICE)
    assert new.parent_ids == (before,)
    assert new.author.name == BOB.name  # the change keeps its author
    assert new.committer.name == ALICE.name
    assert new.message == f"Fix it\n\n(cherry picked from commit {picked})\n"
    assert read(store, repo, "b.txt") == b"fix\n"
    with pytest.raises(NoChanges):
        store.cherry_pick(relative_path=repo, commit=picked, branch="main", committer=ALICE)


def test_cherry_pick_conflict_leaves_branch(store: GitStore, repo: str) -> None:
    write(store, repo, {"a.txt": b"1\n"})
    picked = write(store, repo, {"a.txt": b"feature\n"}, branch="feature", start_branch="main").id
    main = write(store, repo, {"a.txt": b"main\n"}).id
    with pytest.raises(MergeConflict) as raised:
        store.cherry_pick(relative_path=repo, commit=picked, branch="main", committer=ALICE)
    assert raised.value.paths == ("a.txt",)
    assert head(store, repo) == main


def test_revert(store: GitStore, repo: str) -> None:
    write(store, repo, {"a.txt": b"1\n", "b.txt": b"b\n"})
    bad = write(store, repo, {"a.txt": b"broken\n"}, message="Break things").id
    write(store, repo, {"b.txt": b"b2\n"})
    reverted = store.revert(relative_path=repo, commit=bad, branch="main", committer=BOB)
    assert reverted.message == f'Revert "Break things"\n\nThis reverts commit {bad}.\n'
    assert reverted.author.name == BOB.name
    assert read(store, repo, "a.txt") == b"1\n"
    assert read(store, repo, "b.txt") == b"b2\n"
    with pytest.raises(NoChanges):
        store.revert(relative_path=repo, commit=bad, branch="main", committer=BOB)


def test_rebase(store: GitStore, repo: str) -> None:
    write(store, repo, {"a.txt": b"1\n"})
    f1 = write(
        store,
        repo,
        {"f1.txt": b"1\n"},
        branch="feature",
        start_branch="main",
        author=BOB,
        message="f1",
    ).id
    write(store, repo, {"f2.txt": b"2\n"}, branch="feature", author=BOB, message="f2")
    main = write(store, repo, {"a.txt": b"2\n"}).id
    # A commit already upstream is skipped.
    store.cherry_pick(relative_path=repo, commit=f1, branch="main", committer=ALICE)
    upstream = head(store, repo)
    assert upstream != main
    result = store.rebase(relative_path=repo, branch="feature", onto="main", committer=ALICE)
    assert result.changed
    assert len(result.commit_ids) == 1
    rebased = store.get_commit(relative_path=repo, revision="feature")
    assert rebased.parent_ids == (upstream,)
    assert rebased.message == "f2\n"
    assert (rebased.author.name, rebased.committer.name) == (BOB.name, ALICE.name)
    assert read(store, repo, "a.txt", "feature") == b"2\n"
    assert read(store, repo, "f2.txt", "feature") == b"2\n"
    again = store.rebase(relative_path=repo, branch="feature", onto="main", committer=ALICE)
    assert not again.changed
    assert again.head.id == rebased.id


def test_rebase_conflict_leaves_branch(store: GitStore, repo: str) -> None:
    write(store, repo, {"a.txt": b"1\n"})
    feature = write(store, repo, {"a.txt": b"feature\n"}, branch="feature", start_branch="main").id
    write(store, repo, {"a.txt": b"main\n"})
    with pytest.raises(MergeConflict):
        store.rebase(relative_path=repo, branch="feature", onto="main", committer=ALICE)
    assert head(store, repo, "feature") == feature
    with pytest.raises(RefConflict):
        store.rebase(
            relative_path=repo,
            branch="feature",
            onto="main",
            committer=ALICE,
            expected_old_oid="0" * 39 + "1",
        )


# -- writing through symlinks, into .git -------------------------------------------------------


def test_no_write_through_a_symlink_or_into_dot_git(
    store: GitStore, repo: str, workdir: Path, push: Callable[..., None]
) -> None:
    (workdir / "real").mkdir()
    (workdir / "real" / "f.txt").write_text("f\n")
    (workdir / "link").symlink_to("real")
    (workdir / "escape").symlink_to("/tmp")
    run_git(workdir, "add", "-A")
    run_git(workdir, "commit", "--quiet", "-m", "links")
    push(repo, workdir)
    before = head(store, repo)
    for path in ("link/f.txt", "link/new.txt", "escape/owned.txt"):
        with pytest.raises(CommitActionError, match="symlink"):
            commit(store, repo, CommitAction(action=CREATE, file_path=path, content=b"x"))
        with pytest.raises(CommitActionError):
            commit(store, repo, CommitAction(action=UPDATE, file_path=path, content=b"x"))
    for path in (".git/config", ".git/hooks/post-update", "sub/.GIT/config", ".git"):
        with pytest.raises(InvalidPath):
            commit(store, repo, CommitAction(action=CREATE, file_path=path, content=b"x"))
    with pytest.raises(InvalidPath):
        commit(store, repo, CommitAction(action=MOVE, file_path="ok.txt", previous_path="../x"))
    assert head(store, repo) == before
    # Updating the symlink itself rewrites its target as data; nothing is followed.
    commit(store, repo, CommitAction(action=UPDATE, file_path="link", content=b"elsewhere"))
    blob = store.get_blob_at(relative_path=repo, revision="main", path="link")
    assert (blob.mode, blob.data) == ("120000", b"elsewhere")
    with pytest.raises(CommitActionError):
        commit(store, repo, CommitAction(action=CHMOD, file_path="link", execute_filemode=True))
    with pytest.raises(PathNotFound):
        store.get_blob_at(relative_path=repo, revision="main", path="link/f.txt")
