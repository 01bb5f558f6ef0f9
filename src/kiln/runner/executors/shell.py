"""The shell executor: a job's scripts run with bash on this machine, sandboxed where possible.

Each job gets a fresh directory `<builds_dir>/<job id>-<random>/` holding the checkout
(`<namespace>/<project>`, which is CI_PROJECT_DIR), `home` (HOME), `tmp` (file variables) and
`scripts`. Everything the runner writes there (scripts, file variables) is written before any
process of the job has run, so a job can never plant a link for the runner to write through;
the directory is removed when the job ends.

Stages, as gitlab-runner names them in the log: prepare_executor, prepare_script,
get_sources, restore_cache, download_artifacts, step_script, after_script (its own timeout,
run even after a failure or timeout), archive_cache, upload_artifacts_on_success|failure,
cleanup_file_variables. Caches, artifacts and dependencies are handled by the runner itself
(`artifacts`, `cache`), reading the build directory without following any link out of it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kiln.runner.artifacts import (
    ArchiveError,
    ArchiveTooLarge,
    ExtractLimits,
    collect,
    extract_zip,
    write_gzip,
    write_raw,
    write_zip,
)
from kiln.runner.cache import LocalCache
from kiln.runner.client import Coordinator, DownloadState, UploadState
from kiln.runner.config import RunnerConfig
from kiln.runner.executors import COMMON_FEATURES, JobResult
from kiln.runner.executors.common import job_variables, project_path, report_failure
from kiln.runner.executors.sandbox import (
    Limits,
    Outcome,
    bwrap_argv,
    probe_sandbox,
    reachable,
    resolve_user,
    run_process,
)
from kiln.runner.job import DEFAULT_AFTER_SCRIPT_TIMEOUT, Artifact, Job
from kiln.runner.scripts import ScriptError, get_sources, step
from kiln.runner.trace import JobTrace

log = logging.getLogger(__name__)

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
UNTRACKED_TIMEOUT = 120.0


@dataclass
class _Build:
    job: Job
    trace: JobTrace
    root: Path
    project_dir: Path
    home: Path
    tmp: Path
    scripts: Path
    marker: str
    deadline: float
    shutdown: threading.Event
    env: dict[str, str] = field(default_factory=dict)
    script_paths: dict[str, Path] = field(default_factory=dict)


class ShellExecutor:
    name = "shell"

    def __init__(self, config: RunnerConfig, coordinator: Coordinator) -> None:
        self.config = config
        self.coordinator = coordinator
        self.user, self.user_note = resolve_user(config.user)
        self.sandbox = probe_sandbox(config.sandbox.mode, self.user)
        self.has_prlimit = shutil.which("prlimit") is not None
        self.builds = config.builds_path
        self.builds.mkdir(parents=True, exist_ok=True)
        # Traversable, not listable: a job (when unsandboxed) cannot find the others' names.
        os.chmod(self.builds, 0o711)  # noqa: S103 - traversal only, on purpose
        self.private = self.builds / ".runner"
        self.private.mkdir(exist_ok=True, mode=0o700)
        # What hidden files are replaced with; bwrap opens it as the job's user.
        self.empty_file = self.builds / ".empty"
        self.empty_file.touch(mode=0o444, exist_ok=True)
        limits = config.limits
        self.extract_limits = ExtractLimits(
            max_size=limits.max_extract_size,
            max_ratio=limits.max_extract_ratio,
            max_entries=limits.max_extract_entries,
        )
        self.cache = LocalCache(
            config.cache_path, limits=self.extract_limits, max_size=limits.max_cache_size
        )

    # -- what this executor is --------------------------------------------------------------

    def features(self) -> dict[str, bool]:
        return {**COMMON_FEATURES, "shared": True}

    def hidden_paths(self) -> list[Path]:
        paths = [self.builds, self.config.cache_path]
        if self.config.path:
            paths.append(Path(self.config.path))
        data_dir = os.environ.get("KILN_DATA_DIR")
        if data_dir:
            paths.append(Path(data_dir))
        paths += [Path(p) for p in self.config.sandbox.hide if p]
        home = Path.home()
        if home != Path("/"):
            paths.append(home)
        return [p.absolute() for p in paths]

    def startup_notes(self) -> list[tuple[str, str]]:
        notes: list[tuple[str, str]] = []
        if self.sandbox.enabled:
            notes.append(
                ("info", f"shell executor: jobs run inside bubblewrap ({self.sandbox.bwrap})")
            )
        else:
            notes.append(
                (
                    "warning",
                    f"shell executor: {self.sandbox.reason}; jobs are NOT sandboxed and can read "
                    f"every file user {self.user.name} can read, including a Kiln server's data "
                    "directory on this machine",
                )
            )
        if self.config.sandbox.mode == "bwrap" and not self.sandbox.enabled:
            notes.append(("error", "sandbox.mode = bwrap, so every job will fail until it works"))
        if not reachable(self.builds, self.user):
            notes.append(
                (
                    "error",
                    f"user {self.user.name} cannot reach {self.builds}: jobs will fail; "
                    "set builds_dir to a directory every user can traverse",
                )
            )
        if not self.has_prlimit:
            notes.append(
                ("warning", "prlimit is not installed: process limits are set just after start")
            )
        if self.user_note:
            notes.append(("warning", self.user_note))
        notes.append(("info", f"shell executor: jobs run as user {self.user.name}"))
        return notes

    # -- one job ----------------------------------------------------------------------------

    def run(self, job: Job, trace: JobTrace, *, slot: int, shutdown: threading.Event) -> JobResult:
        root = self.builds / f"{job.id}-{secrets.token_hex(6)}"
        root.mkdir(mode=0o700)
        try:
            build = self._prepare_dirs(job, trace, root, shutdown)
            return self._run(build, slot)
        finally:
            if not self.config.keep_builds:
                shutil.rmtree(root, ignore_errors=True)

    def _chown(self, path: Path) -> None:
        if self.user.switch:
            os.lchown(path, self.user.uid, self.user.gid)

    def _prepare_dirs(
        self, job: Job, trace: JobTrace, root: Path, shutdown: threading.Event
    ) -> _Build:
        self._chown(root)
        project_dir = root / project_path(job)
        for directory in [*reversed(project_dir.relative_to(root).parents), project_dir]:
            target = root / directory
            if target != root:
                target.mkdir(exist_ok=True, mode=0o755)
                self._chown(target)
        home, tmp, scripts = root / "home", root / "tmp", root / "scripts"
        for directory in (home, tmp):
            directory.mkdir(mode=0o700)
            self._chown(directory)
        scripts.mkdir(mode=0o755)  # the runner's: readable by the job, not writable
        return _Build(
            job=job,
            trace=trace,
            root=root,
            project_dir=project_dir,
            home=home,
            tmp=tmp,
            scripts=scripts,
            marker=secrets.token_hex(16),
            deadline=time.monotonic() + job.timeout,
            shutdown=shutdown,
        )

    def _write_new(self, path: Path, content: str, mode: int, *, owned_by_job: bool) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
        if owned_by_job:
            self._chown(path)

    def _prepare_environment(self, build: _Build, slot: int) -> None:
        job = build.job
        variables = job_variables(
            job,
            project_dir=str(build.project_dir),
            builds_dir=str(build.root),
            slot=slot,
            short_token=self.config.short_token,
            shared=True,
        )
        env = {
            "PATH": os.environ.get("PATH") or DEFAULT_PATH,
            "HOME": str(build.home),
            "USER": self.user.name,
            "LOGNAME": self.user.name,
            "SHELL": "/bin/bash",
            "LANG": "C.UTF-8",
            # Inside the sandbox /tmp is the job's own tmpfs.
            "TMPDIR": "/tmp" if self.sandbox.enabled else str(build.tmp),  # noqa: S108
        }
        env.update(variables.plain)
        for name, content in variables.files.items():
            path = build.tmp / name
            self._write_new(path, content, 0o600, owned_by_job=True)
            env[name] = str(path)
        build.env = env
        scripts = {"get_sources": get_sources(job, project_dir=str(build.project_dir))}
        script_step = job.step("script")
        scripts["step_script"] = step(
            script_step.script if script_step else (), project_dir=str(build.project_dir)
        )
        after = job.step("after_script")
        if after and any(line.strip() for line in after.script):
            scripts["after_script"] = step(after.script, project_dir=str(build.project_dir))
        for name, text in scripts.items():
            path = build.scripts / f"{name}.sh"
            self._write_new(path, text, 0o644, owned_by_job=False)
            build.script_paths[name] = path

    def _process(
        self,
        build: _Build,
        argv: list[str],
        *,
        deadline: float,
        should_stop: Callable[[], bool],
        output: Callable[[bytes], None],
        extra_env: dict[str, str] | None = None,
    ) -> Outcome:
        if self.config.sandbox.mode == "bwrap" and not self.sandbox.enabled:
            raise RuntimeError(f"the sandbox is required but unavailable: {self.sandbox.reason}")
        if self.sandbox.enabled:
            argv = [
                *bwrap_argv(
                    self.sandbox,
                    writable=[build.root],
                    hidden=self.hidden_paths(),
                    chdir=build.project_dir,
                    empty_file=self.empty_file,
                    tmp_size=self.config.limits.tmp_size,
                ),
                "--",
                *argv,
            ]
        limits = self.config.limits
        return run_process(
            argv,
            env={**build.env, **(extra_env or {})},
            cwd=build.project_dir,
            user=self.user,
            limits=Limits(pids=limits.pids, max_file_size=limits.max_file_size),
            marker=build.marker,
            output=output,
            deadline=deadline,
            should_stop=should_stop,
        )

    def _script(
        self,
        build: _Build,
        name: str,
        *,
        deadline: float,
        should_stop: Callable[[], bool],
        extra_env: dict[str, str] | None = None,
    ) -> Outcome:
        return self._process(
            build,
            ["bash", "--noprofile", "--norc", str(build.script_paths[name])],
            deadline=deadline,
            should_stop=should_stop,
            output=build.trace.write,
            extra_env=extra_env,
        )

    def _run(self, build: _Build, slot: int) -> JobResult:
        job, trace = build.job, build.trace

        def must_stop() -> bool:
            return trace.should_stop or build.shutdown.is_set()

        trace.section_start("prepare_executor", 'Preparing the "shell" executor')
        trace.system("Using Shell (bash) executor...")
        if self.sandbox.enabled:
            trace.system(
                "Running inside a bubblewrap sandbox: only the build directory is writable; "
                "the server's data and the runner's files are hidden."
            )
        else:
            trace.warning(
                f"{self.sandbox.reason}: this job is not sandboxed and can read every file "
                f"user {self.user.name} can read on this machine."
            )
        if self.user_note:
            trace.warning(self.user_note)
        trace.section_end("prepare_executor")

        trace.section_start("prepare_script", "Preparing environment")
        trace.system(f"Running on {socket.gethostname()}...")
        try:
            self._prepare_environment(build, slot)
        except ScriptError as exc:
            trace.section_end("prepare_script")
            trace.error(f"Job failed (system failure): {exc}")
            return JobResult.failed("runner_system_failure")
        trace.section_end("prepare_script")

        trace.section_start("get_sources", "Getting source from Git repository")
        outcome = self._script(build, "get_sources", deadline=build.deadline, should_stop=must_stop)
        trace.section_end("get_sources")
        script_ok = outcome.exit_code == 0 and not outcome.timed_out and not outcome.stopped
        if script_ok:
            failure = self._restore_cache(build) or self._download_dependencies(build)
            if failure is not None:
                return failure
            trace.section_start("step_script", 'Executing "step_script" stage of the job script')
            outcome = self._script(
                build, "step_script", deadline=build.deadline, should_stop=must_stop
            )
            trace.section_end("step_script")
            script_ok = outcome.exit_code == 0 and not outcome.timed_out and not outcome.stopped

        if not build.shutdown.is_set() and not trace.abort_requested.is_set():
            self._after_script(build, script_ok=script_ok)

        uploads_ok = True
        if not build.shutdown.is_set() and not trace.abort_requested.is_set():
            if not trace.limit_exceeded.is_set():
                self._archive_cache(build, success=script_ok)
            uploads_ok = self._upload_artifacts(build, success=script_ok)

        trace.section_start(
            "cleanup_file_variables", "Cleaning up project directory and file based variables"
        )
        trace.section_end("cleanup_file_variables")

        if script_ok and uploads_ok and not trace.limit_exceeded.is_set():
            trace.notice("Job succeeded")
            return JobResult.success()
        if script_ok and not trace.limit_exceeded.is_set():
            trace.error("Job failed: uploading artifacts failed")
            return JobResult.failed("script_failure")
        return report_failure(
            job,
            trace,
            exit_code=outcome.exit_code,
            timed_out=outcome.timed_out,
            shutdown=build.shutdown.is_set(),
        )

    # -- after_script -----------------------------------------------------------------------

    def _after_script(self, build: _Build, *, script_ok: bool) -> None:
        trace = build.trace
        if "after_script" not in build.script_paths:
            return
        after = build.job.step("after_script")
        timeout = (after.timeout if after else 0) or DEFAULT_AFTER_SCRIPT_TIMEOUT
        if script_ok:
            status = "success"
        elif trace.cancel_requested.is_set():
            status = "canceled"
        else:
            status = "failed"
        trace.section_start("after_script", "Running after_script")
        trace.system("Running after script...")
        outcome = self._script(
            build,
            "after_script",
            deadline=time.monotonic() + timeout,
            should_stop=lambda: (
                trace.abort_requested.is_set()
                or trace.limit_exceeded.is_set()
                or build.shutdown.is_set()
            ),
            extra_env={"CI_JOB_STATUS": status},
        )
        if outcome.timed_out:
            trace.warning(f"after_script timed out after {timeout}s, but the job continues")
        elif outcome.exit_code != 0:
            trace.warning(
                "after_script failed, but job will continue unaffected: "
                f"exit code {outcome.exit_code}"
            )
        trace.section_end("after_script")

    # -- untracked files --------------------------------------------------------------------

    def _untracked(self, build: _Build) -> list[str]:
        """`git ls-files -o` of the checkout, run as the job (sandboxed): the repository's
        configuration is the job's, so git never runs on it with the runner's rights."""
        if not (build.project_dir / ".git").is_dir():
            return []
        out = bytearray()
        cap = 16 * 1024 * 1024

        def keep(chunk: bytes) -> None:
            if len(out) < cap:
                out.extend(chunk[: cap - len(out)])

        outcome = self._process(
            build,
            ["git", "-c", "core.fsmonitor=false", "ls-files", "-o", "-z"],
            deadline=time.monotonic() + UNTRACKED_TIMEOUT,
            should_stop=build.shutdown.is_set,
            output=keep,
        )
        if outcome.exit_code != 0:
            build.trace.warning("listing untracked files failed; they are not included")
            return []
        return [name.decode("utf-8", "surrogateescape") for name in out.split(b"\x00") if name]

    # -- cache ------------------------------------------------------------------------------

    def _owner(self) -> tuple[int, int] | None:
        return (self.user.uid, self.user.gid) if self.user.switch else None

    def _restore_cache(self, build: _Build) -> JobResult | None:
        caches = [c for c in build.job.caches if c.pulls() and (c.paths or c.untracked)]
        if not caches:
            return None
        trace = build.trace
        trace.section_start("restore_cache", "Restoring cache")
        for cache in caches:
            self.cache.restore(
                cache,
                project_id=build.job.project_id,
                project_dir=build.project_dir,
                owner=self._owner(),
                say=trace.system,
                warn=trace.warning,
            )
        trace.section_end("restore_cache")
        return None

    def _archive_cache(self, build: _Build, *, success: bool) -> None:
        caches = [
            c
            for c in build.job.caches
            if c.pushes() and c.wanted(success=success) and (c.paths or c.untracked)
        ]
        if not caches:
            return
        trace = build.trace
        trace.section_start(
            "archive_cache",
            "Saving cache for successful job" if success else "Saving cache for failed job",
        )
        for cache in caches:
            untracked = self._untracked(build) if cache.untracked else []
            self.cache.save(
                cache,
                project_id=build.job.project_id,
                project_dir=build.project_dir,
                untracked=untracked,
                say=trace.system,
                warn=trace.warning,
            )
        trace.section_end("archive_cache")

    # -- artifacts --------------------------------------------------------------------------

    def _download_dependencies(self, build: _Build) -> JobResult | None:
        dependencies = [d for d in build.job.dependencies if d.artifacts_filename]
        if not dependencies:
            return None
        trace = build.trace
        trace.section_start("download_artifacts", "Downloading artifacts")
        try:
            for dependency in dependencies:
                trace.system(f"Downloading artifacts for {dependency.name} ({dependency.id})...")
                fd, tmp = tempfile.mkstemp(prefix="dependency-", suffix=".zip", dir=self.private)
                os.close(fd)
                try:
                    state = self.coordinator.download_artifacts(
                        dependency.id,
                        dependency.token,
                        Path(tmp),
                        max_bytes=self.config.limits.max_extract_size,
                    )
                    if state is not DownloadState.SUCCEEDED:
                        status = state.value.replace("_", " ")
                        trace.error(f"Downloading artifacts from coordinator... {status}")
                        reason = (
                            build.job.failure_reason("missing_dependency_failure")
                            if state is DownloadState.NOT_FOUND
                            else "script_failure"
                        )
                        return JobResult.failed(reason)
                    trace.system(
                        f"Downloading artifacts for {dependency.name} ({dependency.id})... ok"
                    )
                    extract_zip(
                        Path(tmp),
                        build.project_dir,
                        limits=self.extract_limits,
                        owner=self._owner(),
                    )
                except ArchiveError as exc:
                    trace.error(f"Extracting the artifacts of {dependency.name} refused: {exc}")
                    return JobResult.failed("script_failure")
                finally:
                    Path(tmp).unlink(missing_ok=True)
        finally:
            trace.section_end("download_artifacts")
        return None

    def _upload_artifacts(self, build: _Build, *, success: bool) -> bool:
        wanted = [a for a in build.job.artifacts if a.wanted(success=success)]
        if not wanted:
            return True
        trace = build.trace
        name = "upload_artifacts_on_success" if success else "upload_artifacts_on_failure"
        trace.section_start(
            name,
            "Uploading artifacts for successful job"
            if success
            else "Uploading artifacts for failed job",
        )
        ok = True
        untracked: list[str] | None = None
        try:
            for artifact in wanted:
                if artifact.untracked and untracked is None:
                    untracked = self._untracked(build)
                ok = self._upload_one(build, artifact, untracked or []) and ok
        finally:
            trace.section_end(name)
        return ok

    def _upload_one(self, build: _Build, artifact: Artifact, untracked: list[str]) -> bool:
        trace = build.trace
        kind = artifact.artifact_type or "archive"
        trace.system("Uploading artifacts...")
        entries = collect(
            build.project_dir,
            paths=artifact.paths,
            exclude=artifact.exclude,
            untracked=untracked if artifact.untracked else [],
            warn=trace.warning,
        )
        for pattern in artifact.paths:
            trace.system(f"{pattern}: found matching artifact files and directories")
        if artifact.untracked:
            trace.system(f"untracked: found {len(untracked)} files")
        if not [e for e in entries if e.kind != "dir"]:
            trace.warning(f"No files to upload for the {kind} artifact")
            return True
        fmt = artifact.artifact_format or "zip"
        fd, tmp = tempfile.mkstemp(prefix="artifacts-", dir=self.private)
        os.close(fd)
        archive = Path(tmp)
        max_size = self.config.limits.max_artifacts_size
        try:
            try:
                if fmt == "gzip":
                    write_gzip(build.project_dir, entries, archive, max_size=max_size)
                    filename = f"{kind}.gz"
                elif fmt == "raw":
                    write_raw(build.project_dir, entries, archive, max_size=max_size)
                    filename = os.path.basename(next(e.path for e in entries if e.kind == "file"))
                else:
                    write_zip(
                        build.project_dir, entries, archive, max_size=max_size, warn=trace.warning
                    )
                    filename = f"{artifact.name or 'artifacts'}.zip"
            except ArchiveTooLarge as exc:
                trace.error(
                    f"Uploading artifacts as {kind!r} to coordinator... too large archive: {exc}"
                )
                return False
            except (ArchiveError, OSError) as exc:
                trace.error(f"Creating the {kind} archive failed: {exc}")
                return False
            if archive.stat().st_size > max_size:
                trace.error(f"Uploading artifacts as {kind!r} to coordinator... too large archive")
                return False
            result = self.coordinator.upload_artifacts(
                build.job.id,
                build.job.token,
                archive,
                filename=filename,
                artifact_type=kind,
                artifact_format=fmt,
                expire_in=artifact.expire_in,
            )
        finally:
            with contextlib.suppress(OSError):
                archive.unlink()
        if result.state is UploadState.SUCCEEDED:
            trace.system(f"Uploading artifacts as {kind!r} to coordinator... 201 Created")
            return True
        detail = f": {result.message}" if result.message else ""
        status = result.state.value.replace("_", " ")
        trace.error(f"Uploading artifacts as {kind!r} to coordinator... {status}{detail}")
        return False
