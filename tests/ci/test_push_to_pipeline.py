"""End to end against the real server: a git push with a two-stage `.gitlab-ci.yml` becomes a
pipeline; a runner created with python-gitlab runs both jobs over GitLab's runner protocol
(verify, request, trace, artifacts, state), the second job gets the first one's artifacts,
and the pipeline succeeds. The job token clones the repository while its job runs, and
stops working when it ends."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gitlab
import pytest
import requests

from tests.ci.runner_client import RunnerClient, variables_of, zip_bytes
from tests.conftest import ROOT_TOKEN, client
from tests.support.git import authed, git, make_repo

pytestmark = pytest.mark.slow

TWO_STAGES = """\
stages: [build, test]

variables:
  GREETING: hello

build-job:
  stage: build
  tags: [linux]
  before_script:
    - echo before
  script:
    - echo "$GREETING" > out.txt
  after_script:
    - echo after
  artifacts:
    paths: [out.txt]
    expire_in: 1 week

test-job:
  stage: test
  tags: [linux]
  variables:
    TARGET: $GREETING-world
  script:
    - cat out.txt
"""


def _wait_for(predicate: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
def root(web_url: str) -> gitlab.Gitlab:
    gl = client(web_url, ROOT_TOKEN)
    gl.auth()
    return gl


def test_push_runs_two_stages_through_the_runner_protocol(
    root: gitlab.Gitlab, web_url: str, tmp_path: Path
) -> None:
    project = root.projects.create({"name": "pipe", "visibility": "private"})
    work = make_repo(tmp_path / "work", {".gitlab-ci.yml": TWO_STAGES, "README.md": "hi\n"})
    started = time.monotonic()
    git("push", "-q", authed(f"{web_url}/root/pipe.git", "root", ROOT_TOKEN), "main", cwd=work)
    sha = git("rev-parse", "HEAD", cwd=work).stdout.strip()

    # The pipeline exists, with its jobs and statuses, by the time the push returns.
    pipelines = project.pipelines.list(get_all=True)
    assert len(pipelines) == 1
    pipeline = pipelines[0]
    assert (pipeline.ref, pipeline.sha, pipeline.source) == ("main", sha, "push")
    assert pipeline.status == "pending"
    jobs = {j.name: j for j in pipeline.jobs.list(get_all=True)}
    assert {n: (j.stage, j.status) for n, j in jobs.items()} == {
        "build-job": ("build", "pending"),
        "test-job": ("test", "created"),
    }

    # A runner created as GitLab 16+ does (POST /user/runners, a glrt- token) verifies.
    created = root.user.runners.create({"runner_type": "instance_type", "tag_list": "linux,x"})
    assert created.token.startswith("glrt-")
    runner = RunnerClient(web_url, created.token)
    verified = runner.verify()
    assert verified.status_code == 200
    assert verified.json()["id"] == created.id

    response = runner.request_job()
    assert response.status_code == 201, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    build = response.json()
    # Push (git client included) to a job in a runner's hands: the one second.
    assert time.monotonic() - started < 5
    assert build["id"] == jobs["build-job"].id
    assert build["token"].startswith("glcbt-")
    assert build["job_info"]["name"] == "build-job"
    assert build["job_info"]["stage"] == "build"
    assert build["job_info"]["project_id"] == project.id
    git_info = build["git_info"]
    assert git_info["sha"] == sha
    assert git_info["ref"] == "main"
    assert git_info["ref_type"] == "branch"
    assert git_info["refspecs"] == ["+refs/heads/main:refs/remotes/origin/main"]
    assert git_info["repo_url"].startswith("http://gitlab-ci-token:glcbt-")
    assert git_info["repo_url"].endswith("/root/pipe.git")
    assert build["runner_info"]["timeout"] == 3600
    assert build["steps"] == [
        {
            "name": "script",
            "script": ["echo before", 'echo "$GREETING" > out.txt'],
            "timeout": 3600,
            "when": "on_success",
            "allow_failure": False,
        },
        {
            "name": "after_script",
            "script": ["echo after"],
            "timeout": 3600,
            "when": "always",
            "allow_failure": True,
        },
    ]
    assert build["artifacts"][0]["paths"] == ["out.txt"]
    assert build["artifacts"][0]["artifact_type"] == "archive"
    assert build["dependencies"] == []
    assert "failure_reasons" in build["features"]
    variables = variables_of(build)
    assert variables["CI_JOB_TOKEN"] == {
        "key": "CI_JOB_TOKEN",
        "value": build["token"],
        "public": False,
        "masked": True,
        "file": False,
        "raw": False,
    }
    assert variables["CI_PIPELINE_ID"]["value"] == str(pipeline.id)
    assert variables["CI_COMMIT_SHA"]["value"] == sha
    assert variables["CI_COMMIT_BRANCH"]["value"] == "main"
    assert variables["CI_PROJECT_PATH"]["value"] == "root/pipe"
    assert variables["CI_PIPELINE_SOURCE"]["value"] == "push"
    assert variables["GREETING"]["value"] == "hello"
    assert variables["CI_SERVER_URL"]["value"] == web_url

    # Another runner asking now gets nothing, and then a cached "nothing changed".
    other = RunnerClient(web_url, root.user.runners.create({"runner_type": "instance_type"}).token)
    assert other.request_job().status_code == 204
    assert other.last_update
    assert other.request_job().status_code == 204

    # The job token clones the project while the job runs (as gitlab-ci-token).
    clone = git("clone", "-q", git_info["repo_url"], str(tmp_path / "clone"), check=False)
    assert clone.returncode == 0, clone.stderr
    assert (tmp_path / "clone" / "README.md").read_text() == "hi\n"

    trace = b"\x1b[32;1m$ echo before\x1b[0;m\nbefore\n"
    patched = runner.patch_trace(build["id"], build["token"], trace, 0)
    assert patched.status_code == 202
    assert patched.headers["Range"] == f"0-{len(trace)}"
    assert patched.headers["Job-Status"] == "running"
    assert int(patched.headers["X-GitLab-Trace-Update-Interval"]) > 0
    more = b"$ echo after\nafter\n"
    # A patch that does not start where the stored log ends: 416 and the stored size.
    mismatch = runner.patch_trace(build["id"], build["token"], more, len(trace) + 5)
    assert mismatch.status_code == 416
    assert mismatch.headers["Range"] == f"0-{len(trace)}"
    assert runner.patch_trace(build["id"], build["token"], more, len(trace)).status_code == 202
    full = trace + more
    assert root.projects.get(project.id).jobs.get(build["id"]).trace() == full

    archive = zip_bytes({"out.txt": b"hello\n"})
    uploaded = runner.upload_artifacts(build["id"], build["token"], archive, expire_in="1 week")
    assert uploaded.status_code == 201, uploaded.text
    # A wrong checksum first: 412 asks the runner to send its log again.
    stale = runner.update_job(build["id"], build["token"], "success", trace=full + b"x")
    assert stale.status_code == 412
    finished = runner.update_job(build["id"], build["token"], "success", trace=full)
    assert finished.status_code == 200

    # The token of a finished job: 403 with its status for runner calls, 401 for git and API.
    again = runner.patch_trace(build["id"], build["token"], b"late", len(full))
    assert again.status_code == 403
    assert again.headers["Job-Status"] == "success"
    late_clone = git("clone", "-q", git_info["repo_url"], str(tmp_path / "late"), check=False)
    assert late_clone.returncode != 0
    api = requests.get(
        f"{web_url}/api/v4/projects/{project.id}/jobs/{build['id']}/artifacts",
        headers={"JOB-TOKEN": build["token"]},
        timeout=30,
    )
    assert api.status_code == 401
    assert api.json() == {"message": "401 Unauthorized"}

    # The next stage: pending now, and it receives the first job's artifacts.
    assert root.projects.get(project.id).jobs.get(jobs["test-job"].id).status == "pending"
    response = runner.request_job()
    assert response.status_code == 201, response.text
    test = response.json()
    assert test["job_info"]["name"] == "test-job"
    assert test["dependencies"] == [
        {
            "id": build["id"],
            "name": "build-job",
            "token": test["token"],
            "artifacts_file": {"filename": "artifacts.zip", "size": len(archive)},
        }
    ]
    assert variables_of(test)["TARGET"]["value"] == "hello-world"
    downloaded = runner.download_artifacts(build["id"], test["token"])
    assert downloaded.status_code == 200
    assert downloaded.content == archive

    log = b"hello\n"
    assert runner.patch_trace(test["id"], test["token"], log, 0).status_code == 202
    assert runner.update_job(test["id"], test["token"], "success", trace=log).status_code == 200

    done = root.projects.get(project.id).pipelines.get(pipeline.id)
    assert done.status == "success"
    assert done.finished_at is not None
    assert {j.name: j.status for j in done.jobs.list(get_all=True)} == {
        "build-job": "success",
        "test-job": "success",
    }
    # Served out of the archive, by path, as GitLab's artifacts/*path.
    job = root.projects.get(project.id).jobs.get(build["id"])
    assert job.artifacts_file["filename"] == "artifacts.zip"
    assert job.artifact("out.txt") == b"hello\n"


def test_a_runner_failing_a_job_fails_the_pipeline_and_skips_the_next_stage(
    root: gitlab.Gitlab, web_url: str, tmp_path: Path
) -> None:
    root.projects.create({"name": "failing"})
    work = make_repo(tmp_path / "w", {".gitlab-ci.yml": TWO_STAGES})
    git("push", "-q", authed(f"{web_url}/root/failing.git", "root", ROOT_TOKEN), "main", cwd=work)
    runner = RunnerClient(
        web_url,
        root.user.runners.create({"runner_type": "instance_type", "tag_list": "linux"}).token,
    )
    build = runner.request_job().json()
    failed = runner.update_job(
        build["id"], build["token"], "failed", exit_code=3, failure_reason="script_failure"
    )
    assert failed.status_code == 200
    project = root.projects.get("root/failing")
    pipeline = project.pipelines.list()[0]
    assert pipeline.status == "failed"
    jobs = {j.name: j for j in pipeline.jobs.list()}
    assert jobs["build-job"].failure_reason == "script_failure"
    assert jobs["test-job"].status == "skipped"
    assert runner.request_job().status_code == 204
