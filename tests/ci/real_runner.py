"""The real `kiln runner` process, registered with a `glrt-` token from python-gitlab, for
end-to-end tests that need jobs to actually run.

Build directories live under /var/tmp (not pytest's 0700 tmp_path): when the tests run as
root, jobs run as `nobody`, who must reach them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import gitlab

ROOT = Path(__file__).resolve().parents[2]


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "kiln.runner", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src"), "KILN_RUNNER_LOG_LEVEL": "info"}


class RealRunner:
    def __init__(self, workdir: Path, process: subprocess.Popen[bytes], log: Path) -> None:
        self.workdir = workdir
        self.process = process
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def real_runner(gl: gitlab.Gitlab, url: str, **attrs: object) -> Iterator[RealRunner]:
    """Create an instance runner, register `kiln runner` with it and run it until the end."""
    created = gl.user.runners.create(
        {"runner_type": "instance_type", "run_untagged": True, **attrs}
    )
    workdir = Path(tempfile.mkdtemp(prefix="kiln-ci-runner-", dir="/var/tmp"))
    os.chmod(workdir, 0o711)  # noqa: S103 - traversable by the job user
    config = workdir / "runner.toml"
    try:
        registered = subprocess.run(
            _command(
                "register", "--url", url, "--token", created.token, "--config", str(config),
                "--builds-dir", str(workdir / "builds"), "--cache-dir", str(workdir / "cache"),
            ),
            cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert registered.returncode == 0, registered.stdout + registered.stderr
        log = workdir / "runner.log"
        with log.open("wb") as handle:
            process = subprocess.Popen(
                _command("run", "--config", str(config), "--check-interval", "0.5"),
                cwd=ROOT,
                env=_env(),
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        runner = RealRunner(workdir, process, log)
        try:
            yield runner
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
