"""The GitStore contract, part 1: repositories, refs, object reads and history.

Every test takes the ``store`` fixture, so it runs against every implementation listed in
``conftest.IMPLEMENTATIONS``. Tests use the store's own API to build history wherever the API
can; hand-made work trees are pushed only for content it cannot create (symlinks).
"""

from __future__ import annotations

import bz2
import gzip
import io
import tarfile
import threading
import uuid
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiln.gitstore import (
    ZERO_OID,
    ArchiveFormat,
    Commit,
    CommitAction,
    CommitActionKind,
    GitStore,
    Identity,
    InvalidArgument,
    InvalidRef,
    PathNotFound,
    RefConflict,
    RepositoryExists,
    RepositoryNotFound,
    RevisionNotFound,
    hashed_relative_path,
)

from .conftest import ALICE, BOB, run_git, write

# -- repositories ---------------------------------------------------------------------------


def test_hashed_relative_path_is_gitlab_shaped() -> None:
    # sha256("1"), as GitLab's hashed storage lays out project 1.
    digest = "6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b"
    assert hashed_relative_path("1") == f"@hashed/6b/86/{digest}.git"


def test_create_repository_is_empty(store: GitStore, repo: str) -> None:
    assert store.repository_exists(relative_path=repo)
    assert store.is_empty(relative_path=repo)
    assert store.list_branches(relative_path=repo) == ()
    assert store.get_default_branch(relative_path=repo) is None
    assert store.log(relative_path=repo) == ()
    assert store.count_commits(relative_path=repo) == 0
    assert store.resolve_revision(relative_path=repo, revision="HEAD") is None


def test_create_repository_twice_is_refused(store: GitStore, repo: str) -> None:
    with pytest.raises(RepositoryExists):
        store.create_repository(relative_path=repo)


def test_default_branch_chosen_at_creation(store: GitStore) -> None:
    relative_path = hashed_relative_path("trunk-repo")
    store.create_repository(relative_path=relative_path, default_branch="trunk")
    write(store, relative_path, {"README.md": b"hi\n"}, branch="trunk")
    assert not store.is_empty(relative_path=relative_path)
    assert store.get_default_branch(relative_path=relative_path) == "trunk"


def test_remove_repository(store: GitStore, repo: str) -> None:
    write(store, repo, {"a": b"1"})
    store.remove_repository(relative_path=repo)
    assert not store.repository_exists(relative_path=repo)
    with pytest.raises(RepositoryNotFound):
        store.remove_repository(relative_path=repo)
    with pytest.raises(RepositoryNotFound):
        store.list_branches(relative_path=repo)
    # The same path can be used again.
    store.create_repository(relative_path=repo)
    assert store.is_empty(relative_path=repo)


def test_missing_repository(store: GitStore) -> None:
    missing = hashed_relative_path("never-created")
    assert not store.repository_exists(relative_path=missing)
    with pytest.raises(RepositoryNotFound):
        store.get_commit(relative_path=missing, revision="main")
    with pytest.raises(RepositoryNotFound):
        store.log(relative_path=missing)


def test_fork_is_independent_of_its_source(store: GitStore, repo: str) -> None:
    first = write(store, repo, {"a.txt": b"1\n"})
    store.create_tag(relative_path=repo, name="v1", revision="main")
    write(store, repo, {"b.txt": b"2\n"}, branch="feature", start_branch="main")
    fork = hashed_relative_path("fork")
    store.fork_repository(source_relative_path=repo, relative_path=fork)
    assert [b.name for b in store.list_branches(relative_path=fork)] == ["feature", "main"]
    assert [t.name for t in store.list_tags(relative_path=fork)] == ["v1"]
    assert store.get_default_branch(relative_path=fork) == "main"

    write(store, fork, {"a.txt": b"changed in fork\n"})
    assert store.resolve_revision(relative_path=repo, revision="main") == first.id

    store.remove_repository(relative_path=repo)
    assert store.fsck(relative_path=fork) == ()
    blob = store.get_blob_at(relative_path=fork, revision=first.id, path="a.txt")
    assert blob.data == b"1\n"
    with pytest.raises(RepositoryExists):
        store.fork_repository(source_relative_path=fork, relative_path=fork)


# -- branches, tags and refs -------------------------------------------------------------------


def test_branches(store: GitStore, repo: str) -> None:
    first = write(store, repo, {"a": b"1"})
    store.create_branch(relative_path=repo, name="feature/x", revision="main")
    second = write(store, repo, {"a": b"2"})
    branches = store.list_branches(relative_path=repo)
    assert [(b.name, b.commit.id) for b in branches] == [
        ("feature/x", first.id),
        ("main", second.id),
    ]
    found = store.find_branch(relative_path=repo, name="feature/x")
    assert found is not None
    assert found.commit == first
    assert store.find_branch(relative_path=repo, name="nope") is None


def test_create_branch_conflicts_and_unknown_revisions(store: GitStore, repo: str) -> None:
    write(store, repo, {"a": b"1"})
    store.create_branch(relative_path=repo, name="dev", revision="main")
    with pytest.raises(RefConflict):
        store.create_branch(relative_path=repo, name="dev", revision="main")
    with pytest.raises(RevisionNotFound):
        store.create_branch(relative_path=repo, name="other", revision="does-not-exist")
    # A ref "dev" blocks "dev/sub" (git stores refs as files).
    with pytest.raises(RefConflict):
        store.create_branch(relative_path=repo, name="dev/sub", revision="main")


def test_delete_branch_is_compare_and_swap(store: GitStore, repo: str) -> None:
    first = write(store, repo, {"a": b"1"})
    store.create_branch(relative_path=repo, name="dev", revision="main")
    write(store, repo, {"a": b"2"}, branch="dev")
    with pytest.raises(RefConflict):
        store.delete_branch(relative_path=repo, name="dev", expected_oid=first.id)
    store.delete_branch(relative_path=repo, name="dev")
    assert store.find_branch(relative_path=repo, name="dev") is None
    with pytest.raises(RevisionNotFound):
        store.delete_branch(relative_path=repo, name="dev")


def test_update_ref_compare_and_swap(store: GitStore, repo: str) -> None:
    first = write(store, repo, {"a": b"1"})
    second = write(store, repo, {"a": b"2"})
    ref = "refs/merge-requests/1/head"
    store.update_ref(relative_path=repo, ref=ref, new_oid=first.id, old_oid=None)
    with pytest.raises(RefConflict):  # must not exist yet
        store.update_ref(relative_path=repo, ref=ref, new_oid=second.id, old_oid=None)
    with pytest.raises(RefConflict):  # wrong expectation
        store.update_ref(relative_path=repo, ref=ref, new_oid=second.id, old_oid=second.id)
    store.update_ref(relative_path=repo, ref=ref, new_oid=second.id, old_oid=first.id)
    assert store.resolve_revision(relative_path=repo, revision=ref) == second.id
    with pytest.raises(RefConflict):
        store.delete_ref(relative_path=repo, ref=ref, old_oid=first.id)
    store.delete_ref(relative_path=repo, ref=ref, old_oid=second.id)
    assert store.resolve_revision(relative_path=repo, revision=ref) is None
    # The null id as "old" means "must not exist", like None.
    store.update_ref(relative_path=repo, ref=ref, new_oid=first.id, old_oid=ZERO_OID)


def test_update_ref_refuses_missing_objects_and_bad_names(store: GitStore, repo: str) -> None:
    commit = write(store, repo, {"a": b"1"})
    with pytest.raises(RevisionNotFound):
        store.update_ref(relative_path=repo, ref="refs/heads/x", new_oid="1" * 40, old_oid=None)
    with pytest.raises(RevisionNotFound):  # a branch must point at a commit
        store.update_ref(
            relative_path=repo, ref="refs/heads/x", new_oid=commit.tree_id, old_oid=None
        )
    for bad in ("HEAD", "main", "refs/heads/a..b", "refs/heads/x.lock", "-refs/heads/x"):
        with pytest.raises(InvalidRef):
            store.update_ref(relative_path=repo, ref=bad, new_oid=commit.id, old_oid=None)
    with pytest.raises(InvalidRef):
        store.update_ref(relative_path=repo, ref="refs/heads/x", new_oid="main", old_oid=None)


def test_concurrent_compare_and_swap_has_one_winner(store: GitStore, repo: str) -> None:
    base = write(store, repo, {"a": b"0"})
    candidates = [
        write(store, repo, {"a": str(i).encode()}, branch=f"b{i}", start_branch="main")
        for i in range(6)
    ]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(candidates))

    def attempt(new_oid: str) -> None:
        barrier.wait()
        try:
            store.update_ref(
                relative_path=repo, ref="refs/heads/main", new_oid=new_oid, old_oid=base.id
            )
            outcomes.append("won")
        except RefConflict:
            outcomes.append("lost")

    threads = [threading.Thread(target=attempt, args=(c.id,)) for c in candidates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["lost"] * (len(candidates) - 1) + ["won"]
    head = store.resolve_revision(relative_path=repo, revision="main")
    assert head in {c.id for c in candidates}


def test_tags(store: GitStore, repo: str) -> None:
    first = write(store, repo, {"a": b"1"})
    write(store, repo, {"a": b"2"})
    light = store.create_tag(relative_path=repo, name="v1.0", revision=first.id)
    assert (light.annotated, light.message, light.tagger, light.target_id) == (
        False,
        None,
        None,
        first.id,
    )
    annotated = store.create_tag(
        relative_path=repo, name="v2.0", revision="main", message="Release 2", tagger=BOB
    )
    assert annotated.annotated
    assert annotated.commit is not None
    assert annotated.target_id != annotated.commit.id  # the tag object, not the commit
    assert annotated.message == "Release 2\n"
    assert annotated.tagger is not None
    assert (annotated.tagger.name, annotated.tagger.email) == (BOB.name, BOB.email)
    assert annotated.tagger.date == BOB.date
    assert [t.name for t in store.list_tags(relative_path=repo)] == ["v1.0", "v2.0"]
    assert store.find_tag(relative_path=repo, name="v2.0") == annotated
    assert store.find_tag(relative_path=repo, name="v3.0") is None
    with pytest.raises(RefConflict):
        store.create_tag(relative_path=repo, name="v1.0", revision="main")
    with pytest.raises(InvalidArgument):
        store.create_tag(relative_path=repo, name="v3.0", revision="main", message="no tagger")
    # A tag resolves to the commit it peels to.
    assert store.resolve_revision(relative_path=repo, revision="v2.0") == annotated.commit.id
    store.delete_tag(relative_path=repo, name="v1.0")
    assert store.find_tag(relative_path=repo, name="v1.0") is None


def test_ref_targets(store: GitStore, repo: str) -> None:
    commit = write(store, repo, {"a": b"1"})
    tag = store.create_tag(
        relative_path=repo, name="v1", revision="main", message="Release", tagger=BOB
    )
    targets = store.ref_targets(
        relative_path=repo, refs=["refs/heads/main", "refs/tags/v1", "refs/heads/gone"]
    )
    # Tags are not peeled: a push names the tag object, and so does this.
    assert targets == {
        "refs/heads/main": commit.id,
        "refs/tags/v1": tag.target_id,
        "refs/heads/gone": None,
    }
    with pytest.raises(InvalidRef):
        store.ref_targets(relative_path=repo, refs=["main"])


def test_resolve_revision(store: GitStore, repo: str) -> None:
    first = write(store, repo, {"a": b"1"})
    second = write(store, repo, {"a": b"2"})
    store.create_branch(relative_path=repo, name="old", revision=first.id)
    resolve = store.resolve_revision
    assert resolve(relative_path=repo, revision=second.id) == second.id
    assert resolve(relative_path=repo, revision=second.id.upper()) == second.id
    assert resolve(relative_path=repo, revision=second.id[:7]) == second.id
    assert resolve(relative_path=repo, revision="main") == second.id
    assert resolve(relative_path=repo, revision="refs/heads/old") == first.id
    assert resolve(relative_path=repo, revision="heads/old") == first.id
    assert resolve(relative_path=repo, revision="HEAD") == second.id
    assert resolve(relative_path=repo, revision="nope") is None
    assert resolve(relative_path=repo, revision="ffffffff") is None
    # As in git, a tag shadows a branch of the same name.
    store.create_tag(relative_path=repo, name="old", revision=second.id)
    assert resolve(relative_path=repo, revision="old") == second.id
    # A ref name that looks like an abbreviated id wins over the id (git's order).
    store.create_branch(relative_path=repo, name=first.id[:8], revision=second.id)
    assert resolve(relative_path=repo, revision=first.id[:8]) == second.id


def test_set_head_and_default_branch_fallback(store: GitStore, repo: str) -> None:
    write(store, repo, {"a": b"1"})
    store.create_branch(relative_path=repo, name="develop", revision="main")
    store.set_head(relative_path=repo, branch="develop")
    assert store.get_default_branch(relative_path=repo) == "develop"
    store.set_head(relative_path=repo, branch="gone")
    assert store.get_default_branch(relative_path=repo) == "main"
    store.delete_branch(relative_path=repo, name="main")
    assert store.get_default_branch(relative_path=repo) == "develop"


# -- objects ----------------------------------------------------------------------------------


def test_get_commit(store: GitStore, repo: str) -> None:
    first = write(store, repo, {"a": b"1"}, message="Title line\n\nBody text.")
    second = store.create_commit(
        relative_path=repo,
        branch="main",
        actions=[CommitAction(action=CommitActionKind.UPDATE, file_path="a", content=b"2")],
        author=BOB,
        committer=ALICE,
        message="second",
    )
    commit = store.get_commit(relative_path=repo, revision=first.id)
    assert commit.title == "Title line"
    assert commit.message == "Title line\n\nBody text.\n"
    assert commit.parent_ids == ()
    assert commit.author.name == ALICE.name
    assert commit.author.email == ALICE.email
    assert commit.author.date == ALICE.date
    assert commit.author.date.utcoffset() == timedelta(hours=2)
    assert store.get_commit(relative_path=repo, revision="main").parent_ids == (first.id,)
    assert (second.author.name, second.committer.name) == (BOB.name, ALICE.name)
    with pytest.raises(RevisionNotFound):
        store.get_commit(relative_path=repo, revision="nope")
    with pytest.raises(RevisionNotFound):  # a tree id is not a commit
        store.get_commit(relative_path=repo, revision=first.tree_id)


def test_list_tree(store: GitStore, repo: str) -> None:
    write(store, repo, {"README": b"r", "src/app.py": b"a", "src/lib/util.py": b"u", "z.sh": b"z"})
    store.create_commit(
        relative_path=repo,
        branch="main",
        actions=[
            CommitAction(action=CommitActionKind.CHMOD, file_path="z.sh", execute_filemode=True)
        ],
        author=ALICE,
        message="exec",
    )
    root = store.list_tree(relative_path=repo, revision="main")
    assert [(e.name, e.type, e.mode, e.path) for e in root] == [
        ("README", "blob", "100644", "README"),
        ("src", "tree", "040000", "src"),
        ("z.sh", "blob", "100755", "z.sh"),
    ]
    src = store.list_tree(relative_path=repo, revision="main", path="src")
    assert [e.path for e in src] == ["src/app.py", "src/lib"]
    recursive = store.list_tree(relative_path=repo, revision="main", recursive=True)
    assert [e.path for e in recursive] == [
        "README",
        "src",
        "src/app.py",
        "src/lib",
        "src/lib/util.py",
        "z.sh",
    ]
    with pytest.raises(PathNotFound):
        store.list_tree(relative_path=repo, revision="main", path="missing")
    with pytest.raises(PathNotFound):  # a file is not a tree
        store.list_tree(relative_path=repo, revision="main", path="README")


def test_blobs(store: GitStore, repo: str) -> None:
    write(store, repo, {"dir/file.txt": b"hello\n", "data.bin": b"\x00\x01\x02"})
    blob = store.get_blob_at(relative_path=repo, revision="main", path="dir/file.txt")
    assert (blob.data, blob.size, blob.mode, blob.path) == (b"hello\n", 6, "100644", "dir/file.txt")
    assert not blob.binary
    assert not blob.truncated
    assert not blob.is_symlink
    assert blob.symlink_target is None
    by_id = store.get_blob(relative_path=repo, oid=blob.id)
    assert (by_id.data, by_id.mode, by_id.path) == (b"hello\n", None, None)
    assert store.get_blob(relative_path=repo, oid=blob.id[:10]).id == blob.id
    assert store.get_blob_at(relative_path=repo, revision="main", path="data.bin").binary
    with pytest.raises(PathNotFound):
        store.get_blob_at(relative_path=repo, revision="main", path="dir")
    with pytest.raises(PathNotFound):
        store.get_blob_at(relative_path=repo, revision="main", path="nope.txt")
    commit = store.get_commit(relative_path=repo, revision="main")
    with pytest.raises(RevisionNotFound):  # a tree id is not a blob
        store.get_blob(relative_path=repo, oid=commit.tree_id)


def test_blob_size_limit(store: GitStore, repo: str) -> None:
    content = b"0123456789" * 10_000
    write(store, repo, {"big.txt": content})
    blob = store.get_blob_at(relative_path=repo, revision="main", path="big.txt", max_size=25)
    assert blob.truncated
    assert blob.size == len(content)
    assert blob.data == content[:25]
    whole = store.get_blob(relative_path=repo, oid=blob.id, max_size=len(content))
    assert not whole.truncated
    assert whole.data == content
    empty = store.get_blob(relative_path=repo, oid=blob.id, max_size=0)
    assert empty.truncated
    assert empty.data == b""


def test_symlink_is_returned_as_its_target(
    store: GitStore, repo: str, workdir: Path, push: Callable[..., None]
) -> None:
    (workdir / "secret-dir").mkdir()
    (workdir / "secret-dir" / "inner.txt").write_text("inner\n")
    (workdir / "etc-link").symlink_to("/etc/passwd")
    (workdir / "dir-link").symlink_to("secret-dir")
    run_git(workdir, "add", "-A")
    run_git(workdir, "commit", "--quiet", "-m", "links")
    push(repo, workdir)
    blob = store.get_blob_at(relative_path=repo, revision="main", path="etc-link")
    assert blob.is_symlink
    assert blob.mode == "120000"
    assert blob.data == b"/etc/passwd"
    assert blob.symlink_target == "/etc/passwd"
    # A symlink to a directory is never followed.
    with pytest.raises(PathNotFound):
        store.get_blob_at(relative_path=repo, revision="main", path="dir-link/inner.txt")
    with pytest.raises(PathNotFound):
        store.list_tree(relative_path=repo, revision="main", path="dir-link")


def test_submodule_entries(
    store: GitStore, repo: str, workdir: Path, push: Callable[..., None]
) -> None:
    (workdir / "f").write_text("x\n")
    run_git(workdir, "add", "f")
    run_git(workdir, "update-index", "--add", "--cacheinfo", f"160000,{'a' * 40},sub")
    run_git(workdir, "commit", "--quiet", "-m", "with a submodule")
    push(repo, workdir)
    entries = store.list_tree(relative_path=repo, revision="main")
    assert [(e.name, e.type, e.mode, e.id) for e in entries][1] == (
        "sub",
        "commit",
        "160000",
        "a" * 40,
    )
    with pytest.raises(PathNotFound):
        store.get_blob_at(relative_path=repo, revision="main", path="sub")
    with pytest.raises(PathNotFound):
        store.list_tree(relative_path=repo, revision="main", path="sub")
    diff = store.commit_diff(relative_path=repo, revision="main")
    assert diff[1].diff == f"@@ -0,0 +1 @@\n+Subproject commit {'a' * 40}\n"


# -- history ----------------------------------------------------------------------------------


def _dated(day: int) -> Identity:
    return Identity(ALICE.name, ALICE.email, datetime(2024, 3, day, 12, 0, tzinfo=UTC))


def test_log_and_count(store: GitStore, repo: str) -> None:
    c1 = write(store, repo, {"a": b"1", "b": b"1"}, author=_dated(1), message="one")
    c2 = write(store, repo, {"b": b"2"}, author=_dated(2), message="two")
    c3 = write(store, repo, {"a": b"3"}, author=_dated(3), message="three")
    other = write(store, repo, {"c": b"x"}, branch="other", start_branch="main", author=_dated(4))

    def ids(commits: tuple[Commit, ...]) -> list[str]:
        return [commit.id for commit in commits]

    assert ids(store.log(relative_path=repo)) == [c3.id, c2.id, c1.id]
    assert ids(store.log(relative_path=repo, revision="main", limit=2)) == [c3.id, c2.id]
    assert ids(store.log(relative_path=repo, skip=1, limit=1)) == [c2.id]
    assert ids(store.log(relative_path=repo, path="b")) == [c2.id, c1.id]
    since = datetime(2024, 3, 2, tzinfo=UTC)
    until = datetime(2024, 3, 2, 23, tzinfo=UTC)
    assert ids(store.log(relative_path=repo, since=since)) == [c3.id, c2.id]
    assert ids(store.log(relative_path=repo, since=since, until=until)) == [c2.id]
    assert ids(store.log(relative_path=repo, all_refs=True))[0] == other.id
    assert len(store.log(relative_path=repo, all_refs=True)) == 4
    assert store.log(relative_path=repo, limit=0) == ()
    assert store.count_commits(relative_path=repo) == 3
    assert store.count_commits(relative_path=repo, all_refs=True) == 4
    assert store.count_commits(relative_path=repo, path="a") == 2
    assert store.count_commits(relative_path=repo, revision="other", since=since) == 3
    with pytest.raises(RevisionNotFound):
        store.log(relative_path=repo, revision="nope")


def test_commit_stats(store: GitStore, repo: str) -> None:
    write(store, repo, {"a": b"1\n2\n3\n"})
    write(store, repo, {"a": b"1\nTWO\n3\n4\n", "bin": b"\x00\x01"})
    stats = store.get_commit_stats(relative_path=repo, revision="main")
    assert (stats.additions, stats.deletions, stats.total) == (2, 1, 3)
    root = store.log(relative_path=repo)[-1]
    assert store.get_commit_stats(relative_path=repo, revision=root.id).additions == 3


def test_commit_diff(store: GitStore, repo: str) -> None:
    root = write(store, repo, {"keep.txt": b"a\nb\nc\nd\ne\n", "gone.txt": b"x\n", "m.txt": b"1\n"})
    root_diff = store.commit_diff(relative_path=repo, revision=root.id)
    assert {d.new_path for d in root_diff} == {"keep.txt", "gone.txt", "m.txt"}
    assert all(d.new_file and d.a_mode == "0" and d.b_mode == "100644" for d in root_diff)

    store.create_commit(
        relative_path=repo,
        branch="main",
        actions=[
            CommitAction(
                action=CommitActionKind.MOVE,
                file_path="kept.txt",
                previous_path="keep.txt",
                content=b"a\nb\nc\nd\nE\n",
            ),
            CommitAction(action=CommitActionKind.DELETE, file_path="gone.txt"),
            CommitAction(action=CommitActionKind.CREATE, file_path="new.bin", content=b"\0bin"),
            CommitAction(action=CommitActionKind.CHMOD, file_path="m.txt", execute_filemode=True),
        ],
        author=ALICE,
        message="many",
    )
    files = {d.new_path: d for d in store.commit_diff(relative_path=repo, revision="main")}
    renamed = files["kept.txt"]
    assert renamed.renamed_file
    assert renamed.old_path == "keep.txt"
    assert renamed.diff.startswith("@@ -2,4 +2,4 @@")
    assert "-e\n+E\n" in renamed.diff
    assert files["gone.txt"].deleted_file
    assert files["gone.txt"].b_mode == "0"
    assert files["gone.txt"].diff == "@@ -1 +0,0 @@\n-x\n"
    assert files["new.bin"].binary
    assert files["new.bin"].new_file
    assert files["new.bin"].diff.startswith("Binary files")
    chmod = files["m.txt"]
    assert (chmod.a_mode, chmod.b_mode, chmod.diff) == ("100644", "100755", "")


def test_diff_between_commits_with_limits(store: GitStore, repo: str) -> None:
    first = write(store, repo, {"a.txt": b"1\n", "b.txt": b"1\n"})
    write(store, repo, {"a.txt": b"2\n"})
    last = write(store, repo, {"b.txt": b"x" * 5000 + b"\n"})
    both = store.diff(relative_path=repo, from_revision=first.id, to_revision=last.id)
    assert [d.new_path for d in both] == ["a.txt", "b.txt"]
    only_a = store.diff(
        relative_path=repo, from_revision=first.id, to_revision=last.id, paths=["a.txt"]
    )
    assert [d.new_path for d in only_a] == ["a.txt"]
    limited = store.diff(
        relative_path=repo, from_revision=first.id, to_revision="main", max_patch_bytes=100
    )
    assert [(d.new_path, d.too_large, d.diff == "") for d in limited] == [
        ("a.txt", False, False),
        ("b.txt", True, True),
    ]
    # Asked again (as every reader of a merge request asks), the same answer: the paths and the
    # limit are part of what is remembered, so neither leaks into another request's diff.
    again = store.diff(relative_path=repo, from_revision=first.id, to_revision=last.id)
    assert again == both
    assert (
        store.diff(relative_path=repo, from_revision=first.id, to_revision=last.id, paths=["a.txt"])
        == only_a
    )
    assert [
        d.too_large
        for d in store.diff(
            relative_path=repo, from_revision=first.id, to_revision=last.id, max_patch_bytes=100
        )
    ] == [False, True]


def test_typechange_is_one_diff_entry(
    store: GitStore, repo: str, workdir: Path, push: Callable[..., None]
) -> None:
    (workdir / "f").write_text("text\n")
    (workdir / "other").write_text("o\n")
    run_git(workdir, "add", "-A")
    run_git(workdir, "commit", "--quiet", "-m", "file")
    (workdir / "f").unlink()
    (workdir / "f").symlink_to("other")
    (workdir / "other").write_text("o2\n")
    run_git(workdir, "commit", "--quiet", "-am", "now a link")
    push(repo, workdir)
    files = store.commit_diff(relative_path=repo, revision="main")
    assert [(d.new_path, d.a_mode, d.b_mode) for d in files] == [
        ("f", "100644", "120000"),
        ("other", "100644", "100644"),
    ]
    assert "-text\n" in files[0].diff
    assert "+other" in files[0].diff


def test_compare(store: GitStore, repo: str) -> None:
    write(store, repo, {"a": b"1\n", "b": b"1\n"})
    on_main = write(store, repo, {"a": b"main\n"})
    f1 = write(store, repo, {"b": b"feature\n"}, branch="feature", start_branch="main")
    # main moves on after feature branched off.
    later = write(store, repo, {"a": b"later\n"})
    f2 = write(store, repo, {"c": b"new\n"}, branch="feature")
    merged_view = store.compare(relative_path=repo, from_revision="main", to_revision="feature")
    assert merged_view.base_id == on_main.id
    assert [c.id for c in merged_view.commits] == [f1.id, f2.id]  # oldest first
    assert [d.new_path for d in merged_view.diffs] == ["b", "c"]
    straight = store.compare(
        relative_path=repo, from_revision="main", to_revision="feature", straight=True
    )
    assert straight.base_id == later.id
    assert [d.new_path for d in straight.diffs] == ["a", "b", "c"]
    same = store.compare(relative_path=repo, from_revision="main", to_revision=later.id)
    assert same.same_ref
    assert same.commits == ()
    assert same.diffs == ()


def test_ancestry_and_containing_refs(store: GitStore, repo: str) -> None:
    first = write(store, repo, {"a": b"1"})
    second = write(store, repo, {"a": b"2"})
    side = write(store, repo, {"b": b"1"}, branch="side", start_branch="main")
    store.create_tag(relative_path=repo, name="v1", revision=first.id)
    store.create_tag(relative_path=repo, name="v2", revision=second.id, message="m", tagger=ALICE)
    assert store.merge_base(relative_path=repo, revisions=["main", "side"]) == second.id
    assert store.is_ancestor(relative_path=repo, ancestor=first.id, descendant="side")
    assert store.is_ancestor(relative_path=repo, ancestor="main", descendant="main")
    assert not store.is_ancestor(relative_path=repo, ancestor=side.id, descendant="main")
    contains = store.refs_containing(relative_path=repo, commit=first.id)
    assert contains.branches == ("main", "side")
    assert contains.tags == ("v1", "v2")
    only_side = store.refs_containing(relative_path=repo, commit=side.id)
    assert (only_side.branches, only_side.tags) == (("side",), ())
    assert store.refs_containing(relative_path=repo, commit=first.id, limit=1).tags == ("v1",)
    with pytest.raises(InvalidArgument):
        store.merge_base(relative_path=repo, revisions=["main"])


def test_merge_base_of_unrelated_histories(
    store: GitStore, repo: str, workdir: Path, push: Callable[..., None]
) -> None:
    write(store, repo, {"a": b"1"})
    (workdir / "x").write_text("x\n")
    run_git(workdir, "add", "-A")
    run_git(workdir, "commit", "--quiet", "-m", "unrelated")
    push(repo, workdir, "main:refs/heads/orphan")
    assert store.merge_base(relative_path=repo, revisions=["main", "orphan"]) is None
    comparison = store.compare(relative_path=repo, from_revision="main", to_revision="orphan")
    assert comparison.base_id is None
    assert [d.new_path for d in comparison.diffs] == ["x"]


def test_blame(store: GitStore, repo: str) -> None:
    first = write(store, repo, {"f.txt": b"one\ntwo\nthree\nfour\n"}, author=ALICE)
    second = write(store, repo, {"f.txt": b"one\nTWO\nTHREE\nfour\nfive\n"}, author=BOB)
    ranges = store.blame(relative_path=repo, revision="main", path="f.txt")
    assert [(r.commit.id, r.start_line, r.lines) for r in ranges] == [
        (first.id, 1, ("one",)),
        (second.id, 2, ("TWO", "THREE")),
        (first.id, 4, ("four",)),
        (second.id, 5, ("five",)),
    ]
    assert ranges[1].end_line == 3
    assert ranges[1].commit.author.name == BOB.name
    part = store.blame(
        relative_path=repo, revision="main", path="f.txt", range_start=2, range_end=3
    )
    assert [(r.start_line, r.lines) for r in part] == [(2, ("TWO", "THREE"))]
    with pytest.raises(PathNotFound):
        store.blame(relative_path=repo, revision="main", path="missing.txt")
    with pytest.raises(InvalidArgument):
        store.blame(relative_path=repo, revision="main", path="f.txt", range_start=50)


def test_archive_formats(store: GitStore, repo: str) -> None:
    write(store, repo, {"README.md": b"readme\n", "src/app.py": b"print(1)\n"})

    def fetch(fmt: ArchiveFormat, **kwargs: str) -> bytes:
        return b"".join(store.archive(relative_path=repo, revision="main", format=fmt, **kwargs))

    def tar_names(data: bytes) -> list[str]:
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            return sorted(m.name for m in archive.getmembers() if m.isfile())

    expected = ["proj/README.md", "proj/src/app.py"]
    assert tar_names(fetch(ArchiveFormat.TAR, prefix="proj/")) == expected
    gz = fetch(ArchiveFormat.TAR_GZ, prefix="proj")
    assert tar_names(gzip.decompress(gz)) == expected
    bz = fetch(ArchiveFormat.TAR_BZ2, prefix="proj/")
    assert bz.startswith(b"BZh")
    assert tar_names(bz2.decompress(bz)) == expected
    with zipfile.ZipFile(io.BytesIO(fetch(ArchiveFormat.ZIP))) as archive:
        assert sorted(n for n in archive.namelist() if not n.endswith("/")) == [
            "README.md",
            "src/app.py",
        ]
        assert archive.read("src/app.py") == b"print(1)\n"
    assert tar_names(fetch(ArchiveFormat.TAR, path="src")) == ["src/app.py"]
    with pytest.raises(PathNotFound):
        store.archive(relative_path=repo, revision="main", format=ArchiveFormat.TAR, path="nope")
    with pytest.raises(RevisionNotFound):
        store.archive(relative_path=repo, revision="nope", format=ArchiveFormat.ZIP)


def test_archive_stream_can_be_abandoned(store: GitStore, repo: str) -> None:
    write(store, repo, {f"f{i}.bin": uuid.uuid4().bytes * 8000 for i in range(4)})
    for fmt in (ArchiveFormat.TAR, ArchiveFormat.TAR_BZ2):
        stream = store.archive(relative_path=repo, revision="main", format=fmt)
        assert next(iter(stream))
        stream.close()  # type: ignore[attr-defined]


def test_contributors(store: GitStore, repo: str) -> None:
    write(store, repo, {"a": b"1\n2\n"}, author=ALICE)
    write(store, repo, {"a": b"1\n"}, author=BOB)
    write(store, repo, {"b": b"x\ny\nz\n"}, author=Identity("Alice Renamed", "ALICE@example.com"))
    people = store.contributors(relative_path=repo)
    assert [(p.name, p.email.lower(), p.commits, p.additions, p.deletions) for p in people] == [
        ("Alice Renamed", "alice@example.com", 2, 5, 0),
        ("Bob Example", "bob@example.com", 1, 0, 1),
    ]


def test_languages(store: GitStore, repo: str) -> None:
    assert store.languages(relative_path=repo) == ()
    write(
        store,
        repo,
        {
            "app.py": b"x" * 600,
            "web/main.js": b"y" * 300,
            "lib/util.rb": b"z" * 100,
            "README.md": b"m" * 5000,  # prose does not count
            "vendor/dep.js": b"v" * 9000,  # vendored does not count
            "static/app.min.js": b"v" * 9000,
            "image.py": b"\x00\x01" * 500,  # binary with a source extension
        },
    )
    shares = store.languages(relative_path=repo)
    assert [(s.name, s.bytes, s.percentage) for s in shares] == [
        ("Python", 600, 60.0),
        ("JavaScript", 300, 30.0),
        ("Ruby", 100, 10.0),
    ]
    write(store, repo, {"c.c": b"c" * 1, "d.go": b"g" * 1})
    assert round(sum(s.percentage for s in store.languages(relative_path=repo)), 2) == 100.0


def test_maintenance_and_fsck(store: GitStore, repo: str) -> None:
    assert store.maintenance(relative_path=repo).full_repack is False  # empty is fine
    for i in range(3):
        write(store, repo, {f"f{i}": str(i).encode()})
    store.create_tag(relative_path=repo, name="v1", revision="main")
    before = store.log(relative_path=repo)
    result = store.maintenance(relative_path=repo)
    assert result.loose_objects_before > 0
    assert result.packs_after >= 1
    full = store.maintenance(relative_path=repo, full=True)
    assert full.full_repack
    assert store.log(relative_path=repo) == before
    assert store.fsck(relative_path=repo) == ()
