"""Pipeline schedules, trigger tokens and the worker's periodic tasks, through python-gitlab
(GitLab's `doc/api/pipeline_schedules.md`, `pipeline_triggers.md`): shapes, permissions,
hostile input, the scheduler creating due pipelines, stuck jobs and expired artifacts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import gitlab
import pytest
import requests
from django.utils import timezone

from kiln.ci import cron, periodic
from kiln.ci import statuses as st
from kiln.ci.models import Job, JobArtifact, PeriodicRun, Pipeline, PipelineSchedule
from kiln.ci.tasks import drop_stuck_jobs, remove_expired_artifacts
from tests.ci.builders import latest_pipeline, project_with_ci
from tests.conftest import ROOT_TOKEN
from tests.projects import builders as b

CONFIG = """\
build:
  script: [echo "$SCHEDULED_VAR$TRIGGERED_VAR"]
"""

MakeUser = Callable[..., tuple[Any, gitlab.Gitlab]]


@pytest.fixture
def project(gl: gitlab.Gitlab) -> Any:
    root = b.root_user()
    created = project_with_ci(root, CONFIG, name=b.unique("sched"))
    return gl.projects.get(created.pk)


def _api(server_url: str, token: str = ROOT_TOKEN) -> requests.Session:
    session = requests.Session()
    session.headers["PRIVATE-TOKEN"] = token
    session.base_url = f"{server_url}/api/v4"  # type: ignore[attr-defined]
    return session


def _call(session: requests.Session, method: str, path: str, **kwargs: Any) -> Any:
    return session.request(method, session.base_url + path, timeout=30, **kwargs)  # type: ignore[attr-defined]


# --- cron -----------------------------------------------------------------------------------


def _utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_cron_next_run() -> None:
    utc = cron.zone("UTC")
    friday_one = cron.parse("0 1 * * 5")
    assert cron.next_run(friday_one, utc, _utc(2017, 5, 19, 13, 43)) == _utc(2017, 5, 26, 1, 0)
    tokyo = cron.zone("Asia/Tokyo")
    every = cron.parse("* * * * *")
    assert cron.next_run(every, tokyo, _utc(2017, 5, 19, 13, 40, 17)) == _utc(2017, 5, 19, 13, 41)
    # 02:00 in Tokyo is 17:00 UTC the day before.
    assert cron.next_run(cron.parse("0 2 * * *"), tokyo, _utc(2017, 5, 19, 13, 44)) == _utc(
        2017, 5, 19, 17, 0
    )
    assert cron.zone("Pacific Time (US & Canada)").key == "America/Los_Angeles"
    # Day of month OR day of week when both are restricted (Vixie cron).
    either = cron.parse("0 0 13 * fri")
    assert cron.next_run(either, utc, _utc(2024, 1, 1)) == _utc(2024, 1, 5)
    assert cron.next_run(cron.parse("@monthly"), utc, _utc(2024, 1, 5)) == _utc(2024, 2, 1)
    assert cron.next_run(cron.parse("*/15 9-17 * jan-mar mon-fri"), utc, _utc(2024, 1, 6)) == (
        _utc(2024, 1, 8, 9, 0)
    )
    # A wall time skipped by the DST jump does not run that day.
    berlin = cron.zone("Europe/Berlin")
    assert cron.next_run(cron.parse("30 2 * * *"), berlin, _utc(2024, 3, 30, 12)) == _utc(
        2024, 4, 1, 0, 30
    )
    assert cron.next_run(cron.parse("0 0 31 2 *"), utc, _utc(2024, 1, 1)) is None
    for bad in ("", "* * * *", "60 * * * *", "* * * * 8", "*/0 * * * *", "5-1 * * * *", "x y"):
        with pytest.raises(cron.CronError):
            cron.parse(bad)
    for bad_zone in ("Mars/Olympus", "", "../../etc/passwd", "/etc/localtime"):
        with pytest.raises(cron.CronError):
            cron.zone(bad_zone)


# --- schedules ------------------------------------------------------------------------------


def test_schedule_crud_variables_play_and_ownership(
    project: Any, gl: gitlab.Gitlab, make_user: MakeUser
) -> None:
    schedule = project.pipelineschedules.create(
        {
            "description": "Nightly",
            "ref": "main",
            "cron": "0 2 * * *",
            "cron_timezone": "Asia/Tokyo",
        }
    )
    assert schedule.ref == "refs/heads/main"
    assert schedule.active is True
    assert schedule.owner["username"] == "root"
    assert schedule.last_pipeline is None
    next_run = dt.datetime.fromisoformat(schedule.next_run_at)
    assert next_run > timezone.now()
    assert next_run.astimezone(cron.zone("Asia/Tokyo")).hour == 2
    assert set(schedule.attributes) >= {
        "id", "description", "ref", "cron", "cron_timezone", "next_run_at", "active",
        "created_at", "updated_at", "owner", "last_pipeline", "variables",
    }  # fmt: skip

    variable = schedule.variables.create({"key": "SCHEDULED_VAR", "value": "from-schedule"})
    assert variable.variable_type == "env_var"
    fetched = project.pipelineschedules.get(schedule.id)
    assert fetched.attributes["variables"] == [
        {"variable_type": "env_var", "key": "SCHEDULED_VAR", "value": "from-schedule", "raw": False}
    ]

    fetched.cron = "30 4 * * 1"
    fetched.cron_timezone = "UTC"
    fetched.save()
    again = project.pipelineschedules.get(schedule.id)
    assert again.cron == "30 4 * * 1"
    moved = dt.datetime.fromisoformat(again.next_run_at)
    assert (moved.weekday(), moved.hour, moved.minute) == (0, 4, 30)

    assert [s.id for s in project.pipelineschedules.list(scope="active")] == [schedule.id]
    assert project.pipelineschedules.list(scope="inactive") == []

    planned = again.next_run_at
    again.play()  # python-gitlab replaces the attributes with the answer ({"message": ...})
    pipeline = Pipeline.objects.get(pipeline_schedule_id=schedule.id)
    assert pipeline.source == "schedule"
    assert pipeline.ref == "main"
    assert [(v.key, v.value) for v in pipeline.variables.all()] == [
        ("SCHEDULED_VAR", "from-schedule")
    ]
    listed = project.pipelineschedules.get(schedule.id).pipelines.list(get_all=True)
    assert [p.id for p in listed] == [pipeline.pk]
    assert listed[0].source == "schedule"
    assert project.pipelineschedules.get(schedule.id).last_pipeline["id"] == pipeline.pk
    # Playing does not move the next run.
    assert project.pipelineschedules.get(schedule.id).next_run_at == planned

    # Another maintainer takes it over; taking it again is a no-op answered 200.
    user, ugl = make_user(b.unique("maint"))
    project.members.create({"user_id": user.pk, "access_level": 40})
    theirs = ugl.projects.get(project.id).pipelineschedules.get(schedule.id)
    theirs.take_ownership()
    assert theirs.owner["username"] == user.username
    session = _api(gl.url, ugl.private_token)
    same = _call(
        session, "POST", f"/projects/{project.id}/pipeline_schedules/{schedule.id}/take_ownership"
    )
    assert same.status_code == 200

    variable = theirs.variables.update("SCHEDULED_VAR", {"value": "changed"})
    assert variable["value"] == "changed"
    deleted = _call(
        session,
        "DELETE",
        f"/projects/{project.id}/pipeline_schedules/{schedule.id}/variables/SCHEDULED_VAR",
    )
    assert deleted.status_code == 202
    assert deleted.json()["key"] == "SCHEDULED_VAR"
    project.pipelineschedules.delete(schedule.id)
    assert project.pipelineschedules.list() == []
    assert Pipeline.objects.filter(pk=pipeline.pk, pipeline_schedule__isnull=True).exists()


def test_schedule_hostile_input_and_permissions(
    project: Any, gl: gitlab.Gitlab, make_user: MakeUser
) -> None:
    session = _api(gl.url)
    base = f"/projects/{project.id}/pipeline_schedules"
    good = {"description": "x", "ref": "main", "cron": "* * * * *"}
    cases = [
        ({**good, "cron": "61 * * * *"}, {"message": {"cron": [" is invalid syntax"]}}),
        ({**good, "cron": "nonsense"}, {"message": {"cron": [" is invalid syntax"]}}),
        (
            {**good, "cron_timezone": "Mars/Olympus"},
            {"message": {"cron_timezone": [" is invalid syntax"]}},
        ),
        ({**good, "description": ""}, {"message": {"description": ["can't be blank"]}}),
        ({"description": "x", "ref": "main"}, {"error": "cron is missing"}),
    ]
    for body, expected in cases:
        answer = _call(session, "POST", base, json=body)
        assert (answer.status_code, answer.json()) == (400, expected), body
    assert PipelineSchedule.objects.count() == 0
    assert _call(session, "GET", f"{base}/999999").status_code == 404
    assert _call(session, "GET", f"{base}/999999").json() == {
        "message": "404 Pipeline Schedule Not Found"
    }
    assert _call(session, "GET", f"{base}/abc").status_code == 404

    schedule = project.pipelineschedules.create(good)
    bad_update = _call(session, "PUT", f"{base}/{schedule.id}", json={"cron_timezone": "Nowhere"})
    assert bad_update.status_code == 400
    assert project.pipelineschedules.get(schedule.id).cron_timezone == "UTC"  # nothing written
    bad_type = _call(
        session,
        "POST",
        f"{base}/{schedule.id}/variables",
        json={"key": "A", "value": "b", "variable_type": "weird"},
    )
    assert bad_type.status_code == 400
    bad_key = _call(
        session, "POST", f"{base}/{schedule.id}/variables", json={"key": "A-B", "value": "b"}
    )
    assert bad_key.status_code == 400
    assert _call(session, "GET", f"{base}/{schedule.id}/variables/NOPE").status_code == 404

    # A developer who does not own it may see and play it (on a ref they may run pipelines
    # on: not the protected default branch), not change or delete it.
    project.branches.create({"branch": "feature", "ref": "main"})
    schedule = project.pipelineschedules.create({**good, "ref": "feature"})
    dev, dgl = make_user(b.unique("dev"))
    project.members.create({"user_id": dev.pk, "access_level": 30})
    dsession = _api(gl.url, dgl.private_token)
    assert _call(dsession, "GET", f"{base}/{schedule.id}").status_code == 200
    assert (
        _call(dsession, "PUT", f"{base}/{schedule.id}", json={"cron": "1 * * * *"}).status_code
        == 403
    )
    assert _call(dsession, "DELETE", f"{base}/{schedule.id}").status_code == 403
    assert _call(dsession, "POST", f"{base}/{schedule.id}/take_ownership").status_code == 403
    assert _call(dsession, "POST", f"{base}/{schedule.id}/play").status_code == 201
    protected = project.pipelineschedules.list(get_all=True)[0]
    assert protected.ref == "refs/heads/main"
    assert _call(dsession, "POST", f"{base}/{protected.id}/play").status_code == 403
    played = Pipeline.objects.get(pipeline_schedule_id=schedule.id)
    assert played.user_id == dev.pk
    # A reporter may not create one; an outsider sees nothing.
    rep, rgl = make_user(b.unique("rep"))
    project.members.create({"user_id": rep.pk, "access_level": 20})
    rsession = _api(gl.url, rgl.private_token)
    assert _call(rsession, "POST", base, json=good).status_code == 403
    _, ogl = make_user(b.unique("out"))
    assert _call(_api(gl.url, ogl.private_token), "GET", base).status_code == 404
    assert requests.get(f"{gl.url}/api/v4{base}", timeout=30).status_code == 401


def test_periodic_scheduler_runs_due_schedules_once(project: Any) -> None:
    schedule = project.pipelineschedules.create(
        {"description": "due", "ref": "main", "cron": "*/5 * * * *"}
    )
    schedule.variables.create({"key": "SCHEDULED_VAR", "value": "periodic"})
    inactive = project.pipelineschedules.create(
        {"description": "off", "ref": "main", "cron": "* * * * *", "active": False}
    )
    past = timezone.now() - dt.timedelta(minutes=1)
    PipelineSchedule.objects.filter(pk__in=[schedule.id, inactive.id]).update(next_run_at=past)
    PeriodicRun.objects.all().delete()

    now = timezone.now()
    started = periodic.run_due(now)
    assert "ci.pipeline_schedules" in started
    assert "ci.drop_stuck_jobs" in started
    assert "ci.remove_expired_artifacts" in started
    created = Pipeline.objects.filter(pipeline_schedule_id=schedule.id)
    assert created.count() == 1
    assert created[0].source == "schedule"
    assert Pipeline.objects.filter(pipeline_schedule_id=inactive.id).count() == 0
    following = PipelineSchedule.objects.get(pk=schedule.id).next_run_at
    assert following is not None
    assert following > now
    assert following.minute % 5 == 0

    # The same instant again (another worker): nothing is claimed twice.
    assert periodic.run_due(now) == []
    # Due again, but the schedule is not: no second pipeline.
    later = now + dt.timedelta(seconds=20)
    assert periodic.run_due(later) == ["ci.pipeline_schedules"]
    assert created.count() == 1


def test_schedule_with_unknown_ref_creates_nothing(project: Any) -> None:
    schedule = project.pipelineschedules.create(
        {"description": "gone", "ref": "no-such-branch", "cron": "* * * * *"}
    )
    assert schedule.ref == "no-such-branch"
    PipelineSchedule.objects.filter(pk=schedule.id).update(
        next_run_at=timezone.now() - dt.timedelta(seconds=1)
    )
    from kiln.ci.schedules import run_due_schedules

    assert run_due_schedules() == 1  # it ran, and created no pipeline
    assert not Pipeline.objects.filter(pipeline_schedule_id=schedule.id).exists()


# --- trigger tokens -------------------------------------------------------------------------


def test_trigger_tokens_and_triggered_pipelines(
    project: Any, gl: gitlab.Gitlab, server_url: str, make_user: MakeUser
) -> None:
    trigger = project.triggers.create({"description": "deploys"})
    token = trigger.token
    assert token.startswith("glptt-")
    assert trigger.owner["username"] == "root"
    assert trigger.last_used is None
    listed = project.triggers.list()
    assert [t.id for t in listed] == [trigger.id]
    assert listed[0].token == token.removeprefix("glptt-")[:4]

    pipeline = project.trigger_pipeline("main", token, variables={"TRIGGERED_VAR": "yes"})
    assert pipeline.source == "trigger"
    assert pipeline.ref == "main"
    assert pipeline.user["username"] == "root"
    row = Pipeline.objects.get(pk=pipeline.id)
    assert [(v.key, v.value) for v in row.variables.all()] == [("TRIGGERED_VAR", "yes")]
    assert project.triggers.get(trigger.id).last_used is not None

    # As curl sends it: a form with variables[KEY]=value, no other authentication.
    url = f"{server_url}/api/v4/projects/{project.id}/trigger/pipeline"
    form = requests.post(
        url,
        data={"token": token, "ref": "main", "variables[TRIGGERED_VAR]": "form"},
        timeout=30,
    )
    assert form.status_code == 201, form.text
    assert form.json()["source"] == "trigger"
    assert [
        (v.key, v.value) for v in Pipeline.objects.get(pk=form.json()["id"]).variables.all()
    ] == [("TRIGGERED_VAR", "form")]

    # Hostile and wrong input: nothing is created.
    before = Pipeline.objects.count()
    answers = {
        "wrong token": requests.post(url, data={"token": "glptt-nope", "ref": "main"}, timeout=30),
        "no token": requests.post(url, data={"ref": "main"}, timeout=30),
        "unknown ref": requests.post(url, data={"token": token, "ref": "nope"}, timeout=30),
        "bad variables": requests.post(
            url, json={"token": token, "ref": "main", "variables": ["x"]}, timeout=30
        ),
        "bad key": requests.post(
            url, json={"token": token, "ref": "main", "variables": {"A-B": "x"}}, timeout=30
        ),
        "other project": requests.post(
            f"{server_url}/api/v4/projects/999999/trigger/pipeline",
            data={"token": token, "ref": "main"},
            timeout=30,
        ),
    }
    assert (answers["wrong token"].status_code, answers["wrong token"].json()) == (
        404,
        {"message": "404 Not found"},
    )
    assert answers["no token"].json() == {"error": "token is missing"}
    assert (answers["unknown ref"].status_code, answers["unknown ref"].json()) == (
        400,
        {"message": "Reference not found"},
    )
    assert answers["bad variables"].json() == {
        "message": "variables needs to be a map of key-valued strings"
    }
    assert answers["bad key"].status_code == 400
    assert answers["other project"].status_code == 404
    assert Pipeline.objects.count() == before

    # Another project's token does not work here.
    other = gl.projects.get(project_with_ci(b.root_user(), CONFIG, name=b.unique("o")).pk)
    other_token = other.triggers.create({"description": "other"}).token
    crossed = requests.post(url, data={"token": other_token, "ref": "main"}, timeout=30)
    assert crossed.status_code == 404

    # Developers may not manage tokens; only the owner may rename one.
    dev, dgl = make_user(b.unique("tdev"))
    project.members.create({"user_id": dev.pk, "access_level": 30})
    dsession = _api(server_url, dgl.private_token)
    assert _call(dsession, "GET", f"/projects/{project.id}/triggers").status_code == 403
    assert (
        _call(
            dsession, "POST", f"/projects/{project.id}/triggers", json={"description": "x"}
        ).status_code
        == 403
    )
    maint, mgl = make_user(b.unique("tmaint"))
    project.members.create({"user_id": maint.pk, "access_level": 40})
    msession = _api(server_url, mgl.private_token)
    renamed = _call(
        msession, "PUT", f"/projects/{project.id}/triggers/{trigger.id}", json={"description": "y"}
    )
    assert renamed.status_code == 403
    trigger.description = "renamed"
    trigger.save()
    assert project.triggers.get(trigger.id).description == "renamed"
    assert (
        _call(msession, "DELETE", f"/projects/{project.id}/triggers/{trigger.id}").status_code
        == 204
    )
    gone = requests.post(url, data={"token": token, "ref": "main"}, timeout=30)
    assert gone.status_code == 404


def test_expired_trigger_token_is_refused(project: Any, server_url: str) -> None:
    trigger = project.triggers.create({"description": "old"})
    from kiln.ci.models import PipelineTrigger

    PipelineTrigger.objects.filter(pk=trigger.id).update(
        expires_at=timezone.now() - dt.timedelta(days=1)
    )
    answer = requests.post(
        f"{server_url}/api/v4/projects/{project.id}/trigger/pipeline",
        data={"token": trigger.token, "ref": "main"},
        timeout=30,
    )
    assert answer.status_code == 404


# --- maintenance ----------------------------------------------------------------------------


def test_drop_stuck_jobs_and_remove_expired_artifacts(project: Any) -> None:
    from kiln.ci import storage
    from kiln.projects.models import Project

    pipeline = latest_pipeline(Project.objects.get(pk=project.id))
    assert pipeline is not None
    job = Job.objects.get(pipeline=pipeline)
    assert job.status == st.PENDING
    assert drop_stuck_jobs.call() == 0  # fresh: kept
    Job.objects.filter(pk=job.pk).update(queued_at=timezone.now() - dt.timedelta(days=2))
    assert drop_stuck_jobs.call() == 1
    job.refresh_from_db()
    assert (job.status, job.failure_reason) == (st.FAILED, "stuck_or_timeout_failure")
    pipeline.refresh_from_db()
    assert pipeline.status == st.FAILED

    # A running job far past its timeout whose runner still reports: job_execution_timeout.
    Job.objects.filter(pk=job.pk).update(
        status=st.RUNNING,
        timeout=60,
        started_at=timezone.now() - dt.timedelta(hours=1),
        failure_reason="",
    )
    assert drop_stuck_jobs.call() == 1
    job.refresh_from_db()
    assert job.failure_reason == "job_execution_timeout"

    relative = storage.new_artifact_path(job.project_id, job.pk, "archive")
    target = storage.artifact_file(relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"zip-bytes")
    JobArtifact.objects.create(
        job=job,
        project_id=job.project_id,
        file_type="archive",
        filename="artifacts.zip",
        storage_path=relative,
        expire_at=timezone.now() - dt.timedelta(minutes=1),
    )
    JobArtifact.objects.create(
        job=job,
        project_id=job.project_id,
        file_type="junit",
        filename="junit.xml.gz",
        storage_path=storage.new_artifact_path(job.project_id, job.pk, "junit"),
        expire_at=timezone.now() + dt.timedelta(days=1),
    )
    assert remove_expired_artifacts.call() == 1
    assert list(JobArtifact.objects.filter(job=job).values_list("file_type", flat=True)) == [
        "junit"
    ]
    assert not target.exists()
