"""Executors: where and how a job's scripts run (`shell` on this machine, `kubernetes` in a pod).

An executor takes a parsed job and its trace and returns how the job ended; the caller
(`kiln.runner.build`) owns the trace's lifetime and the final update.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from kiln.runner.client import Coordinator
    from kiln.runner.config import RunnerConfig
    from kiln.runner.job import Job
    from kiln.runner.trace import JobTrace


@dataclass(frozen=True)
class JobResult:
    state: str  # "success" or "failed"
    failure_reason: str = ""
    exit_code: int | None = None

    @classmethod
    def success(cls) -> JobResult:
        return cls("success", exit_code=0)

    @classmethod
    def failed(cls, reason: str, exit_code: int | None = None) -> JobResult:
        return cls("failed", reason, exit_code)


# What every executor here supports (gitlab-runner's FeaturesInfo, by its JSON names).
COMMON_FEATURES: dict[str, bool] = {
    "variables": True,
    "image": False,
    "services": False,
    "artifacts": True,
    "cache": True,
    "shared": False,
    "upload_multiple_artifacts": True,
    "upload_raw_artifacts": True,
    "session": False,
    "terminal": False,
    "refspecs": True,
    "masking": True,
    "proxy": False,
    "raw_variables": True,
    "artifacts_exclude": True,
    "multi_build_steps": True,
    "trace_reset": True,
    "trace_checksum": True,
    "trace_size": True,
    "vault_secrets": False,
    "cancelable": True,
    "return_exit_code": True,
    "service_variables": False,
    "service_multiple_aliases": False,
}


class Executor(Protocol):
    name: str

    def features(self) -> dict[str, bool]: ...

    def startup_notes(self) -> list[tuple[str, str]]:
        """(level, message) pairs for the runner's startup log: what is weaker than it could be."""
        ...

    def run(
        self, job: Job, trace: JobTrace, *, slot: int, shutdown: threading.Event
    ) -> JobResult: ...


def make_executor(config: RunnerConfig, coordinator: Coordinator) -> Executor:
    if config.executor == "kubernetes":
        from kiln.runner.executors.kubernetes import KubernetesExecutor

        return KubernetesExecutor(config, coordinator)
    from kiln.runner.executors.shell import ShellExecutor

    return ShellExecutor(config, coordinator)


def go_duration(seconds: float) -> str:
    """A duration as Go prints it (`1h0m0s`, `2m30s`, `2s`), as gitlab-runner's messages do."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
