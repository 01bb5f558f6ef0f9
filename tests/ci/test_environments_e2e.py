"""End to end with the real `kiln runner` against the real server (`kiln web`): a pushed
deploy job creates its review environment, runs with GitLab's CI_ENVIRONMENT_* variables, and
its dotenv report's DYNAMIC_ENVIRONMENT_URL becomes the environment's URL; stopping the
environment through python-gitlab runs its `on_stop` job, and the environment is stopped."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from kiln.ci import environments
from tests.ci.real_runner import real_runner
from tests.conftest import ROOT_TOKEN, client
from tests.support.git import authed, git, make_repo

pytestmark = pytest.mark.slow

CONFIG = """\
deploy:
  script:
    - echo "deploying to $CI_ENVIRONMENT_NAME ($CI_ENVIRONMENT_SLUG, $CI_ENVIRONMENT_TIER)"
    - echo "DYNAMIC_ENVIRONMENT_URL=https://$CI_ENVIRONMENT_SLUG.apps.example.com" > deploy.env
  environment:
    name: review/$CI_COMMIT_REF_SLUG
    on_stop: stop
  artifacts:
    reports:
      dotenv: deploy.env

stop:
  script: [echo "stopping $CI_ENVIRONMENT_NAME"]
  when: manual
  environment:
    name: review/$CI_COMMIT_REF_SLUG
    action: stop
"""


def _wait(predicate: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("condition not met in time")


def test_deploy_and_stop_with_the_real_runner(git_url: str, tmp_path: Path) -> None:
    gl = client(git_url, ROOT_TOKEN)
    gl.auth()
    project = gl.projects.create({"name": "review-apps", "visibility": "private"})
    work = make_repo(tmp_path / "work", {".gitlab-ci.yml": CONFIG})
    git(
        "push",
        "-q",
        authed(f"{git_url}/root/review-apps.git", "root", ROOT_TOKEN),
        "main",
        cwd=work,
    )
    slug = environments.slug_for("review/main")
    with real_runner(gl, git_url, description="deploys") as runner:
        deployment = _wait(
            lambda: (
                (found := project.deployments.list())
                and found[0].status in ("success", "failed")
                and found[0]
            )
        )
        assert deployment.status == "success", runner.output()
        job = project.jobs.get(deployment.deployable["id"])
        log = job.trace().decode()
        assert f"deploying to review/main ({slug}, development)" in log
        [environment] = project.environments.list()
        assert environment.name == "review/main"
        assert environment.slug == slug
        assert environment.external_url == f"https://{slug}.apps.example.com"

        environment.stop()
        assert project.environments.get(environment.id).state in ("stopping", "stopped")
        stopped = _wait(
            lambda: (env := project.environments.get(environment.id)).state == "stopped" and env
        )
        assert stopped.state == "stopped", runner.output()
    stop_job = next(j for j in project.jobs.list(get_all=True) if j.name == "stop")
    assert stop_job.status == "success"
    assert "stopping review/main" in project.jobs.get(stop_job.id).trace().decode()
