"""Resource groups through python-gitlab (GitLab's `doc/api/resource_groups.md`): a job of a
group waits in `waiting_for_resource` while another job of the group holds the resource and
gets it when that job completes or is canceled; `process_mode` decides who is next. Jobs are
taken and finished through the queue and job services, as a runner's calls would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gitlab
import pytest
from django.db import transaction
from django.utils import timezone

from kiln.ci import statuses as st
from kiln.ci.models import Job, Pipeline, ResourceGroup
from kiln.ci.processing import process_pipeline
from tests.ci.builders import finish, instance_runner, latest_pipeline, project_with_ci, take
from tests.projects import builders as b

MakeUser = Callable[..., tuple[Any, gitlab.Gitlab]]

CONFIG = """\
stages: [build, deploy]

build:
  stage: build
  script: [echo build]

deploy:
  stage: deploy
  script: [echo deploy]
  resource_group: production-$CI_COMMIT_REF_SLUG
  environment: production
"""
KEY = "production-main"


def _job(pipeline: Pipeline | int, name: str) -> Job:
    return Job.objects.get(pipeline=pipeline, name=name, retried=False)


def _status(pipeline: Pipeline | int, name: str) -> str:
    return _job(pipeline, name).status


def _run(job: Job, state: str = st.SUCCESS) -> None:
    """Run this very job (a runner takes the oldest pending job; these tests choose)."""
    with transaction.atomic():
        started = Job.objects.filter(pk=job.pk, status=st.PENDING).update(
            status=st.RUNNING, started_at=timezone.now()
        )
        assert started == 1, f"{job.name} is not pending"
        process_pipeline(job.pipeline_id)
    finish(Job.objects.get(pk=job.pk), state)


@pytest.fixture
def setup(gl: gitlab.Gitlab) -> tuple[Any, Any, Pipeline, Pipeline]:
    root = b.root_user()
    project = project_with_ci(root, CONFIG, name=b.unique("rg"))
    first = latest_pipeline(project)
    assert first is not None
    api_project = gl.projects.get(project.pk)
    # Same commit: the second pipeline does not auto-cancel the first.
    second = Pipeline.objects.get(pk=api_project.pipelines.create({"ref": "main"}).id)
    return project, api_project, first, second


def test_a_second_job_waits_for_the_resource(
    setup: tuple[Any, Any, Pipeline, Pipeline],
) -> None:
    project, api_project, first, second = setup
    runner = instance_runner()
    [group] = api_project.resource_groups.list()
    assert (group.key, group.process_mode) == (KEY, "unordered")
    assert set(group.attributes) - {"project_id"} == {
        "id", "key", "process_mode", "created_at", "updated_at"
    }  # fmt: skip

    _run(_job(first, "build"))
    assert _status(first, "deploy") == st.PENDING
    _run(_job(second, "build"))
    assert _status(second, "deploy") == st.WAITING_FOR_RESOURCE
    waiting = api_project.jobs.get(_job(second, "deploy").pk)
    assert waiting.status == "waiting_for_resource"
    assert api_project.pipelines.get(second.pk).status == "waiting_for_resource"
    upcoming = api_project.resource_groups.get(KEY).upcoming_jobs.list()
    assert [j.id for j in upcoming] == [waiting.id]
    assert "artifacts" not in upcoming[0].attributes  # JobBasic
    current = api_project.manager.gitlab.http_get(
        f"/projects/{project.pk}/resource_groups/{KEY}/current_job"
    )
    assert current["id"] == _job(first, "deploy").pk

    # The runner only ever sees the holder; when it finishes, the next job gets the resource.
    deploy = take(runner).job
    assert deploy.pk == _job(first, "deploy").pk
    assert take_none(runner)
    finish(deploy)
    assert _status(second, "deploy") == st.PENDING
    assert api_project.pipelines.get(second.pk).status == "running"
    assert ResourceGroup.objects.get(key=KEY).holder_id == _job(second, "deploy").pk

    # Canceling the holder hands the resource on as well.
    third = Pipeline.objects.get(pk=api_project.pipelines.create({"ref": "main"}).id)
    _run(_job(third, "build"))
    assert _status(third, "deploy") == st.WAITING_FOR_RESOURCE
    api_project.jobs.get(_job(second, "deploy").pk, lazy=True).cancel()
    assert _status(second, "deploy") == st.CANCELED
    assert _status(third, "deploy") == st.PENDING
    finish(take(runner).job)
    assert ResourceGroup.objects.get(key=KEY).holder_id is None
    statuses = [d.status for d in api_project.deployments.list(order_by="id")]
    assert statuses == ["success", "canceled", "success"]


def take_none(runner: Any) -> bool:
    from kiln.ci.queue import assign_next_job

    return assign_next_job(runner) is None


def test_oldest_first_waits_for_the_oldest_pipeline(
    setup: tuple[Any, Any, Pipeline, Pipeline],
) -> None:
    _, api_project, first, second = setup
    group = api_project.resource_groups.get(KEY)
    group.process_mode = "oldest_first"
    group.save()
    assert api_project.resource_groups.get(KEY).process_mode == "oldest_first"

    # The newer pipeline's job is ready first, but the older one's is upcoming: it waits.
    _run(_job(second, "build"))
    assert _status(second, "deploy") == st.WAITING_FOR_RESOURCE
    upcoming = [j.id for j in api_project.resource_groups.get(KEY).upcoming_jobs.list()]
    assert upcoming == [_job(first, "deploy").pk, _job(second, "deploy").pk]
    assert ResourceGroup.objects.get(key=KEY).holder_id is None
    _run(_job(first, "build"))
    assert _status(first, "deploy") == st.PENDING
    assert _status(second, "deploy") == st.WAITING_FOR_RESOURCE
    _run(_job(first, "deploy"))
    assert _status(second, "deploy") == st.PENDING


def test_newest_first_and_unordered(setup: tuple[Any, Any, Pipeline, Pipeline]) -> None:
    _, api_project, first, second = setup
    group = api_project.resource_groups.get(KEY)
    group.process_mode = "newest_first"
    group.save()
    third = Pipeline.objects.get(pk=api_project.pipelines.create({"ref": "main"}).id)
    _run(_job(first, "build"))
    # The newest pipeline's job is upcoming (created): the first waits for it.
    assert _status(first, "deploy") == st.WAITING_FOR_RESOURCE
    _run(_job(second, "build"))
    _run(_job(third, "build"))
    assert _status(third, "deploy") == st.PENDING
    _run(_job(third, "deploy"))
    assert _status(second, "deploy") == st.PENDING
    assert _status(first, "deploy") == st.WAITING_FOR_RESOURCE
    # The next newest waiting job, then the oldest.
    _run(_job(second, "deploy"))
    assert _status(first, "deploy") == st.PENDING


def test_resource_group_permissions_and_input(
    setup: tuple[Any, Any, Pipeline, Pipeline], make_user: MakeUser, gl: gitlab.Gitlab
) -> None:
    project, api_project, _, _ = setup
    reporter, reporter_gl = make_user("rg-reporter")
    developer, developer_gl = make_user("rg-developer")
    _, outsider_gl = make_user("rg-outsider")
    api_project.members.create({"user_id": reporter.pk, "access_level": 20})
    api_project.members.create({"user_id": developer.pk, "access_level": 30})
    with pytest.raises(gitlab.GitlabGetError) as forbidden:
        reporter_gl.projects.get(project.pk, lazy=True).resource_groups.get(KEY)
    assert forbidden.value.response_code == 403
    with pytest.raises(gitlab.GitlabGetError) as hidden:
        outsider_gl.projects.get(project.pk, lazy=True).resource_groups.get(KEY)
    assert hidden.value.response_code == 404
    as_developer = developer_gl.projects.get(project.pk, lazy=True).resource_groups.get(KEY)
    as_developer.process_mode = "newest_ready_first"
    as_developer.save()
    assert ResourceGroup.objects.get(key=KEY).process_mode == "newest_ready_first"

    for bad in ("bogus", "", "oldest_first; DROP TABLE"):
        with pytest.raises(gitlab.GitlabUpdateError) as refused:
            api_project.resource_groups.update(KEY, {"process_mode": bad})
        assert refused.value.response_code == 400
    assert ResourceGroup.objects.get(key=KEY).process_mode == "newest_ready_first"
    for key in ("nope", "..%2F..", "production-main%00"):
        with pytest.raises(gitlab.GitlabHttpError) as missing:
            gl.http_get(f"/projects/{project.pk}/resource_groups/{key}")
        assert missing.value.response_code in (400, 404)


def test_an_invalid_key_runs_the_job_without_a_group(seeded: None) -> None:
    root = b.root_user()
    config = "deploy:\n  script: [echo]\n  resource_group: 'bad/'\n"
    project = project_with_ci(root, config, name=b.unique("rgbad"))
    pipeline = latest_pipeline(project)
    assert pipeline is not None
    job = _job(pipeline, "deploy")
    assert job.resource_group_id is None
    assert job.status == st.PENDING
    assert not ResourceGroup.objects.filter(project=project).exists()
