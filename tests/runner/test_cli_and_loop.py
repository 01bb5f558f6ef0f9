"""`kiln runner register|verify|unregister|run` as a user runs them, against the stand-in.

`run` is the real process (`python -m kiln.runner run`): it polls, runs jobs concurrently,
and stops on SIGTERM, failing the job it had to interrupt and leaving nothing running.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiln.runner.cli import main
from kiln.runner.client import Coordinator
from kiln.runner.config import ConfigError, load
from tests.runner.conftest import make_config, processes_with
from tests.runner.coordinator import FakeCoordinator, job_payload

ROOT = Path(__file__).resolve().parents[2]


def test_register_with_a_runner_token_verifies_it_and_writes_a_private_config(
    fake: FakeCoordinator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KILN_DATA_DIR", str(tmp_path / "kiln-data"))
    path = tmp_path / "conf" / "runner.toml"
    status = main(
        [
            "register",
            "--url",
            fake.url,
            "--token",
            fake.runner_token,
            "--config",
            str(path),
            "--concurrent",
            "3",
            "--hide",
            "/srv/secrets",
        ]
    )
    assert status == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = load(path)
    assert config.token == fake.runner_token
    assert config.id == 7
    assert config.concurrent == 3
    assert config.system_id.startswith("r_")
    assert str(tmp_path / "kiln-data") in config.sandbox.hide
    assert "/srv/secrets" in config.sandbox.hide
    (verify,) = fake.calls("POST", r"/runners/verify$")
    assert json.loads(verify.body) == {"token": fake.runner_token, "system_id": config.system_id}
    assert main(["verify", "--config", str(path)]) == 0


def test_register_with_a_wrong_token_fails_and_writes_nothing(
    fake: FakeCoordinator, tmp_path: Path
) -> None:
    path = tmp_path / "runner.toml"
    assert (
        main(["register", "--url", fake.url, "--token", "glrt-wrong", "--config", str(path)]) == 1
    )
    assert not path.exists()
    assert (
        main(
            ["register", "--url", fake.url, "--token", "wrong-registration", "--config", str(path)]
        )
        == 1
    )
    assert not path.exists()


def test_legacy_registration_token_uses_post_runners(fake: FakeCoordinator, tmp_path: Path) -> None:
    path = tmp_path / "runner.toml"
    status = main(
        [
            "register",
            "--url",
            fake.url,
            "--token",
            fake.registration_token,
            "--config",
            str(path),
            "--description",
            "ci box",
            "--tag-list",
            "linux, docker",
            "--no-run-untagged",
            "--locked",
        ]
    )
    assert status == 0
    (call,) = fake.calls("POST", r"/runners$")
    body = json.loads(call.body)
    assert body["token"] == fake.registration_token
    assert body["description"] == "ci box"
    assert body["tag_list"] == "linux,docker"
    assert body["run_untagged"] is False
    assert body["locked"] is True
    assert body["info"]["name"] == "kiln-runner"
    assert load(path).token == fake.runner_token


def test_unregister_then_verify_reports_the_runner_removed(
    fake: FakeCoordinator, workdir: Path
) -> None:
    make_config(workdir, fake)
    path = str(workdir / "runner.toml")
    assert main(["unregister", "--config", path]) == 0
    assert main(["verify", "--config", path]) == 1


def test_config_rejects_unknown_settings(tmp_path: Path) -> None:
    path = tmp_path / "runner.toml"
    path.write_text('url = "http://x"\ntoken = "t"\nexecuter = "shell"\n')
    with pytest.raises(ConfigError, match="unknown setting executer"):
        load(path)
    path.write_text('url = "http://x"\ntoken = "t"\n[sandbox]\nmode = "maybe"\n')
    with pytest.raises(ConfigError, match=r"sandbox\.mode"):
        load(path)


def test_job_requests_send_back_the_last_update_header(fake: FakeCoordinator) -> None:
    coordinator = Coordinator(fake.url)
    fake.last_update = "queue-value-42"
    assert coordinator.request_job(fake.runner_token, system_id="r_x", info={}) is None
    assert coordinator.request_job(fake.runner_token, system_id="r_x", info={}) is None
    first, second = (json.loads(r.body) for r in fake.calls("POST", r"/jobs/request$"))
    assert "last_update" not in first
    assert second["last_update"] == "queue-value-42"
    assert second["system_id"] == "r_x"


def _start(workdir: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kiln.runner",
            "run",
            "--config",
            str(workdir / "runner.toml"),
            *extra,
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def test_run_serves_jobs_concurrently_and_stops_cleanly_on_sigterm(
    fake: FakeCoordinator, workdir: Path, source: tuple[str, str]
) -> None:
    url, sha = source
    make_config(workdir, fake, concurrent=2, check_interval=0.1, shutdown_timeout=1.0)
    pair = [
        fake.add_job(
            job_payload(fake.new_job_id(), repo_url=url, sha=sha, script=["sleep 1.5", "echo done"])
        )
        for _ in range(2)
    ]
    process = _start(workdir)
    try:
        started = time.monotonic()
        _wait(lambda: all(job.finished.is_set() for job in pair))
        # Two jobs of 1.5 s each, side by side.
        assert time.monotonic() - started < 6
        assert all(job.status == "success" for job in pair)

        stuck = fake.add_job(
            job_payload(
                fake.new_job_id(), repo_url=url, sha=sha, script=["echo begun", "sleep 33.5"]
            )
        )
        _wait(lambda: b"begun\n" in bytes(stuck.trace))
        stopping = time.monotonic()
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
        assert time.monotonic() - stopping < 10
        assert process.returncode == 0, output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert stuck.status == "failed"
    assert stuck.final["failure_reason"] == "runner_system_failure"
    assert "the runner is shutting down" in stuck.text
    assert processes_with("sleep 33.5") == []
    assert "kiln runner stopped" in output
    assert "executor shell" in output
