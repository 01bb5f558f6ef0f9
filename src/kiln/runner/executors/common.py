"""What every executor gives a job: its variables, and how a job's end is told in the log."""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from kiln.runner import VERSION
from kiln.runner.client import architecture
from kiln.runner.executors import JobResult, go_duration
from kiln.runner.job import VALID_ENV_NAME, Job, Variable, resolve_variables
from kiln.runner.trace import JobTrace

_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")


def project_path(job: Job) -> str:
    """`namespace/project` from the repository URL, for the build directory's name.

    Only plain segments are used; anything else falls back to `project`, so a URL can
    never place the build outside its job's directory.
    """
    path = urlsplit(job.git_info.repo_url).path.strip("/").removesuffix(".git")
    segments = [s for s in path.split("/") if s]
    if segments and all(_SEGMENT.match(s) and s not in (".", "..") for s in segments):
        return "/".join(segments[-8:])
    return "project"


@dataclass(frozen=True)
class JobVariables:
    plain: dict[str, str]  # name -> value
    files: dict[str, str]  # name -> content (the executor writes the file, the name gets its path)


def job_variables(
    job: Job,
    *,
    project_dir: str,
    builds_dir: str,
    slot: int,
    short_token: str,
    shared: bool,
) -> JobVariables:
    """The runner's predefined variables, then the job's, expanded as gitlab-runner does."""
    predefined = [
        Variable("CI_BUILDS_DIR", builds_dir, public=True),
        Variable("CI_PROJECT_DIR", project_dir, public=True),
        Variable("CI_CONCURRENT_ID", str(slot), public=True),
        Variable("CI_CONCURRENT_PROJECT_ID", str(slot), public=True),
        Variable("CI_SERVER", "yes", public=True),
        Variable("CI_RUNNER_SHORT_TOKEN", short_token, public=True),
        Variable("CI_RUNNER_VERSION", VERSION, public=True),
        Variable("CI_RUNNER_REVISION", "kiln", public=True),
        Variable(
            "CI_RUNNER_EXECUTABLE_ARCH",
            f"{platform.system().lower()}/{architecture()}",
            public=True,
        ),
        Variable(
            "CI_SHARED_ENVIRONMENT" if shared else "CI_DISPOSABLE_ENVIRONMENT", "true", public=True
        ),
    ]
    plain: dict[str, str] = {}
    files: dict[str, str] = {}
    for variable in resolve_variables([*predefined, *job.variables]):
        if not VALID_ENV_NAME.match(variable.key):
            continue
        value = variable.value.replace("\x00", "")
        if variable.file:
            files[variable.key] = value
            plain.pop(variable.key, None)
        else:
            plain[variable.key] = value
            files.pop(variable.key, None)
    return JobVariables(plain, files)


def report_failure(
    job: Job,
    trace: JobTrace,
    *,
    exit_code: int,
    timed_out: bool,
    shutdown: bool,
) -> JobResult:
    """Say in the log why the job failed, in gitlab-runner's words, and return the result."""
    if shutdown:
        trace.error("Job failed (system failure): the runner is shutting down")
        return JobResult.failed("runner_system_failure")
    if trace.limit_exceeded.is_set():
        trace.error(f"Job failed: the job's log exceeded the limit of {trace.limit} bytes")
        return JobResult.failed(job.failure_reason("trace_size_exceeded"))
    if timed_out:
        trace.error(f"Job failed: execution took longer than {go_duration(job.timeout)} seconds")
        return JobResult.failed(job.failure_reason("job_execution_timeout"))
    if trace.cancel_requested.is_set() or trace.abort_requested.is_set():
        trace.error("Job failed: canceled")
        return JobResult.failed("script_failure")
    trace.error(f"Job failed: exit code {exit_code}")
    return JobResult.failed("script_failure", exit_code)
