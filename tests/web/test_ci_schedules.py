"""Pipeline schedules pages (`/<project>/-/pipeline_schedules`: list, new, edit, run, take
ownership, delete) and the trigger tokens of the CI/CD settings (add, shown once, revoke), over
the API's services; who may do what, hostile input, and both flows in the browser."""

from __future__ import annotations

from typing import Any

import gitlab
import pytest
import requests

from kiln.ci.models import Pipeline, PipelineSchedule, PipelineTrigger
from kiln.ci.schedules import run_schedule
from tests.web.conftest import ROOT_PASSWORD
from tests.web.test_issues import client_for, root

CI_YAML = """\
spec:
  inputs:
    target:
      default: staging
---
"build-$[[ inputs.target ]]":
  script:
    - echo "$NIGHTLY"
"""


@pytest.fixture
def project(gl: gitlab.Gitlab, make_user: Any) -> dict[str, Any]:
    project = gl.projects.create({"name": "Nightly", "initialize_with_readme": True})
    project.files.create(
        {
            "file_path": ".gitlab-ci.yml",
            "branch": "main",
            "content": CI_YAML,
            "commit_message": "CI",
        }
    )
    # Developers may run pipelines on unprotected branches only.
    project.branches.create({"branch": "feature", "ref": "main"})
    users = {}
    for role, level in (("reporter", 20), ("developer", 30), ("maintainer", 40)):
        user, _ = make_user(role, password=ROOT_PASSWORD)
        project.members.create({"user_id": user.pk, "access_level": level})
        users[role] = user
    users["outsider"], _ = make_user("outsider")
    return {"project": project, "path": f"/{project.path_with_namespace}", "users": users}


def _form(**fields: str) -> dict[str, str]:
    base = {
        "description": "Nightly build",
        "cron": "0 1 * * *",
        "cron_timezone": "UTC",
        "ref": "feature",
        "active": "1",
    }
    return {**base, **fields}


def test_schedule_pages_and_permissions(project: dict[str, Any]) -> None:
    path, users = project["path"], project["users"]
    base = f"{path}/-/pipeline_schedules"
    owner = client_for(root())
    new = owner.get(f"{base}/new").content.decode()
    assert 'name="cron"' in new
    assert '<option value="main" selected>main</option>' in new
    assert '<option value="feature">feature</option>' in new
    created = owner.post(
        base,
        _form(
            **{
                "variables[0][key]": "NIGHTLY",
                "variables[0][value]": "yes",
                "variables[0][variable_type]": "env_var",
                "inputs[0][name]": "target",
                "inputs[0][value]": "production",
            }
        ),
    )
    assert created.status_code == 302
    schedule = PipelineSchedule.objects.get(project_id=project["project"].id)
    assert schedule.ref == "refs/heads/feature"
    assert schedule.inputs == [{"name": "target", "value": "production"}]
    assert [(v.key, v.value) for v in schedule.variables.all()] == [("NIGHTLY", "yes")]
    listing = owner.get(base).content.decode()
    assert "Nightly build" in listing
    assert "0 1 * * *" in listing
    # Editing: another value, the variable removed, an input changed.
    edit_url = f"{base}/{schedule.pk}/edit"
    form = owner.get(edit_url).content.decode()
    assert 'value="NIGHTLY"' in form
    assert 'value="production"' in form
    edited = owner.post(
        edit_url,
        _form(
            description="Weekly build",
            cron="@weekly",
            **{"inputs[0][name]": "target", "inputs[0][value]": "qa"},
        ),
    )
    assert edited.status_code == 302
    schedule.refresh_from_db()
    assert (schedule.description, schedule.cron) == ("Weekly build", "@weekly")
    assert schedule.inputs == [{"name": "target", "value": "qa"}]
    assert not schedule.variables.exists()
    # Bad input changes nothing and says why.
    for bad in (
        _form(cron="every day"),
        _form(cron_timezone="Mars/Olympus"),
        _form(description=""),
        _form(**{"inputs[0][name]": "x", "inputs[0][value]": "y" * 70_000}),
        _form(**{"variables[0][key]": "BAD KEY", "variables[0][value]": "v"}),
    ):
        refused = owner.post(edit_url, bad)
        assert refused.status_code == 400, bad
    assert "Cron is invalid syntax" in owner.post(edit_url, _form(cron="x")).content.decode()
    schedule.refresh_from_db()
    assert schedule.description == "Weekly build"
    assert not schedule.variables.exists()
    # Who may do what: a Reporter reads the list; Developers run; Maintainers take
    # ownership; the owner (now the Maintainer) edits; outsiders get 404.
    reporter = client_for(users["reporter"])
    assert reporter.get(base).status_code == 200
    assert reporter.get(f"{base}/new").status_code == 404
    assert reporter.post(f"{base}/{schedule.pk}/play").status_code == 404
    outsider = client_for(users["outsider"])
    for url in (base, f"{base}/new", edit_url):
        assert outsider.get(url).status_code == 404, url
    assert client_for().get(base).status_code == 404
    developer = client_for(users["developer"])
    assert developer.get(edit_url).status_code == 404
    assert developer.post(f"{base}/{schedule.pk}/take_ownership").status_code == 404
    assert developer.post(f"{base}/{schedule.pk}/delete").status_code == 404
    assert developer.post(f"{base}/{schedule.pk}/play").status_code == 302
    played = Pipeline.objects.get(pipeline_schedule_id=schedule.pk)
    assert played.user_id == users["developer"].pk
    maintainer = client_for(users["maintainer"])
    assert maintainer.post(f"{base}/{schedule.pk}/take_ownership").status_code == 302
    schedule.refresh_from_db()
    assert schedule.owner_id == users["maintainer"].pk
    assert maintainer.get(edit_url).status_code == 200
    # The schedule's pipeline gets its inputs.
    pipeline_id = run_schedule(schedule, users["maintainer"])
    assert pipeline_id is not None
    names = list(Pipeline.objects.get(pk=pipeline_id).jobs.values_list("name", flat=True))
    assert names == ["build-qa"]
    assert maintainer.post(f"{base}/{schedule.pk}/delete").status_code == 302
    assert not PipelineSchedule.objects.filter(pk=schedule.pk).exists()
    assert owner.get(edit_url).status_code == 404


def test_trigger_tokens_in_settings(project: dict[str, Any], server_url: str) -> None:
    path, users = project["path"], project["users"]
    settings_url = f"{path}/-/settings/ci_cd"
    maintainer = client_for(users["maintainer"])
    created = maintainer.post(f"{path}/-/triggers", {"description": "deploys"})
    assert created.status_code == 302
    trigger = PipelineTrigger.objects.get(project_id=project["project"].id)
    page = maintainer.get(settings_url).content.decode()
    assert "Your new trigger token" in page
    token = page.split('id="created-trigger" class="mono" readonly value="')[1].split('"')[0]
    assert token.startswith("glptt-")
    assert f"glptt-{trigger.token_start}" in page
    # Shown once: the next visit lists it by its start only.
    again = maintainer.get(settings_url).content.decode()
    assert token not in again
    assert "Your new trigger token" not in again
    # The token triggers pipelines.
    response = requests.post(
        f"{server_url}/api/v4/projects/{project['project'].id}/trigger/pipeline",
        data={"token": token, "ref": "main"},
        timeout=30,
    )
    assert response.status_code == 201
    # Developers and outsiders cannot add or revoke.
    for user in (users["developer"], users["outsider"]):
        client = client_for(user)
        assert client.post(f"{path}/-/triggers", {"description": "x"}).status_code == 404
        assert client.post(f"{path}/-/triggers/{trigger.pk}/delete").status_code == 404
    hostile = maintainer.post(f"{path}/-/triggers", {"description": "d" * 300})
    assert hostile.status_code == 302
    assert PipelineTrigger.objects.filter(project_id=project["project"].id).count() == 1
    assert maintainer.post(f"{path}/-/triggers/{trigger.pk}/delete").status_code == 302
    assert not PipelineTrigger.objects.filter(pk=trigger.pk).exists()
    revoked = requests.post(
        f"{server_url}/api/v4/projects/{project['project'].id}/trigger/pipeline",
        data={"token": token, "ref": "main"},
        timeout=30,
    )
    assert revoked.status_code == 404


def test_schedule_in_the_browser(
    page: Any, sign_in: Any, server_url: str, project: dict[str, Any]
) -> None:
    sign_in(server_url)
    page.goto(f"{server_url}{project['path']}/-/pipeline_schedules")
    page.get_by_role("link", name="New schedule", exact=True).click()
    page.get_by_label("Description").fill("Browser schedule")
    page.get_by_label("Interval pattern").fill("30 2 * * 1")
    page.get_by_label("Name of input 1").fill("target")
    page.get_by_label("Value of input 1").fill("browser")
    page.get_by_label("Select target branch or tag").select_option("feature")
    page.get_by_role("button", name="Create pipeline schedule").click()
    page.wait_for_url(f"{server_url}{project['path']}/-/pipeline_schedules")
    assert "Browser schedule" in page.content()
    page.get_by_role("button", name="Run schedule Browser schedule").click()
    page.wait_for_url(f"{server_url}{project['path']}/-/pipeline_schedules")
    assert "Successfully scheduled a pipeline to run" in page.content()
    page.get_by_role("link", name="Edit schedule Browser schedule").click()
    page.get_by_label("Activated").uncheck()
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(f"{server_url}{project['path']}/-/pipeline_schedules")
    page.get_by_role("link", name="Inactive").first.click()
    assert "Browser schedule" in page.content()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete schedule Browser schedule").click()
    page.wait_for_url(f"{server_url}{project['path']}/-/pipeline_schedules")
    assert not PipelineSchedule.objects.filter(description="Browser schedule").exists()
    assert page.console_errors == []


def test_trigger_token_in_the_browser(
    page: Any, sign_in: Any, server_url: str, project: dict[str, Any]
) -> None:
    sign_in(server_url)
    page.goto(f"{server_url}{project['path']}/-/settings/ci_cd")
    page.get_by_label("Description", exact=True).fill("from the browser")
    page.get_by_role("button", name="Add new token").click()
    token = page.get_by_label("Trigger token from the browser").input_value()
    assert token.startswith("glptt-")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke trigger from the browser").click()
    page.wait_for_load_state()
    assert "No trigger tokens have been created yet." in page.content()
    assert page.console_errors == []
