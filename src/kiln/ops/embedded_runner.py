"""The runner `kiln serve` runs itself, so a fresh install's first pipeline runs with no setup.

On the first start (and whenever its configuration is missing or its token no longer works)
an instance runner is created in the database and its configuration written to
`KILN_DATA_DIR/runner/runner.toml` (mode 0600); later starts reuse it, pointing it at the
current listen address. `kiln serve` then runs `kiln runner run --config <that file>` as one
more supervised child, once the web server answers. The application setting
`kiln_embedded_runner_enabled` (default true) turns all of this off.

How far jobs are kept from the server's files is said plainly at start and by `kiln check`:
inside bubblewrap (the data directory invisible), or as a separate OS user (the runner runs as
root), or neither: then a job can read everything the server can, as GitLab's documentation
says of its shell executor.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from kiln.runner.config import (
    ROOT_STATE_DIR,
    ConfigError,
    RunnerConfig,
    Sandbox,
    load,
    save,
)
from kiln.runner.executors.sandbox import probe_sandbox, reachable, resolve_user

log = logging.getLogger(__name__)

RUNNER_NAME = "embedded"


@dataclass(frozen=True)
class Isolation:
    """How the embedded runner's jobs are kept from the server; `safe` False means not at all."""

    safe: bool
    message: str


def config_path(data_dir: Path) -> Path:
    return data_dir / "runner" / "runner.toml"


def local_url(listen: str) -> str:
    """The URL the embedded runner uses to reach this server's web process."""
    host, _, port = listen.rpartition(":")
    if host in ("", "0.0.0.0", "*"):  # noqa: S104 (mapping a wildcard to loopback)
        host = "127.0.0.1"
    elif host in ("[::]", "::"):
        host = "[::1]"
    return f"http://{host}:{port}"


def _state_dirs(data_dir: Path) -> tuple[Path, Path]:
    """Builds and cache directories: under the data directory when the jobs' user can reach
    it, else (root, with a private data directory) under /var/lib/kiln-runner, one per data
    directory so two servers on one machine never share a cache."""
    user, _ = resolve_user("")
    base = data_dir / "runner"
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not user.switch:
        return base / "builds", base / "cache"
    base.chmod(0o711)  # traversable by the jobs' user, not listable
    if reachable(base, user):
        return base / "builds", base / "cache"
    key = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    other = ROOT_STATE_DIR / f"embedded-{key}"
    return other / "builds", other / "cache"


def isolation(data_dir: Path) -> Isolation:
    """What the shell executor of the embedded runner will do on this machine."""
    user, note = resolve_user("")
    sandbox = probe_sandbox("auto", user)
    if sandbox.enabled:
        who = f" as user {user.name}" if user.switch else ""
        return Isolation(
            True, f"jobs run inside bubblewrap{who}; the data directory is invisible to them"
        )
    if user.switch:
        return Isolation(
            True,
            f"jobs run as the separate user {user.name} ({sandbox.reason}); they can read "
            "only what that user may read",
        )
    return Isolation(
        False,
        f"jobs are NOT isolated from the server: {sandbox.reason}, and they run as "
        f"{user.name}, the server's own user, so a job can read the server's files "
        f"(KILN_DATA_DIR {data_dir}: database, repositories, secrets). Install bubblewrap, "
        "or run Kiln as root so jobs run as another user, or turn the embedded runner off "
        "(application setting kiln_embedded_runner_enabled) and use a runner on another "
        f"machine.{' ' + note if note else ''}",
    )


def ensure_registered(data_dir: Path, listen: str) -> Path:
    """The embedded runner's configuration file, registering the runner when needed.

    Idempotent: a configuration whose token the database still knows is reused (only its URL
    follows the listen address)."""
    from kiln.ci.runners import create_embedded_runner_unchecked, find_runner_by_token

    path = config_path(data_dir)
    url = local_url(listen)
    try:
        existing: RunnerConfig | None = load(path)
    except ConfigError:
        existing = None
    if existing is not None and find_runner_by_token(existing.token) is not None:
        if existing.url != url:
            existing.url = url
            save(existing, path)
        return path
    registered = create_embedded_runner_unchecked()
    builds, cache = _state_dirs(data_dir)
    config = RunnerConfig(
        url=url,
        token=registered.token,
        id=registered.runner.pk,
        name=RUNNER_NAME,
        executor="shell",
        concurrent=2,
        # Idle polls are answered at once (X-GitLab-Last-Update), so a short interval is cheap
        # and keeps push-to-running-job latency under a second.
        check_interval=0.3,
        builds_dir=str(builds),
        cache_dir=str(cache),
        sandbox=Sandbox(mode="auto", hide=[str(data_dir.resolve())]),
    )
    save(config, path)
    if existing is not None:
        log.warning("the embedded runner's token was no longer valid: registered a new runner")
    return path


def prepare(data_dir: Path, listen: str, *, out: TextIO = sys.stdout) -> list[str] | None:
    """For `kiln serve`: the embedded runner's command line, or None when it is turned off.
    Prints what the runner is and how its jobs are isolated."""
    from kiln.core import appsettings

    if not appsettings.current().kiln_embedded_runner_enabled:
        print(
            "Embedded runner: off (application setting kiln_embedded_runner_enabled)",
            file=out,
            flush=True,
        )
        return None
    path = ensure_registered(data_dir, listen)
    found = isolation(data_dir)
    if found.safe:
        print(f"Embedded runner: {found.message}", file=out, flush=True)
    else:
        print(f"WARNING: embedded runner: {found.message}", file=out, flush=True)
    return [sys.executable, "-m", "kiln.cli", "runner", "run", "--config", str(path)]
