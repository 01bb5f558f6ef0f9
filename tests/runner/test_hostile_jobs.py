"""Hostile jobs on the shell executor: each must fail cleanly and leave the runner working.

A script that sleeps past its timeout, fork-bombs, fills the disk, prints forever, reads
what the sandbox must hide, or brings a hostile dependency archive; a job canceled on the
server. Each ends the job with GitLab's failure reason and leaves no process behind.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from kiln.runner.config import Limits
from tests.runner.conftest import (
    JOB_USER,
    make_config,
    needs_bwrap,
    processes_with,
    run_one,
)
from tests.runner.coordinator import FakeCoordinator, job_payload

SANDBOX_MODES = [
    pytest.param("auto", marks=needs_bwrap, id="bwrap"),
    pytest.param("none", id="no-sandbox"),
]


@pytest.mark.parametrize("sandbox", SANDBOX_MODES)
def test_timeout_fails_the_job_and_leaves_no_process(
    fake: FakeCoordinator, workdir: Path, source: tuple[str, str], sandbox: str
) -> None:
    url, sha = source
    config = make_config(workdir, fake, sandbox=sandbox)
    # Distinct per variant, so tests running in parallel never see each other's processes.
    daemon, main = ("61.251", "60.751") if sandbox == "auto" else ("61.252", "60.752")
    payload = job_payload(
        fake.new_job_id(),
        repo_url=url,
        sha=sha,
        timeout=2,
        # A child in its own session, as a daemon would start it: killing the process group
        # alone would not reach it.
        script=[f"setsid sleep {daemon} & sleep {main}"],
        after_script=["echo after ran: $CI_JOB_STATUS"],
    )
    started = time.monotonic()
    record, result = run_one(fake, config, payload)
    assert time.monotonic() - started < 15
    assert result is not None
    assert result.state == "failed"
    assert record.final["failure_reason"] == "job_execution_timeout"
    assert "ERROR: Job failed: execution took longer than 2s seconds" in record.text
    assert "after ran: failed" in record.text
    assert processes_with(f"sleep {main}") == []
    assert processes_with(f"sleep {daemon}") == []


@pytest.mark.parametrize("sandbox", SANDBOX_MODES)
def test_fork_bomb_is_contained_and_the_runner_survives(
    fake: FakeCoordinator, workdir: Path, source: tuple[str, str], sandbox: str
) -> None:
    if sandbox == "none" and not (JOB_USER.switch or os.geteuid() != 0):
        pytest.skip("as root without another user, RLIMIT_NPROC does not apply")
    if sandbox == "none" and not shutil.which("prlimit"):
        pytest.skip("neither bubblewrap nor prlimit: nothing limits the job's processes")
    url, sha = source
    config = make_config(workdir, fake, sandbox=sandbox, limits=Limits(pids=40))
    payload = job_payload(
        fake.new_job_id(),
        repo_url=url,
        sha=sha,
        timeout=3,
        script=["bomb() { bomb | bomb & }; bomb; sleep 10"],
    )
    record, result = run_one(fake, config, payload)
    assert result is not None
    assert result.state == "failed"
    assert "fork" in record.text.lower() or "Resource temporarily unavailable" in record.text
    # Nothing of the bomb is left (each of its shells runs the job's script, under this
    # test's directory), and the runner still runs jobs.
    assert processes_with(str(workdir)) == []
    again, result = run_one(
        fake, config, job_payload(fake.new_job_id(), repo_url=url, sha=sha, script=["echo alive"])
    )
    assert result is not None
    assert result.state == "success"
    assert "alive" in again.text


def test_output_cap_stops_a_script_that_prints_forever(
    fake: FakeCoordinator, workdir: Path, source: tuple[str, str]
) -> None:
    url, sha = source
    config = make_config(workdir, fake, output_limit=64 * 1024)
    payload = job_payload(
        fake.new_job_id(), repo_url=url, sha=sha, timeout=60, script=["yes 'all work and no play'"]
    )
    started = time.monotonic()
    record, result = run_one(fake, config, payload)
    assert time.monotonic() - started < 20  # stopped by the cap, not by the timeout
    assert result is not None
    assert result.state == "failed"
    assert record.final["failure_reason"] == "trace_size_exceeded"
    assert "Job's log exceeded limit of 65536 bytes." in record.text
    assert len(record.trace) < 64 * 1024 + 2048
    assert processes_with("yes all work") == []


def test_disk_filling_is_stopped_by_the_file_size_limit(
    fake: FakeCoordinator, workdir: Path, source: tuple[str, str]
) -> None:
    url, sha = source
    config = make_config(workdir, fake, limits=Limits(max_file_size=1024 * 1024))
    payload = job_payload(
        fake.new_job_id(),
        repo_url=url,
        sha=sha,
        script=["head -c 20000000 /dev/zero > big.bin", "echo never"],
        after_script=["echo size: $(stat -c %s big.bin)"],
    )
    record, result = run_one(fake, config, payload)
    assert result is not None
    assert result.state == "failed"
    assert record.final["exit_code"] == 128 + 25  # SIGXFSZ
    assert "size: 1048576" in record.text


def test_artifacts_larger_than_the_limit_are_not_uploaded(
    fake: FakeCoordinator, workdir: Path, source: tuple[str, str]
) -> None:
    url, sha = source
    config = make_config(workdir, fake, limits=Limits(max_artifacts_size=10_000))
    payload = job_payload(
        fake.new_job_id(),
        repo_url=url,
        sha=sha,
        script=["head -c 50000 /dev/urandom > blob.bin"],
        artifacts=[
            {
                "name": "",
                "untracked": False,
                "paths": ["blob.bin"],
                "when": "on_success",
                "artifact_type": "archive",
                "artifact_format": "zip",
                "expire_in": "",
            }
        ],
    )
    record, result = run_one(fake, config, payload)
    assert result is not None
    assert result.state == "failed"
    assert "too large archive" in record.text
    assert record.artifacts == {}


@needs_bwrap
def test_sandbox_hides_the_data_dir_other_builds_and_the_runner_config(
    fake: FakeCoordinator, workdir: Path, source: tuple[str, str]
) -> None:
    url, sha = source
    # A stand-in for KILN_DATA_DIR, outside /tmp (which the sandbox replaces anyway).
    data_dir = workdir / "kiln-data"
    data_dir.mkdir()
    (data_dir / "secret.txt").write_text("top secret\n")
    os.chmod(data_dir, 0o755)  # noqa: S103 - readable by the job user
    os.chmod(data_dir / "secret.txt", 0o644)  # readable by anyone: only the sandbox hides it
    other_build = workdir / "builds" / "999-other"
    other_build.mkdir(parents=True)
    (other_build / "theirs.txt").write_text("another job's file\n")
    os.chmod(other_build, 0o755)  # noqa: S103 - readable by the job user
    os.chmod(other_build / "theirs.txt", 0o644)
    config = make_config(workdir, fake, hide=[str(data_dir)])
    os.chmod(workdir / "runner.toml", 0o644)
    payload = job_payload(
        fake.new_job_id(),
        repo_url=url,
        sha=sha,
        script=[
            f"echo data entries: $(ls -A {data_dir} | wc -l)",
            f"cat {data_dir}/secret.txt || echo data unreadable",
            f"cat {other_build}/theirs.txt || echo other build unreadable",
            f"echo config bytes: $(wc -c < {workdir}/runner.toml)",
            "touch /usr/kiln-escape 2>/dev/null || echo root read-only",
            f"touch {workdir}/escape 2>/dev/null || echo workdir read-only",
            "echo processes: $(ls /proc | grep -c '^[0-9]')",
            "touch $CI_PROJECT_DIR/ok && echo build writable",
        ],
    )
    record, result = run_one(fake, config, payload)
    assert result is not None
    assert result.state == "success", record.text
    text = record.text
    assert "data entries: 0" in text
    assert "data unreadable" in text
    assert "top secret" not in text
    assert "other build unreadable" in text
    assert "another job's file" not in text
    assert "config bytes: 0" in text
    assert fake.runner_token not in text
    assert "root read-only" in text
    assert not Path("/usr/kiln-escape").exists()
    assert "workdir read-only" in text
    assert not (workdir / "escape").exists()
    assert "build writable" in text
    processes = int(text.split("\nprocesses: ")[1].split()[0])
    assert processes < 10  # a PID namespace of its own


def test_without_bwrap_the_job_log_says_it_is_not_sandboxed(
    fake: FakeCoordinator, workdir: Path, source: tuple[str, str]
) -> None:
    url, sha = source
    config = make_config(workdir, fake, sandbox="none")
    record, result = run_one(
        fake, config, job_payload(fake.new_job_id(), repo_url=url, sha=sha, script=["true"])
    )
    assert result is not None
    assert result.state == "success"
    assert "this job is not sandboxed" in record.text


def test_required_sandbox_that_cannot_run_fails_the_job(
    fake: FakeCoordinator, workdir: Path, source: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, sha = source
    monkeypatch.setenv("PATH", "/nonexistent-bin-dir:/usr/bin:/bin")
    import kiln.runner.executors.sandbox as sandbox_module

    monkeypatch.setattr(sandbox_module.shutil, "which", lambda name: None)
    import kiln.runner.executors.shell as shell_module

    # Probe afresh (not the cached answer), with bwrap missing.
    monkeypatch.setattr(shell_module, "probe_sandbox", sandbox_module.probe_sandbox.__wrapped__)
    config = make_config(workdir, fake, sandbox="bwrap")
    record, result = run_one(
        fake, config, job_payload(fake.new_job_id(), repo_url=url, sha=sha, script=["true"])
    )
    assert result is not None
    assert result.state == "failed"
    assert record.final["failure_reason"] == "runner_system_failure"
    assert "bubblewrap (bwrap) is not installed" in record.text


def test_hostile_dependency_archive_fails_the_job_and_writes_nothing_outside(
    fake: FakeCoordinator, workdir: Path, source: tuple[str, str]
) -> None:
    import io
    import zipfile

    url, sha = source
    config = make_config(workdir, fake)
    hostile = io.BytesIO()
    with zipfile.ZipFile(hostile, "w") as zf:
        zf.writestr("fine.txt", "ok")
        zf.writestr("../../../../escaped.txt", "gotcha")
    fake.archives[4242] = hostile.getvalue()
    payload = job_payload(fake.new_job_id(), repo_url=url, sha=sha, script=["echo never ran"])
    payload["dependencies"] = [
        {
            "id": 4242,
            "token": payload["token"],
            "name": "evil",
            "artifacts_file": {"filename": "a.zip", "size": 1},
        }
    ]
    record, result = run_one(fake, config, payload)
    assert result is not None
    assert result.state == "failed"
    assert "refused" in record.text
    assert "leaves the target directory" in record.text
    assert "never ran\n" not in record.text
    assert not list(workdir.rglob("escaped.txt"))


def test_job_canceled_on_the_server_stops_the_script(
    fake: FakeCoordinator, workdir: Path, source: tuple[str, str]
) -> None:
    url, sha = source
    config = make_config(workdir, fake)

    def cancel_after_first(job, start, body):  # type: ignore[no-untyped-def]
        if b"started" in bytes(job.trace) + body:
            job.status = "canceled"
            return 202, {"Job-Status": "canceled"}
        return None

    fake.patch_hook = cancel_after_first
    started = time.monotonic()
    _, result = run_one(
        fake,
        config,
        job_payload(
            fake.new_job_id(), repo_url=url, sha=sha, script=["echo started", "sleep 30.5"]
        ),
    )
    assert time.monotonic() - started < 15
    assert result is not None
    assert result.state == "failed"
    assert processes_with("sleep 30.5") == []
