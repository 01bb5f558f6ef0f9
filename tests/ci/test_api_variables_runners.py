"""CI/CD variables and runner administration through python-gitlab (GitLab's
`doc/api/project_level_variables.md`, `group_level_variables.md`, `instance_level_ci_variables.md`,
`runners.md`, `users.md#create-a-runner`), and which variables a job receives."""

from __future__ import annotations

from typing import Any

import gitlab
import pytest
import requests

from kiln.ci.models import Runner, Variable
from kiln.ci.variables import runner_variables
from tests.ci.builders import instance_runner, latest_pipeline, project_with_ci, take
from tests.conftest import ROOT_TOKEN
from tests.projects import builders as b


@pytest.fixture
def project(gl: gitlab.Gitlab) -> Any:
    return gl.projects.create({"name": "vars"})


def test_project_variables_crud_and_validation(project: Any, make_user: Any) -> None:
    created = project.variables.create(
        {"key": "DEPLOY_TOKEN", "value": "abcdefgh12345", "protected": True, "masked": True}
    )
    assert {k: v for k, v in created.attributes.items() if k != "project_id"} == {
        "variable_type": "env_var",
        "key": "DEPLOY_TOKEN",
        "value": "abcdefgh12345",
        "hidden": False,
        "protected": True,
        "masked": True,
        "raw": False,
        "environment_scope": "*",
        "description": None,
    }
    project.variables.create({"key": "CONFIG", "value": "x", "variable_type": "file"})
    assert [v.key for v in project.variables.list()] == ["DEPLOY_TOKEN", "CONFIG"]
    fetched = project.variables.get("CONFIG")
    assert fetched.variable_type == "file"
    fetched.value = "y"
    fetched.save()
    assert project.variables.get("CONFIG").value == "y"
    before = Variable.objects.count()
    for attrs, message in (
        ({"key": "bad-key", "value": "x"}, {"key": ["can contain only letters, digits and '_'."]}),
        ({"key": "SHORT", "value": "abc", "masked": True}, {"value": ["is invalid"]}),
        ({"key": "CONFIG", "value": "x"}, {"key": ["(CONFIG) has already been taken"]}),
    ):
        with pytest.raises(gitlab.GitlabCreateError) as error:
            project.variables.create(attrs)
        assert error.value.response_code == 400
        assert error.value.error_message == message
    with pytest.raises(gitlab.GitlabCreateError) as error:
        project.variables.create({"key": "T", "value": "x", "variable_type": "secret"})
    assert error.value.error_message == "variable_type does not have a valid value"
    assert Variable.objects.count() == before
    # Scoped copies of one key, picked with filter[environment_scope].
    project.variables.create({"key": "URL", "value": "prod", "environment_scope": "production"})
    project.variables.create({"key": "URL", "value": "any"})
    scoped = project.variables.get("URL", filter={"environment_scope": "production"})
    assert scoped.value == "prod"
    project.variables.delete("CONFIG")
    with pytest.raises(gitlab.GitlabGetError):
        project.variables.get("CONFIG")
    developer, developer_gl = make_user("vardev")
    from kiln.core.access import AccessLevel
    from kiln.core.actor import Actor
    from kiln.projects.members import add_member
    from kiln.projects.models import Project

    add_member(
        actor=Actor.for_user(b.root_user()),
        source=Project.objects.get(pk=project.id),
        user_ref=developer.pk,
        access_level=AccessLevel.DEVELOPER,
    )
    with pytest.raises(gitlab.GitlabListError) as denied:
        developer_gl.projects.get(project.id, lazy=True).variables.list()
    assert denied.value.response_code == 403


def test_group_and_instance_variables(gl: gitlab.Gitlab) -> None:
    group = gl.groups.create({"name": "ci-group", "path": "ci-group"})
    group.variables.create({"key": "GROUP_VAR", "value": "g"})
    assert [v.key for v in group.variables.list()] == ["GROUP_VAR"]
    gl.variables.create({"key": "INSTANCE_VAR", "value": "i"})
    assert gl.variables.get("INSTANCE_VAR").value == "i"
    assert "environment_scope" not in gl.variables.get("INSTANCE_VAR").attributes
    with pytest.raises(gitlab.GitlabCreateError) as error:
        gl.variables.create({"key": "SCOPED", "value": "x", "environment_scope": "prod"})
    assert error.value.response_code == 400


def test_variables_precedence_and_scope_in_the_job_payload(gl: gitlab.Gitlab) -> None:
    root = b.root_user()
    group = b.group(root, "prec")
    project = b.project(root, "Prec", namespace=group)
    Variable.objects.create(key="LAYER", value="instance")
    Variable.objects.create(key="ONLY_INSTANCE", value="i")
    Variable.objects.create(namespace=group, key="LAYER", value="group")
    Variable.objects.create(project=project, key="LAYER", value="project")
    Variable.objects.create(project=project, key="REF", value="$LAYER-ref")
    Variable.objects.create(project=project, key="RAWV", value="$LAYER", raw=True)
    Variable.objects.create(project=project, key="ENV_ONLY", value="p", environment_scope="prod*")
    from tests.ci.builders import commit

    commit(
        root,
        project,
        {
            ".gitlab-ci.yml": (
                "variables:\n  LAYER: yaml\n  YAML_ONLY: y\n"
                "deploy:\n  script: [x]\n  environment: {name: production}\n"
                "build:\n  script: [x]\n"
            )
        },
    )
    pipeline = latest_pipeline(project)
    assert pipeline is not None
    runner = instance_runner()
    seen = {}
    for _ in range(2):
        assignment = take(runner)
        values = {
            v.key: v
            for v in runner_variables(assignment.job, token=assignment.token, base_url="http://x")
        }
        seen[assignment.job.name] = values
    for values in seen.values():
        assert values["LAYER"].value == "project"
        assert values["ONLY_INSTANCE"].value == "i"
        assert values["YAML_ONLY"].value == "y"
        assert values["REF"].value == "project-ref"
        assert values["RAWV"].value == "$LAYER"
        assert values["RAWV"].raw is True
        assert values["LAYER"].public is False
        assert values["CI_PROJECT_PATH"].public is True
    assert seen["deploy"]["ENV_ONLY"].value == "p"
    assert seen["deploy"]["CI_ENVIRONMENT_NAME"].value == "production"
    assert "ENV_ONLY" not in seen["build"]


def test_runners_created_by_users_and_their_administration(
    gl: gitlab.Gitlab, project: Any, make_user: Any
) -> None:
    gl.auth()
    created = gl.user.runners.create(
        {
            "runner_type": "project_type",
            "project_id": project.id,
            "description": "proj runner",
            "tag_list": ["docker", "linux"],
            "run_untagged": False,
            "maximum_timeout": 3600,
        }
    )
    assert created.token.startswith("glrt-")
    assert set(created.attributes) == {"id", "token", "token_expires_at"}
    runner = gl.runners.get(created.id)
    assert runner.runner_type == "project_type"
    assert runner.tag_list == ["docker", "linux"]
    assert runner.run_untagged is False
    assert runner.maximum_timeout == 3600
    assert runner.status == "never_contacted"
    assert runner.projects[0]["id"] == project.id
    assert [r.id for r in gl.runners.list()] == [created.id]
    assert [r.id for r in project.runners.list()] == [created.id]
    runner.tag_list = ["docker"]
    runner.paused = True
    runner.save()
    again = gl.runners.get(created.id)
    assert again.tag_list == ["docker"]
    assert again.paused is True
    assert again.active is False
    assert Runner.objects.get(pk=created.id).config_version == 1
    again.maximum_timeout = 60
    with pytest.raises(gitlab.GitlabUpdateError) as error:
        again.save()
    assert error.value.error_message == {"maximum_timeout": ["needs to be at least 10 minutes"]}
    # Another project takes the runner on, then lets it go.
    other = gl.projects.create({"name": "other"})
    other.runners.create({"runner_id": created.id})
    assert [r.id for r in other.runners.list()] == [created.id]
    other.runners.delete(created.id)
    assert other.runners.list() == []
    assert gl.runners.get(created.id).runner_type == "project_type"
    assert gl.runners_all.list(type="project_type")[0].id == created.id
    assert gl.runners.get(created.id).jobs.list() == []
    # A user who is not a maintainer sees none of it.
    _, user_gl = make_user("runner-stranger")
    user_gl.auth()
    with pytest.raises(gitlab.GitlabGetError):
        user_gl.runners.get(created.id)
    with pytest.raises(gitlab.GitlabCreateError) as refused:
        user_gl.user.runners.create({"runner_type": "instance_type"})
    assert refused.value.response_code == 403
    gl.runners.delete(created.id)
    assert not Runner.objects.filter(pk=created.id).exists()


def test_legacy_registration_with_a_registration_token(gl: gitlab.Gitlab, server_url: str) -> None:
    reset = requests.post(
        f"{server_url}/api/v4/runners/reset_registration_token",
        headers={"PRIVATE-TOKEN": ROOT_TOKEN},
        timeout=30,
    )
    assert reset.status_code == 201
    registration = reset.json()["token"]
    registered = gl.runners.create(
        {"token": registration, "description": "legacy", "tag_list": ["a", "b"], "locked": True}
    )
    assert not registered.token.startswith("glrt-")
    gl.runners.verify(registered.token)
    runner = Runner.objects.get(pk=registered.id)
    assert runner.registration_type == "registration_token"
    assert runner.runner_type == "instance_type"
    assert runner.tag_list == ["a", "b"]
    before = Runner.objects.count()
    with pytest.raises(gitlab.GitlabCreateError) as error:
        gl.runners.create({"token": "GR1348941wrong"})
    assert error.value.response_code == 403
    assert Runner.objects.count() == before
    # The runner can also remove itself (DELETE /runners with its token).
    gone = requests.delete(
        f"{server_url}/api/v4/runners", json={"token": registered.token}, timeout=30
    )
    assert gone.status_code == 204
    assert not Runner.objects.filter(pk=registered.id).exists()


def test_a_pipeline_for_another_project_runner_is_not_taken(gl: gitlab.Gitlab) -> None:
    root = b.root_user()
    mine = project_with_ci(root, "a: {script: [x]}", name="MineP")
    theirs = project_with_ci(root, "a: {script: [x]}", name="TheirsP")
    from kiln.ci.queue import assign_next_job
    from kiln.ci.runners import create_runner
    from kiln.core.actor import Actor

    runner = create_runner(
        actor=Actor.for_user(root), runner_type="project_type", project=mine, attrs={}
    ).runner
    first = assign_next_job(runner)
    assert first is not None
    assert first.job.project_id == mine.pk
    assert assign_next_job(runner) is None
    assert latest_pipeline(theirs).status == "pending"  # type: ignore[union-attr]
