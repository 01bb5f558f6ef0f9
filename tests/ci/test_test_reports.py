"""JUnit reports: a job's `artifacts:reports:junit`, uploaded by the real `kiln runner`, read
into GitLab's pipeline test report and its summary; hostile reports answer with a suite
error, never a 500."""

from __future__ import annotations

import gzip
import time
from pathlib import Path
from typing import Any

import gitlab
import pytest

from kiln.ci import storage
from kiln.ci.models import Job, JobArtifact
from tests.ci.builders import latest_pipeline, project_with_ci
from tests.ci.real_runner import real_runner
from tests.conftest import ROOT_TOKEN, client
from tests.projects import builders as b
from tests.support.git import authed, git, make_repo

REPORT_A = """<?xml version="1.0"?>
<testsuites>
  <testsuite name="unit" tests="3">
    <testcase classname="calc" name="adds" time="0.5" file="calc_test.py"/>
    <testcase classname="calc" name="divides" time="0.25">
      <failure message="ZeroDivisionError">Traceback: division by zero</failure>
    </testcase>
    <testcase classname="calc" name="later" time="0"><skipped message="not yet"/></testcase>
  </testsuite>
</testsuites>
"""
REPORT_B = """<testsuite name="io"><testcase classname="io" name="reads" time="1.25">
<error message="boom">stack</error></testcase></testsuite>
"""


def _wait(predicate: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


@pytest.mark.slow
def test_junit_report_from_the_real_runner(git_url: str, tmp_path: Path) -> None:
    gl = client(git_url, ROOT_TOKEN)
    gl.auth()
    project = gl.projects.create({"name": "junit", "visibility": "private"})
    config = (
        "test:\n"
        "  script:\n"
        "    - mkdir -p reports\n"
        "    - cp ci/a.xml ci/b.xml reports/\n"
        "  artifacts:\n"
        "    reports:\n"
        "      junit: reports/*.xml\n"
    )
    work = make_repo(
        tmp_path / "work",
        {".gitlab-ci.yml": config, "ci/a.xml": REPORT_A, "ci/b.xml": REPORT_B},
    )
    git("push", "-q", authed(f"{git_url}/root/junit.git", "root", ROOT_TOKEN), "main", cwd=work)
    with real_runner(gl, git_url, description="junit") as runner:
        pipeline = _wait(
            lambda: (
                (p := project.pipelines.list(get_all=True))
                and p[0].status in ("success", "failed")
                and p[0]
            ),
            120,
        )
        log = runner.output()
    assert pipeline.status == "success", log
    report = project.pipelines.get(pipeline.id).test_report.get()
    assert (report.total_count, report.success_count, report.failed_count) == (4, 1, 1)
    assert (report.skipped_count, report.error_count) == (1, 1)
    assert report.total_time == 2.0
    [suite] = report.test_suites
    assert suite["name"] == "test"
    cases = {case["name"]: case for case in suite["test_cases"]}
    assert cases["adds"]["status"] == "success"
    assert cases["adds"]["file"] == "calc_test.py"
    assert cases["divides"]["status"] == "failed"
    assert cases["divides"]["system_output"] == "ZeroDivisionError"
    assert "division by zero" in cases["divides"]["stack_trace"]
    assert cases["later"]["status"] == "skipped"
    assert cases["reads"]["status"] == "error"
    summary = project.pipelines.get(pipeline.id).test_report_summary.get()
    assert summary.total == {
        "time": 2.0, "count": 4, "success": 1, "failed": 1, "skipped": 1, "error": 1,
        "suite_error": None,
    }  # fmt: skip
    [entry] = summary.test_suites
    job = project.jobs.list(get_all=True)[0]
    assert entry["build_ids"] == [job.id]
    assert entry["total_count"] == 4


def _store(job: Job, data: bytes) -> None:
    relative = storage.new_artifact_path(job.project_id, job.pk, "junit")
    target = storage.artifact_file(relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    JobArtifact.objects.update_or_create(
        job=job,
        file_type="junit",
        defaults={
            "project_id": job.project_id,
            "file_format": "gzip",
            "filename": "junit.xml.gz",
            "storage_path": relative,
        },
    )


def test_hostile_junit_reports_give_a_suite_error(gl: gitlab.Gitlab) -> None:
    root = b.root_user()
    model = project_with_ci(root, "a:\n  script: [x]\nb:\n  script: [y]\n", name=b.unique("j"))
    pipeline = latest_pipeline(model)
    assert pipeline is not None
    job_a, job_b = Job.objects.filter(pipeline=pipeline).order_by("name")
    entities = "<!DOCTYPE x [<!ENTITY a 'aaaa'>]><testsuite><testcase name='&a;'/></testsuite>"
    _store(job_a, gzip.compress(entities.encode()))
    # A member that inflates far past the cap (a zip bomb) and garbage after a good member.
    bomb = gzip.compress(b"<testsuite>" + b" " * (40 * 1024 * 1024) + b"</testsuite>")
    _store(job_b, bomb)
    project = gl.projects.get(model.pk)
    report = project.pipelines.get(pipeline.pk).test_report.get()
    errors = {suite["name"]: suite["suite_error"] for suite in report.test_suites}
    assert "DTD" in errors["a"]
    assert "too large" in errors["b"]
    assert report.total_count == 0

    _store(job_b, gzip.compress(REPORT_B.encode()) + b"not gzip at all")
    summary = project.pipelines.get(pipeline.pk).test_report_summary.get()
    suites = {suite["name"]: suite for suite in summary.test_suites}
    assert suites["b"]["error_count"] == 1
    assert suites["b"]["suite_error"] is not None  # the trailing garbage is reported
    assert summary.total["count"] == 1

    # An empty pipeline report.
    other = project_with_ci(root, "c:\n  script: [z]\n", name=b.unique("j"))
    empty = gl.projects.get(other.pk).pipelines.get(latest_pipeline(other).pk).test_report.get()
    assert (empty.total_count, empty.test_suites) == (0, [])
