"""Abuse cases: hostile refs, revisions, paths and identities are refused before git runs,
and nothing they name as a file or an option ever happens.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.gitstore import (
    ArchiveFormat,
    CommitAction,
    CommitActionKind,
    GitStore,
    Identity,
    InvalidArgument,
    InvalidPath,
    InvalidRef,
    PathNotFound,
    hashed_relative_path,
    validate_branch_name,
    validate_oid,
    validate_ref_name,
    validate_relative_path,
    validate_repo_path,
    validate_revision,
    validate_tag_name,
)

from .conftest import ALICE, write

HOSTILE_REFS = [
    "",
    "-",
    "--output=/tmp/x",
    "--upload-pack=touch x",
    "-delete",
    "refs/heads/a..b",
    "refs/heads/a b",
    "refs/heads/a:b",
    "refs/heads/a^b",
    "refs/heads/a~1",
    "refs/heads/a?",
    "refs/heads/a*",
    "refs/heads/a[b",
    "refs/heads/a\\b",
    "refs/heads/a@{1}",
    "refs/heads/a\x00b",
    "refs/heads/a\nb",
    "refs/heads/a\tb",
    "refs/heads/a\x7fb",
    "refs/heads/x.lock",
    "refs/heads/x.lock/y",
    "refs/heads/.hidden",
    "refs/heads/x.",
    "refs/heads/x/",
    "/refs/heads/x",
    "refs//heads/x",
    "refs/heads/" + "a" * 250,
    "HEAD",
    "@",
    "refs/heads/\udcff",
]


@pytest.mark.parametrize("name", HOSTILE_REFS)
def test_hostile_ref_names(name: str) -> None:
    with pytest.raises(InvalidRef):
        validate_ref_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "refs/heads/main",
        "refs/heads/feature/x-1_2",
        "refs/tags/v1.0.0",
        "refs/merge-requests/1/head",
        "refs/heads/caf\u00e9",
        "refs/heads/\u202eevil\u202c",  # bidi controls: git allows them, so do we
        "refs/heads/@foo",
    ],
)
def test_valid_ref_names(name: str) -> None:
    assert validate_ref_name(name) == name


def test_one_level_names_need_the_flag() -> None:
    with pytest.raises(InvalidRef):
        validate_ref_name("main")
    assert validate_ref_name("main", allow_onelevel=True) == "main"


@pytest.mark.parametrize(
    "name",
    [
        "--output=/tmp/x",
        "-x",
        "HEAD",
        "refs/heads/main",
        "a" * 40,
        "a..b",
        "x.lock",
        "with space",
        "",
        "a" * 250,  # refs/heads/ + 250 > 255 bytes
    ],
)
def test_hostile_branch_and_tag_names(name: str) -> None:
    with pytest.raises(InvalidRef):
        validate_branch_name(name)
    with pytest.raises(InvalidRef):
        validate_tag_name(name)


@pytest.mark.parametrize(
    "revision",
    [
        "--output=/tmp/x",
        "--upload-pack=touch x",
        "-n1",
        "main~1",
        "main^",
        "main^{tree}",
        "a..b",
        "a...b",
        "@{u}",
        "main@{1}",
        ":/message",
        "main:path",
        "",
        " main",
    ],
)
def test_hostile_revisions(revision: str) -> None:
    with pytest.raises(InvalidRef):
        validate_revision(revision)


def test_valid_revisions() -> None:
    assert validate_revision("HEAD") == "HEAD"
    assert validate_revision("abcd") == "abcd"
    assert validate_revision("a" * 40) == "a" * 40
    assert validate_revision("feature/x") == "feature/x"
    assert validate_revision("refs/tags/v1") == "refs/tags/v1"
    assert validate_oid("A" * 40) == "a" * 40
    for bad in ("a" * 39, "g" * 40, "0" * 40, "--" + "a" * 38):
        with pytest.raises(InvalidRef):
            validate_oid(bad)


HOSTILE_PATHS = [
    "",
    "/etc/passwd",
    "../x",
    "a/../../b",
    "a/..",
    "./a",
    "a/./b",
    "a//b",
    "a/",
    ".git",
    ".git/config",
    "sub/.git/hooks/pre-receive",
    ".GIT/config",
    ".Git",
    ".git./config",  # NTFS drops trailing dots
    ".git /config",  # and trailing spaces
    "git~1/config",  # NTFS 8.3 name of .git
    ".g\u200cit/config",  # HFS+ ignores zero-width joiners
    "a\x00b",
    "a\nb",
    "a\rb",
    "a\x1bb",
    "x" * 4097,
    "a/\udcff",
]


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_hostile_repo_paths(path: str) -> None:
    with pytest.raises(InvalidPath):
        validate_repo_path(path)


@pytest.mark.parametrize(
    "path",
    [
        "README.md",
        "src/app.py",
        ".gitignore",
        ".github/x",
        "a b/c d",
        "--output=x",
        "-rf",
        "\u00e9",
    ],
)
def test_valid_repo_paths(path: str) -> None:
    assert validate_repo_path(path) == path


@pytest.mark.parametrize(
    "relative_path",
    [
        "",
        "../../etc",
        "/etc/passwd",
        "@hashed/../../x.git",
        "@hashed/ab/cd/" + "0" * 64 + ".git",  # prefix does not match the digest
        hashed_relative_path("x") + "/",
        hashed_relative_path("x") + "\n",
        hashed_relative_path("x").upper(),
        "group/project.git",
    ],
)
def test_storage_paths_must_be_hashed(store: GitStore, relative_path: str) -> None:
    with pytest.raises(InvalidArgument):
        validate_relative_path(relative_path)
    with pytest.raises(InvalidArgument):
        store.create_repository(relative_path=relative_path)
    with pytest.raises(InvalidArgument):
        store.repository_exists(relative_path=relative_path)


def test_hostile_input_never_becomes_an_option(store: GitStore, repo: str, tmp_path: Path) -> None:
    """Values shaped like git options reach git only after --end-of-options or "--"."""
    write(store, repo, {"a.txt": b"1\n"})
    write(store, repo, {"a.txt": b"2\n"})
    target = tmp_path / "owned"
    option = f"--output={target}"
    with pytest.raises(InvalidRef):
        store.resolve_revision(relative_path=repo, revision=option)
    with pytest.raises(InvalidRef):
        store.log(relative_path=repo, revision=option)
    with pytest.raises(InvalidRef):
        store.create_branch(relative_path=repo, name="--upload-pack=touch x", revision="main")
    with pytest.raises(InvalidRef):
        store.diff(relative_path=repo, from_revision=option, to_revision="main")
    # An option-shaped *file name* is a legal path; it must be treated as a path.
    assert store.log(relative_path=repo, path=option) == ()
    assert store.count_commits(relative_path=repo, path=option) == 0
    first = store.log(relative_path=repo)[-1].id
    assert (
        store.diff(relative_path=repo, from_revision=first, to_revision="main", paths=[option])
        == ()
    )
    with pytest.raises(PathNotFound):
        store.archive(relative_path=repo, revision="main", format=ArchiveFormat.TAR, path=option)
    with pytest.raises(PathNotFound):
        store.blame(relative_path=repo, revision="main", path=option)
    # ... and a file with that name can be committed and read back like any other.
    store.create_commit(
        relative_path=repo,
        branch="main",
        actions=[
            CommitAction(action=CommitActionKind.CREATE, file_path=option.lstrip("/"), content=b"x")
        ],
        author=ALICE,
        message="odd name",
    )
    assert [c.title for c in store.log(relative_path=repo, path=option.lstrip("/"))] == ["odd name"]
    assert not target.exists()
    assert not Path("x").exists()


def test_bidi_branch_names_do_not_crash(store: GitStore, repo: str) -> None:
    write(store, repo, {"a": b"1"})
    name = "fix/\u202etxt.exe\u202c"
    branch = store.create_branch(relative_path=repo, name=name, revision="main")
    assert branch.name == name
    assert name in [b.name for b in store.list_branches(relative_path=repo)]
    assert store.resolve_revision(relative_path=repo, revision=name) == branch.commit.id


@pytest.mark.parametrize(
    "identity",
    [
        Identity("Eve <evil@example.com>", "eve@example.com"),
        Identity("Eve", "eve@example.com>\nauthor Mallory <m@example.com"),
        Identity("Eve\nparent 0000", "eve@example.com"),
        Identity("", "eve@example.com"),
    ],
)
def test_identities_cannot_forge_headers(store: GitStore, repo: str, identity: Identity) -> None:
    with pytest.raises(InvalidArgument):
        store.create_commit(
            relative_path=repo,
            branch="main",
            actions=[CommitAction(action=CommitActionKind.CREATE, file_path="a", content=b"")],
            author=identity,
            message="m",
        )
    assert store.is_empty(relative_path=repo)


def test_messages_cannot_hold_nul(store: GitStore, repo: str) -> None:
    with pytest.raises(InvalidArgument):
        write(store, repo, {"a": b"1"}, message="a\0b")
    write(store, repo, {"a": b"1"})
    with pytest.raises(InvalidArgument):
        store.create_tag(relative_path=repo, name="t", revision="main", message="\0", tagger=ALICE)


def test_blob_lookup_refuses_non_ids(store: GitStore, repo: str) -> None:
    write(store, repo, {"a": b"1"})
    for oid in ("main", "--output=x", "HEAD", "abc"):
        with pytest.raises(InvalidArgument):
            store.get_blob(relative_path=repo, oid=oid)
