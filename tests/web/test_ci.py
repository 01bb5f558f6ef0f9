"""CI/CD pages: pipelines, jobs and their logs, artifacts, CI/CD settings and CI lint.

Pipelines come from a `.gitlab-ci.yml` committed with python-gitlab (the commit is a push) or
from the "Run pipeline" form (the service of `POST /projects/:id/pipeline`); jobs are run by a
runner speaking GitLab's runner protocol (tests/ci/runner_client.py) against the live server.
Who may see what follows the API's policy (kiln.ci.policies): Reporters read pipelines and
logs of a private project, Guests and outsiders get 404; Developers run, retry and cancel;
Maintainers administer variables and runners. Hostile logs (HTML, scripts, terminal escapes)
render inert.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import gitlab
import pytest

from tests.ci.runner_client import RunnerClient, zip_bytes
from tests.web.conftest import ROOT_PASSWORD
from tests.web.test_project_settings import Web, forms_have_csrf, web_factory

CI_YAML = """\
stages: [build, test, deploy]

build:
  stage: build
  script: [echo build]
  artifacts:
    paths: [out/]

unit:
  stage: test
  needs: [build]
  script: [echo test]

deploy:
  stage: deploy
  script: [echo deploy]
  when: manual
"""

HOSTILE_LOG = (
    b"\x1b[32;1m$ echo hello\x1b[0;m\n"
    b"<script>alert('log')</script><img src=x onerror=alert(1)>\n"
    b"section_start:1700000000:prepare_script[collapsed=true]\r\x1b[0K"
    b"\x1b[36;1mPreparing <b>the</b> environment\x1b[0;m\n"
    b"inside the section\n"
    b"section_end:1700000005:prepare_script\r\x1b[0K\n"
    b"\x1b]8;;javascript:alert(2)\x07click me\x1b]8;;\x07\n"
    b'\x1b[38;2;255;0;0m"><svg onload=alert(3)>\x1b[0m\n'
    b"\x1b]0;evil title\x07\x1bP+q\x1b\\\x1b[999999999999m\x1b[31m red \x1b[0m\n"
    b'section_start:1:bad"name<x>\r\x1b[0Kfake section\n'
    b"progress 10%\rprogress 100%\n"
)


@pytest.fixture
def web(server_url: str) -> Callable[..., Web]:
    return web_factory(server_url)


@pytest.fixture
def team(gl: gitlab.Gitlab, make_user: Any, server_url: str) -> dict[str, Any]:
    """A private project with a `.gitlab-ci.yml`, one user per role, an outsider, the pipeline
    of that commit and an instance runner."""
    project = gl.projects.create(
        {"name": "App", "path": "app", "visibility": "private", "initialize_with_readme": True}
    )
    # On an unprotected branch, where Developers may run pipelines (on the protected default
    # branch only those who may push or merge there may).
    project.branches.create({"branch": "feature", "ref": "main"})
    project.files.create(
        {
            "file_path": ".gitlab-ci.yml",
            "branch": "feature",
            "content": CI_YAML,
            "commit_message": "Add CI",
        }
    )
    roles = {"guest": 10, "reporter": 20, "developer": 30, "maintainer": 40}
    users = {}
    for role, level in roles.items():
        user, _ = make_user(role)
        project.members.create({"user_id": user.pk, "access_level": level})
        users[role] = user
    users["outsider"], _ = make_user("outsider")
    # The commit is a push: it created the pipeline.
    pipelines = project.pipelines.list(get_all=True)
    assert len(pipelines) == 1
    pipeline = pipelines[0]
    gl.auth()
    assert gl.user is not None
    token = gl.user.runners.create({"runner_type": "instance_type"}).token
    return {
        "project": project,
        "path": f"/root/{project.path}",
        "users": users,
        "pipeline": pipeline,
        "runner": RunnerClient(server_url, token),
    }


def _jobs(team: dict[str, Any]) -> dict[str, Any]:
    return {j.name: j for j in team["pipeline"].jobs.list(get_all=True)}


def _take(team: dict[str, Any]) -> dict[str, Any]:
    response = team["runner"].request_job()
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _finish(
    team: dict[str, Any], build: dict[str, Any], log: bytes, state: str = "success"
) -> None:
    runner = team["runner"]
    assert runner.patch_trace(build["id"], build["token"], log, 0).status_code == 202
    assert runner.update_job(build["id"], build["token"], state, trace=log).status_code == 200


def test_pages_need_the_right_to_read_pipelines(
    team: dict[str, Any], web: Callable[..., Web]
) -> None:
    build = _take(team)
    _finish(team, build, b"\x1b[31mhello\x1b[0m\n")
    path, pid = team["path"], team["pipeline"].id
    pages = [
        "/-/pipelines",
        f"/-/pipelines/{pid}",
        "/-/jobs",
        f"/-/jobs/{build['id']}",
        f"/-/jobs/{build['id']}/raw",
        f"/-/jobs/{build['id']}/trace.json",
        f"/-/jobs/{build['id']}/artifacts/browse",
    ]
    sessions = {name: web(name) for name in team["users"]}
    sessions["anonymous"] = web()
    sessions["root"] = web("root", ROOT_PASSWORD)
    for name, session in sessions.items():
        allowed = name in ("reporter", "developer", "maintainer", "root")
        for page in pages:
            response = session.get(path + page)
            if page.endswith("/artifacts/browse"):
                # No artifacts were uploaded: 404 for everyone.
                assert response.status_code == 404, (name, page)
                continue
            assert response.status_code == (200 if allowed else 404), (name, page)
            if not allowed:
                assert "hello" not in response.text
                assert "Traceback" not in response.text
    # A job or pipeline of another project (or none at all) is 404 under this one.
    assert sessions["root"].get(f"{path}/-/jobs/999999").status_code == 404
    assert sessions["root"].get(f"{path}/-/pipelines/999999").status_code == 404

    listing = sessions["reporter"].get(path + "/-/pipelines").text
    assert f"#{pid}" in listing
    assert "Run pipeline" not in listing
    assert "Run pipeline" in sessions["developer"].get(path + "/-/pipelines").text
    assert sessions["reporter"].get(path + "/-/pipelines/new").status_code == 404
    new = sessions["developer"].get(path + "/-/pipelines/new")
    assert new.status_code == 200
    forms_have_csrf(new.text)


def test_pipeline_page_shows_stages_needs_and_actions_for_those_allowed(
    team: dict[str, Any], web: Callable[..., Web], gl: gitlab.Gitlab
) -> None:
    path, pid = team["path"], team["pipeline"].id
    reporter, developer = web("reporter"), web("developer")
    page = developer.get(f"{path}/-/pipelines/{pid}").text
    for stage in ("build", "test", "deploy"):
        assert f'aria-label="Stage {stage}"' in page
    assert 'class="ci-need">build</span>' in page
    assert "Cancel pipeline" in page
    assert 'aria-label="Run deploy"' not in page  # manual, but its stage has not started
    forms_have_csrf(page)
    seen = reporter.get(f"{path}/-/pipelines/{pid}").text
    assert "Cancel pipeline" not in seen
    assert "<form" not in seen.split('id="content"')[1]

    # Reporters' retry/cancel/play are refused, and change nothing.
    jobs = _jobs(team)
    build_id = jobs["build"].id
    for action in (
        f"/-/pipelines/{pid}/cancel",
        f"/-/pipelines/{pid}/retry",
        f"/-/jobs/{build_id}/cancel",
        f"/-/jobs/{build_id}/retry",
        f"/-/jobs/{jobs['deploy'].id}/play",
        f"/-/jobs/{build_id}/erase",
    ):
        assert reporter.post(path + action).status_code == 404, action
    assert gl.projects.get(team["project"].id).pipelines.get(pid).status == "pending"
    # Without the CSRF token even the developer is refused.
    assert developer.post(f"{path}/-/pipelines/{pid}/cancel", csrf=False).status_code == 403

    # The developer cancels the job, then retries it: a new attempt, pending again.
    canceled = developer.follow(f"{path}/-/jobs/{build_id}/cancel")
    assert 'data-ci-status="canceled"' in canceled.text
    response = developer.post(f"{path}/-/jobs/{build_id}/retry")
    assert response.status_code == 302
    new_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert new_id != build_id
    assert gl.projects.get(team["project"].id).jobs.get(new_id).status == "pending"
    # Cancel the whole pipeline.
    developer.follow(f"{path}/-/pipelines/{pid}/cancel")
    assert gl.projects.get(team["project"].id).pipelines.get(pid).status == "canceled"
    retry = developer.get(f"{path}/-/pipelines/{pid}").text
    assert f'action="{path}/-/pipelines/{pid}/retry"' in retry


def test_job_log_is_rendered_inert_with_colours_and_sections(
    team: dict[str, Any], web: Callable[..., Web]
) -> None:
    build = _take(team)
    _finish(team, build, HOSTILE_LOG)
    reporter = web("reporter")
    page = reporter.get(f"{team['path']}/-/jobs/{build['id']}")
    assert page.status_code == 200
    html = page.text
    log = html.split('id="job-log"', 1)[1].split("</pre>", 1)[0]
    # Colours are classes; nothing from the log becomes markup or an attribute.
    assert '<span class="term-fg-green term-bold">$ echo hello</span>' in log
    assert '<span class="term-fg-red"> red </span>' in log
    assert "&lt;script&gt;alert(&#x27;log&#x27;)&lt;/script&gt;" in log
    assert "&lt;img src=x onerror=alert(1)&gt;" in log
    assert "&quot;&gt;&lt;svg onload=alert(3)&gt;" in log
    for bad in ("<script", "<img", "<svg", "<b>", "javascript:", "style=", "evil title", "\x1b"):
        assert bad not in log, bad
    assert "click me" in log
    # The collapsible section: a closed <details> with its header and body.
    section = re.search(
        r'<details class="log-section" data-section="prepare_script">'
        r'<summary class="log-line log-section-header">(.*?)</summary>'
        r'<div class="log-section-body">(.*?)</div></details>',
        log,
    )
    assert section is not None, log
    assert "Preparing &lt;b&gt;the&lt;/b&gt; environment" in section.group(1)
    assert "inside the section" in section.group(2)
    # A marker with a name outside GitLab's alphabet is no section (its \r starts the line
    # over, as a terminal would).
    assert "fake section" in log
    assert 'data-section="bad' not in log
    assert "progress 100%" in log
    assert "progress 10%" not in log
    # The page's CSP forbids inline scripts and styles.
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert ' style="' not in html

    raw = reporter.get(f"{team['path']}/-/jobs/{build['id']}/raw")
    assert raw.status_code == 200
    assert raw.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert raw.headers["X-Content-Type-Options"] == "nosniff"
    assert raw.content == HOSTILE_LOG

    # The JSON of follow mode carries text segments, never HTML.
    data = reporter.get(f"{team['path']}/-/jobs/{build['id']}/trace.json").json()
    assert data["complete"] is True
    assert data["status"] == "success"
    first = data["ops"][0]
    assert first == {"t": "line", "s": [["term-fg-green term-bold", "$ echo hello"]]}
    assert {"t": "close", "n": "prepare_script"} in data["ops"]
    # A forged state is ignored (rendered from the start), never an error.
    forged = reporter.get(f"{team['path']}/-/jobs/{build['id']}/trace.json", state="eyJvIjpbMV19")
    assert forged.status_code == 200
    assert forged.json()["ops"] == data["ops"]


def test_follow_mode_returns_only_what_is_new(
    team: dict[str, Any], web: Callable[..., Web]
) -> None:
    build = _take(team)
    runner, path = team["runner"], team["path"]
    first = b"section_start:1:step\r\x1b[0Kstep one\nline 1\npartial"
    assert runner.patch_trace(build["id"], build["token"], first, 0).status_code == 202
    reporter = web("reporter")
    page = reporter.get(f"{path}/-/jobs/{build['id']}").text
    state = re.search(r'data-trace-state="([^"]+)"', page)
    assert state is not None
    assert f'data-trace-url="{path}/-/jobs/{build["id"]}/trace.json"' in page
    assert "<details data-open" in page
    assert "partial" not in page  # an unfinished line waits for its end
    polled = reporter.get(f"{path}/-/jobs/{build['id']}/trace.json", state=state.group(1)).json()
    assert polled["ops"] == []
    assert polled["complete"] is False
    more = b" done\n\x1b[33mline 2\x1b[0m\nsection_end:2:step\r\x1b[0K\n"
    assert runner.patch_trace(build["id"], build["token"], more, len(first)).status_code == 202
    polled = reporter.get(f"{path}/-/jobs/{build['id']}/trace.json", state=polled["state"]).json()
    assert polled["ops"] == [
        {"t": "line", "s": [["", "partial done"]]},
        {"t": "line", "s": [["term-fg-yellow", "line 2"]]},
        {"t": "close", "n": "step"},
    ]
    assert polled["status"] == "running"
    again = reporter.get(f"{path}/-/jobs/{build['id']}/trace.json", state=polled["state"]).json()
    assert again["ops"] == []


def test_artifacts_browse_and_download(team: dict[str, Any], web: Callable[..., Web]) -> None:
    build = _take(team)
    archive = zip_bytes({"out/report.html": b"<script>alert(1)</script>", "out/a b.txt": b"x"})
    uploaded = team["runner"].upload_artifacts(build["id"], build["token"], archive)
    assert uploaded.status_code == 201, uploaded.text
    _finish(team, build, b"done\n")
    path, reporter = team["path"], web("reporter")
    job = reporter.get(f"{path}/-/jobs/{build['id']}").text
    assert f"{path}/-/jobs/{build['id']}/artifacts/download" in job
    top = reporter.get(f"{path}/-/jobs/{build['id']}/artifacts/browse").text
    assert "/artifacts/browse/out" in top
    inner = reporter.get(f"{path}/-/jobs/{build['id']}/artifacts/browse/out").text
    assert "/artifacts/file/out/report.html" in inner
    assert "/artifacts/file/out/a%20b.txt" in inner
    served = reporter.get(f"{path}/-/jobs/{build['id']}/artifacts/file/out/report.html")
    assert served.status_code == 200
    assert served.headers["Content-Disposition"].startswith("attachment")
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.content == b"<script>alert(1)</script>"
    assert reporter.get(f"{path}/-/jobs/{build['id']}/artifacts/download").content == archive
    for bad in ("../etc/passwd", "out/../../x", "nope"):
        assert reporter.get(f"{path}/-/jobs/{build['id']}/artifacts/file/{bad}").status_code == 404
    assert reporter.get(f"{path}/-/jobs/{build['id']}/artifacts/browse/nope").status_code == 404
    assert web("guest").get(f"{path}/-/jobs/{build['id']}/artifacts/download").status_code == 404


def test_run_pipeline_form(
    team: dict[str, Any], web: Callable[..., Web], gl: gitlab.Gitlab
) -> None:
    path, developer = team["path"], web("developer")
    response = developer.post(
        f"{path}/-/pipelines",
        {
            "ref": "feature",
            "variables[0][key]": "DEPLOY_TO",
            "variables[0][value]": "<staging>",
            "variables[0][variable_type]": "env_var",
            "variables[1][key]": "",
            "variables[1][value]": "",
        },
    )
    assert response.status_code == 302, response.text[:2000]
    pid = int(response.headers["Location"].rsplit("/", 1)[1])
    pipeline = gl.projects.get(team["project"].id).pipelines.get(pid)
    assert pipeline.source == "web"
    assert [(v.key, v.value) for v in pipeline.variables.list()] == [("DEPLOY_TO", "<staging>")]
    # Errors come back on the form in the service's words.
    bad = developer.post(f"{path}/-/pipelines", {"ref": "nope"})
    assert bad.status_code == 200
    assert "Reference not found" in bad.text
    bad_key = developer.post(
        f"{path}/-/pipelines",
        {"ref": "feature", "variables[0][key]": "<b>x", "variables[0][value]": "1"},
    )
    assert "&lt;b&gt;x" in bad_key.text
    assert "<b>x" not in bad_key.text
    assert web("reporter").post(f"{path}/-/pipelines", {"ref": "main"}).status_code == 404


def test_ci_settings_variables_and_runners(
    team: dict[str, Any], web: Callable[..., Web], gl: gitlab.Gitlab, server_url: str
) -> None:
    path = team["path"]
    for name in ("guest", "reporter", "developer", "outsider"):
        session = web(name)
        assert session.get(f"{path}/-/settings/ci_cd").status_code == 404, name
        assert session.post(f"{path}/-/variables", {"key": "X", "value": "y"}).status_code == 404
    maintainer = web("maintainer")
    page = maintainer.get(f"{path}/-/settings/ci_cd")
    assert page.status_code == 200
    forms_have_csrf(page.text)
    assert f"kiln runner register --url {server_url} --token" in page.text

    added = maintainer.follow(
        f"{path}/-/variables",
        {
            "key": "SECRET_TOKEN",
            "value": "s3cr3t-value-123",
            "visibility": "masked",
            "protected": "1",
            "expand": "1",
            "variable_type": "env_var",
            "environment_scope": "*",
            "description": "<i>deploy</i>",
        },
    )
    assert "SECRET_TOKEN" in added.text
    assert "s3cr3t-value-123" not in added.text
    assert "&lt;i&gt;deploy&lt;/i&gt;" in added.text
    variable = gl.projects.get(team["project"].id).variables.get("SECRET_TOKEN")
    assert (variable.masked, variable.protected, variable.raw) == (True, True, False)
    # A value that cannot be masked: the service's message, on the page.
    refused = maintainer.post(
        f"{path}/-/variables", {"key": "SHORT", "value": "abc", "visibility": "masked"}
    )
    assert refused.status_code == 200
    assert "Value is invalid" in refused.text
    # Hidden variables (the API's `masked_and_hidden`) never come back, not even on their
    # edit page; saving it with an empty value keeps the value.
    from kiln.ci.models import Variable

    hidden = Variable.objects.create(
        project_id=team["project"].id,
        key="HIDDEN_ONE",
        value="hidden-value-123456",
        masked=True,
        hidden=True,
    )
    edit = maintainer.get(f"{path}/-/variables/{hidden.pk}/edit").text
    assert "hidden-value-123456" not in edit
    maintainer.follow(f"{path}/-/variables/{hidden.pk}/edit", {"value": "", "expand": "1"})
    hidden.refresh_from_db()
    assert hidden.value == "hidden-value-123456"
    # Edit, delete.
    row = Variable.objects.get(key="SECRET_TOKEN")
    maintainer.follow(
        f"{path}/-/variables/{row.pk}/edit",
        {"value": "another-value-456", "visibility": "visible", "environment_scope": "prod"},
    )
    row.refresh_from_db()
    assert (row.value, row.masked, row.environment_scope, row.raw) == (
        "another-value-456",
        False,
        "prod",
        True,
    )
    assert web("developer").post(f"{path}/-/variables/{row.pk}/delete").status_code == 404
    maintainer.follow(f"{path}/-/variables/{row.pk}/delete")
    assert not Variable.objects.filter(pk=row.pk).exists()

    # General pipeline settings through the project service.
    maintainer.follow(
        f"{path}/-/settings/ci_cd",
        {"build_timeout_minutes": "90", "ci_config_path": "ci/pipeline.yml"},
    )
    project = gl.projects.get(team["project"].id)
    assert (project.build_timeout, project.ci_config_path) == (5400, "ci/pipeline.yml")
    assert project.auto_cancel_pending_pipelines == "disabled"
    bad = maintainer.post(f"{path}/-/settings/ci_cd", {"build_timeout_minutes": "1"})
    assert bad.status_code == 200
    assert 'role="alert"' in bad.text

    # A project runner: its token shown once with the registration command.
    created = maintainer.post(
        f"{path}/-/runners",
        {"description": "<b>mine</b>", "tag_list": "linux", "run_untagged": "1"},
    )
    assert created.status_code == 200
    token = re.search(r'id="runner-token" value="(glrt-[^"]+)"', created.text)
    assert token is not None
    assert f"kiln runner register --url {server_url} --token {token.group(1)}" in created.text
    assert RunnerClient(server_url, token.group(1)).verify().status_code == 200
    listing = maintainer.get(f"{path}/-/settings/ci_cd").text
    assert "&lt;b&gt;mine&lt;/b&gt;" in listing
    assert token.group(1) not in listing
    runner_id = int(re.findall(r"/-/runners/(\d+)/pause", listing)[0])
    maintainer.follow(f"{path}/-/runners/{runner_id}/pause")
    from kiln.ci.models import Runner

    assert Runner.objects.get(pk=runner_id).active is False
    maintainer.follow(f"{path}/-/runners/{runner_id}/delete")
    assert not Runner.objects.filter(pk=runner_id).exists()


def test_ci_lint_page(team: dict[str, Any], web: Callable[..., Web]) -> None:
    path = team["path"]
    assert web("reporter").get(f"{path}/-/ci/lint").status_code == 404
    developer = web("developer")
    page = developer.get(f"{path}/-/ci/lint")
    assert page.status_code == 200
    forms_have_csrf(page.text)
    valid = developer.post(f"{path}/-/ci/lint", {"content": CI_YAML}).text
    assert "syntax is correct" in valid
    assert "test Job - unit" in valid
    invalid = developer.post(
        f"{path}/-/ci/lint", {"content": "job<script>:\n  scripts: [1]\n"}
    ).text
    assert "syntax is incorrect" in invalid
    assert "<script>:" not in invalid
