"""`kiln serve` runs its own CI runner: a fresh install's first push runs its pipeline with no
setup. The real entry point in a temporary data directory, a real git push, the real runner.

Also: the runner is registered once (a second start reuses it), the application setting turns
it off, and how jobs are isolated is said plainly (`kiln check`, the startup output).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import gitlab
import pytest

from kiln.ops import embedded_runner
from kiln.runner.executors.sandbox import JobUser, SandboxStatus
from tests.support.git import authed, git, make_repo
from tests.test_cli import (
    GIVEN_PASSWORD,
    GIVEN_TOKEN,
    Serve,
    _alive,
    _cmdline,
    _descendants,
    _env,
    _free_port,
    _kiln,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("kiln-embedded-runner")]

CI_CONFIG = """\
stages: [build, test]

build:
  stage: build
  script:
    - echo "built by $CI_RUNNER_DESCRIPTION" > built.txt
  artifacts:
    paths: [built.txt]

test:
  stage: test
  script:
    - cat built.txt
    - echo embedded-runner-ok
"""


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    root = tmp_path_factory.mktemp("embedded")
    data_dir = root / "data"
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    env = _env(
        data_dir,
        _free_port(),
        KILN_ROOT_PASSWORD=GIVEN_PASSWORD,
        KILN_ROOT_TOKEN=GIVEN_TOKEN,
    )
    server = Serve(data_dir, env)
    server.start()
    try:
        server.wait_ready(timeout=300)
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.stop(signal.SIGTERM)


def _gl(serve: Serve) -> gitlab.Gitlab:
    return gitlab.Gitlab(serve.url, private_token=GIVEN_TOKEN, timeout=30)


def _roles(serve: Serve) -> dict[str, int]:
    assert serve.process is not None
    roles = {}
    for pid in _descendants(serve.process.pid):
        line = _cmdline(pid)
        if " runner run " in f"{line} ":
            roles["runner"] = pid
        elif line.endswith((" web", " worker")):
            roles[line.rsplit(" ", 1)[-1]] = pid
    return roles


def _wait(predicate: object, timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()  # type: ignore[operator]
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_first_push_runs_on_the_embedded_runner(serve: Serve, tmp_path: Path) -> None:
    gl = _gl(serve)
    assert "Embedded runner:" in serve.output
    _wait(lambda: "runner" in _roles(serve), 30)
    [runner] = gl.runners_all.list(get_all=True)
    assert runner.runner_type == "instance_type"
    assert runner.description == "Kiln embedded runner"
    config = serve.data_dir / "runner" / "runner.toml"
    assert config.exists()
    assert config.stat().st_mode & 0o777 == 0o600

    project = gl.projects.create({"name": "first", "visibility": "private"})
    work = make_repo(tmp_path / "work", {".gitlab-ci.yml": CI_CONFIG, "README.md": "hi\n"})
    git("push", "-q", authed(f"{serve.url}/root/first.git", "root", GIVEN_TOKEN), "main", cwd=work)

    def finished() -> object:
        pipelines = project.pipelines.list(get_all=True)
        if pipelines and pipelines[0].status in ("success", "failed", "canceled"):
            return pipelines[0]
        return None

    pipeline = _wait(finished, 120)
    jobs = {job.name: job for job in pipeline.jobs.list(get_all=True)}  # type: ignore[attr-defined]
    traces = {name: project.jobs.get(job.id).trace().decode() for name, job in jobs.items()}
    assert pipeline.status == "success", traces  # type: ignore[attr-defined]
    assert "built by Kiln embedded runner" in traces["test"]
    assert "embedded-runner-ok" in traces["test"]
    assert {job.runner["id"] for job in jobs.values()} == {runner.id}


def test_second_start_reuses_the_runner_and_the_setting_turns_it_off(serve: Serve) -> None:
    config = serve.data_dir / "runner" / "runner.toml"
    before = config.read_text()
    assert serve.stop(signal.SIGINT) == 0

    serve.start()
    serve.wait_ready(timeout=300)
    _wait(lambda: "runner" in _roles(serve), 30)
    gl = _gl(serve)
    assert len(gl.runners_all.list(get_all=True)) == 1
    assert config.read_text() == before

    settings = gl.settings.get()
    assert settings.kiln_embedded_runner_enabled is True
    settings.kiln_embedded_runner_enabled = False
    settings.save()
    assert serve.stop(signal.SIGINT) == 0

    serve.start()
    serve.wait_ready(timeout=300)
    assert "Embedded runner: off" in serve.output
    time.sleep(1.5)
    assert "runner" not in _roles(serve)
    assert {"web", "worker"} <= set(_roles(serve))
    # Turned back on, the same runner serves again.
    settings = _gl(serve).settings.get()
    settings.kiln_embedded_runner_enabled = True
    settings.save()
    assert serve.stop(signal.SIGINT) == 0
    serve.start()
    serve.wait_ready(timeout=300)
    _wait(lambda: "runner" in _roles(serve), 30)
    assert len(_gl(serve).runners_all.list(get_all=True)) == 1


def test_when_the_runner_dies_everything_stops(serve: Serve) -> None:
    pid = _wait(lambda: _roles(serve).get("runner"), 30)
    assert serve.process is not None
    tree = _descendants(serve.process.pid)
    os.kill(int(pid), signal.SIGKILL)  # type: ignore[call-overload]
    assert serve.process.wait(timeout=30) == 1
    assert "the runner process exited" in serve.output
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in tree) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in tree if _alive(p)], "orphaned processes"


def test_check_says_how_jobs_are_isolated(serve: Serve) -> None:
    result = _kiln("check", env=serve.env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "embedded runner: ok (" in result.stdout


# --- the wording when jobs are not isolated (no bubblewrap, not root) ---------------------------


def test_unisolated_jobs_are_said_plainly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    me = JobUser("kiln", 1000, 1000, switch=False)
    monkeypatch.setattr(embedded_runner, "resolve_user", lambda configured: (me, ""))
    monkeypatch.setattr(
        embedded_runner,
        "probe_sandbox",
        lambda mode, user: SandboxStatus(False, reason="bubblewrap (bwrap) is not installed"),
    )
    found = embedded_runner.isolation(tmp_path)
    assert not found.safe
    assert "can read the server's files" in found.message
    assert str(tmp_path) in found.message

    root = JobUser("nobody", 65534, 65534, switch=True)
    monkeypatch.setattr(embedded_runner, "resolve_user", lambda configured: (root, ""))
    found = embedded_runner.isolation(tmp_path)
    assert found.safe
    assert "separate user nobody" in found.message


def test_local_url() -> None:
    assert embedded_runner.local_url("0.0.0.0:8080") == "http://127.0.0.1:8080"
    assert embedded_runner.local_url("[::]:8080") == "http://[::1]:8080"
    assert embedded_runner.local_url("10.0.0.5:80") == "http://10.0.0.5:80"
