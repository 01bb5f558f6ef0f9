"""CI and merge requests, end to end: the merge request shows its head pipeline (GitLab's
`pipeline` and `head_pipeline`), "pipelines must succeed" blocks the merge while it runs, and
`merge_when_pipeline_succeeds` merges once the real `kiln runner` finished it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.ci.real_runner import real_runner
from tests.conftest import ROOT_TOKEN, client
from tests.support.git import authed, git, make_repo

pytestmark = pytest.mark.slow

CI = """\
test:
  script:
    - echo "testing $CI_COMMIT_REF_NAME"
"""


def _wait(predicate: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_merge_when_pipeline_succeeds_merges_after_the_runner_ran_it(
    git_url: str, tmp_path: Path
) -> None:
    gl = client(git_url, ROOT_TOKEN)
    gl.auth()
    project = gl.projects.create(
        {
            "name": "mwps",
            "visibility": "private",
            "only_allow_merge_if_pipeline_succeeds": True,
        }
    )
    remote = authed(f"{git_url}/root/mwps.git", "root", ROOT_TOKEN)
    work = make_repo(tmp_path / "work", {".gitlab-ci.yml": CI, "README.md": "hi\n"})
    git("push", "-q", remote, "main", cwd=work)
    git("checkout", "-q", "-b", "feature", cwd=work)
    (work / "feature.txt").write_text("new\n")
    git("add", "feature.txt", cwd=work)
    git("commit", "-q", "-m", "Add a feature", cwd=work)
    git("push", "-q", remote, "feature", cwd=work)
    sha = git("rev-parse", "HEAD", cwd=work).stdout.strip()

    mr = project.mergerequests.create(
        {"source_branch": "feature", "target_branch": "main", "title": "Feature"}
    )
    mr = project.mergerequests.get(mr.iid)
    [feature_pipeline] = project.pipelines.list(ref="feature", get_all=True)
    assert mr.pipeline["id"] == feature_pipeline.id
    assert mr.pipeline["sha"] == sha
    assert mr.pipeline["status"] == "pending"
    assert mr.pipeline["project_id"] == project.id
    assert "before_sha" not in mr.pipeline  # PipelineBasic
    head = mr.head_pipeline
    assert head["id"] == feature_pipeline.id
    assert head["tag"] is False
    assert head["user"]["username"] == "root"
    assert head["detailed_status"]["group"] == "pending"

    # Pipelines must succeed: a plain merge is refused while it runs.
    with pytest.raises(Exception) as refused:  # noqa: PT011 (python-gitlab's error class)
        mr.merge()
    assert getattr(refused.value, "response_code", None) == 405
    mr.merge(merge_when_pipeline_succeeds=True, should_remove_source_branch=False)
    waiting = project.mergerequests.get(mr.iid)
    assert waiting.state == "opened"
    assert waiting.merge_when_pipeline_succeeds is True

    with real_runner(gl, git_url, description="mwps") as runner:
        merged = _wait(
            lambda: (m := project.mergerequests.get(mr.iid)).state == "merged" and m, 120
        )
        log = runner.output()
    assert merged.state == "merged", log
    assert merged.merge_when_pipeline_succeeds is False
    assert merged.head_pipeline["status"] == "success"
    assert project.pipelines.get(feature_pipeline.id).status == "success"
    main = project.branches.get("main")
    assert main.commit["id"] == merged.merge_commit_sha or main.commit["id"] == sha
