"""The "Run pipeline" form with the `spec:inputs` of the CI file: fields by type (options and
booleans as selects, numbers, text), defaults prefilled, empty fields leaving the default, and
the configuration's own message when a value does not fit."""

from __future__ import annotations

from typing import Any

import gitlab
import pytest

from kiln.ci.models import Job, Pipeline
from tests.web.test_issues import client_for

CI_YAML = """\
spec:
  inputs:
    environment:
      description: Where to deploy
      options: [staging, production]
      default: staging
    replicas:
      type: number
      default: 1
    dry_run:
      type: boolean
      default: true
    label:
      default: ""
---
"deploy-$[[ inputs.environment ]]-$[[ inputs.replicas ]]-$[[ inputs.dry_run ]]":
  script:
    - echo "$[[ inputs.label ]]"
"""


@pytest.fixture
def project(gl: gitlab.Gitlab) -> Any:
    project = gl.projects.create({"name": "Deploy", "initialize_with_readme": True})
    project.files.create(
        {
            "file_path": ".gitlab-ci.yml",
            "branch": "main",
            "content": CI_YAML,
            "commit_message": "CI",
        }
    )
    return project


def _job_names(pipeline_id: int) -> list[str]:
    return list(Job.objects.filter(pipeline_id=pipeline_id).values_list("name", flat=True))


def test_form_shows_and_posts_inputs(gl: gitlab.Gitlab, project: Any) -> None:
    from tests.web.test_issues import root

    client = client_for(root())
    base = f"/{project.path_with_namespace}/-/pipelines"
    form = client.get(f"{base}/new").content.decode()
    assert 'name="inputs[environment]"' in form
    assert "Where to deploy" in form
    assert '<option value="production">production</option>' in form
    assert 'type="number" step="any" id="input-2" name="inputs[replicas]" value="1"' in form
    posted = client.post(
        base,
        {
            "ref": "main",
            "inputs[environment]": "production",
            "inputs[replicas]": "3",
            "inputs[dry_run]": "false",
            "inputs[label]": "",
        },
    )
    assert posted.status_code == 302
    pipeline = Pipeline.objects.filter(project_id=project.id, source="web").get()
    assert _job_names(pipeline.pk) == ["deploy-production-3-false"]
    # A value the configuration refuses: the failed pipeline, with its message.
    refused = client.post(base, {"ref": "main", "inputs[replicas]": "lots"})
    assert refused.status_code == 302
    failed = Pipeline.objects.filter(project_id=project.id, source="web").order_by("-pk")[0]
    assert failed.yaml_errors == "`replicas` input: provided value is not a number"
    # Inputs the configuration does not declare are not passed.
    extra = client.post(base, {"ref": "main", "inputs[colour]": "red"})
    assert extra.status_code == 302
    last = Pipeline.objects.filter(project_id=project.id, source="web").order_by("-pk")[0]
    assert _job_names(last.pk) == ["deploy-staging-1-true"]


def test_run_pipeline_with_inputs_in_the_browser(
    page: Any, sign_in: Any, server_url: str, project: Any
) -> None:
    sign_in(server_url)
    page.goto(f"{server_url}/{project.path_with_namespace}/-/pipelines/new")
    page.get_by_label("environment").select_option("production")
    page.get_by_label("replicas").fill("2")
    page.get_by_label("dry_run").select_option("false")
    page.get_by_role("button", name="Run pipeline").click()
    page.wait_for_url(f"{server_url}/{project.path_with_namespace}/-/pipelines/*")
    assert "deploy-production-2-false" in page.content()
    assert page.console_errors == []
