"""Environments and deployments through python-gitlab (GitLab's `doc/api/environments.md`,
`deployments.md`): jobs with `environment:` create their environment and a deployment that
follows the job, `on_stop` jobs are played when the environment is stopped through the API,
and the API's own deployments; permissions, 404s and hostile input. Jobs are taken and
finished through the queue and job services, as a runner's calls would."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import gitlab
import pytest
import requests
from django.utils import timezone

from kiln.ci import environments
from kiln.ci import statuses as st
from kiln.ci.models import Deployment, Environment, Job
from kiln.ci.predefined import job_variables
from kiln.ci.processing import process_pipeline
from tests.ci.builders import (
    commit,
    finish,
    instance_runner,
    latest_pipeline,
    project_with_ci,
    statuses,
    take,
)
from tests.conftest import ROOT_TOKEN
from tests.projects import builders as b

MakeUser = Callable[..., tuple[Any, gitlab.Gitlab]]

REVIEW = """\
stages: [build, deploy]

build:
  stage: build
  script: [echo build]

deploy_review:
  stage: deploy
  script: [echo deploy]
  environment:
    name: review/$CI_COMMIT_REF_SLUG
    url: https://$CI_COMMIT_REF_SLUG.review.example.com
    on_stop: stop_review
    auto_stop_in: 2 days

stop_review:
  stage: deploy
  script: [echo stop]
  when: manual
  environment:
    name: review/$CI_COMMIT_REF_SLUG
    action: stop
"""


def _job(pipeline: Any, name: str) -> Job:
    return Job.objects.get(pipeline=pipeline, name=name, retried=False)


def _api(server_url: str, method: str, path: str, token: str = ROOT_TOKEN, **kw: Any) -> Any:
    return requests.request(
        method,
        f"{server_url}/api/v4{path}",
        headers={"PRIVATE-TOKEN": token} if token else {},
        timeout=30,
        **kw,
    )


def test_slugs_and_tiers_are_gitlabs() -> None:
    assert environments.slug_for("production") == "production"
    assert environments.slug_for("review/fix-foo").startswith("review-fix-foo-")
    assert len(environments.slug_for("review/fix-foo")) == 21
    assert environments.slug_for("Review/Fix") != environments.slug_for("review/fix")
    long = environments.slug_for("a" * 40)
    assert long.startswith("a" * 17 + "-")
    assert len(long) == 24
    assert environments.slug_for("1st").startswith("env-1st-")
    assert environments.slug_for("prod-") == "prod"  # GitLab drops the trailing dash
    assert environments.guess_tier("review/foo") == "development"
    assert environments.guess_tier("QA") == "testing"
    assert environments.guess_tier("staging") == "staging"
    assert environments.guess_tier("Production") == "production"
    assert environments.guess_tier("moon") == "other"
    for bad in ("", "/x", "x/", "a\nb", "a@b", "x" * 256):
        assert environments.name_errors(bad), bad
    assert environments.name_errors("review/${X} 1.0") == []


def test_a_deploy_job_creates_its_environment_and_a_deployment(gl: gitlab.Gitlab) -> None:
    root = b.root_user()
    project = project_with_ci(root, REVIEW, name=b.unique("env"))
    runner = instance_runner()
    pipeline = latest_pipeline(project)
    assert pipeline is not None
    api_project = gl.projects.get(project.pk)

    [environment] = api_project.environments.list()
    assert environment.name == "review/main"
    assert environment.slug == environments.slug_for("review/main")
    assert environment.state == "available"
    assert environment.tier == "development"
    assert environment.external_url is None
    assert environment.project["id"] == project.pk
    [deployment] = api_project.deployments.list()
    assert (deployment.status, deployment.iid, deployment.ref) == ("created", 1, "main")
    assert deployment.sha == pipeline.sha
    assert deployment.environment["name"] == "review/main"
    assert deployment.deployable["name"] == "deploy_review"
    assert deployment.deployable["status"] == "created"
    assert deployment.user["username"] == "root"

    build = take(runner).job
    assert build.name == "build"
    finish(build)
    assignment = take(runner)
    deploy = assignment.job
    assert deploy.name == "deploy_review"
    assert api_project.deployments.get(deployment.id).status == "running"
    seen = {key: value for key, value, _ in job_variables(deploy, token="t", base_url="http://x")}
    assert seen["CI_ENVIRONMENT_NAME"] == "review/main"
    assert seen["CI_ENVIRONMENT_SLUG"] == environments.slug_for("review/main")
    assert seen["CI_ENVIRONMENT_TIER"] == "development"
    assert statuses(pipeline)["stop_review"] == "manual"
    finish(deploy)

    done = api_project.deployments.get(deployment.id)
    assert done.status == "success"
    assert done.deployable["id"] == deploy.pk
    assert done.deployable["status"] == "success"
    fetched = api_project.environments.get(environment.id)
    assert fetched.external_url == "https://main.review.example.com"
    assert fetched.last_deployment["id"] == deployment.id
    assert fetched.last_deployment["deployable"]["name"] == "deploy_review"
    auto_stop = dt.datetime.fromisoformat(fetched.auto_stop_at)
    assert dt.timedelta(days=1, hours=23) < auto_stop - timezone.now() <= dt.timedelta(days=2)
    # Only the deploy job deploys: the stop job has no deployment.
    assert Deployment.objects.filter(project=project).count() == 1

    # A second pipeline deploys again (iid 2); filters and ordering of the list.
    commit(root, project, {"README.md": "again\n"})
    second = latest_pipeline(project)
    assert second is not None
    assert second.pk != pipeline.pk
    finish(take(runner).job)
    finish(take(runner).job, st.FAILED)
    listed = api_project.deployments.list(order_by="iid", sort="desc")
    assert [(d.iid, d.status) for d in listed] == [(2, "failed"), (1, "success")]
    assert [d.iid for d in api_project.deployments.list(status="success")] == [1]
    assert [d.iid for d in api_project.deployments.list(environment="review/main")] == [1, 2]
    assert api_project.deployments.list(environment="nope") == []
    later = (timezone.now() + dt.timedelta(minutes=1)).isoformat()
    assert api_project.deployments.list(updated_after=later, order_by="updated_at") == []
    # The failed deployment leaves the environment as the last success made it.
    assert api_project.environments.get(environment.id).last_deployment["iid"] == 1
    # Retrying the failed deploy job makes a new deployment.
    failed = _job(second, "deploy_review")
    retried = gl.http_post(f"/projects/{project.pk}/jobs/{failed.pk}/retry")
    finish(take(runner).job)
    assert (
        api_project.deployments.list(order_by="id", sort="desc")[0].deployable["id"]
        == (retried["id"])
    )
    assert [d.iid for d in api_project.deployments.list(status="success")] == [1, 3]


def test_stopping_through_the_api_plays_the_stop_job(gl: gitlab.Gitlab) -> None:
    root = b.root_user()
    project = project_with_ci(root, REVIEW, name=b.unique("stop"))
    runner = instance_runner()
    pipeline = latest_pipeline(project)
    finish(take(runner).job)
    finish(take(runner).job)
    api_project = gl.projects.get(project.pk)
    [environment] = api_project.environments.list()

    # Deleting needs a stopped environment.
    with pytest.raises(gitlab.GitlabDeleteError) as refused:
        environment.delete()
    assert refused.value.response_code == 403

    environment.stop()
    stopping = api_project.environments.get(environment.id)
    assert stopping.state == "stopping"
    assert api_project.environments.list(states="stopping")[0].id == environment.id
    stop_job = _job(pipeline, "stop_review")
    assert stop_job.status == st.PENDING
    assert stop_job.user_id == root.pk
    assert take(runner).job.pk == stop_job.pk
    finish(stop_job)
    assert api_project.environments.get(environment.id).state == "stopped"
    assert api_project.environments.list(states="available") == []

    # A new deployment makes it available again; processing the old pipeline again (as any
    # change of its jobs does) does not stop it.
    commit(root, project, {"README.md": "redeploy\n"})
    again = latest_pipeline(project)
    finish(take(runner).job)
    finish(take(runner).job)
    assert api_project.environments.get(environment.id).state == "available"
    process_pipeline(pipeline.pk)  # type: ignore[union-attr]
    assert Environment.objects.get(pk=environment.id).state == "available"

    # A failing stop job leaves the environment available.
    api_project.environments.get(environment.id).stop()
    assert Environment.objects.get(pk=environment.id).state == "stopping"
    replay = take(runner).job
    assert (replay.pipeline_id, replay.name) == (again.pk, "stop_review")  # type: ignore[union-attr]
    finish(replay, st.FAILED)
    assert Environment.objects.get(pk=environment.id).state == "available"

    # force: stopped at once, without any job; then it can be deleted.
    api_project.environments.get(environment.id).stop(force=True)
    assert api_project.environments.get(environment.id).state == "stopped"
    api_project.environments.delete(environment.id)
    assert not Environment.objects.filter(pk=environment.id).exists()
    assert not Deployment.objects.filter(environment_id=environment.id).exists()


def test_environments_crud_and_api_deployments(gl: gitlab.Gitlab) -> None:
    root = b.root_user()
    project = b.project(root, b.unique("crud"))
    commit(root, project, {"README.md": "hi\n"})
    api_project = gl.projects.get(project.pk)
    created = api_project.environments.create(
        {"name": "production", "external_url": "https://example.com", "tier": "production"}
    )
    assert (created.slug, created.state, created.tier) == ("production", "available", "production")
    staging = api_project.environments.create({"name": "stage"})
    assert staging.tier == "staging"
    staging.external_url = "https://staging.example.com"
    staging.save()
    assert api_project.environments.get(staging.id).external_url == "https://staging.example.com"
    gl.http_put(f"/projects/{project.pk}/environments/{staging.id}", post_data={"tier": "other"})
    assert api_project.environments.get(staging.id).tier == "other"
    assert [e.name for e in api_project.environments.list(name="production")] == ["production"]
    assert [e.name for e in api_project.environments.list(search="tag")] == ["stage"]
    assert api_project.environments.get(created.id).last_deployment is None

    sha = project_head(project)
    deployment = api_project.deployments.create(
        {"environment": "canary", "sha": sha, "ref": "main", "tag": False, "status": "running"}
    )
    assert (deployment.status, deployment.deployable, deployment.iid) == ("running", None, 1)
    canary = api_project.environments.list(name="canary")[0]
    assert canary.tier == "other"
    deployment.status = "success"
    deployment.save()
    fetched = api_project.deployments.get(deployment.id)
    assert fetched.status == "success"
    assert api_project.environments.get(canary.id).last_deployment["id"] == deployment.id

    # An environment stopped without a stop job; a new successful deployment restarts it.
    api_project.environments.get(canary.id).stop()
    assert api_project.environments.get(canary.id).state == "stopped"
    api_project.deployments.create(
        {"environment": "canary", "sha": sha, "ref": "main", "tag": False, "status": "success"}
    )
    assert api_project.environments.get(canary.id).state == "available"


def project_head(project: Any) -> str:
    from kiln.repositories.storage import repo_path, store

    sha = store().resolve_revision(relative_path=repo_path(project), revision="main")
    assert sha is not None
    return sha


def test_bad_environment_names_fail_the_job(seeded: None) -> None:
    root = b.root_user()
    config = """\
variables:
  BAD: "a@b"
deploy:
  script: [echo deploy]
  environment:
    name: review/$BAD
other:
  script: [echo fine]
  environment: review/$UNDEFINED
ok:
  script: [echo ok]
  environment: good
"""
    project = project_with_ci(root, config, name=b.unique("badenv"))
    pipeline = latest_pipeline(project)
    deploy = _job(pipeline, "deploy")
    assert (deploy.status, deploy.failure_reason) == (st.FAILED, "environment_creation_failure")
    other = _job(pipeline, "other")
    assert (other.status, other.failure_reason) == (st.FAILED, "environment_creation_failure")
    assert _job(pipeline, "ok").status == st.PENDING
    assert list(Environment.objects.filter(project=project).values_list("name", flat=True)) == [
        "good"
    ]
    assert pipeline is not None
    pipeline.refresh_from_db()
    assert pipeline.status == st.RUNNING


def test_permissions_and_missing_things(
    gl: gitlab.Gitlab, server_url: str, make_user: MakeUser
) -> None:
    root = b.root_user()
    project = project_with_ci(root, REVIEW, name=b.unique("perm"))
    environment = Environment.objects.get(project=project)
    deployment = Deployment.objects.get(project=project)
    reporter, reporter_gl = make_user("env-reporter")
    developer, developer_gl = make_user("env-developer")
    _, outsider_gl = make_user("env-outsider")
    members = gl.projects.get(project.pk, lazy=True).members
    members.create({"user_id": reporter.pk, "access_level": 20})
    members.create({"user_id": developer.pk, "access_level": 30})
    base = f"/projects/{project.pk}"

    # Private project: an outsider sees nothing, anyone unauthenticated gets 401.
    for path in (
        "/environments",
        f"/environments/{environment.pk}",
        "/deployments",
        f"/deployments/{deployment.pk}",
        "/resource_groups",
    ):
        with pytest.raises(gitlab.GitlabHttpError) as hidden:
            outsider_gl.http_get(base + path)
        assert hidden.value.response_code == 404, path
        assert _api(server_url, "GET", base + path, token="").status_code == 401

    # Reporter reads, cannot write.
    as_reporter = reporter_gl.projects.get(project.pk, lazy=True)
    assert [e.name for e in as_reporter.environments.list()] == ["review/main"]
    assert as_reporter.deployments.get(deployment.pk).id == deployment.pk
    with pytest.raises(gitlab.GitlabCreateError) as refused:
        as_reporter.environments.create({"name": "mine"})
    assert refused.value.response_code == 403
    with pytest.raises(gitlab.GitlabStopError) as refused_stop:
        as_reporter.environments.get(environment.pk, lazy=True).stop()
    assert refused_stop.value.response_code == 403
    with pytest.raises(gitlab.GitlabListError) as refused_groups:
        as_reporter.resource_groups.list()
    assert refused_groups.value.response_code == 403
    assert Environment.objects.get(pk=environment.pk).state == "available"

    # Developer creates, stops (the stop job is not playable yet: stopped at once), deletes.
    as_developer = developer_gl.projects.get(project.pk, lazy=True)
    mine = as_developer.environments.create({"name": "mine"})
    as_developer.environments.get(mine.id, lazy=True).stop()
    as_developer.environments.delete(mine.id)
    with pytest.raises(gitlab.GitlabHttpError) as ci_made:
        gl.http_put(f"{base}/deployments/{deployment.pk}", post_data={"status": "success"})
    assert ci_made.value.response_code == 403
    assert "can not be updated" in ci_made.value.error_message

    # Unknown ids.
    for path in (
        "/environments/999999",
        "/environments/abc",
        "/deployments/999999",
        "/resource_groups/nope",
        "/resource_groups/nope/upcoming_jobs",
    ):
        assert _api(server_url, "GET", base + path).status_code == 404, path
    assert _api(server_url, "GET", "/projects/999999/environments").status_code == 404
    assert _api(server_url, "POST", f"{base}/environments/999999/stop").status_code == 404
    assert _api(server_url, "DELETE", f"{base}/environments/999999").status_code == 404


def test_hostile_input_changes_nothing(gl: gitlab.Gitlab, server_url: str) -> None:
    root = b.root_user()
    project = b.project(root, b.unique("hostile"))
    commit(root, project, {"README.md": "hi\n"})
    sha = project_head(project)
    base = f"/projects/{project.pk}"

    def post(path: str, data: dict[str, Any]) -> requests.Response:
        return _api(server_url, "POST", base + path, json=data)

    for name in ("../../etc/", "bad/", "/bad", "a\nb", "<script>", "x" * 300, "héllo"):
        answer = post("/environments", {"name": name})
        assert answer.status_code == 400, name
        assert "name" in answer.json()["message"], name
    assert post("/environments", {}).json() == {"error": "name is missing"}
    for url in ("javascript:alert(1)", "ftp://example.com", "http://", "x" * 300):
        answer = post("/environments", {"name": "ok", "external_url": url})
        assert answer.status_code == 400, url
        assert "external_url" in answer.json()["message"]
    assert post("/environments", {"name": "ok", "tier": "prod"}).json() == {
        "error": "tier does not have a valid value"
    }
    assert post("/environments", {"name": "ok", "slug": "mine"}).status_code == 400
    assert post("/environments", {"name": "dup"}).status_code == 201
    assert post("/environments", {"name": "dup"}).json() == {
        "message": {"name": ["has already been taken"]}
    }

    listing = _api(server_url, "GET", f"{base}/environments", params={"states": "gone"})
    assert listing.json() == {"error": "states does not have a valid value"}
    short = _api(server_url, "GET", f"{base}/environments", params={"search": "ab"})
    assert short.status_code == 400
    both = _api(server_url, "GET", f"{base}/environments", params={"search": "abc", "name": "x"})
    assert both.status_code == 400

    deployment = {"environment": "prod", "sha": sha, "ref": "main", "tag": False}
    bad_cases = (
        ({**deployment, "status": "created"}, "status"),
        ({**deployment, "status": "success", "sha": "--output=/tmp/x"}, "sha"),
        ({**deployment, "status": "success", "sha": "0" * 40}, "sha"),
        ({**deployment, "status": "success", "ref": "--upload-pack=touch /tmp/x"}, "ref"),
        ({**deployment, "status": "success", "ref": "no-such-branch"}, "ref"),
        ({**deployment, "status": "success", "environment": "bad/"}, "environment"),
        ({"sha": sha}, "missing"),
    )
    for data, why in bad_cases:
        answer = post("/deployments", data)
        assert answer.status_code == 400, (why, answer.text)
    for params in ({"order_by": "sha"}, {"sort": "up"}, {"status": "done"}):
        assert _api(server_url, "GET", f"{base}/deployments", params=params).status_code == 400
    assert (
        _api(server_url, "GET", f"{base}/deployments", params={"updated_after": "yesterday"})
    ).status_code == 400
    assert Deployment.objects.filter(project=project).count() == 0
    assert list(Environment.objects.filter(project=project).values_list("name", flat=True)) == [
        "dup"
    ]


def test_auto_stop_plays_the_stop_job_when_due(gl: gitlab.Gitlab) -> None:
    from kiln.ci import periodic
    from kiln.ci.models import PeriodicRun

    root = b.root_user()
    project = project_with_ci(root, REVIEW, name=b.unique("autostop"))
    runner = instance_runner()
    pipeline = latest_pipeline(project)
    finish(take(runner).job)
    finish(take(runner).job)
    environment = Environment.objects.get(project=project)
    assert environment.auto_stop_at is not None
    assert environments.stop_due_environments() == 0
    Environment.objects.filter(pk=environment.pk).update(
        auto_stop_at=timezone.now() - dt.timedelta(seconds=1)
    )
    PeriodicRun.objects.all().delete()
    assert "ci.stop_due_environments" in periodic.run_due()
    environment.refresh_from_db()
    assert (environment.state, environment.auto_stop_at) == ("stopping", None)
    stop_job = _job(pipeline, "stop_review")
    assert (stop_job.status, stop_job.user_id) == (st.PENDING, root.pk)
    finish(take(runner).job)
    assert gl.projects.get(project.pk).environments.get(environment.pk).state == "stopped"
