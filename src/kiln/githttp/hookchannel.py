"""The pre-receive hook's channel to the HTTP request that started `git receive-pack`.

A push over HTTP used to run two hook processes that each called Kiln's internal API over
HTTP; both were most of a small push's latency. Now the request that started git answers
pre-receive itself, over two pipes git and its hooks inherit (see kiln.hooks.relay), and once
git has exited it records the push from what pre-receive accepted and what git then applied
(`record_applied_push`), so no post-receive runs. What must hold:

1. The decision is the one every transport asks (`services.check_push`, which the internal
   API's pre_receive also calls) for the actor and project this request authorized.
2. Only git and its children hold the other ends: the pipes are created per push, passed to
   git alone (`pass_fds`), and this process closes its copies of git's ends once git started,
   so the channel reports end-of-file as soon as git and its hooks are gone.
3. A hook that asks anything malformed, or a check that fails unexpectedly, refuses the push.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Mapping

from django.db import connections

from kiln.core.actor import Actor
from kiln.projects.models import Project
from kiln.repositories.access import GitAccessDenied, Protocol
from kiln.repositories.services import check_push, record_applied_push

log = logging.getLogger(__name__)

_MAX_FRAME = 64 << 20  # 10,000 ref updates fit many times over


def _read_frame(fd: int) -> bytes | None:
    """One `<length>\\n<payload>` frame; None at end of file."""
    buffer = b""
    while b"\n" not in buffer:
        chunk = os.read(fd, 65536)
        if not chunk or len(buffer) > 32:
            return None
        buffer += chunk
    size_text, _, payload = buffer.partition(b"\n")
    if not size_text.isdigit() or int(size_text) > _MAX_FRAME:
        return None
    size = int(size_text)
    while len(payload) < size:
        chunk = os.read(fd, 65536)
        if not chunk:
            return None
        payload += chunk
    return payload


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


def _parse(frame: bytes) -> tuple[str, dict[str, str], list[dict[str, str]]]:
    """(hook name, its quarantine environment, its ref updates) from one request."""
    head, _, stdin = frame.partition(b"\n\n")
    hook, *env_lines = head.decode("utf-8").split("\n")
    env = dict(line.split("=", 1) for line in env_lines)
    changes = []
    for line in stdin.decode("utf-8").splitlines():
        old, new, ref = line.split(" ", 2)
        changes.append({"old": old, "new": new, "ref": ref})
    return hook, env, changes


class HookChannel:
    """One push's channel: `env` and `fds` go to git; `start` once git runs; `finish` after."""

    def __init__(self, actor: Actor, project: Project) -> None:
        self.actor, self.project = actor, project
        self.accepted: list[dict[str, str]] = []
        self._requests, self._hook_writes = os.pipe()
        self._hook_reads, self._answers = os.pipe()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def fds(self) -> tuple[int, int]:
        return (self._hook_writes, self._hook_reads)

    @property
    def env(self) -> Mapping[str, str]:
        return {"KILN_HOOK_CHANNEL": f"{self._hook_writes},{self._hook_reads}"}

    def start(self) -> None:
        """Git has started (or failed to): drop this process's copies of git's ends."""
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._thread.start()

    def close(self) -> None:
        """Give up on the channel without serving it (git never started)."""
        for fd in (*self.fds, self._requests, self._answers):
            with contextlib.suppress(OSError):
                os.close(fd)

    def finish(self) -> None:
        """After git exited: stop serving, then record what pre-receive accepted and git applied.
        Never raises: git's answer is already with the client; `kiln check --repair`
        reconciles a push that could not be recorded."""
        self._thread.join(timeout=30)
        try:
            record_applied_push(
                actor=self.actor, project=self.project, accepted=self.accepted, protocol="http"
            )
        except Exception:
            log.exception("could not record a push", extra={"project_id": self.project.pk})

    def _serve(self) -> None:
        try:
            while (frame := _read_frame(self._requests)) is not None:
                _write_all(self._answers, self._answer(frame))
        except OSError:
            pass  # git went away mid-answer: it has failed the push itself
        finally:
            for fd in (self._requests, self._answers):
                with contextlib.suppress(OSError):
                    os.close(fd)
            connections.close_all()  # this thread's own database connections

    def _answer(self, frame: bytes) -> bytes:
        try:
            hook, env, changes = _parse(frame)
        except ValueError:  # also UnicodeDecodeError
            return _refusal("The push could not be checked and was refused.")
        if hook != "pre-receive":
            return _refusal(f"Unexpected hook {hook!r}.")
        try:
            check_push(
                actor=self.actor,
                project=self.project,
                raw_changes=changes,
                git_env=env,
                protocol=Protocol.HTTP,
            )
        except GitAccessDenied as exc:
            return _refusal(exc.message)
        except Exception:
            log.exception("pre-receive failed", extra={"project_id": self.project.pk})
            return _refusal("The push could not be checked; try again.")
        self.accepted.extend(changes)
        return b"2\nok"


def _refusal(message: str) -> bytes:
    payload = f"refused\nGitLab: {message}\n".encode()
    return b"%d\n" % len(payload) + payload
