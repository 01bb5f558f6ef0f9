"""What only `LocalGitStore` promises: its on-disk layout, isolation of the git processes it
starts (environment, hooks), maintenance artifacts, and the transport services, driven end
to end by a real git client.
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kiln.gitstore import (
    ArchiveFormat,
    GitService,
    InvalidArgument,
    LocalGitStore,
    RevisionNotFound,
    hashed_relative_path,
)

from .conftest import ALICE, git_env, run_git, write

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture
def local(tmp_path: Path) -> LocalGitStore:
    return LocalGitStore(tmp_path / "storage")


@pytest.fixture
def repo(local: LocalGitStore) -> str:
    relative_path = hashed_relative_path("local-1")
    local.create_repository(relative_path=relative_path)
    return relative_path


def test_layout(local: LocalGitStore, repo: str) -> None:
    git_dir = local.root / repo
    assert git_dir.relative_to(local.root).parts[:3] == ("@hashed", repo[8:10], repo[11:13])
    assert (git_dir / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert not (git_dir / "hooks").exists() or not any((git_dir / "hooks").iterdir())
    config = (git_dir / "config").read_text()
    assert "bare = true" in config
    assert "auto = 0" in config
    # Staging directories never stay behind.
    assert sorted(p.name for p in git_dir.parent.iterdir()) == [git_dir.name]


def test_fork_shares_no_alternates(local: LocalGitStore, repo: str) -> None:
    write(local, repo, {"a": b"1"})
    fork = hashed_relative_path("local-fork")
    local.fork_repository(source_relative_path=repo, relative_path=fork)
    fork_dir = local.root / fork
    assert not (fork_dir / "objects" / "info" / "alternates").exists()
    assert "remote" not in (fork_dir / "config").read_text()
    objects = [p for p in (fork_dir / "objects").rglob("*") if p.is_file()]
    assert objects
    assert any(p.stat().st_nlink > 1 for p in objects)  # hard links, not copies


def test_hooks_in_the_repository_never_run(local: LocalGitStore, repo: str, tmp_path: Path) -> None:
    marker = tmp_path / "hook-ran"
    hooks = local.root / repo / "hooks"
    hooks.mkdir(exist_ok=True)
    for name in (
        "reference-transaction",
        "pre-commit",
        "post-commit",
        "post-update",
        "pre-receive",
    ):
        script = hooks / name
        script.write_text(f"#!/bin/sh\necho {name} >> {marker}\n")
        script.chmod(0o755)
    first = write(local, repo, {"a": b"1"})
    local.create_branch(relative_path=repo, name="b", revision="main")
    local.update_ref(relative_path=repo, ref="refs/keep-around/x", new_oid=first.id, old_oid=None)
    local.set_head(relative_path=repo, branch="b")
    local.maintenance(relative_path=repo, full=True)
    assert not marker.exists()


def test_git_ignores_the_callers_environment(
    local: LocalGitStore, repo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(local, repo, {"a.txt": b"1\n"})
    write(local, repo, {"a.txt": b"2\n"})
    evil_home = tmp_path / "evil-home"
    evil_home.mkdir()
    marker = tmp_path / "leaked"
    (evil_home / ".gitconfig").write_text(
        f"[core]\n\thooksPath = {tmp_path}\n[diff]\n\tnoprefix = true\n"
        f"[alias]\n\tlog = !touch {marker}\n"
    )
    for key, value in {
        "HOME": str(evil_home),
        "GIT_DIR": str(tmp_path),
        "GIT_OBJECT_DIRECTORY": str(tmp_path / "nowhere"),
        "GIT_NAMESPACE": "evil",
        "GIT_CONFIG_PARAMETERS": "'log.showsignature'='true'",
        "GIT_CONFIG_GLOBAL": str(evil_home / ".gitconfig"),
        "GIT_EXTERNAL_DIFF": f"touch {marker}",
    }.items():
        monkeypatch.setenv(key, value)
    # Made once the environment is hostile, so nothing good could have been captured before.
    store = LocalGitStore(local.root)
    assert [c.message for c in store.log(relative_path=repo)] == ["change\n", "change\n"]
    assert store.commit_diff(relative_path=repo, revision="main")[0].diff == "@@ -1 +1 @@\n-1\n+2\n"
    assert store.refs_containing(relative_path=repo, commit="main").branches == ("main",)
    assert store.blame(relative_path=repo, revision="main", path="a.txt")[0].lines == ("2",)
    assert not marker.exists()


def test_concurrent_reads(local: LocalGitStore, repo: str) -> None:
    write(local, repo, {f"d{i}/f.txt": str(i).encode() for i in range(20)})

    def read(i: int) -> bytes:
        path = f"d{i % 20}/f.txt"
        local.list_tree(relative_path=repo, revision="main", path=f"d{i % 20}")
        return local.get_blob_at(relative_path=repo, revision="main", path=path).data

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(read, range(400)))
    assert results == [str(i % 20).encode() for i in range(400)]


def test_abandoned_archive_reaps_its_processes(local: LocalGitStore, repo: str) -> None:
    write(local, repo, {f"f{i}": os.urandom(200_000) for i in range(3)})
    for fmt in (ArchiveFormat.TAR_GZ, ArchiveFormat.TAR_BZ2):
        stream: Iterator[bytes] = local.archive(relative_path=repo, revision="main", format=fmt)
        assert next(stream)
        stream.close()  # type: ignore[attr-defined]
        # No git, gzip or bzip2 child left, not even a zombie. (Other children of the test
        # process, such as a test server, are not the archive's business.)
        assert _archive_children() == []


def _archive_children() -> list[str]:
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat_file.read_text()
        except OSError:
            continue
        comm, rest = text.split("(", 1)[1].rsplit(")", 1)
        state, ppid = rest.split()[:2]
        if int(ppid) == os.getpid() and comm in ("git", "gzip", "bzip2"):
            found.append(f"{comm} pid {stat_file.parent.name} state {state}")
    return found


def test_maintenance_writes_graph_bitmaps_and_packed_refs(local: LocalGitStore, repo: str) -> None:
    for i in range(3):
        write(local, repo, {"f": str(i).encode()})
    local.create_branch(relative_path=repo, name="other", revision="main")
    git_dir = local.root / repo
    local.maintenance(relative_path=repo)
    assert (git_dir / "packed-refs").is_file()
    assert (git_dir / "objects" / "info" / "commit-graph").is_file()
    pack_dir = git_dir / "objects" / "pack"
    assert list(pack_dir.glob("*.bitmap"))
    # Many packs are combined geometrically; loose objects are packed.
    for i in range(3):
        write(local, repo, {"g": str(i).encode()})
        local.maintenance(relative_path=repo)
    assert local.maintenance(relative_path=repo).packs_after <= 3
    loose = list((git_dir / "objects").glob("??/*"))
    assert loose == []
    assert local.fsck(relative_path=repo) == ()


def test_fsck_finds_a_missing_object(local: LocalGitStore, repo: str) -> None:
    commit = write(local, repo, {"a.txt": b"precious\n"})
    blob = local.get_blob_at(relative_path=repo, revision="main", path="a.txt")
    (local.root / repo / "objects" / blob.id[:2] / blob.id[2:]).unlink()
    problems = local.fsck(relative_path=repo)
    assert any(blob.id in problem for problem in problems)
    assert local.resolve_revision(relative_path=repo, revision="main") == commit.id


# -- transport --------------------------------------------------------------------------------

_WRAPPER = """#!{python}
import os, sys, threading
sys.path.insert(0, {src!r})
from pathlib import Path
from kiln.gitstore import GitService, LocalGitStore

store = LocalGitStore(Path({root!r}))
service = GitService({service!r})
hooks = {hooks!r}
proc = store.start_service(
    relative_path={relative_path!r},
    service=service,
    hooks_dir=Path(hooks) if hooks else None,
    extra_env={{"KILN_USER": "alice"}},
    stderr=None,
)

def feed():
    while chunk := os.read(0, 65536):
        proc.stdin.write(chunk)
        proc.stdin.flush()
    proc.stdin.close()

threading.Thread(target=feed, daemon=True).start()
while chunk := os.read(proc.stdout.fileno(), 65536):
    os.write(1, chunk)
sys.exit(proc.wait())
"""


def _wrapper(
    tmp_path: Path, local: LocalGitStore, repo: str, service: str, hooks: Path | None
) -> Path:
    script = tmp_path / f"{service}-wrapper"
    script.write_text(
        _WRAPPER.format(
            python=sys.executable,
            src=SRC,
            root=str(local.root),
            service=service,
            hooks=str(hooks) if hooks else "",
            relative_path=repo,
        )
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def _hooks(tmp_path: Path, *, accept: bool) -> Path:
    hooks = tmp_path / ("hooks-accept" if accept else "hooks-reject")
    hooks.mkdir()
    pre_receive = hooks / "pre-receive"
    pre_receive.write_text(
        "#!/bin/sh\n"
        f'env > "{hooks}/env"\n'
        f'cat > "{hooks}/stdin"\n'
        f'ls "$GIT_QUARANTINE_PATH" > "{hooks}/quarantine" 2>&1\n'
        f"exit {0 if accept else 1}\n"
    )
    pre_receive.chmod(0o755)
    return hooks


def test_push_is_quarantined_until_pre_receive_accepts(
    local: LocalGitStore, repo: str, workdir: Path, tmp_path: Path
) -> None:
    (workdir / "a.txt").write_text("pushed\n")
    run_git(workdir, "add", "-A")
    run_git(workdir, "commit", "--quiet", "-m", "pushed")
    pushed = run_git(workdir, "rev-parse", "HEAD").strip()
    remote = str(local.root / repo)

    rejecting = _hooks(tmp_path, accept=False)
    wrapper = _wrapper(tmp_path, local, repo, "git-receive-pack", rejecting)
    result = subprocess.run(
        ["git", "push", f"--receive-pack={wrapper}", remote, "main"],
        cwd=workdir,
        env={**git_env(workdir), "LEAKY_SECRET": "1"},
        capture_output=True,
        check=False,
    )
    assert result.returncode != 0
    assert b"pre-receive hook declined" in result.stderr
    hook_env = (rejecting / "env").read_text()
    assert "KILN_USER=alice" in hook_env
    assert "GIT_QUARANTINE_PATH=" in hook_env
    assert "LEAKY_SECRET" not in hook_env
    assert (rejecting / "quarantine").read_text().strip()  # objects were there, in quarantine
    assert local.is_empty(relative_path=repo)
    with pytest.raises(RevisionNotFound):  # and nothing of the push stayed
        local.get_commit(relative_path=repo, revision=pushed)
    assert not list((local.root / repo / "objects").glob("incoming-*"))

    accepting = _hooks(tmp_path, accept=True)
    wrapper = _wrapper(tmp_path, local, repo, "git-receive-pack", accepting)
    run_git(workdir, "push", "--quiet", f"--receive-pack={wrapper}", remote, "main")
    assert (accepting / "stdin").read_text() == f"{'0' * 40} {pushed} refs/heads/main\n"
    assert local.resolve_revision(relative_path=repo, revision="main") == pushed


def test_clone_and_remote_archive(local: LocalGitStore, repo: str, tmp_path: Path) -> None:
    commit = write(local, repo, {"src/app.py": b"print(1)\n"})
    remote = str(local.root / repo)
    upload_pack = _wrapper(tmp_path, local, repo, "git-upload-pack", None)
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "--quiet", f"--upload-pack={upload_pack}", remote, str(clone)],
        env={**git_env(tmp_path), "GIT_PROTOCOL": "version=2"},
        check=True,
        capture_output=True,
    )
    assert (clone / "src" / "app.py").read_text() == "print(1)\n"
    assert run_git(clone, "rev-parse", "HEAD").strip() == commit.id

    upload_archive = _wrapper(tmp_path, local, repo, "git-upload-archive", None)
    archive = subprocess.run(
        [
            "git",
            "archive",
            f"--remote={remote}",
            f"--exec={upload_archive}",
            "--format=tar",
            "main",
        ],
        cwd=tmp_path,
        env=git_env(tmp_path),
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert "src/app.py" in tar.getnames()


def test_smart_http_advertisement(local: LocalGitStore, repo: str) -> None:
    write(local, repo, {"a": b"1"})
    for protocol, expected in ((None, b"refs/heads/main"), ("version=2", b"version 2")):
        proc = local.start_service(
            relative_path=repo,
            service=GitService.UPLOAD_PACK,
            stateless_rpc=True,
            advertise_refs=True,
            git_protocol=protocol,
        )
        out, _ = proc.communicate(b"", timeout=30)
        assert proc.returncode == 0
        assert expected in out


@pytest.mark.parametrize(
    "kwargs",
    [
        {"service": "git-shell"},
        {"service": "upload-pack"},
        {"service": GitService.UPLOAD_PACK, "git_protocol": "version=3"},
        {"service": GitService.UPLOAD_PACK, "git_protocol": "version=2:x=1"},
        {"service": GitService.UPLOAD_PACK, "git_protocol": "version=2\n"},
        {"service": GitService.UPLOAD_PACK, "extra_env": {"GIT_DIR": "/"}},
        {"service": GitService.UPLOAD_PACK, "extra_env": {"PATH": "/tmp"}},
        {"service": GitService.UPLOAD_PACK, "extra_env": {"LD_PRELOAD": "x.so"}},
        {"service": GitService.UPLOAD_PACK, "extra_env": {"KILN_X": "a\0b"}},
        {"service": GitService.UPLOAD_PACK, "hooks_dir": Path("/tmp")},
        {"service": GitService.RECEIVE_PACK, "hook_fds": (0,)},  # a channel without hooks
        {"service": GitService.UPLOAD_ARCHIVE, "stateless_rpc": True},
    ],
)
def test_start_service_refuses(local: LocalGitStore, repo: str, kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        local.start_service(relative_path=repo, **kwargs)  # type: ignore[arg-type]


def test_commit_identity_does_not_come_from_the_machine(local: LocalGitStore, repo: str) -> None:
    # The machine's ~/.gitconfig may set user.name; only the given identity is written.
    commit = write(local, repo, {"a": b"1"})
    assert (commit.author.name, commit.committer.name) == (ALICE.name, ALICE.name)
    tag = local.create_tag(
        relative_path=repo, name="v1", revision="main", message="m", tagger=ALICE
    )
    assert tag.tagger is not None
    assert tag.tagger.name == ALICE.name
    assert threading.active_count() >= 1


def test_v2_capability_advertisement_is_what_git_prints(local: LocalGitStore, repo: str) -> None:
    def spawned() -> bytes:
        proc = local.start_service(
            relative_path=repo,
            service=GitService.UPLOAD_PACK,
            stateless_rpc=True,
            advertise_refs=True,
            git_protocol="version=2",
        )
        return proc.communicate()[0]

    first = local.capability_advertisement(
        relative_path=repo, service=GitService.UPLOAD_PACK, git_protocol="version=2"
    )
    again = local.capability_advertisement(
        relative_path=repo, service=GitService.UPLOAD_PACK, git_protocol="version=2"
    )
    assert first is not None
    assert first == again == spawned()
    assert first.startswith(b"000eversion 2\n")
    assert b"ls-refs" in first
    # receive-pack has no v2, and an empty repository's v0/v1 upload-pack advertisement is
    # left to git (see test_advertise.py): the caller must start git.
    for service, protocol in [
        (GitService.UPLOAD_PACK, None),
        (GitService.UPLOAD_PACK, "version=1"),
        (GitService.RECEIVE_PACK, "version=2"),
    ]:
        assert (
            local.capability_advertisement(
                relative_path=repo, service=service, git_protocol=protocol
            )
            is None
        )
    # A change to the repository's configuration is a new advertisement, not a stale one.
    run_git(local.root / repo, "config", "uploadpack.allowAnySHA1InWant", "true")
    changed = local.capability_advertisement(
        relative_path=repo, service=GitService.UPLOAD_PACK, git_protocol="version=2"
    )
    assert changed == spawned()


@pytest.mark.parametrize("walk_max", [2000, 2])
def test_new_commits_match_rev_list(
    local: LocalGitStore, repo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, walk_max: int
) -> None:
    """In-process walks and git's rev-list (used beyond `_WALK_MAX`) count the same commits."""
    from kiln.gitstore.local import push

    monkeypatch.setattr(push, "_WALK_MAX", walk_max)
    work = tmp_path / "work"
    run_git(tmp_path, "init", "--quiet", "--initial-branch=main", str(work))
    bare = str(local.root / repo)
    shas = []
    for index in range(5):
        (work / "f.txt").write_text(f"{index}\n")
        run_git(work, "add", "f.txt")
        run_git(work, "commit", "--quiet", "-m", f"c{index}", "--date", f"@{1700000000 + index}")
        shas.append(run_git(work, "rev-parse", "HEAD").strip())
    run_git(work, "push", "--quiet", bare, f"{shas[2]}:refs/heads/main")
    run_git(work, "push", "--quiet", bare, f"{shas[4]}:refs/heads/feature")
    # An update: old..new.
    count, commits = local.new_commits(relative_path=repo, new=shas[4], old=shas[2], limit=20)
    assert count == 2
    assert [c.id for c in commits] == [shas[4], shas[3]]
    # A new branch: what no other branch had (main holds c0..c2).
    count, commits = local.new_commits(relative_path=repo, new=shas[4], old=None, limit=1)
    assert count == 2
    assert [c.id for c in commits] == [shas[4]]
    expected = run_git(Path(bare), "rev-list", shas[4], f"^{shas[2]}").split()
    assert expected == [shas[4], shas[3]]


def test_diff_cache_is_bounded_by_bytes() -> None:
    from kiln.gitstore.local.diff import _DiffCache
    from kiln.gitstore.types import DiffFile

    def files(n: int) -> tuple[DiffFile, ...]:
        text = "x" * n
        return (
            DiffFile(
                "a",
                "a",
                "0" * 40,
                "1" * 40,
                "100644",
                "100644",
                False,
                False,
                False,
                False,
                False,
                text,
            ),
        )

    cache = _DiffCache(max_bytes=10_000)
    for i in range(20):
        cache.put(("repo", str(i), "b", (), None), files(1_000))
    kept = [i for i in range(20) if cache.get(("repo", str(i), "b", (), None)) is not None]
    # The newest ones only, within the bound.
    assert kept
    assert kept == list(range(20 - len(kept), 20))
    assert len(kept) * 1_200 <= 10_000
    # A diff bigger than a quarter of the cache is not kept (it would evict the rest).
    cache.put(("repo", "huge", "b", (), None), files(5_000))
    assert cache.get(("repo", "huge", "b", (), None)) is None
    assert cache.get(("repo", "19", "b", (), None)) is not None


def test_optimize_runs_maintenance_only_when_due(local: LocalGitStore, repo: str) -> None:
    git_dir = local.root / repo
    write(local, repo, {"f": b"0"})
    # No commit-graph or bitmap yet: due.
    first = local.optimize(relative_path=repo)
    assert first is not None
    assert (git_dir / "objects" / "info" / "commit-graph").is_file()
    assert list((git_dir / "objects" / "pack").glob("*.bitmap"))
    # A small change afterwards: not worth rewriting the bitmap; its objects stay loose.
    write(local, repo, {"f": b"1"})
    assert local.optimize(relative_path=repo) is None
    assert list((git_dir / "objects").glob("??/*"))
    # Many loose objects: due again, and they are packed.
    write(local, repo, {f"many/{i}.txt": f"{i}\n".encode() for i in range(300)})
    again = local.optimize(relative_path=repo)
    assert again is not None
    assert again.loose_objects_before >= 256
    assert list((git_dir / "objects").glob("??/*")) == []
    # Many loose refs: due (they are packed).
    for i in range(40):
        local.create_branch(relative_path=repo, name=f"b{i}", revision="main")
    assert local.optimize(relative_path=repo) is not None
    assert not list((git_dir / "refs" / "heads").glob("b*"))
    assert local.fsck(relative_path=repo) == ()
