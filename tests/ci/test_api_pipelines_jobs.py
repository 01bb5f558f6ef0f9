"""Pipelines and jobs through python-gitlab (GitLab's `doc/api/pipelines.md`, `jobs.md`,
`job_artifacts.md`, `lint.md`): shapes, filters, actions, permissions, query budgets."""

from __future__ import annotations

from typing import Any

import gitlab
import pytest
import requests
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kiln.ci.models import Job
from tests.ci.builders import (
    commit,
    finish,
    instance_runner,
    latest_pipeline,
    project_with_ci,
    take,
)
from tests.conftest import ROOT_TOKEN
from tests.projects import builders as b

CONFIG = """\
stages: [build, test, deploy]
build:
  stage: build
  script: [make]
  artifacts:
    paths: [out/]
test:
  stage: test
  script: [make test]
deploy:
  stage: deploy
  script: [make deploy]
  when: manual
"""


@pytest.fixture
def setup(gl: gitlab.Gitlab) -> tuple[Any, Any, Any]:
    root = b.root_user()
    project = project_with_ci(root, CONFIG, name="Api")
    pipeline = latest_pipeline(project)
    return root, gl.projects.get(project.pk), pipeline


def test_pipeline_entities_and_filters(setup: tuple[Any, Any, Any], gl: gitlab.Gitlab) -> None:
    _, project, pipeline = setup
    listed = project.pipelines.list(get_all=True)
    assert [p.id for p in listed] == [pipeline.pk]
    entity = listed[0].attributes
    assert set(entity) >= {
        "id",
        "iid",
        "project_id",
        "sha",
        "ref",
        "status",
        "source",
        "created_at",
        "updated_at",
        "web_url",
    }
    assert entity["web_url"].endswith(f"/root/api/-/pipelines/{pipeline.pk}")
    detail = project.pipelines.get(pipeline.pk)
    assert detail.user["username"] == "root"
    assert detail.detailed_status["group"] == "pending"
    assert detail.yaml_errors is None
    assert detail.before_sha == "0" * 40
    assert detail.tag is False
    assert project.pipelines.list(status="success") == []
    assert len(project.pipelines.list(ref="main")) == 1
    assert project.pipelines.list(ref="other") == []
    assert len(project.pipelines.list(scope="pending")) == 1
    assert project.pipelines.list(source="web") == []
    latest = gl.http_get(f"/projects/{project.id}/pipelines/latest")
    assert latest["id"] == pipeline.pk
    missing = requests.get(
        f"{gl.api_url}/projects/{project.id}/pipelines/999999",
        headers={"PRIVATE-TOKEN": ROOT_TOKEN},
        timeout=30,
    )
    assert missing.status_code == 404
    assert missing.json() == {"message": "404 Not found"}


def test_create_pipeline_with_variables_and_errors(setup: tuple[Any, Any, Any]) -> None:
    _, project, _ = setup
    created = project.pipelines.create(
        {"ref": "main", "variables": [{"key": "EXTRA", "value": "1", "variable_type": "env_var"}]}
    )
    assert created.source == "api"
    assert created.status == "pending"
    assert [v.key for v in created.variables.list()] == ["EXTRA"]
    runner = instance_runner()
    assignment = take(runner)
    assert assignment.job.pipeline_id in (created.id, latest_pipeline_id(project.id))
    with pytest.raises(gitlab.GitlabCreateError) as error:
        project.pipelines.create({"ref": "no-such-branch"})
    assert error.value.response_code == 400
    assert error.value.error_message == {"base": ["Reference not found"]}


def latest_pipeline_id(project_id: int) -> int:
    from kiln.ci.models import Pipeline

    return Pipeline.objects.filter(project_id=project_id).order_by("pk").first().pk  # type: ignore[union-attr]


def test_job_entities_actions_and_trace(setup: tuple[Any, Any, Any]) -> None:
    _, project, pipeline = setup
    jobs = {j.name: j for j in project.pipelines.get(pipeline.pk).jobs.list(get_all=True)}
    assert {n: j.status for n, j in jobs.items()} == {
        "build": "pending",
        "test": "created",
        "deploy": "created",
    }
    build = jobs["build"]
    assert build.pipeline["id"] == pipeline.pk
    assert build.commit["id"] == pipeline.sha
    assert build.web_url.endswith(f"/root/api/-/jobs/{build.id}")
    assert build.runner is None
    runner = instance_runner(description="my runner")
    assignment = take(runner)
    from kiln.ci import storage

    storage.append_trace(assignment.job.pk, 0, b"line one\nline two\n")
    got = project.jobs.get(build.id)
    assert got.status == "running"
    assert got.runner["description"] == "my runner"
    assert got.trace() == b"line one\nline two\n"
    got.cancel()
    assert project.jobs.get(build.id).status == "canceled"
    retried = project.jobs.get(build.id).retry()
    assert retried["id"] != build.id
    assert retried["status"] == "pending"
    assert [j.id for j in project.pipelines.get(pipeline.pk).jobs.list(include_retried=True)] == [
        build.id,
        jobs["test"].id,
        jobs["deploy"].id,
        retried["id"],
    ]
    assert len(project.jobs.list(scope=["canceled"])) == 1
    assert len(project.jobs.list(scope=["pending", "canceled"])) == 2
    # Playing a job that is not manual: GitLab's 400.
    with pytest.raises(gitlab.GitlabJobPlayError) as error:
        project.jobs.get(jobs["test"].id).play()
    assert error.value.response_code == 400
    # Run to the manual job and play it.
    second = take(runner).job
    finish(second)
    finish(take(runner).job)
    deploy = project.jobs.get(jobs["deploy"].id)
    assert deploy.status == "manual"
    deploy.play()
    assert project.jobs.get(jobs["deploy"].id).status == "pending"
    erased = project.jobs.get(second.pk)
    erased.erase()
    assert project.jobs.get(second.pk).erased_at is not None
    assert project.jobs.get(second.pk).trace() == b""


def test_artifacts_by_job_and_by_ref(setup: tuple[Any, Any, Any], gl: gitlab.Gitlab) -> None:
    _, project, pipeline = setup
    runner = instance_runner()
    from kiln.ci import artifacts as artifact_services
    from tests.ci.runner_client import zip_bytes

    assignment = take(runner)
    archive = zip_bytes({"out/result.txt": b"42\n"})
    path = artifact_services.storage.upload_dir() / "manual-upload"
    path.write_bytes(archive)
    received = artifact_services._Received(path, "artifacts.zip", len(archive), "")
    artifact_services.store_artifact(
        assignment.job, received, artifact_type="archive", artifact_format="zip", expire_in=None
    )
    finish(assignment.job)
    job = project.jobs.get(assignment.job.pk)
    assert job.artifacts_file == {"filename": "artifacts.zip", "size": len(archive)}
    assert job.attributes["artifacts"][0]["file_type"] == "archive"
    assert job.artifacts() == archive
    assert job.artifact("out/result.txt") == b"42\n"
    finish(take(runner).job)
    # The pipeline has a blocking-free manual job left: it succeeded; by-ref downloads work.
    assert project.pipelines.get(pipeline.pk).status == "success"
    assert project.artifacts.download(ref_name="main", job="build") == archive
    assert project.artifacts.raw("main", "out/result.txt", "build") == b"42\n"
    with pytest.raises(gitlab.GitlabGetError):
        project.artifacts.download(ref_name="main", job="nope")


def test_lint(setup: tuple[Any, Any, Any]) -> None:
    _, project, _ = setup
    good = project.ci_lint.create({"content": "a:\n  script: [x]\n", "include_jobs": True})
    assert good.valid is True
    assert good.errors == []
    assert [j["name"] for j in good.jobs] == ["a"]
    bad = project.ci_lint.create({"content": "a:\n  scriptt: [x]\n"})
    assert bad.valid is False
    assert bad.errors == ["jobs a config should implement the script:, run:, or trigger: keyword"]
    current = project.ci_lint.get()
    assert current.valid is True
    assert current.merged_yaml == CONFIG


def test_permissions(setup: tuple[Any, Any, Any], make_user: Any) -> None:
    root, project, pipeline = setup
    from kiln.core.access import AccessLevel
    from kiln.core.actor import Actor
    from kiln.projects.members import add_member
    from kiln.projects.models import Project

    guest, guest_gl = make_user("ciguest")
    reporter, reporter_gl = make_user("cireporter")
    _, stranger_gl = make_user("cistranger")
    model = Project.objects.get(pk=project.id)
    add_member(
        actor=Actor.for_user(root), source=model, user_ref=guest.pk, access_level=AccessLevel.GUEST
    )
    add_member(
        actor=Actor.for_user(root),
        source=model,
        user_ref=reporter.pk,
        access_level=AccessLevel.REPORTER,
    )
    with pytest.raises(gitlab.GitlabListError) as unseen:
        stranger_gl.projects.get(project.id, lazy=True).pipelines.list()
    assert unseen.value.response_code == 404
    with pytest.raises(gitlab.GitlabListError) as forbidden:
        guest_gl.projects.get(project.id, lazy=True).pipelines.list()
    assert forbidden.value.response_code == 403
    as_reporter = reporter_gl.projects.get(project.id, lazy=True)
    assert len(as_reporter.pipelines.list()) == 1
    with pytest.raises(gitlab.GitlabCreateError) as refused:
        as_reporter.pipelines.create({"ref": "main"})
    assert refused.value.response_code == 403
    with pytest.raises(gitlab.GitlabPipelineCancelError):
        as_reporter.pipelines.get(pipeline.pk).cancel()


def test_delete_pipeline(setup: tuple[Any, Any, Any]) -> None:
    _, project, pipeline = setup
    project.pipelines.delete(pipeline.pk)
    assert not Job.objects.filter(pipeline_id=pipeline.pk).exists()
    with pytest.raises(gitlab.GitlabGetError):
        project.pipelines.get(pipeline.pk)


def test_list_query_budgets(gl: gitlab.Gitlab, server_url: str) -> None:
    root = b.root_user()
    project = project_with_ci(root, "a: {script: [x]}\nb: {script: [x]}\nc: {script: [x]}\n")
    for index in range(4):
        commit(root, project, {f"f{index}.txt": "x"})
    assert Job.objects.filter(project=project).count() >= 15
    runner = instance_runner()
    for _ in range(3):
        take(runner)

    client = Client()

    def count(path: str, per_page: int) -> int:
        client.get(f"/api/v4{path}", HTTP_PRIVATE_TOKEN=ROOT_TOKEN)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(
                f"/api/v4{path}", {"per_page": per_page}, HTTP_PRIVATE_TOKEN=ROOT_TOKEN
            )
        assert response.status_code == 200
        assert len(response.json()) == per_page
        return len(queries)

    pipeline = latest_pipeline(project)
    assert pipeline is not None
    assert count(f"/projects/{project.pk}/pipelines", 2) == count(
        f"/projects/{project.pk}/pipelines", 4
    )
    assert count(f"/projects/{project.pk}/jobs", 2) == count(f"/projects/{project.pk}/jobs", 12)
    jobs = f"/projects/{project.pk}/pipelines/{pipeline.pk}/jobs"
    assert count(jobs, 1) == count(jobs, 2)
