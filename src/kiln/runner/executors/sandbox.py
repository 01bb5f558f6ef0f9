"""Running a job's processes on this machine: as whom, inside what, for how long.

- **User.** When the runner is root, jobs run as another user (`user` in the configuration,
  `nobody` by default): a job as root could undo every limit below.
- **bubblewrap.** When `bwrap` is installed and works, each process runs inside it: the
  whole file system read-only, only the job's own directory writable, a private `/tmp`,
  minimal `/dev` and `/proc` (a new PID namespace: the job sees only its own processes), no
  capabilities, and a tmpfs (or an empty file) over every hidden path: the Kiln data directory,
  the runner's configuration, the other jobs' build directories, the cache, the runner's home.
  When bwrap dies, the kernel kills everything in its PID namespace, so nothing a job starts
  can outlive it.
- **Limits.** `prlimit` sets RLIMIT_NPROC (a fork bomb stops at the job's process budget) and
  RLIMIT_FSIZE (no single file beyond the limit) before anything of the job runs.
- **Time.** A step runs until its deadline, the server cancels the job, the log overflows or
  the runner shuts down; then its process group is killed, and every process still carrying
  the job's marker in its environment (a `setsid` escapee when there is no bwrap) after it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import pwd
import resource
import shutil
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MARKER_VARIABLE = "KILN_RUNNER_JOB_MARKER"
_POLL = 0.05


@dataclass(frozen=True)
class JobUser:
    """Who a job's processes run as; `switch` is False when they run as the runner itself."""

    name: str
    uid: int
    gid: int
    switch: bool
    home: str = ""


def resolve_user(configured: str) -> tuple[JobUser, str]:
    """The user jobs run as, and a note for the log when it is weaker than asked."""
    me = pwd.getpwuid(os.geteuid())
    current = JobUser(me.pw_name, me.pw_uid, me.pw_gid, switch=False, home=me.pw_dir)
    if os.geteuid() != 0:
        if configured and configured != me.pw_name:
            return current, (
                f"jobs run as {me.pw_name}: switching to {configured!r} needs the runner to "
                "run as root"
            )
        return current, ""
    name = configured or "nobody"
    if name == "root":
        return current, "jobs run as root: a job can undo the sandbox and the process limit"
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return current, f"no user {name!r}: jobs run as root"
    return JobUser(entry.pw_name, entry.pw_uid, entry.pw_gid, switch=True, home=entry.pw_dir), ""


@dataclass(frozen=True)
class SandboxStatus:
    enabled: bool
    bwrap: str = ""
    reason: str = ""  # why it is off, for the logs
    supports_size: bool = False


def _bwrap_base(bwrap: str) -> list[str]:
    return [
        bwrap,
        "--die-with-parent",
        "--new-session",
        "--unshare-user",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--cap-drop",
        "ALL",
        "--hostname",
        "kiln-job",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
    ]


@functools.lru_cache(maxsize=8)
def probe_sandbox(mode: str, user: JobUser) -> SandboxStatus:
    """Whether bubblewrap can sandbox jobs here, tried as the user jobs run as (once per
    process: the answer does not change while the runner runs)."""
    if mode == "none":
        return SandboxStatus(False, reason="the sandbox is turned off (sandbox.mode = none)")
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return SandboxStatus(False, reason="bubblewrap (bwrap) is not installed")
    try:
        help_text = subprocess.run(
            [bwrap, "--help"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
        probe = subprocess.run(
            [*_bwrap_base(bwrap), "--tmpfs", "/tmp", "--", "true"],  # noqa: S108 (in the sandbox)
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            user=user.uid if user.switch else None,
            group=user.gid if user.switch else None,
            extra_groups=[] if user.switch else None,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return SandboxStatus(False, bwrap, reason=f"bubblewrap does not run: {exc}")
    if probe.returncode != 0:
        detail = probe.stderr.strip().splitlines()[-1:] or ["no output"]
        return SandboxStatus(False, bwrap, reason=f"bubblewrap does not work here: {detail[0]}")
    return SandboxStatus(True, bwrap, supports_size="--size" in help_text)


def bwrap_argv(
    status: SandboxStatus,
    *,
    writable: list[Path],
    hidden: list[Path],
    chdir: Path,
    empty_file: Path,
    tmp_size: int = 0,
) -> list[str]:
    """bwrap's arguments; hidden files get `empty_file` (an empty, read-only regular file: a
    device such as /dev/null cannot be opened on bubblewrap's nodev mounts)."""
    argv = _bwrap_base(status.bwrap)
    if tmp_size and status.supports_size:
        argv += ["--size", str(tmp_size)]
    argv += ["--tmpfs", "/tmp"]  # noqa: S108 - the sandbox's own /tmp, a fresh tmpfs
    # Shallow first, so a deeper hidden path is mounted on top of a shallower one; the job's
    # own directories are bound after, through whatever was hidden above them; the hiding
    # tmpfs become read-only last (their mount points had to be created first).
    read_only = []
    for path in sorted({Path(os.path.abspath(p)) for p in hidden}, key=lambda p: len(p.parts)):
        if path == Path("/"):
            continue
        if path.is_dir() and not path.is_symlink():
            argv += ["--tmpfs", str(path)]
            read_only.append(str(path))
        elif path.exists():
            argv += ["--ro-bind", str(empty_file), str(path)]
    for path in writable:
        argv += ["--bind", str(path), str(path)]
    for path_text in read_only:
        argv += ["--remount-ro", path_text]
    argv += ["--chdir", str(chdir)]
    return argv


def reachable(path: Path, user: JobUser) -> bool:
    """Whether `user` can walk down to `path` (search permission on every ancestor)."""
    if not user.switch:
        return True
    for ancestor in [*reversed(path.absolute().parents), path.absolute()]:
        try:
            info = ancestor.stat()
        except OSError:
            return False
        if info.st_uid == user.uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid == user.gid:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            return False
    return True


def count_tasks(uid: int) -> int:
    """Processes and threads of `uid` on the machine: what RLIMIT_NPROC counts."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        owner = threads = None
        for line in status.splitlines():
            if line.startswith("Uid:"):
                owner = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
        if owner == uid:
            total += threads or 1
    return total


def _processes_with_marker(marker: str) -> list[int]:
    needle = f"{MARKER_VARIABLE}={marker}".encode()
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\x00"):
            found.append(int(entry))
    return found


def kill_job_processes(process: subprocess.Popen[bytes], marker: str) -> None:
    """Kill the step's process group, then every process left with the job's marker."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    quiet_rounds = 0
    for _ in range(200):
        pids = _processes_with_marker(marker)
        if not pids:
            quiet_rounds += 1
            if quiet_rounds >= 2:
                return
            time.sleep(0.01)
            continue
        quiet_rounds = 0
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
    log.warning("processes of a job survived 200 rounds of SIGKILL (marker %s)", marker)


@dataclass(frozen=True)
class Limits:
    pids: int = 0  # tasks the job may add; 0: no limit
    max_file_size: int = 0  # bytes; 0: no limit


@dataclass
class Outcome:
    exit_code: int
    timed_out: bool = False
    stopped: bool = False  # should_stop() ended it (cancel, shutdown, log limit)


def run_process(
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    user: JobUser,
    limits: Limits,
    marker: str,
    output: Callable[[bytes], None],
    deadline: float | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> Outcome:
    """Run one step to its end, streaming its output; kill it all at the deadline."""
    wrapper: list[str] = []
    prlimit = shutil.which("prlimit")
    nproc = 0
    if limits.pids:
        nproc = count_tasks(user.uid) + limits.pids
    if prlimit and (nproc or limits.max_file_size):
        wrapper = [prlimit]
        if nproc:
            wrapper.append(f"--nproc={nproc}:{nproc}")
        if limits.max_file_size:
            wrapper.append(f"--fsize={limits.max_file_size}:{limits.max_file_size}")
        wrapper.append("--")
    setpriv = shutil.which("setpriv")
    if setpriv:
        # The job dies with the thread that started it, even if the runner is killed -9.
        wrapper += [setpriv, "--pdeathsig", "KILL", "--"]
    full_env = {**env, MARKER_VARIABLE: marker}
    process = subprocess.Popen(
        [*wrapper, *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=full_env,
        cwd=cwd,
        start_new_session=True,
        close_fds=True,
        user=user.uid if user.switch else None,
        group=user.gid if user.switch else None,
        extra_groups=[] if user.switch else None,
    )
    if not prlimit and (nproc or limits.max_file_size):
        # Without the prlimit tool: set the limits on the child right away (a process the
        # job forks in the first instant escapes them; the log says prlimit is missing).
        with contextlib.suppress(OSError):
            if nproc:
                resource.prlimit(process.pid, resource.RLIMIT_NPROC, (nproc, nproc))
            if limits.max_file_size:
                size = limits.max_file_size
                resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (size, size))
    stdout = process.stdout
    if stdout is None:  # pragma: no cover - Popen with PIPE always has it
        raise RuntimeError("no stdout pipe")

    def pump() -> None:
        fd = stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            output(chunk)

    reader = threading.Thread(target=pump, name=f"output-{process.pid}", daemon=True)
    reader.start()
    timed_out = stopped = False
    try:
        while True:
            try:
                process.wait(timeout=_POLL)
                break
            except subprocess.TimeoutExpired:
                pass
            if deadline is not None and time.monotonic() >= deadline:
                timed_out = True
                break
            if should_stop():
                stopped = True
                break
    finally:
        kill_job_processes(process, marker)
        process.wait()
        reader.join(timeout=5)
        if reader.is_alive():
            # Something outside our reach still holds the pipe; leave the descriptor to the
            # reader rather than closing it under a blocked read.
            log.warning("the output of process %s is still open after it was killed", process.pid)
        else:
            stdout.close()
    code = process.returncode
    if code < 0:
        code = 128 - code  # killed by a signal: the shell's convention
    return Outcome(exit_code=code, timed_out=timed_out, stopped=stopped)
