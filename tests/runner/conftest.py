"""Fixtures for the runner: a stand-in coordinator, a source repository, a configuration.

The runner is server-independent, so these tests need no database: jobs come from the
in-test coordinator (tests/runner/coordinator.py) and the repository is fetched over
file://. Build directories live under /var/tmp (not pytest's 0700 tmp_path), because jobs
run as `nobody` when the tests run as root.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiln.runner.build import run_job
from kiln.runner.client import Coordinator, runner_info
from kiln.runner.config import Limits, RunnerConfig, Sandbox, save
from kiln.runner.executors import JobResult, make_executor
from kiln.runner.executors.sandbox import probe_sandbox, resolve_user
from tests.runner.coordinator import FakeCoordinator, JobRecord
from tests.support.git import make_repo

JOB_USER = resolve_user("")[0]
SANDBOX = probe_sandbox("auto", JOB_USER)
needs_bwrap = pytest.mark.skipif(
    not SANDBOX.enabled, reason=f"bubblewrap cannot sandbox here: {SANDBOX.reason}"
)


@pytest.fixture
def fake() -> Iterator[FakeCoordinator]:
    coordinator = FakeCoordinator().start()
    try:
        yield coordinator
    finally:
        coordinator.stop()


@pytest.fixture
def workdir() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="kiln-runner-test-", dir="/var/tmp"))
    os.chmod(base, 0o711)  # noqa: S103 - traversable by the job user
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _give_to_job_user(path: Path) -> None:
    """The jobs' user must read the source repository (git refuses a repository of another
    owner unless told otherwise)."""
    if not JOB_USER.switch:
        return
    for root, dirs, files in os.walk(path):
        os.lchown(root, JOB_USER.uid, JOB_USER.gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), JOB_USER.uid, JOB_USER.gid)


@pytest.fixture
def source(workdir: Path) -> tuple[str, str]:
    """(repo_url, sha) of a small repository the jobs fetch."""
    repo = make_repo(
        workdir / "src",
        {"README.md": "# demo\n", "app/main.sh": "echo from the repository\n"},
    )
    from tests.support.git import git

    sha = git("rev-parse", "HEAD", cwd=repo).stdout.strip()
    _give_to_job_user(repo)
    os.chmod(repo, 0o755)  # noqa: S103 - readable by the job user
    return f"file://{repo}", sha


def make_config(workdir: Path, fake: FakeCoordinator, **overrides: Any) -> RunnerConfig:
    sandbox = overrides.pop("sandbox", "auto")
    hide = overrides.pop("hide", [])
    limits = overrides.pop("limits", Limits())
    overrides.setdefault("builds_dir", str(workdir / "builds"))
    overrides.setdefault("cache_dir", str(workdir / "cache"))
    config = RunnerConfig(
        url=fake.url,
        token=fake.runner_token,
        sandbox=Sandbox(mode=sandbox, hide=hide),
        limits=limits,
        **overrides,
    )
    save(config, workdir / "runner.toml")
    return config


def run_one(
    fake: FakeCoordinator, config: RunnerConfig, payload: dict[str, Any]
) -> tuple[JobRecord, JobResult | None]:
    """Queue `payload`, take it with a real `POST /jobs/request`, run it to its final update."""
    record = fake.add_job(payload)
    coordinator = Coordinator(config.url)
    executor = make_executor(config, coordinator)
    info = runner_info(executor=executor.name, features=executor.features())
    taken = coordinator.request_job(config.token, system_id=config.system_id, info=info)
    assert taken is not None
    assert taken["id"] == record.id
    result = run_job(
        taken,
        config=config,
        coordinator=coordinator,
        executor=executor,
        update_interval=0.05,
        final_update_timeout=20,
    )
    return record, result


def processes_with(text: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\x00", b" ")
        except OSError:
            continue
        if text.encode() in cmdline:
            found.append(int(entry))
    return found
