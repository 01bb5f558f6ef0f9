"""The pre-receive hook channel of pushes over HTTP, both ends, without a server process.

The relay end runs as git runs it (the installed hook script, `python -I -S`); the Kiln end
(`HookChannel`) answers with the real push decision and records what git applied.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kiln.core.access import Visibility
from kiln.core.actor import Actor
from kiln.githttp.hookchannel import HookChannel
from kiln.gitstore import CommitAction, CommitActionKind, Identity
from kiln.hooks.install import install_hooks
from kiln.repositories.models import Push
from kiln.repositories.services import ensure_repository, protect_default_branch
from kiln.repositories.storage import repo_path, store
from tests.projects import builders as b

ZERO = "0" * 40
ME = Identity("Pusher", "pusher@example.com")


def _frame(payload: bytes) -> bytes:
    return b"%d\n" % len(payload) + payload


def _read_frame(fd: int) -> bytes:
    data = b""
    while b"\n" not in data or len(data.partition(b"\n")[2]) < int(data.partition(b"\n")[0]):
        chunk = os.read(fd, 65536)
        assert chunk, "the other end closed the channel"
        data += chunk
    return data.partition(b"\n")[2]


def _run_hook(tmp_path: Path, stdin: bytes, answer: bytes | None) -> tuple[bytes, Any]:
    """Run the installed pre-receive hook on a channel this test serves; (request, process)."""
    hooks = install_hooks(tmp_path / "hooks", ("pre-receive",))
    assert sorted(p.name for p in hooks.iterdir()) == ["pre-receive"]
    requests, hook_writes = os.pipe()
    hook_reads, answers = os.pipe()
    env = {
        "PATH": os.environ["PATH"],
        "KILN_HOOK_CHANNEL": f"{hook_writes},{hook_reads}",
        "GIT_QUARANTINE_PATH": "/repo/objects/tmp_objdir-incoming-x",
    }
    proc = subprocess.Popen(
        [str(hooks / "pre-receive")],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        pass_fds=(hook_writes, hook_reads),
    )
    os.close(hook_writes)
    os.close(hook_reads)
    assert proc.stdin is not None
    proc.stdin.write(stdin)
    proc.stdin.close()
    request = _read_frame(requests)
    if answer is not None:
        os.write(answers, _frame(answer))
    os.close(answers)
    os.close(requests)
    proc.wait(timeout=30)
    return request, proc


def test_relay_sends_the_updates_and_prints_the_answer(tmp_path: Path) -> None:
    updates = f"{ZERO} {'a' * 40} refs/heads/new\n".encode()
    request, proc = _run_hook(tmp_path, updates, b"refused\nGitLab: No.\n")
    assert request == (
        b"pre-receive\nGIT_QUARANTINE_PATH=/repo/objects/tmp_objdir-incoming-x\n\n" + updates
    )
    assert proc.returncode == 1
    assert proc.stderr.read() == b"GitLab: No.\n"
    _, accepted = _run_hook(tmp_path, updates, b"ok")
    assert accepted.returncode == 0
    assert accepted.stderr.read() == b""


def test_relay_refuses_when_kiln_does_not_answer(tmp_path: Path) -> None:
    _, proc = _run_hook(tmp_path, b"", None)
    assert proc.returncode == 1
    assert b"could not check this push" in proc.stderr.read()


@pytest.fixture
def pushing(transactional_db: None) -> tuple[Actor, Any]:
    owner = b.user("channel-owner")
    project = b.project(owner, "Channel", visibility=Visibility.PRIVATE)
    ensure_repository(project)
    return Actor.for_user(owner), project


def _ask(channel: HookChannel, payload: bytes) -> bytes:
    """Play the hook: one request on copies of git's ends (the channel closes its own)."""
    writes, reads = (os.dup(fd) for fd in channel.fds)
    channel.start()
    try:
        os.write(writes, _frame(payload))
        return _read_frame(reads)
    finally:
        os.close(writes)
        os.close(reads)


def _commit(project: Any, branch: str, start: str | None = None) -> str:
    return (
        store()
        .create_commit(
            relative_path=repo_path(project),
            branch=branch,
            start_branch=start,
            actions=[CommitAction(action=CommitActionKind.CREATE, file_path=f"{branch}.txt")],
            author=ME,
            message=branch,
        )
        .id
    )


def test_channel_decides_and_records_only_what_git_applied(pushing: tuple[Actor, Any]) -> None:
    actor, project = pushing
    main = _commit(project, "main")
    protect_default_branch(project)
    # A branch git "created" (the commit exists and the ref points at it), and one it did not.
    topic = _commit(project, "topic", start="main")
    changes = f"{ZERO} {topic} refs/heads/topic\n{ZERO} {main} refs/heads/never\n"
    channel = HookChannel(actor, project)
    assert _ask(channel, b"pre-receive\n\n" + changes.encode()) == b"ok"
    channel.finish()
    pushes = list(Push.objects.filter(project=project).values_list("ref", "after", "protocol"))
    assert pushes == [("refs/heads/topic", topic, "http")]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"pre-receive\n\n{old} {new} refs/heads/main\n", b"not allowed to force push"),
        (b"pre-receive\n\ntwo fields\n", b"could not be checked"),
        (b"pre-receive\n\nnot object ids\n", b"Malformed ref update."),
        (b"pre-receive\nno equals sign\n\n", b"could not be checked"),
        (b"post-receive\n\n", b"Unexpected hook"),
        (b"pre-receive\n\n" + b"a b refs/heads/x\n" * 10_001, b"at most 10000 refs"),
        (b"pre-receive\n\n{old} {new} refs/meta/config\n", b"outside refs/heads/"),
    ],
)
def test_channel_refusals(pushing: tuple[Actor, Any], payload: bytes, message: bytes) -> None:
    actor, project = pushing
    base = _commit(project, "main")
    side = _commit(project, "side", start="main")
    protect_default_branch(project)
    # A rewrite of main: from a commit to one it does not descend from.
    body = payload.replace(b"{old}", side.encode()).replace(b"{new}", base.encode())
    channel = HookChannel(actor, project)
    answer = _ask(channel, body)
    channel.finish()
    assert answer.startswith(b"refused\nGitLab: ")
    assert message in answer
    assert not Push.objects.filter(project=project).exists()
