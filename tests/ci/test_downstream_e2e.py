"""Downstream pipelines end to end: a git push, the real `kiln runner`, python-gitlab.

A parent pipeline generates a child configuration as an artifact and triggers it (a dynamic
child pipeline) next to a child from a local file that fails; with `strategy: depend` the
bridges take their children's statuses and the parent fails. `/bridges` links each bridge to
its child; child pipelines say `parent_pipeline` (pipeline JSON and CI_PIPELINE_SOURCE) and
are listed only when asked for by that source. Then: canceling the parent cancels a waiting
child, retrying a bridge creates a new child, a manual bridge plays through the jobs API,
multi-project triggers (allowed, and to someone else's private project, which never shows),
and the lint endpoint on trigger jobs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.ci.real_runner import real_runner
from tests.conftest import ROOT_TOKEN, client
from tests.support.git import authed, git, make_repo

pytestmark = pytest.mark.slow

PARENT = """\
stages: [generate, trigger]

variables:
  GREETING: hello

generate:
  stage: generate
  script:
    - mkdir -p out
    - printf 'dynamic:\\n  script:\\n' > out/child.yml
    - printf '    - echo "dynamic says $GREETING from $CI_PIPELINE_SOURCE"\\n' >> out/child.yml
  artifacts:
    paths: [out/]

dynamic:
  stage: trigger
  variables:
    UPSTREAM_ID: $CI_PIPELINE_ID
  trigger:
    include:
      - artifact: out/child.yml
        job: generate
    strategy: depend

local-child:
  stage: trigger
  trigger:
    include: ci/failing.yml
    strategy: depend
"""
FAILING = """\
fails:
  script:
    - echo "failing child says $GREETING"
    - exit 3
"""


def _wait(predicate: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def _push(url: str, tmp_path: Path, path: str, files: dict[str, str]) -> None:
    work = make_repo(tmp_path / path.replace("/", "-"), files)
    git("push", "-q", authed(f"{url}/{path}.git", "root", ROOT_TOKEN), "main", cwd=work)


def _trace(project: Any, job_id: int) -> str:
    return project.jobs.get(job_id).trace().decode()


def test_dynamic_and_local_children_with_the_real_runner(git_url: str, tmp_path: Path) -> None:
    gl = client(git_url, ROOT_TOKEN)
    gl.auth()
    project = gl.projects.create({"name": "parent", "visibility": "private"})
    _push(git_url, tmp_path, "root/parent", {".gitlab-ci.yml": PARENT, "ci/failing.yml": FAILING})
    [parent] = project.pipelines.list(get_all=True)
    with real_runner(gl, git_url, description="downstream") as runner:
        _wait(lambda: project.pipelines.get(parent.id).status in ("success", "failed"), 120)
        log = runner.output()
    parent = project.pipelines.get(parent.id)
    assert parent.status == "failed", log
    bridges = {b.name: b for b in parent.bridges.list(get_all=True)}
    assert {n: b.status for n, b in bridges.items()} == {
        "dynamic": "success",
        "local-child": "failed",
    }
    dynamic = bridges["dynamic"].downstream_pipeline
    failing = bridges["local-child"].downstream_pipeline
    assert (dynamic["status"], failing["status"]) == ("success", "failed")
    assert (dynamic["source"], dynamic["sha"]) == ("parent_pipeline", parent.sha)
    assert dynamic["web_url"].endswith(f"/root/parent/-/pipelines/{dynamic['id']}")
    assert "downstream_pipeline" in bridges["dynamic"].attributes
    assert "artifacts" not in bridges["dynamic"].attributes  # GitLab's JobBasic
    assert bridges["local-child"].failure_reason == "unknown_failure"

    # The children ran their jobs: the dynamic one with the parent's variables.
    child = project.pipelines.get(dynamic["id"])
    assert child.source == "parent_pipeline"
    [job] = child.jobs.list(get_all=True)
    assert "dynamic says hello from parent_pipeline" in _trace(project, job.id)
    variables = {v.key: v.value for v in child.variables.list(get_all=True)}
    assert variables == {"GREETING": "hello", "UPSTREAM_ID": str(parent.id)}
    [failed_job] = project.pipelines.get(failing["id"]).jobs.list(get_all=True)
    assert "failing child says hello" in _trace(project, failed_job.id)

    # Child pipelines are listed only by their source (GitLab's PipelinesFinder).
    assert [p.id for p in project.pipelines.list(get_all=True)] == [parent.id]
    children = project.pipelines.list(source="parent_pipeline", get_all=True)
    assert sorted(p.id for p in children) == sorted([dynamic["id"], failing["id"]])


WAITING = """\
trigger:
  trigger:
    include: child.yml
    strategy: depend
manual-bridge:
  when: manual
  trigger:
    include: child.yml
"""
CHILD_NO_RUNNER = """\
waits:
  tags: [no-such-runner]
  script: [echo never]
"""


def test_cancel_retry_and_play_through_the_api(git_url: str, tmp_path: Path) -> None:
    gl = client(git_url, ROOT_TOKEN)
    gl.auth()
    project = gl.projects.create({"name": "waiting", "visibility": "private"})
    _push(
        git_url, tmp_path, "root/waiting", {".gitlab-ci.yml": WAITING, "child.yml": CHILD_NO_RUNNER}
    )
    [parent] = project.pipelines.list(get_all=True)
    bridges = {b.name: b for b in parent.bridges.list(get_all=True)}
    assert bridges["trigger"].status == "running"
    assert bridges["manual-bridge"].status == "manual"
    assert bridges["manual-bridge"].downstream_pipeline is None
    child_id = bridges["trigger"].downstream_pipeline["id"]
    assert project.pipelines.get(child_id).status == "pending"

    # Playing the manual bridge creates its child as the player.
    played = gl.http_post(f"/projects/{project.id}/jobs/{bridges['manual-bridge'].id}/play")
    assert played["status"] == "success"
    assert played["downstream_pipeline"]["source"] == "parent_pipeline"

    # Canceling the parent cancels the children that still run.
    project.pipelines.get(parent.id).cancel()
    assert project.pipelines.get(child_id).status == "canceled"
    assert project.pipelines.get(parent.id).status == "canceled"

    # Retrying the bridge creates a new child pipeline; the old bridge keeps the old one.
    bridge_id = bridges["trigger"].id
    retried = gl.http_post(f"/projects/{project.id}/jobs/{bridge_id}/retry")
    assert retried["id"] != bridge_id
    current = {b.name: b for b in project.pipelines.get(parent.id).bridges.list(get_all=True)}
    new_child = current["trigger"].downstream_pipeline
    assert new_child["id"] != child_id
    assert new_child["status"] == "pending"
    assert current["trigger"].status == "running"


def test_multi_project_triggers_and_private_projects(
    git_url: str, tmp_path: Path, make_user: Any
) -> None:
    gl = client(git_url, ROOT_TOKEN)
    gl.auth()
    # Someone else's private project: a bridge pointing there fails exactly as one pointing
    # at nothing, and nothing is created there.
    other, other_gl = make_user("stranger")
    secret = other_gl.projects.create({"name": "secret", "visibility": "private"})
    _, mine = make_user("dev")
    mine.auth()
    downstream = mine.projects.create({"name": "downstream", "visibility": "private"})
    upstream = mine.projects.create({"name": "upstream", "visibility": "private"})
    other_gl.projects.get(secret.id).files.create(
        {"file_path": ".gitlab-ci.yml", "branch": "main", "content": "a:\n  script: [x]\n",
         "commit_message": "ci"}
    )  # fmt: skip
    mine.projects.get(downstream.id).files.create(
        {"file_path": ".gitlab-ci.yml", "branch": "main",
         "content": "down:\n  script: [echo $FROM_UP]\n", "commit_message": "ci"}
    )  # fmt: skip
    secret_pipelines = len(other_gl.projects.get(secret.id).pipelines.list(get_all=True))
    config = (
        "to-secret:\n  trigger: stranger/secret\n"
        "to-nothing:\n  trigger: {project: stranger/nothing-here}\n"
        "to-mine:\n  variables: {FROM_UP: up}\n"
        "  trigger: {project: dev/downstream, branch: main, strategy: depend}\n"
    )
    mine.projects.get(upstream.id).files.create(
        {"file_path": ".gitlab-ci.yml", "branch": "main", "content": config,
         "commit_message": "ci"}
    )  # fmt: skip
    [pipeline] = mine.projects.get(upstream.id).pipelines.list(get_all=True)
    bridges = {b.name: b for b in pipeline.bridges.list(get_all=True)}
    assert bridges["to-secret"].status == "failed"
    assert bridges["to-secret"].failure_reason == "downstream_bridge_project_not_found"
    assert bridges["to-nothing"].failure_reason == "downstream_bridge_project_not_found"
    assert bridges["to-secret"].downstream_pipeline is None
    assert len(other_gl.projects.get(secret.id).pipelines.list(get_all=True)) == secret_pipelines

    down = bridges["to-mine"].downstream_pipeline
    assert bridges["to-mine"].status == "running"
    assert (down["project_id"], down["source"], down["ref"]) == (downstream.id, "pipeline", "main")
    child = mine.projects.get(downstream.id).pipelines.get(down["id"])
    assert {v.key: v.value for v in child.variables.list()} == {"FROM_UP": "up"}
    # Multi-project pipelines are in the default list (only child pipelines are left out).
    listed = [p.id for p in mine.projects.get(downstream.id).pipelines.list(get_all=True)]
    assert down["id"] in listed
    # Someone who may read the upstream project but not the downstream one sees no link.
    mine.projects.get(upstream.id).members.create({"user_id": other.id, "access_level": 20})
    seen = other_gl.projects.get(upstream.id).pipelines.get(pipeline.id).bridges.list()
    assert {b.name: b.downstream_pipeline for b in seen}["to-mine"] is None


def test_lint_validates_trigger_jobs(git_url: str) -> None:
    gl = client(git_url, ROOT_TOKEN)
    project = gl.projects.create({"name": "lint-trigger", "visibility": "private"})
    good = project.ci_lint.create(
        {"content": "t:\n  trigger:\n    include: child.yml\n    strategy: depend\n",
         "include_jobs": True}
    )  # fmt: skip
    assert good.valid is True, good.errors
    bad = project.ci_lint.create(
        {"content": "t:\n  trigger:\n    include: child.yml\n    strategy: eventually\n"}
    )
    assert bad.valid is False
    assert bad.errors == ["jobs:t:trigger strategy should be depend or mirror"]
    unknown = project.ci_lint.create({"content": "t:\n  trigger:\n    include: a.yml\n    x: 1\n"})
    assert unknown.errors == ["jobs:t:trigger config contains unknown keys: x"]
