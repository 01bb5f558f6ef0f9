"""The in-process v0/v1 ref advertisement is byte for byte what git prints, or nothing.

Every repository shape is built with real git, then `advertise` and `git upload-pack` /
`git receive-pack --stateless-rpc --advertise-refs` (with the configuration Kiln passes) are
compared for both services and protocols v0 and v1. Shapes Kiln does not model must give None
(the transport then starts git).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from kiln.gitstore import GitService, LocalGitStore, hashed_relative_path
from kiln.gitstore.local import advertise, transport

from .conftest import git_env, run_git, write

SERVICES = (GitService.UPLOAD_PACK, GitService.RECEIVE_PACK)
PROTOCOLS = (None, "version=1")


REPO = hashed_relative_path("advertise-1")


@pytest.fixture
def local(tmp_path: Path) -> LocalGitStore:
    """A store holding one empty repository, `REPO`."""
    store = LocalGitStore(tmp_path / "storage")
    store.create_repository(relative_path=REPO)
    return store


@pytest.fixture
def repo(local: LocalGitStore) -> str:
    return REPO


def _git_dir(local: LocalGitStore, repo: str) -> Path:
    return local.root / repo


def ours(
    local: LocalGitStore, repo: str, service: GitService, protocol: str | None
) -> bytes | None:
    git_dir = _git_dir(local, repo)
    config = (git_dir / "config").read_bytes()
    caps = advertise.capabilities_for(service, git_dir, config, transport._SERVICE_CONFIG[service])
    if caps is None:
        return None
    version = 1 if protocol == "version=1" else 0
    return advertise.render_advertisement(git_dir, caps, agent=local._agent(), version=version)


def gits(local: LocalGitStore, repo: str, service: GitService, protocol: str | None) -> bytes:
    output = local._spawn_advertisement(repo, service, protocol)
    assert output is not None
    return output


def assert_identical(
    local: LocalGitStore, repo: str, *, upload_may_fall_back: bool = False
) -> None:
    for service in SERVICES:
        for protocol in PROTOCOLS:
            mine = ours(local, repo, service, protocol)
            if mine is None and upload_may_fall_back and service is GitService.UPLOAD_PACK:
                continue
            assert mine is not None, (service, protocol)
            assert mine == gits(local, repo, service, protocol), (service, protocol)


def assert_falls_back(local: LocalGitStore, repo: str) -> None:
    for service in SERVICES:
        for protocol in PROTOCOLS:
            assert ours(local, repo, service, protocol) is None, (service, protocol)
            gits(local, repo, service, protocol)  # git itself still answers


def g(local: LocalGitStore, repo: str, *args: str) -> str:
    return run_git(_git_dir(local, repo), *args)


@pytest.fixture
def history(local: LocalGitStore, repo: str) -> list[str]:
    """Three commits on main, one on a side branch."""
    commits = [write(local, repo, {"a.txt": f"{i}\n".encode()}).id for i in range(3)]
    commits.append(write(local, repo, {"b.txt": b"side\n"}, branch="side", start_branch="main").id)
    return commits


def test_empty_repository(local: LocalGitStore, repo: str) -> None:
    # upload-pack: newer git prints `capabilities^{}` here, 2.39 only a flush: git answers.
    for protocol in PROTOCOLS:
        assert ours(local, repo, GitService.UPLOAD_PACK, protocol) is None
        mine = ours(local, repo, GitService.RECEIVE_PACK, protocol)
        assert mine is not None
        assert b"capabilities^{}\0" in mine
        assert mine == gits(local, repo, GitService.RECEIVE_PACK, protocol)


def test_plain_branches(local: LocalGitStore, repo: str, history: list[str]) -> None:
    assert_identical(local, repo)
    first = ours(local, repo, GitService.UPLOAD_PACK, None)
    assert first is not None
    assert f"{history[2]} HEAD\0".encode() in first
    assert b" symref=HEAD:refs/heads/main " in first


def test_unborn_head_with_branches(local: LocalGitStore, repo: str, history: list[str]) -> None:
    g(local, repo, "symbolic-ref", "HEAD", "refs/heads/nowhere")
    assert_identical(local, repo)
    mine = ours(local, repo, GitService.UPLOAD_PACK, None)
    assert mine is not None
    assert b"symref=" not in mine
    assert b" HEAD" not in mine


def test_detached_head(local: LocalGitStore, repo: str, history: list[str]) -> None:
    (_git_dir(local, repo) / "HEAD").write_text(history[1] + "\n")
    assert_identical(local, repo)


def test_tags_annotated_lightweight_and_nested(
    local: LocalGitStore, repo: str, history: list[str]
) -> None:
    g(local, repo, "tag", "light", history[0])
    g(local, repo, "tag", "-a", "-m", "annotated", "v1", history[1])
    g(local, repo, "tag", "-a", "-m", "tag of a tag", "v1-outer", "v1")
    tree = g(local, repo, "rev-parse", f"{history[1]}^{{tree}}").strip()
    g(local, repo, "tag", "-a", "-m", "a tree", "tree-tag", tree)
    blob = g(local, repo, "rev-parse", f"{history[1]}:a.txt").strip()
    g(local, repo, "tag", "-a", "-m", "a blob", "blob-tag", blob)
    g(local, repo, "tag", "light-to-annotated", g(local, repo, "rev-parse", "v1").strip())
    assert_identical(local, repo)  # loose
    g(local, repo, "pack-refs", "--all")
    assert_identical(local, repo)  # packed, peeled lines from packed-refs
    mine = ours(local, repo, GitService.UPLOAD_PACK, None)
    assert mine is not None
    assert f"{history[1]} refs/tags/v1-outer^{{}}".encode() in mine


def test_packed_and_loose_mixture(local: LocalGitStore, repo: str, history: list[str]) -> None:
    for i in range(40):
        g(local, repo, "update-ref", f"refs/heads/topic/{i:02d}", history[i % 4])
    g(local, repo, "tag", "-a", "-m", "m", "packed-tag", history[0])
    g(local, repo, "pack-refs", "--all")
    # Loose refs overriding packed ones, new loose ones, a deleted packed one.
    g(local, repo, "update-ref", "refs/heads/topic/03", history[0])
    g(local, repo, "update-ref", "refs/heads/topic/zz", history[1])
    g(local, repo, "update-ref", "-d", "refs/heads/topic/10")
    g(local, repo, "tag", "-f", "-a", "-m", "moved", "packed-tag", history[2])
    # Stale lock files and dot files are skipped, as git skips them.
    (_git_dir(local, repo) / "refs/heads/topic/05.lock").write_text(history[3] + "\n")
    (_git_dir(local, repo) / "refs/heads/.hidden").write_text(history[3] + "\n")
    assert_identical(local, repo)


def test_many_refs_and_non_branch_namespaces(
    local: LocalGitStore, repo: str, history: list[str]
) -> None:
    lines = []
    for i in range(600):
        lines.append(f"create refs/heads/many/{i:04d} {history[i % 4]}")
    for i in range(50):
        lines.append(f"create refs/merge-requests/{i}/head {history[i % 4]}")
        lines.append(f"create refs/keep-around/{history[i % 4]}-{i} {history[i % 4]}")
    lines.append(f"create refs/pipelines/7 {history[0]}")
    lines.append(f"create refs/heads/ünïcode/ß {history[1]}")
    subprocess.run(
        ["git", "update-ref", "--stdin"],
        cwd=_git_dir(local, repo),
        input="\n".join(lines).encode() + b"\n",
        env=git_env(_git_dir(local, repo)),
        check=True,
    )
    g(local, repo, "replace", history[1], history[0])  # refs/replace/ is just a ref here
    assert_identical(local, repo)
    g(local, repo, "pack-refs", "--all")
    assert_identical(local, repo)


def test_symbolic_refs(local: LocalGitStore, repo: str, history: list[str]) -> None:
    g(local, repo, "update-ref", "refs/remotes/origin/main", history[2])
    g(local, repo, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    g(local, repo, "tag", "-a", "-m", "m", "v2", history[2])
    g(local, repo, "symbolic-ref", "refs/heads/alias-of-tag", "refs/tags/v2")
    assert_identical(local, repo)
    g(local, repo, "pack-refs", "--all")  # symbolic refs stay loose, their targets are packed
    assert_identical(local, repo)


@pytest.mark.parametrize(
    "config",
    [
        [("uploadpack.allowTipSHA1InWant", "true")],
        [("uploadpack.allowReachableSHA1InWant", "true")],
        [("uploadpack.allowAnySHA1InWant", "true"), ("uploadpack.allowTipSHA1InWant", "false")],
        [("uploadpack.allowFilter", "false")],  # Kiln's -c wins
        [("receive.advertiseAtomic", "false"), ("repack.useDeltaBaseOffset", "off")],
        [("receive.advertisePushOptions", "false")],  # Kiln's -c wins
        [("uploadpack.keepAlive", "7"), ("receive.denyDeletes", "yes"), ("gc.auto", "50")],
    ],
)
def test_configurations(
    local: LocalGitStore, repo: str, history: list[str], config: list[tuple[str, str]]
) -> None:
    for key, value in config:
        g(local, repo, "config", "--add", key, value)
    assert_identical(local, repo)


def test_boolean_without_value(local: LocalGitStore, repo: str, history: list[str]) -> None:
    with (_git_dir(local, repo) / "config").open("a") as handle:
        handle.write("[uploadpack]\n\tallowTipSHA1InWant\n")
    assert_identical(local, repo)
    mine = ours(local, repo, GitService.UPLOAD_PACK, None)
    assert mine is not None
    assert b" allow-tip-sha1-in-want " in mine


@pytest.mark.parametrize(
    "config",
    [
        ("transfer.hideRefs", "refs/keep-around"),
        ("uploadpack.hideRefs", "refs/merge-requests"),
        ("receive.hideRefs", "refs/pipelines"),
        ("transfer.advertiseSID", "true"),
        ("receive.certNonceSeed", "secret"),
        ("include.path", "/dev/null"),
        ("uploadpack.someFutureOption", "1"),
    ],
)
def test_unmodelled_configuration_falls_back(
    local: LocalGitStore, repo: str, history: list[str], config: tuple[str, str]
) -> None:
    g(local, repo, "config", *config)
    assert_falls_back(local, repo)


def _odd_shapes() -> dict[str, Callable[[LocalGitStore, str, list[str]], None]]:
    def alternates(local: LocalGitStore, repo: str, history: list[str]) -> None:
        other = local.root / "other.git"
        run_git(local.root, "init", "-q", "--bare", str(other))
        (_git_dir(local, repo) / "objects/info/alternates").write_text(f"{other}/objects\n")

    def shallow(local: LocalGitStore, repo: str, history: list[str]) -> None:
        (_git_dir(local, repo) / "shallow").write_text(history[0] + "\n")

    def missing_object(local: LocalGitStore, repo: str, history: list[str]) -> None:
        (_git_dir(local, repo) / "refs/heads/broken").write_text("1" * 40 + "\n")

    def garbage(local: LocalGitStore, repo: str, history: list[str]) -> None:
        (_git_dir(local, repo) / "refs/heads/garbage").write_text("not a ref\n")

    def dangling(local: LocalGitStore, repo: str, history: list[str]) -> None:
        g(local, repo, "symbolic-ref", "refs/heads/dangling", "refs/heads/gone")

    def symlink(local: LocalGitStore, repo: str, history: list[str]) -> None:
        os.symlink("main", _git_dir(local, repo) / "refs/heads/link")

    def bad_name(local: LocalGitStore, repo: str, history: list[str]) -> None:
        (_git_dir(local, repo) / "refs/heads/bad..name").write_text(history[0] + "\n")

    def old_packed_refs(local: LocalGitStore, repo: str, history: list[str]) -> None:
        (_git_dir(local, repo) / "packed-refs").write_text(f"{history[0]} refs/heads/old\n")

    def head_to_symref(local: LocalGitStore, repo: str, history: list[str]) -> None:
        g(local, repo, "symbolic-ref", "refs/heads/indirect", "refs/heads/main")
        g(local, repo, "symbolic-ref", "HEAD", "refs/heads/indirect")

    return {f.__name__: f for f in (alternates, shallow, missing_object, garbage, dangling,
            symlink, bad_name, old_packed_refs, head_to_symref)}  # fmt: skip


@pytest.mark.parametrize("shape", sorted(_odd_shapes()))
def test_unusual_repositories_fall_back(
    local: LocalGitStore, repo: str, history: list[str], shape: str
) -> None:
    _odd_shapes()[shape](local, repo, history)
    for service in SERVICES:
        for protocol in PROTOCOLS:
            mine = ours(local, repo, service, protocol)
            if shape == "head_to_symref" and service is GitService.RECEIVE_PACK:
                assert mine == gits(local, repo, service, protocol)  # receive-pack shows no HEAD
            else:
                assert mine is None, (shape, service, protocol)


def test_transport_checks_against_git_once_per_configuration(
    local: LocalGitStore, repo: str, history: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport, "_V0_CHECKED", {})
    spawns: list[GitService] = []
    spawn = local._spawn_advertisement

    def counting(relative_path: str, service: GitService, protocol: str | None) -> bytes | None:
        spawns.append(service)
        return spawn(relative_path, service, protocol)

    monkeypatch.setattr(local, "_spawn_advertisement", counting)
    for _ in range(3):
        for service in SERVICES:
            answer = local.capability_advertisement(
                relative_path=repo, service=service, git_protocol=None
            )
            assert answer == spawn(repo, service, None)
    assert spawns == list(SERVICES)  # compared the first time only
    # receive-pack has no protocol v2: git answers (in v0).
    assert (
        local.capability_advertisement(
            relative_path=repo, service=GitService.RECEIVE_PACK, git_protocol="version=2"
        )
        is None
    )


def test_transport_turns_itself_off_when_git_disagrees(
    local: LocalGitStore, repo: str, history: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport, "_V0_CHECKED", {})
    monkeypatch.setattr(local, "_agent", lambda: b"git/0.0.0-not-this-git")
    real = gits(local, repo, GitService.UPLOAD_PACK, None)
    for _ in range(2):
        answer = local.capability_advertisement(
            relative_path=repo, service=GitService.UPLOAD_PACK, git_protocol=None
        )
        assert answer is None or answer == real
    assert list(transport._V0_CHECKED.values()) == [False]
