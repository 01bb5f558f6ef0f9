"""git over SSH against `kiln ssh`: keys added through the API, the shell's allow-list."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import gitlab
import pytest

from tests.conftest import ROOT_TOKEN, client
from tests.support.git import commit_file, git, make_repo

pytestmark = pytest.mark.slow


def _keypair(directory: Path, name: str = "id") -> tuple[Path, str]:
    key = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True
    )
    return key, (directory / f"{name}.pub").read_text().strip()


def _ssh(key: Path, port: int) -> list[str]:
    return [
        "ssh", "-i", str(key), "-p", str(port), "-o", "IdentitiesOnly=yes",
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "LogLevel=ERROR", "-o", "BatchMode=yes",
    ]  # fmt: skip


def _ssh_env(key: Path, port: int) -> dict[str, str]:
    return {"GIT_SSH_COMMAND": " ".join(_ssh(key, port))}


@pytest.fixture
def root_gl(git_url: str) -> gitlab.Gitlab:
    gl = client(git_url, ROOT_TOKEN)
    gl.auth()
    return gl


def test_clone_and_push_over_ssh(root_gl: gitlab.Gitlab, ssh_port: int, tmp_path: Path) -> None:
    key, public = _keypair(tmp_path)
    root_gl.user.keys.create({"title": "laptop", "key": public})
    root_gl.projects.create({"name": "over-ssh"})
    env = _ssh_env(key, ssh_port)
    url = f"ssh://git@127.0.0.1:{ssh_port}/root/over-ssh.git"
    work = make_repo(tmp_path / "work")
    git("push", "-q", url, "main", cwd=work, env=env)
    for version in ("2", "0"):
        target = tmp_path / f"clone{version}"
        git("-c", f"protocol.version={version}", "clone", "-q", url, str(target), env=env)
        assert (target / "README.md").read_text() == "# hello\n"
    project = root_gl.projects.get("root/over-ssh")
    assert project.empty_repo is False
    # The protected default branch is enforced over SSH too (one decision for every transport).
    git("reset", "-q", "--hard", "HEAD", cwd=work)
    commit_file(work, "x.txt", "x")
    git("push", "-q", url, "main", cwd=work, env=env)
    git("reset", "-q", "--hard", "HEAD~1", cwd=work)
    commit_file(work, "y.txt", "y")
    refused = git("push", "-q", "--force", url, "main", cwd=work, env=env, check=False)
    assert "You are not allowed to force push code to a protected branch" in refused.stderr


def test_greeting_and_refusals(
    root_gl: gitlab.Gitlab, ssh_port: int, make_user: Any, tmp_path: Path
) -> None:
    key, public = _keypair(tmp_path)
    root_gl.user.keys.create({"title": "laptop", "key": public})
    root_gl.projects.create({"name": "private-one"})
    ssh = _ssh(key, ssh_port)

    hello = subprocess.run([*ssh, "git@127.0.0.1"], capture_output=True, text=True, check=False)
    assert hello.returncode == 0
    assert "Welcome to Kiln, @root!" in hello.stdout

    for command in (
        "ls /",
        "git-upload-pack 'root/private-one.git'; touch /tmp/x",
        "git-upload-pack '../../etc'",
        'git-upload-pack "root/private-one.git"',
        "git-upload-pack 'root/private one.git'",
        "git-upload-pack root/private-one.git",
        "git-upload-pack --help",
        "git-shell",
        "scp -t /tmp",
    ):
        result = subprocess.run(
            [*ssh, "git@127.0.0.1", command], capture_output=True, text=True, check=False
        )
        assert result.returncode != 0, command
        assert "not allowed" in result.stderr, (command, result.stderr)

    # Another user's key cannot see a private project.
    other_key, other_public = _keypair(tmp_path, "other")
    _, other_gl = make_user("other")
    other_gl.auth()
    other_gl.user.keys.create({"title": "k", "key": other_public})
    result = git(
        "clone", "-q", f"ssh://git@127.0.0.1:{ssh_port}/root/private-one.git",
        str(tmp_path / "c"), env=_ssh_env(other_key, ssh_port), check=False,
    )  # fmt: skip
    assert "could not be found" in result.stderr

    # An unknown key is refused at authentication.
    stranger, _ = _keypair(tmp_path, "stranger")
    result = subprocess.run(
        [*_ssh(stranger, ssh_port), "git@127.0.0.1"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 255
    assert "Permission denied" in result.stderr


def test_blocked_user_key_is_refused(
    root_gl: gitlab.Gitlab, ssh_port: int, make_user: Any, tmp_path: Path
) -> None:
    key, public = _keypair(tmp_path)
    user, user_gl = make_user("soon-blocked")
    user_gl.auth()
    user_gl.user.keys.create({"title": "k", "key": public})
    root_gl.users.get(user.pk).block()
    result = subprocess.run(
        [*_ssh(key, ssh_port), "git@127.0.0.1"], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "Welcome" not in result.stdout
