"""git over HTTP against the real server: clone, fetch, push, and who may do which."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import gitlab
import pytest
import requests

from tests.conftest import ROOT_TOKEN, client
from tests.support.git import authed, commit_file, git, make_repo

pytestmark = pytest.mark.slow


@pytest.fixture
def root_gl(git_url: str) -> gitlab.Gitlab:
    return client(git_url, ROOT_TOKEN)


def _project(gl: gitlab.Gitlab, name: str, **attrs: Any) -> Any:
    return gl.projects.create({"name": name, **attrs})


def test_push_then_clone_roundtrip_and_database_follows(
    root_gl: gitlab.Gitlab, git_url: str, tmp_path: Path
) -> None:
    project = _project(root_gl, "roundtrip", visibility="public")
    assert project.empty_repo is True
    work = make_repo(tmp_path / "work", {"README.md": "# hello\n", "src/app.py": "print(1)\n"})
    remote = authed(f"{git_url}/root/roundtrip.git", "root", ROOT_TOKEN)
    git("push", "-q", remote, "main", cwd=work)

    # Anonymous clone of a public project, without the .git suffix, protocol v2 and v0.
    for version in ("2", "0"):
        target = tmp_path / f"clone-v{version}"
        git(
            "-c",
            f"protocol.version={version}",
            "clone",
            "-q",
            f"{git_url}/root/roundtrip",
            str(target),
        )
        assert (target / "src" / "app.py").read_text() == "print(1)\n"

    project = root_gl.projects.get(project.id)
    assert project.empty_repo is False
    assert project.default_branch == "main"
    from kiln.repositories.models import Push

    push = Push.objects.get(project_id=project.id)
    assert push.ref == "refs/heads/main"
    assert push.before == "0" * 40
    assert push.commit_count == 1
    assert push.commits[0]["title"] == "Initial"


def test_first_push_of_another_branch_becomes_default(
    root_gl: gitlab.Gitlab, git_url: str, tmp_path: Path
) -> None:
    _project(root_gl, "trunk")
    work = make_repo(tmp_path / "work")
    git("branch", "-m", "trunk", cwd=work)
    git("push", "-q", authed(f"{git_url}/root/trunk.git", "root", ROOT_TOKEN), "trunk", cwd=work)
    assert root_gl.projects.get("root/trunk").default_branch == "trunk"


def test_private_project_access_by_role(
    root_gl: gitlab.Gitlab, git_url: str, make_user: Any, tmp_path: Path
) -> None:
    project = _project(root_gl, "secret", visibility="private")
    work = make_repo(tmp_path / "work")
    git("push", "-q", authed(f"{git_url}/root/secret.git", "root", ROOT_TOKEN), "main", cwd=work)
    url = f"{git_url}/root/secret.git"

    anonymous = git("clone", "-q", url, str(tmp_path / "anon"), check=False)
    assert anonymous.returncode != 0
    assert (
        "Authentication failed" in anonymous.stderr or "could not read Username" in anonymous.stderr
    )

    users = {}
    for name, level in (("guest", 10), ("reporter", 20), ("developer", 30)):
        user, _ = make_user(name)
        project.members.create({"user_id": user.pk, "access_level": level})
        users[name] = user
    from kiln.accounts.access_tokens import create_personal_access_token_unchecked

    def token_for(
        user: Any, scopes: tuple[str, ...] = ("read_repository", "write_repository")
    ) -> str:
        return create_personal_access_token_unchecked(user=user, name="git", scopes=scopes)[1]

    outsider, _ = make_user("outsider")
    result = git(
        "clone",
        "-q",
        authed(url, "outsider", token_for(outsider)),
        str(tmp_path / "o"),
        check=False,
    )
    assert "could not be found" in result.stderr

    result = git(
        "clone",
        "-q",
        authed(url, "guest", token_for(users["guest"])),
        str(tmp_path / "g"),
        check=False,
    )
    assert "You are not allowed to download code from this project." in result.stderr

    git("clone", "-q", authed(url, "reporter", token_for(users["reporter"])), str(tmp_path / "r"))
    assert (tmp_path / "r" / "README.md").exists()
    # A reporter cannot push.
    commit_file(tmp_path / "r", "x.txt", "x")
    result = git("push", "-q", "origin", "HEAD:feature", cwd=tmp_path / "r", check=False)
    assert "You are not allowed to upload code for this project." in result.stderr

    # A password works like a token; oauth2:<token> too.
    git("clone", "-q", authed(url, "developer", "password-123"), str(tmp_path / "d1"))
    git("clone", "-q", authed(url, "oauth2", token_for(users["developer"])), str(tmp_path / "d2"))
    # A token without a repository scope cannot clone.
    api_read = token_for(users["developer"], ("read_api",))
    result = git(
        "clone", "-q", authed(url, "developer", api_read), str(tmp_path / "d3"), check=False
    )
    assert "You are not allowed to download code from this project." in result.stderr


def test_protected_default_branch(
    root_gl: gitlab.Gitlab, git_url: str, make_user: Any, tmp_path: Path
) -> None:
    project = _project(root_gl, "guarded")
    url = f"{git_url}/root/guarded.git"
    work = make_repo(tmp_path / "work")
    git("push", "-q", authed(url, "root", ROOT_TOKEN), "main", cwd=work)
    developer, _ = make_user("dev")
    project.members.create({"user_id": developer.pk, "access_level": 30})
    maintainer, _ = make_user("maint")
    project.members.create({"user_id": maintainer.pk, "access_level": 40})

    dev_url = authed(url, "dev", "password-123")
    commit_file(work, "a.txt", "a")
    result = git("push", "-q", dev_url, "main", cwd=work, check=False)
    assert (
        "You are not allowed to push code to protected branches on this project." in result.stderr
    )
    # Developers push to other branches.
    git("push", "-q", dev_url, "main:feature", cwd=work)

    maint_url = authed(url, "maint", "password-123")
    git("push", "-q", maint_url, "main", cwd=work)
    git("reset", "-q", "--hard", "HEAD~1", cwd=work)
    commit_file(work, "b.txt", "b")
    result = git("push", "-q", "--force", maint_url, "main", cwd=work, check=False)
    assert "You are not allowed to force push code to a protected branch" in result.stderr
    result = git("push", "-q", maint_url, ":main", cwd=work, check=False)
    assert "The default branch of a project cannot be deleted." in result.stderr
    result = git("push", "-q", maint_url, "HEAD:refs/notes/x", cwd=work, check=False)
    assert "refs outside refs/heads/ and refs/tags/" in result.stderr

    # Nothing of the refused pushes reached the repository.
    remote = git("ls-remote", maint_url, cwd=work).stdout
    refs = dict(line.split("\t")[::-1] for line in remote.strip().splitlines())
    assert "refs/notes/x" not in refs
    assert refs["refs/heads/main"] != git("rev-parse", "HEAD", cwd=work).stdout.strip()


def test_concurrent_pushes_to_one_branch_one_wins(
    root_gl: gitlab.Gitlab, git_url: str, tmp_path: Path
) -> None:
    _project(root_gl, "race")
    url = authed(f"{git_url}/root/race.git", "root", ROOT_TOKEN)
    base = make_repo(tmp_path / "base")
    git("push", "-q", url, "main", cwd=base)
    clones = []
    for i in range(4):
        target = tmp_path / f"c{i}"
        git("clone", "-q", url, str(target))
        commit_file(target, f"f{i}.txt", str(i), message=f"commit {i}")
        clones.append(target)
    results: list[Any] = [None] * len(clones)

    def push(i: int) -> None:
        results[i] = git("push", "-q", "origin", "main", cwd=clones[i], check=False)

    threads = [threading.Thread(target=push, args=(i,)) for i in range(len(clones))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [i for i, r in enumerate(results) if r.returncode == 0]
    assert len(winners) >= 1
    head = git("ls-remote", url, "refs/heads/main", cwd=base).stdout.split()[0]
    winner_heads = {git("rev-parse", "HEAD", cwd=clones[i]).stdout.strip() for i in winners}
    # Pushes from the same base are mutually non-fast-forward: exactly one can land.
    assert len(winners) == 1
    assert head in winner_heads
    for i, result in enumerate(results):
        if i not in winners:
            assert "rejected" in result.stderr or "failed to" in result.stderr
    fsck = git("clone", "-q", "--mirror", url, str(tmp_path / "mirror"))
    assert fsck.returncode == 0
    git("fsck", "--strict", cwd=tmp_path / "mirror")


def test_hostile_requests(root_gl: gitlab.Gitlab, git_url: str) -> None:
    _project(root_gl, "target", visibility="public")
    base = f"{git_url}/root/target.git"
    # The dumb protocol is never served.
    assert requests.get(f"{base}/info/refs", timeout=10).status_code == 403
    assert requests.get(f"{base}/HEAD", timeout=10).status_code == 404
    assert requests.get(f"{base}/objects/info/packs", timeout=10).status_code == 404
    # Malformed pkt-lines are refused with a 400 and git's reason.
    response = requests.post(
        f"{base}/git-upload-pack",
        data=b"zzzzgarbage",
        headers={"Content-Type": "application/x-git-upload-pack-request"},
        timeout=10,
    )
    assert response.status_code == 400
    assert "protocol error" in response.text
    wrong_type = requests.post(f"{base}/git-upload-pack", data=b"0000", timeout=10)
    assert wrong_type.status_code == 415
    # Paths never reach the filesystem.
    for path in ("/../../etc/passwd.git/info/refs", "/root/%2e%2e/x.git/info/refs"):
        response = requests.get(f"{git_url}{path}?service=git-upload-pack", timeout=10)
        assert response.status_code in (401, 404)
    # Anonymous pushes ask for credentials.
    response = requests.get(f"{base}/info/refs?service=git-receive-pack", timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    # Wrong credentials are 401, never a silent anonymous read.
    response = requests.get(
        f"{base}/info/refs?service=git-upload-pack", auth=("root", "wrong"), timeout=10
    )
    assert response.status_code == 401


def test_large_chunked_push_and_gzip_fetch(
    root_gl: gitlab.Gitlab, git_url: str, tmp_path: Path
) -> None:
    """Bodies over git's 1 MiB post buffer go chunked (after a probe request); fetches gzip."""
    import os

    _project(root_gl, "large")
    work = make_repo(tmp_path / "work")
    (work / "blob.bin").write_bytes(os.urandom(8 * 1024 * 1024))
    for i in range(300):  # many wants/haves make git gzip its upload-pack request
        (work / f"f{i}.txt").write_text(str(i))
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "large", cwd=work)
    url = authed(f"{git_url}/root/large.git", "root", ROOT_TOKEN)
    git("push", "-q", url, "main", cwd=work)
    clone = tmp_path / "clone"
    git("clone", "-q", url, str(clone))
    assert (clone / "blob.bin").read_bytes() == (work / "blob.bin").read_bytes()


def test_file_size_limit(root_gl: gitlab.Gitlab, git_url: str, tmp_path: Path) -> None:
    """The admin's `max_file_size` (MB) refuses a push bringing a larger file, with GitLab's
    message; files already in the repository before the limit don't block later pushes."""
    _project(root_gl, "sized")
    url = authed(f"{git_url}/root/sized.git", "root", ROOT_TOKEN)
    work = make_repo(tmp_path / "work")
    big = "x" * (1024 * 1024 + 1)
    commit_file(work, "old-big.bin", big)
    git("push", "-q", url, "main", cwd=work)  # no limit yet
    settings = root_gl.settings.get()
    settings.max_file_size = 1
    settings.save()
    try:
        assert root_gl.settings.get().max_file_size == 1
        before = git("ls-remote", url, cwd=work).stdout
        commit_file(work, "docs/big file.bin", big + "y")
        result = git("push", "-q", url, "main", cwd=work, check=False)
        assert result.returncode != 0
        assert (
            'File "docs/big file.bin" is larger than the allowed size of 1 MB. '
            "Use Git LFS to manage this file." in result.stderr
        )
        assert git("ls-remote", url, cwd=work).stdout == before  # nothing moved
        # A small change on top of the old big file goes through, also on a new branch.
        git("reset", "-q", "--hard", "HEAD~1", cwd=work)
        commit_file(work, "small.txt", "small")
        git("push", "-q", url, "main", cwd=work)
        git("push", "-q", url, "main:feature", cwd=work)
    finally:
        settings.max_file_size = 0
        settings.save()


def test_developer_pushes_the_first_commit_then_protection_applies(
    root_gl: gitlab.Gitlab, git_url: str, make_user: Any, tmp_path: Path
) -> None:
    """As on GitLab, where the default branch is protected once its first push lands: a
    Developer creates the default branch of an empty repository, then may no longer push it."""
    group = root_gl.groups.create({"name": "Crew", "path": "crew"})
    developer, dev_gl = make_user("firstdev")
    group.members.create({"user_id": developer.pk, "access_level": 30})
    dev_gl.projects.create({"name": "Blank", "namespace_id": group.id})
    url = authed(f"{git_url}/crew/blank.git", "firstdev", "password-123")
    work = make_repo(tmp_path / "work")
    git("push", "-q", url, "main", cwd=work)
    commit_file(work, "next.txt", "next")
    result = git("push", "-q", url, "main", cwd=work, check=False)
    assert (
        "You are not allowed to push code to protected branches on this project." in result.stderr
    )
    # A project a Developer creates with a README has it.
    readme = dev_gl.projects.create(
        {"name": "Docs", "namespace_id": group.id, "initialize_with_readme": True}
    )
    assert readme.files.get("README.md", ref="main").file_name == "README.md"
