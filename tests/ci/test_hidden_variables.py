"""CI/CD variables "masked and hidden" (GitLab 17.4+): `masked_and_hidden` on creation only,
`hidden: true` and a `null` value in every answer afterwards (API and pages), no way back to
visible; the job still receives the value, masked."""

from __future__ import annotations

import gitlab
import pytest

from kiln.ci.models import Variable
from kiln.ci.variables import runner_variables
from tests.ci.builders import instance_runner, project_with_ci, take
from tests.projects import builders as b
from tests.web.test_project_settings import web_factory

SECRET = "s3cret-hidden-value-42"


def test_masked_and_hidden_project_variable(gl: gitlab.Gitlab) -> None:
    project = gl.projects.create({"name": "hidden-vars"})
    created = project.variables.create(
        {"key": "DEPLOY", "value": SECRET, "masked_and_hidden": True, "description": "deploy"}
    )
    assert (created.hidden, created.masked, created.value) == (True, True, None)
    fetched = project.variables.get("DEPLOY")
    assert (fetched.hidden, fetched.masked, fetched.value) == (True, True, None)
    assert [v.value for v in project.variables.list()] == [None]
    raw = gl.http_get(f"/projects/{project.id}/variables")
    assert SECRET not in str(raw)

    # Its value and description may change; it stays hidden.
    fetched.value = "an0ther-hidden-value"
    fetched.description = "new"
    fetched.save()
    again = project.variables.get("DEPLOY")
    assert (again.value, again.description, again.hidden) == (None, "new", True)
    assert Variable.objects.get(key="DEPLOY").value == "an0ther-hidden-value"

    # It cannot be made visible again; a visible one cannot become hidden.
    with pytest.raises(gitlab.GitlabUpdateError) as error:
        project.variables.update("DEPLOY", {"masked": False})
    assert error.value.response_code == 400
    assert error.value.error_message == {
        "base": ["The visibility setting cannot be changed for masked and hidden variables."]
    }
    project.variables.create({"key": "PLAIN", "value": "visible-value"})
    project.variables.update("PLAIN", {"masked_and_hidden": True, "value": "still-visible"})
    plain = project.variables.get("PLAIN")
    assert (plain.hidden, plain.value) == (False, "still-visible")
    row = Variable.objects.get(key="DEPLOY")
    assert (row.masked, row.hidden) == (True, True)

    # A value that cannot be masked cannot be hidden; nothing is created.
    with pytest.raises(gitlab.GitlabCreateError) as refused:
        project.variables.create({"key": "SHORT", "value": "abc", "masked_and_hidden": True})
    assert refused.value.error_message == {"value": ["is invalid"]}
    assert not Variable.objects.filter(key="SHORT").exists()


def test_masked_and_hidden_group_and_instance_variables(gl: gitlab.Gitlab) -> None:
    group = gl.groups.create({"name": "hidden-group", "path": "hidden-group"})
    created = group.variables.create(
        {"key": "GROUP_SECRET", "value": SECRET, "masked_and_hidden": True}
    )
    assert (created.hidden, created.value) == (True, None)
    assert group.variables.get("GROUP_SECRET").value is None
    # The instance has no hidden variables: the parameter is not one of its endpoint's.
    instance = gl.variables.create(
        {"key": "INSTANCE_V", "value": SECRET, "masked_and_hidden": True}
    )
    assert (instance.hidden, instance.value) == (False, SECRET)


def test_jobs_receive_hidden_values_masked(gl: gitlab.Gitlab) -> None:
    project = project_with_ci(b.root_user(), "job:\n  script: [x]\n", name=b.unique("hv"))
    gl.projects.get(project.pk).variables.create(
        {"key": "TOKEN", "value": SECRET, "masked_and_hidden": True}
    )
    assignment = take(instance_runner())  # the pipeline's job; variables are read now
    assert assignment.job.project_id == project.pk
    variables = {
        v.key: v
        for v in runner_variables(assignment.job, token=assignment.token, base_url="http://x")
    }
    assert (variables["TOKEN"].value, variables["TOKEN"].masked) == (SECRET, True)


def test_masked_and_hidden_in_the_settings_page(gl: gitlab.Gitlab, server_url: str) -> None:
    project = gl.projects.create({"name": "hidden-ui"})
    path = f"/root/{project.path}"
    web = web_factory(server_url)("root", "root-password-1")
    form = {"visibility": "masked_and_hidden", "expand": "1", "variable_type": "env_var"}
    page = web.follow(f"{path}/-/variables", {"key": "UI_SECRET", "value": SECRET, **form})
    assert "UI_SECRET" in page.text
    assert "Masked and hidden" in page.text
    assert SECRET not in page.text
    row = Variable.objects.get(key="UI_SECRET")
    assert (row.masked, row.hidden, row.value) == (True, True, SECRET)
    edit = web.get(f"{path}/-/variables/{row.pk}/edit")
    assert SECRET not in edit.text
    assert 'value="masked_and_hidden"' in edit.text
    assert "visibility-masked-and-hidden" not in edit.text  # no choice once created
    # Saving the edit form (even tampered to "visible") keeps it hidden and its value.
    web.follow(f"{path}/-/variables/{row.pk}/edit", {"visibility": "visible", "value": ""})
    row.refresh_from_db()
    assert (row.masked, row.hidden, row.value) == (True, True, SECRET)
    # A visible variable cannot be turned hidden through its edit form.
    visible = project.variables.create({"key": "SHOWN", "value": "shown-value"})
    shown = Variable.objects.get(key=visible.key)
    refused = web.post(
        f"{path}/-/variables/{shown.pk}/edit",
        {"visibility": "masked_and_hidden", "value": "shown-value"},
    )
    assert refused.status_code == 200
    assert "Only new variables can be set as masked and hidden." in refused.text
    shown.refresh_from_db()
    assert shown.hidden is False
