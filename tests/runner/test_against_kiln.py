"""The real runner process against the real Kiln server: push, pipeline, two stages, artifact.

`kiln web` (gunicorn, on the test database) serves git and the API; the runner is registered
with a token from `POST /api/v4/user/runners` and run as its own process, exactly as a user
would. Until the server implements GitLab's runner protocol this test skips, saying so.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gitlab
import pytest
import requests

from tests.conftest import ROOT_TOKEN, client
from tests.support.git import authed, git, make_repo

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

CI_CONFIG = """\
stages: [build, test]

build:
  stage: build
  script:
    - echo "building on $CI_COMMIT_REF_NAME"
    - mkdir -p out && echo artifact-content-4711 > out/result.txt
  artifacts:
    paths: [out/]

test:
  stage: test
  script:
    - cat out/result.txt
    - echo "tests passed"
"""


def _runner_protocol_missing(url: str) -> str:
    answer = requests.post(f"{url}/api/v4/jobs/request", json={"token": "glrt-probe"}, timeout=30)
    if answer.status_code == 404:
        return (
            "the server does not implement GitLab's runner protocol yet "
            "(POST /api/v4/jobs/request answers 404)"
        )
    return ""


def _runner_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "kiln.runner", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src"), "KILN_RUNNER_LOG_LEVEL": "info"}


def test_pipeline_with_two_stages_and_an_artifact_succeeds(
    git_url: str, workdir: Path, tmp_path: Path
) -> None:
    reason = _runner_protocol_missing(git_url)
    if reason:
        pytest.skip(reason)
    root = client(git_url, ROOT_TOKEN)
    root.auth()
    project = root.projects.create({"name": "ci-e2e", "visibility": "private"})
    runner = root.user.runners.create(
        {"runner_type": "instance_type", "description": "e2e", "run_untagged": True}
    )
    assert runner.token.startswith("glrt-")

    config = workdir / "runner.toml"
    registered = subprocess.run(
        _runner_command(
            "register",
            "--url",
            git_url,
            "--token",
            runner.token,
            "--config",
            str(config),
            "--builds-dir",
            str(workdir / "builds"),
            "--cache-dir",
            str(workdir / "cache"),
        ),
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert registered.returncode == 0, registered.stdout + registered.stderr

    work = make_repo(tmp_path / "work", {".gitlab-ci.yml": CI_CONFIG, "README.md": "# e2e\n"})
    git("push", "-q", authed(f"{git_url}/root/ci-e2e.git", "root", ROOT_TOKEN), "main", cwd=work)

    log = workdir / "runner.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            _runner_command("run", "--config", str(config), "--check-interval", "0.5"),
            cwd=ROOT,
            env=_env(),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        pipeline = _wait_for_pipeline(root, project.id, timeout=120)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    runner_log = log.read_text()
    assert pipeline.status == "success", runner_log
    project = root.projects.get(project.id)
    jobs = {job.name: job for job in pipeline.jobs.list(get_all=True)}
    assert set(jobs) == {"build", "test"}
    assert all(job.status == "success" for job in jobs.values())
    build_trace = project.jobs.get(jobs["build"].id).trace().decode()
    test_trace = project.jobs.get(jobs["test"].id).trace().decode()
    assert "building on main" in build_trace
    assert "artifact-content-4711" in test_trace  # passed from build to test
    assert "tests passed" in test_trace
    assert "Job succeeded" in test_trace


def _wait_for_pipeline(root: gitlab.Gitlab, project_id: int, *, timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pipelines = root.projects.get(project_id).pipelines.list(get_all=True)
        if pipelines and pipelines[0].status in ("success", "failed", "canceled", "skipped"):
            return pipelines[0]
        time.sleep(0.5)
    raise AssertionError(f"no finished pipeline after {timeout}s")
