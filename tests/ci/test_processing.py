"""The pipeline state machine (kiln.ci.processing) with GitLab's rules: stages, `needs`,
`when`, `allow_failure`, manual and delayed jobs, retries, cancellation."""

from __future__ import annotations

from typing import Any

import pytest

from kiln.ci import jobs as job_services
from kiln.ci import pipeline_actions
from kiln.ci import statuses as st
from kiln.ci.models import Job, Pipeline
from kiln.ci.statuses import composite
from kiln.core.actor import Actor
from tests.ci.builders import (
    finish,
    instance_runner,
    latest_pipeline,
    project_with_ci,
    run_next,
    statuses,
    take,
)
from tests.projects import builders as b


@pytest.fixture
def owner(transactional_db: None) -> Any:
    from kiln.accounts.services import seed_root

    seed_root(password="root-password-1", token_value="glpat-test-root-token-000000")
    return b.root_user()


def _pipeline(owner: Any, config: str) -> Pipeline:
    pipeline = latest_pipeline(project_with_ci(owner, config))
    assert pipeline is not None
    return pipeline


def _job(pipeline: Pipeline, name: str) -> Job:
    return Job.objects.get(pipeline=pipeline, name=name, retried=False)


@pytest.mark.parametrize(
    ("pairs", "dag", "expected"),
    [
        ([], False, None),
        ([("success", False), ("created", False)], False, "running"),
        ([("success", False), ("failed", True)], False, "success"),
        ([("failed", False), ("success", False)], False, "failed"),
        ([("manual", True), ("success", False)], False, "success"),
        ([("manual", False), ("success", False)], False, "manual"),
        ([("skipped", False)], False, "skipped"),
        ([("canceled", False), ("success", False)], False, "canceled"),
        ([("pending", False), ("created", False)], False, "pending"),
        ([("skipped", False), ("success", False)], True, "skipped"),
        ([("running", False)], True, "pending"),
    ],
)
def test_composite_status_is_gitlabs(
    pairs: list[tuple[str, bool]], dag: bool, expected: str | None
) -> None:
    assert composite(pairs, dag=dag) == expected


def test_stages_advance_and_allowed_failures_do_not_fail(owner: Any) -> None:
    pipeline = _pipeline(
        owner,
        """
stages: [one, two]
a: {stage: one, script: [x], allow_failure: true}
b: {stage: one, script: [x]}
c: {stage: two, script: [x]}
""",
    )
    assert statuses(pipeline) == {"a": "pending", "b": "pending", "c": "created"}
    assert Pipeline.objects.get(pk=pipeline.pk).status == "pending"
    runner = instance_runner()
    first = take(runner)
    assert Pipeline.objects.get(pk=pipeline.pk).status == "running"
    finish(first.job, st.FAILED, exit_code=1)
    assert statuses(pipeline)["c"] == "created"
    run_next(runner)
    assert statuses(pipeline) == {"a": "failed", "b": "success", "c": "pending"}
    run_next(runner)
    assert Pipeline.objects.get(pk=pipeline.pk).status == "success"


def test_on_failure_and_always_jobs(owner: Any) -> None:
    pipeline = _pipeline(
        owner,
        """
stages: [build, after]
build: {stage: build, script: [x]}
cleanup: {stage: after, script: [x], when: on_failure}
deploy: {stage: after, script: [x]}
report: {stage: after, script: [x], when: always}
""",
    )
    run_next(instance_runner(), st.FAILED)
    assert statuses(pipeline) == {
        "build": "failed",
        "cleanup": "pending",
        "deploy": "skipped",
        "report": "pending",
    }
    assert Pipeline.objects.get(pk=pipeline.pk).status == "running"


def test_a_blocking_manual_job_holds_later_stages_until_played(owner: Any) -> None:
    pipeline = _pipeline(
        owner,
        """
stages: [build, deploy, verify]
build: {stage: build, script: [x]}
deploy: {stage: deploy, script: [x], when: manual, allow_failure: false}
optional: {stage: deploy, script: [x], when: manual}
verify: {stage: verify, script: [x]}
""",
    )
    runner = instance_runner()
    run_next(runner)
    assert statuses(pipeline) == {
        "build": "success",
        "deploy": "manual",
        "optional": "manual",
        "verify": "created",
    }
    assert Pipeline.objects.get(pk=pipeline.pk).status == "manual"
    job_services.play_job(actor=Actor.for_user(owner), job=_job(pipeline, "deploy"))
    assert statuses(pipeline)["deploy"] == "pending"
    run_next(runner)
    assert statuses(pipeline)["verify"] == "pending"
    run_next(runner)
    # The optional manual job never ran; it does not hold the pipeline (GitLab's "ignored").
    assert Pipeline.objects.get(pk=pipeline.pk).status == "success"


def test_needs_start_jobs_before_their_stage(owner: Any) -> None:
    pipeline = _pipeline(
        owner,
        """
stages: [build, test, deploy]
build: {stage: build, script: [x]}
lint: {stage: test, script: [x], needs: []}
slow-test: {stage: test, script: [x]}
deploy: {stage: deploy, script: [x], needs: [build]}
""",
    )
    assert statuses(pipeline) == {
        "build": "pending",
        "lint": "pending",
        "slow-test": "created",
        "deploy": "created",
    }
    runner = instance_runner()
    build = take(runner).job
    assert build.name == "build"
    finish(build)
    # deploy needs only build: it starts while slow-test has not even started.
    assert statuses(pipeline)["deploy"] == "pending"
    assert statuses(pipeline)["slow-test"] == "pending"


def test_a_dag_job_whose_need_was_skipped_is_skipped(owner: Any) -> None:
    pipeline = _pipeline(
        owner,
        """
stages: [a, b, c]
first: {stage: a, script: [x]}
second: {stage: b, script: [x]}
third: {stage: c, script: [x], needs: [second]}
""",
    )
    run_next(instance_runner(), st.FAILED)
    assert statuses(pipeline) == {"first": "failed", "second": "skipped", "third": "skipped"}
    assert Pipeline.objects.get(pk=pipeline.pk).status == "failed"


def test_rules_when_never_and_workflow_rules(owner: Any) -> None:
    pipeline = _pipeline(
        owner,
        """
a:
  script: [x]
b:
  script: [x]
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
      when: never
    - when: on_success
""",
    )
    assert statuses(pipeline) == {"a": "pending"}
    filtered = project_with_ci(
        owner,
        """
workflow:
  rules:
    - if: $CI_COMMIT_BRANCH == "release"
a: {script: [x]}
""",
    )
    assert latest_pipeline(filtered) is None


def test_cancel_then_retry_a_pipeline(owner: Any) -> None:
    pipeline = _pipeline(
        owner,
        """
stages: [one, two]
a: {stage: one, script: [x]}
b: {stage: one, script: [x]}
c: {stage: two, script: [x]}
""",
    )
    runner = instance_runner()
    running = take(runner).job
    actor = Actor.for_user(owner)
    pipeline_actions.cancel_pipeline(actor=actor, pipeline=pipeline)
    assert statuses(pipeline) == {"a": "canceled", "b": "canceled", "c": "canceled"}
    assert Pipeline.objects.get(pk=pipeline.pk).status == "canceled"
    # The runner learns through its next call on the job.
    with pytest.raises(job_services.JobForbidden) as denied:
        job_services.authenticate_job(running.pk, "whatever")
    assert denied.value.status == 403
    pipeline_actions.retry_pipeline(actor=actor, pipeline=Pipeline.objects.get(pk=pipeline.pk))
    assert statuses(pipeline) == {"a": "pending", "b": "pending", "c": "created"}
    assert Job.objects.filter(pipeline=pipeline, retried=True).count() == 3
    assert Pipeline.objects.get(pk=pipeline.pk).status == "pending"


def test_retrying_a_failed_job_restarts_what_it_skipped(owner: Any) -> None:
    pipeline = _pipeline(
        owner,
        """
stages: [one, two]
a: {stage: one, script: [x]}
b: {stage: two, script: [x]}
""",
    )
    runner = instance_runner()
    failed = run_next(runner, st.FAILED)
    assert statuses(pipeline) == {"a": "failed", "b": "skipped"}
    clone = job_services.retry_job(actor=Actor.for_user(owner), job=Job.objects.get(pk=failed.pk))
    assert clone.pk != failed.pk
    assert statuses(pipeline) == {"a": "pending", "b": "created"}
    run_next(runner)
    assert statuses(pipeline) == {"a": "success", "b": "pending"}
    with pytest.raises(Exception, match="not retryable"):
        job_services.retry_job(actor=Actor.for_user(owner), job=Job.objects.get(pk=failed.pk))


def test_retry_keyword_and_allow_failure_exit_codes(owner: Any) -> None:
    pipeline = _pipeline(
        owner,
        """
flaky:
  script: [x]
  retry: 1
tolerated:
  script: [x]
  allow_failure:
    exit_codes: [137]
""",
    )
    runner = instance_runner()
    jobs = {}
    for _ in range(2):
        assignment = take(runner)
        jobs[assignment.job.name] = assignment.job
    finish(jobs["flaky"], st.FAILED, exit_code=1)
    finish(jobs["tolerated"], st.FAILED, exit_code=137)
    assert statuses(pipeline) == {"flaky": "pending", "tolerated": "failed"}
    assert _job(pipeline, "tolerated").allow_failure is True
    run_next(runner, st.FAILED, exit_code=1)
    # Retried once only; the tolerated failure does not fail the pipeline, the flaky one does.
    assert statuses(pipeline) == {"flaky": "failed", "tolerated": "failed"}
    assert Pipeline.objects.get(pk=pipeline.pk).status == "failed"


def test_delayed_jobs_are_scheduled_and_can_be_run_now(owner: Any) -> None:
    pipeline = _pipeline(
        owner,
        """
later:
  script: [x]
  when: delayed
  start_in: 30 minutes
""",
    )
    job = _job(pipeline, "later")
    assert job.status == "scheduled"
    assert job.scheduled_at is not None
    assert Pipeline.objects.get(pk=pipeline.pk).status == "scheduled"
    job_services.play_job(actor=Actor.for_user(owner), job=job)
    assert _job(pipeline, "later").status == "pending"


def test_skip_ci_in_the_commit_message_creates_a_skipped_pipeline(owner: Any) -> None:
    from tests.ci.builders import commit

    project = project_with_ci(owner, "a: {script: [x]}")
    commit(owner, project, {"other.txt": "x"}, message="docs [skip ci]")
    pipeline = latest_pipeline(project)
    assert pipeline is not None
    assert pipeline.status == "skipped"
    assert not Job.objects.filter(pipeline=pipeline).exists()


def test_includes_read_the_pipelines_commit_and_only_projects_the_user_may_read(
    owner: Any,
) -> None:
    from kiln.core.access import AccessLevel
    from kiln.projects.members import add_member

    shared = b.project(owner, "Shared")
    from tests.ci.builders import commit

    commit(owner, shared, {"ci/common.yml": "from-shared:\n  script: [x]\n"})
    user = b.user("includer")
    include = (
        "include:\n"
        "  - local: ci/local.yml\n"
        "  - project: root/shared\n    file: ci/common.yml\n"
        "  - template: Bash.gitlab-ci.yml\n"
    )
    mine = b.project(user, "Mine")
    commit(user, mine, {".gitlab-ci.yml": include, "ci/local.yml": "from-local:\n  script: [x]\n"})
    denied = latest_pipeline(mine)
    assert denied is not None
    assert denied.status == "failed"
    assert denied.yaml_errors.startswith("Project `root/shared` not found or access denied!")
    add_member(
        actor=Actor.for_user(owner),
        source=shared,
        user_ref=user.pk,
        access_level=AccessLevel.REPORTER,
    )
    commit(user, mine, {"touch.txt": "again"})
    allowed = latest_pipeline(mine)
    assert allowed is not None
    assert allowed.yaml_errors == ""
    names = set(statuses(allowed))
    assert {"from-local", "from-shared"} <= names
    assert "build1" in names  # from GitLab's Bash template
