"""Pipeline inputs (`spec:inputs` of the top-level `.gitlab-ci.yml`) given when a pipeline is
created: `POST /projects/:id/pipeline`, the trigger endpoint (JSON and `inputs[name]=value`
form fields), pipeline schedules (`inputs` array, `_destroy`), and a bridge's `trigger:inputs`
for child and multi-project pipelines. Real pipelines are created; job names show the values
the configuration received."""

from __future__ import annotations

import json
from typing import Any

import gitlab
import pytest
import requests

from kiln.ci import schedules as schedule_services
from kiln.ci.models import Job, Pipeline, PipelineSchedule
from kiln.core.access import Visibility
from tests.ci.builders import commit, latest_pipeline, project_with_ci
from tests.conftest import ROOT_TOKEN
from tests.projects import builders as b

CONFIG = """\
spec:
  inputs:
    environment:
      default: staging
      options: [staging, production]
    replicas:
      type: number
      default: 1
    notify:
      type: boolean
      default: false
    regions:
      type: array
      default: [eu]
---
"deploy-$[[ inputs.environment ]]-$[[ inputs.replicas ]]-$[[ inputs.notify ]]":
  script: $[[ inputs.regions ]]
"""


def _names(pipeline_id: int) -> list[str]:
    return list(
        Job.objects.filter(pipeline_id=pipeline_id, retried=False)
        .order_by("pk")
        .values_list("name", flat=True)
    )


def _script(pipeline_id: int) -> list[str]:
    """The job's script: the `regions` input (an array) as the configuration received it."""
    job = Job.objects.get(pipeline_id=pipeline_id, retried=False)
    return list(job.options["script"])


@pytest.fixture
def project(gl: gitlab.Gitlab) -> Any:
    created = project_with_ci(b.root_user(), CONFIG, name=b.unique("inputs"))
    return gl.projects.get(created.pk)


def _post(server_url: str, path: str, token: str = ROOT_TOKEN, **kwargs: Any) -> Any:
    return requests.post(
        f"{server_url}/api/v4{path}", headers={"PRIVATE-TOKEN": token}, timeout=30, **kwargs
    )


def test_create_pipeline_with_inputs(project: Any, server_url: str) -> None:
    # The push pipeline took the defaults.
    pushed = latest_pipeline(project.id)
    assert pushed is not None
    assert _names(pushed.pk) == ["deploy-staging-1-false"]
    pipeline = project.pipelines.create(
        {
            "ref": "main",
            "inputs": {"environment": "production", "replicas": 3, "notify": True},
        }
    )
    assert pipeline.status == "pending"
    assert [j.name for j in pipeline.jobs.list()] == ["deploy-production-3-true"]
    # Form fields are text: typed inputs read them as JSON.
    response = _post(
        server_url,
        f"/projects/{project.id}/pipeline",
        data={"ref": "main", "inputs[replicas]": "4", "inputs[regions]": '["us", "eu"]'},
    )
    assert response.status_code == 201, response.text
    assert _names(response.json()["id"]) == ["deploy-staging-4-false"]
    assert _script(response.json()["id"]) == ["us", "eu"]
    assert _script(pipeline.id) == ["eu"]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"colour": "red"}, "unknown input arguments: colour"),
        ({"replicas": "three"}, "`replicas` input: provided value is not a number"),
        ({"notify": "maybe"}, "`notify` input: provided value is not a boolean"),
        (
            {"environment": "moon"},
            "`environment` input: `moon` cannot be used because it is not in the list of "
            "allowed options",
        ),
        ({"environment": 7}, "`environment` input: provided value is not a string"),
    ],
)
def test_unknown_or_mistyped_inputs_fail_with_gitlabs_messages(
    project: Any, inputs: dict[str, Any], message: str
) -> None:
    with pytest.raises(gitlab.exceptions.GitlabCreateError) as error:
        project.pipelines.create({"ref": "main", "inputs": inputs})
    assert error.value.response_code == 400
    assert json.loads(error.value.response_body) == {"message": {"base": [message]}}
    failed = latest_pipeline(project.id)
    assert failed is not None
    assert failed.status == "failed"
    assert failed.failure_reason == "config_error"
    assert not Job.objects.filter(pipeline=failed).exists()


def test_hostile_input_shapes_create_nothing(project: Any, server_url: str) -> None:
    before = Pipeline.objects.filter(project_id=project.id).count()
    for body in (
        {"ref": "main", "inputs": ["environment", "production"]},
        {"ref": "main", "inputs": "environment=production"},
        {"ref": "main", "inputs": {"environment": {"nested": "hash"}}},
        {"ref": "main", "inputs": {"": "x"}},
        {"ref": "main", "inputs": {"environment": "x" * 70_000}},
        {"ref": "main", "inputs": {"regions": [["nested"]]}},
        {"ref": "main", "inputs": {f"i{n}": n for n in range(60)}},
    ):
        response = _post(server_url, f"/projects/{project.id}/pipeline", json=body)
        assert response.status_code == 400, body
        assert response.json() == {"error": "inputs is invalid"}
    # A configuration without a header takes no inputs.
    plain = project_with_ci(b.root_user(), "a:\n  script: [x]\n", name=b.unique("plain"))
    response = _post(
        server_url, f"/projects/{plain.pk}/pipeline", json={"ref": "main", "inputs": {"a": 1}}
    )
    assert response.status_code == 400
    assert "Given inputs not defined" in response.json()["message"]["base"][0]
    assert Pipeline.objects.filter(project_id=project.id).count() == before


def test_trigger_with_inputs(project: Any, server_url: str) -> None:
    token = project.triggers.create({"description": "ci"}).token
    response = requests.post(
        f"{server_url}/api/v4/projects/{project.id}/trigger/pipeline",
        data={"token": token, "ref": "main", "inputs[environment]": "production"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    assert _names(response.json()["id"]) == ["deploy-production-1-false"]
    response = requests.post(
        f"{server_url}/api/v4/projects/{project.id}/trigger/pipeline",
        json={"token": token, "ref": "main", "inputs": {"notify": True, "replicas": 2}},
        timeout=30,
    )
    assert response.status_code == 201
    assert _names(response.json()["id"]) == ["deploy-staging-2-true"]
    # As on GitLab, a trigger answers the pipeline that failed on its configuration.
    response = requests.post(
        f"{server_url}/api/v4/projects/{project.id}/trigger/pipeline",
        data={"token": token, "ref": "main", "inputs[size]": "big"},
        timeout=30,
    )
    assert response.status_code == 201
    assert response.json()["status"] == "failed"
    assert response.json()["yaml_errors"] == "unknown input arguments: size"
    bad = requests.post(
        f"{server_url}/api/v4/projects/{project.id}/trigger/pipeline",
        json={"token": token, "ref": "main", "inputs": [1, 2]},
        timeout=30,
    )
    assert bad.status_code == 400
    assert bad.json() == {"error": "inputs is invalid"}


def test_schedule_inputs_are_stored_edited_and_used(project: Any, server_url: str) -> None:
    schedule = project.pipelineschedules.create(
        {
            "description": "nightly",
            "ref": "main",
            "cron": "0 1 * * *",
            "inputs": [
                {"name": "environment", "value": "production"},
                {"name": "regions", "value": ["eu", "us"]},
                {"name": "replicas", "value": 5},
            ],
        }
    )
    details = project.pipelineschedules.get(schedule.id)
    assert details.inputs == [
        {"name": "environment", "value": "production"},
        {"name": "regions", "value": ["eu", "us"]},
        {"name": "replicas", "value": 5},
    ]
    # The documented form: change one, remove another, add one.
    response = requests.put(
        f"{server_url}/api/v4/projects/{project.id}/pipeline_schedules/{schedule.id}",
        headers={"PRIVATE-TOKEN": ROOT_TOKEN},
        data=[
            ("inputs[][name]", "replicas"),
            ("inputs[][value]", "2"),
            ("inputs[][name]", "environment"),
            ("inputs[][_destroy]", "true"),
            ("inputs[][name]", "notify"),
            ("inputs[][value]", "true"),
        ],
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["inputs"] == [
        {"name": "regions", "value": ["eu", "us"]},
        {"name": "replicas", "value": "2"},
        {"name": "notify", "value": "true"},
    ]
    # python-gitlab's JSON with `_destroy`.
    project.pipelineschedules.update(
        schedule.id, {"inputs": [{"name": "regions", "_destroy": True}]}
    )
    row = PipelineSchedule.objects.get(pk=schedule.id)
    assert [item["name"] for item in row.inputs] == ["replicas", "notify"]
    # The schedule's pipeline gets them.
    pipeline_id = schedule_services.run_schedule(row, b.root_user())
    assert pipeline_id is not None
    assert _names(pipeline_id) == ["deploy-staging-2-true"]
    assert _script(pipeline_id) == ["eu"]
    # Hostile shapes change nothing.
    for inputs in ("x", [{"value": 1}], [{"name": "a", "value": {"h": 1}}], [["a", 1]]):
        with pytest.raises(gitlab.exceptions.GitlabUpdateError) as bad:
            project.pipelineschedules.update(schedule.id, {"inputs": inputs})
        assert bad.value.response_code == 400, inputs
    assert PipelineSchedule.objects.get(pk=schedule.id).inputs == row.inputs


def test_bridge_inputs_reach_child_and_multi_project_pipelines(gl: gitlab.Gitlab) -> None:
    owner = b.root_user()
    downstream = b.project(owner, b.unique("down"), visibility=Visibility.PRIVATE)
    commit(owner, downstream, {".gitlab-ci.yml": CONFIG})
    child_config = CONFIG
    parent_config = f"""\
child:
  trigger:
    include:
      - local: child.yml
        inputs:
          environment: production
          replicas: 9
multi:
  trigger:
    project: {downstream.full_path}
    inputs:
      notify: true
      regions: [ap]
"""
    parent = project_with_ci(
        owner, parent_config, name=b.unique("up"), **{"child.yml": child_config}
    )
    pipeline = Pipeline.objects.get(project=parent, source="push")
    assert not pipeline.yaml_errors, pipeline.yaml_errors
    child_bridge = Job.objects.get(pipeline=pipeline, name="child")
    multi_bridge = Job.objects.get(pipeline=pipeline, name="multi")
    child = Pipeline.objects.get(source_job=child_bridge)
    multi = Pipeline.objects.get(source_job=multi_bridge)
    assert _names(child.pk) == ["deploy-production-9-false"]
    assert _names(multi.pk) == ["deploy-staging-1-true"]
    assert _script(multi.pk) == ["ap"]
    # Mistyped inputs fail the bridge with the downstream configuration's message.
    bad = project_with_ci(
        owner,
        f"multi:\n  trigger:\n    project: {downstream.full_path}\n"
        "    inputs: {replicas: many}\n",
        name=b.unique("bad"),
    )
    bad_pipeline = latest_pipeline(bad.pk)
    assert bad_pipeline is not None
    bridge = Job.objects.get(pipeline=bad_pipeline, name="multi")
    assert bridge.status == "failed"
    assert bridge.failure_reason == "downstream_pipeline_creation_failed"
    assert "`replicas` input: provided value is not a number" in str(bridge.error_messages)
