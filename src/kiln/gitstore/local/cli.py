"""Spawning git: the only place in Kiln that builds a git command line.

What must hold for every process started here:

1. argv lists only, never a shell; the caller puts ``--end-of-options`` or ``--`` before
   anything that came from a user, and git is only ever given full object ids as revisions.
2. A minimal, explicit environment: nothing is inherited but ``PATH``, so a ``GIT_DIR``,
   ``GIT_CONFIG_*`` or ``GIT_EXEC_PATH`` in Kiln's own environment cannot redirect git; no
   system or global config (the machine's ``~/.gitconfig`` may hold credential helpers or
   aliases); pathspecs are literal; replace refs are ignored (libgit2 ignores them too, so
   both readers agree); no terminal prompts.
3. Hooks never run (``core.hooksPath=/dev/null``; `git update-ref` would otherwise run a
   ``reference-transaction`` hook) except for receive-pack, whose caller names the hooks.
4. No automatic gc or maintenance is forked: `maintenance` is a scheduled job.
5. stdin is closed unless the caller feeds it, so git never reads Kiln's own stdin.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Container, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from kiln.gitstore.errors import GitCommandError

__all__ = ["GitResult", "GitRunner"]

CHUNK_SIZE = 64 * 1024
DEFAULT_TIMEOUT = 600.0

_BASE_CONFIG: Mapping[str, str] = {
    "core.hooksPath": "/dev/null",
    "gc.auto": "0",
    "maintenance.auto": "false",
    "core.fsmonitor": "false",
}


@dataclass(frozen=True, slots=True)
class GitResult:
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", "replace")


def build_env(home: Path) -> dict[str, str]:
    """The whole environment of a git process (see the module docstring for why)."""
    return {
        "PATH": os.environ.get("PATH") or os.defpath,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_NO_REPLACE_OBJECTS": "1",
        "GIT_LITERAL_PATHSPECS": "1",
        "GIT_OPTIONAL_LOCKS": "0",
        "LC_ALL": "C",
        "LANG": "C",
        "TZ": "UTC",
    }


class GitRunner:
    """Builds argv and environment for git and runs it, one process per call."""

    def __init__(
        self, *, home: Path, git_binary: str = "git", timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        found = shutil.which(git_binary)
        if found is None:
            raise GitCommandError(f"git executable {git_binary!r} not found")
        # Resolve once, so a PATH change later cannot swap the binary under us.
        self.git = found
        self.home = home
        self.env = build_env(home)
        self.timeout = timeout

    def argv(
        self,
        git_dir: Path | None,
        args: Sequence[str],
        *,
        config: Mapping[str, str] | None = None,
    ) -> list[str]:
        argv = [self.git]
        if git_dir is not None:
            argv.append(f"--git-dir={git_dir}")
        for key, value in {**_BASE_CONFIG, **(config or {})}.items():
            argv += ["-c", f"{key}={value}"]
        argv.extend(args)
        return argv

    def run(
        self,
        git_dir: Path | None,
        args: Sequence[str],
        *,
        stdin: bytes | None = None,
        ok: Container[int] = (0,),
        config: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> GitResult:
        """Run git to completion; raise `GitCommandError` unless the exit code is in ``ok``."""
        argv = self.argv(git_dir, args, config=config)
        try:
            if stdin is None:
                proc = subprocess.run(
                    argv,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    env=self.env,
                    timeout=timeout or self.timeout,
                    check=False,
                )
            else:
                proc = subprocess.run(
                    argv,
                    input=stdin,
                    capture_output=True,
                    env=self.env,
                    timeout=timeout or self.timeout,
                    check=False,
                )
        except subprocess.TimeoutExpired:
            raise GitCommandError("git took too long", command=args) from None
        result = GitResult(proc.returncode, proc.stdout, proc.stderr)
        if proc.returncode not in ok:
            raise GitCommandError("git failed", command=args, stderr=result.stderr_text)
        return result

    def popen(
        self,
        git_dir: Path | None,
        args: Sequence[str],
        *,
        stdin: int | IO[bytes] | None = subprocess.DEVNULL,
        stdout: int | IO[bytes] | None = subprocess.PIPE,
        stderr: int | IO[bytes] | None = subprocess.DEVNULL,
        config: Mapping[str, str] | None = None,
        extra_env: Mapping[str, str] | None = None,
        pass_fds: Sequence[int] = (),
    ) -> subprocess.Popen[bytes]:
        env = self.env if not extra_env else {**self.env, **extra_env}
        return subprocess.Popen(
            self.argv(git_dir, args, config=config),
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            env=env,
            pass_fds=tuple(pass_fds),
        )

    def read_prefix(self, git_dir: Path, args: Sequence[str], limit: int) -> bytes:
        """The first ``limit`` bytes git writes; git is stopped once they are read."""
        proc = self.popen(git_dir, args)
        assert proc.stdout is not None
        try:
            chunks: list[bytes] = []
            remaining = limit
            while remaining > 0:
                chunk = proc.stdout.read(min(remaining, CHUNK_SIZE))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
            return b"".join(chunks)
        finally:
            stop(proc)

    def stream(self, git_dir: Path, args: Sequence[str]) -> Iterator[bytes]:
        """Yield git's stdout in chunks; closing the iterator early stops git."""
        with tempfile.TemporaryFile() as errors:
            # stderr goes to a file, not a pipe nobody reads, which could fill and block git.
            proc = self.popen(git_dir, args, stderr=errors)
            yield from pump(proc, [proc], errors, args)


def pump(
    source: subprocess.Popen[bytes],
    procs: Sequence[subprocess.Popen[bytes]],
    errors: IO[bytes],
    args: Sequence[str],
) -> Iterator[bytes]:
    """Yield ``source``'s stdout; then check every process of the pipeline exited 0."""
    assert source.stdout is not None
    finished = False
    try:
        while chunk := source.stdout.read(CHUNK_SIZE):
            yield chunk
        finished = True
    finally:
        for proc in procs:
            # A process that has not finished is stopped: the consumer went away.
            stop(proc, kill=not finished)
    failed = [proc.returncode for proc in procs if proc.returncode != 0]
    if failed:
        errors.seek(0)
        stderr = errors.read(8192).decode("utf-8", "replace")
        raise GitCommandError("git failed while streaming", command=args, stderr=stderr)


def stop(proc: subprocess.Popen[bytes], *, kill: bool = True) -> None:
    """Close a process's pipes and reap it, killing it first if it may still run."""
    if kill and proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    proc.wait()
