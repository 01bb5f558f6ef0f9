"""Downstream pipelines through the services (kiln.ci.downstream): child pipelines from local
files, templates and artifacts, `strategy: depend`, cancel and retry, manual bridges, the
forwarded variables, and what fails a bridge (GitLab's failure reasons and messages)."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from kiln.ci import jobs as job_services
from kiln.ci import pipeline_actions, storage
from kiln.ci import pipelines as pipeline_services
from kiln.ci import statuses as st
from kiln.ci.models import ArtifactType, Job, JobArtifact, Pipeline, PipelineVariable
from kiln.core.actor import Actor
from tests.ci.builders import (
    commit,
    finish,
    instance_runner,
    latest_pipeline,
    project_with_ci,
    statuses,
    take,
)
from tests.projects import builders as b

CHILD = "child-job:\n  script: [echo child]\n"


@pytest.fixture
def owner(transactional_db: None) -> Any:
    from kiln.accounts.services import seed_root

    seed_root(password="root-password-1", token_value="glpat-test-root-token-000000")
    return b.root_user()


def _parent(owner: Any, config: str, **files: str) -> Pipeline:
    project = project_with_ci(owner, config, name=b.unique("p"), **files)
    pipeline = Pipeline.objects.filter(project=project, source="push").order_by("-pk").first()
    assert pipeline is not None
    return pipeline


def _bridge(pipeline: Pipeline, name: str = "trigger") -> Job:
    return Job.objects.get(pipeline=pipeline, name=name, retried=False)


def _child(bridge: Job) -> Pipeline:
    child = Pipeline.objects.filter(source_job=bridge).first()
    assert child is not None, (bridge.status, bridge.failure_reason, bridge.error_messages)
    return child


def _refresh(*rows: Any) -> None:
    for row in rows:
        row.refresh_from_db()


def test_local_include_child_runs_on_the_parent_commit_and_the_bridge_succeeds(
    owner: Any,
) -> None:
    parent = _parent(
        owner,
        "variables: {GLOBAL: g}\n"
        "trigger:\n  variables: {OWN: '$CI_PIPELINE_ID-x', RAWV: {value: '$KEEP', expand: false}}\n"
        "  trigger:\n    include: ci/child.yml\n",
        **{"ci/child.yml": CHILD},
    )
    bridge = _bridge(parent)
    child = _child(bridge)
    assert bridge.status == st.SUCCESS
    assert (child.source, child.ref, child.sha, child.source_pipeline_id) == (
        "parent_pipeline",
        parent.ref,
        parent.sha,
        parent.pk,
    )
    assert statuses(child) == {"child-job": st.PENDING}
    forwarded = {v.key: (v.value, v.raw) for v in PipelineVariable.objects.filter(pipeline=child)}
    assert forwarded == {
        "GLOBAL": ("g", False),
        "OWN": (f"{parent.pk}-x", False),
        "RAWV": ("$KEEP", True),
    }
    parent.refresh_from_db()
    assert parent.status == st.SUCCESS  # without a strategy the parent does not wait
    # The child is not in the default list; it is under its source.
    from kiln.ci.queries import PipelineFilters, list_pipelines

    assert child not in list(list_pipelines(parent.project, PipelineFilters()))
    found = list_pipelines(parent.project, PipelineFilters(source="parent_pipeline"))
    assert list(found) == [child]


def test_depend_mirrors_the_child_and_cancel_and_retry(owner: Any) -> None:
    runner = instance_runner()
    parent = _parent(
        owner,
        "stages: [a, b]\n"
        "trigger:\n  stage: a\n  trigger:\n    include: [{local: child.yml}]\n"
        "    strategy: depend\n"
        "after:\n  stage: b\n  script: [x]\n",
        **{"child.yml": "one:\n  script: [x]\ntwo:\n  script: [y]\n"},
    )
    bridge = _bridge(parent)
    child = _child(bridge)
    _refresh(parent, bridge)
    assert (bridge.status, parent.status) == (st.RUNNING, st.RUNNING)
    finish(take(runner).job, st.SUCCESS)
    _refresh(bridge)
    assert bridge.status == st.RUNNING  # the child still runs
    finish(take(runner).job, st.FAILED)
    _refresh(parent, bridge, child)
    assert (child.status, bridge.status, parent.status) == (st.FAILED, st.FAILED, st.FAILED)
    assert statuses(parent)["after"] == st.SKIPPED

    # Retrying the child runs the bridge again; its success passes up.
    actor = Actor.for_user(owner)
    pipeline_actions.retry_pipeline(actor=actor, pipeline=child)
    _refresh(bridge, parent)
    assert (bridge.status, parent.status) == (st.RUNNING, st.RUNNING)
    assert statuses(parent)["after"] == st.CREATED
    finish(take(runner).job, st.SUCCESS)
    _refresh(bridge, child)
    assert (child.status, bridge.status) == (st.SUCCESS, st.SUCCESS)
    assert statuses(parent)["after"] == st.PENDING
    finish(take(runner).job, st.SUCCESS)
    _refresh(parent)
    assert parent.status == st.SUCCESS

    # Retrying the bridge creates another child pipeline.
    retried = job_services.retry_job(actor=actor, job=bridge)
    second = _child(retried)
    assert second.pk != child.pk
    assert Pipeline.objects.filter(source_pipeline=parent).count() == 2

    # Canceling the parent cancels the running child, and the bridge with it.
    pipeline_actions.cancel_pipeline(actor=actor, pipeline=parent)
    _refresh(second, retried, parent)
    assert second.status == st.CANCELED
    assert retried.status == st.CANCELED
    assert set(statuses(second).values()) == {st.CANCELED}


def test_manual_bridge_plays_as_the_player(owner: Any) -> None:
    parent = _parent(
        owner,
        "trigger:\n  when: manual\n  trigger:\n    include: child.yml\n",
        **{"child.yml": CHILD},
    )
    bridge = _bridge(parent)
    assert bridge.status == st.MANUAL
    assert not Pipeline.objects.filter(source_job=bridge).exists()
    played = job_services.play_job(actor=Actor.for_user(owner), job=bridge)
    assert played.status == st.SUCCESS
    assert _child(bridge).user_id == owner.pk


def _artifact(job: Job, files: dict[str, bytes]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    relative = storage.new_artifact_path(job.project_id, job.pk, "archive")
    target = storage.artifact_file(relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(buffer.getvalue())
    JobArtifact.objects.create(
        job=job,
        project_id=job.project_id,
        file_type=ArtifactType.ARCHIVE,
        filename="artifacts.zip",
        size=len(buffer.getvalue()),
        storage_path=relative,
    )


DYNAMIC = (
    "stages: [gen, run]\n"
    "generate:\n  stage: gen\n  script: [x]\n  artifacts: {paths: [gen/]}\n"
    "trigger:\n  stage: run\n  trigger:\n"
    "    include: [{artifact: gen/child.yml, job: generate}]\n"
    "    strategy: depend\n"
)


@pytest.mark.parametrize(
    ("files", "error"),
    [
        ({"gen/child.yml": CHILD.encode()}, None),
        ({"gen/other.yml": b"x"}, "Path `gen/child.yml` does not exist inside the `generate`"),
        ({"gen/child.yml": b"- just\n- a list\n"}, "does not have valid YAML syntax"),
        ({"gen/child.yml": b"a: [unclosed\n"}, "gen/child.yml"),
        ({"gen/child.yml": b"  \n"}, "File `gen/child.yml` is empty!"),
        ({"gen/child.yml": b"#" * (5 * 1024 * 1024 + 10)}, "is too large: max 5 MB"),
    ],
)
def test_dynamic_child_from_an_artifact(owner: Any, files: dict[str, bytes], error: Any) -> None:
    runner = instance_runner()
    parent = _parent(owner, DYNAMIC)
    job = take(runner).job
    _artifact(job, files)
    finish(job, st.SUCCESS)
    bridge = _bridge(parent)
    if error is None:
        assert statuses(_child(bridge)) == {"child-job": st.PENDING}
        assert bridge.status == st.RUNNING
        return
    assert (bridge.status, bridge.failure_reason) == (
        st.FAILED,
        "downstream_pipeline_creation_failed",
    )
    assert error in bridge.error_messages[0], bridge.error_messages
    parent.refresh_from_db()
    assert parent.status == st.FAILED


def test_artifact_of_a_job_without_artifacts(owner: Any) -> None:
    runner = instance_runner()
    parent = _parent(owner, DYNAMIC)
    finish(take(runner).job, st.SUCCESS)
    bridge = _bridge(parent)
    assert bridge.failure_reason == "downstream_pipeline_creation_failed"
    assert bridge.error_messages == [
        "Job `generate` not found in parent pipeline or does not have artifacts!"
    ]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "Local file `missing.yml` does not exist!"),
        (
            {
                "missing.yml": "include: loop.yml\na:\n  script: [x]\n",
                "loop.yml": "include: missing.yml\n",
            },
            "Include cycle detected",
        ),
        ({"missing.yml": "a:\n  scrip: [x]\n"}, "jobs a config should implement"),
    ],
)
def test_invalid_child_config_fails_the_bridge_and_is_kept(
    owner: Any, files: dict[str, str], message: str
) -> None:
    parent = _parent(owner, "trigger:\n  trigger:\n    include: missing.yml\n", **files)
    bridge = _bridge(parent)
    assert (bridge.status, bridge.failure_reason) == (
        st.FAILED,
        "downstream_pipeline_creation_failed",
    )
    assert message in bridge.error_messages[0], bridge.error_messages
    child = _child(bridge)  # kept, failed, with its error, as GitLab keeps it
    assert (child.status, child.failure_reason) == (st.FAILED, "config_error")
    assert message in child.yaml_errors


def test_child_pipelines_nest_two_levels(owner: Any) -> None:
    nested = "trigger:\n  trigger:\n    include: nested.yml\n"
    parent = _parent(
        owner,
        nested,
        **{"nested.yml": "job:\n  script: [x]\n" + nested},
    )
    child = _child(_bridge(parent))
    grandchild = _child(_bridge(child))
    bridge = _bridge(grandchild)
    assert (bridge.status, bridge.failure_reason) == (
        st.FAILED,
        "reached_max_descendant_pipelines_depth",
    )
    assert not Pipeline.objects.filter(source_job=bridge).exists()
    with pytest.raises(Exception, match="not retryable"):
        job_services.retry_job(actor=Actor.for_user(owner), job=bridge)


def test_a_child_with_no_jobs_fails_the_bridge(owner: Any) -> None:
    parent = _parent(
        owner,
        "trigger:\n  trigger:\n    include: child.yml\n",
        **{"child.yml": "job:\n  script: [x]\n  rules: [{if: '$NOPE'}]\n"},
    )
    bridge = _bridge(parent)
    assert bridge.failure_reason == "downstream_pipeline_creation_failed"
    assert bridge.error_messages
    assert not Pipeline.objects.filter(source_job=bridge).exists()


def test_forward_pipeline_variables(owner: Any) -> None:
    project = b.project(owner, b.unique("fw"))
    commit(
        owner,
        project,
        {
            "child.yml": CHILD,
            ".gitlab-ci.yml": "trigger:\n  variables: {Y: y}\n  trigger:\n    include: child.yml\n"
            "    forward: {yaml_variables: false, pipeline_variables: true}\n",
        },
    )
    created = pipeline_services.create_pipeline(
        actor=Actor.for_user(owner),
        project=project,
        ref="main",
        variables=[{"key": "FROM_API", "value": "v"}],
    )
    child = _child(_bridge(created))
    forwarded = {v.key: v.value for v in PipelineVariable.objects.filter(pipeline=child)}
    assert forwarded == {"FROM_API": "v"}
    assert latest_pipeline(project) is not None


def test_a_child_pipeline_is_never_a_merge_request_head_pipeline(owner: Any) -> None:
    from kiln.ci.mr_pipelines import head_pipeline_info, merge_after_success

    runner = instance_runner()
    parent = _parent(
        owner,
        "stages: [a, b]\n"
        "trigger:\n  stage: a\n  trigger:\n    include: child.yml\n    strategy: depend\n"
        "later:\n  stage: b\n  script: [x]\n",
        **{"child.yml": CHILD},
    )
    child = _child(_bridge(parent))
    finish(take(runner).job, st.SUCCESS)  # the child's job: it succeeds first
    child.refresh_from_db()
    assert child.status == st.SUCCESS
    head = head_pipeline_info(parent.project, parent.sha, parent.ref)
    assert head is not None
    assert head.id == parent.pk
    assert merge_after_success(child.pk) == []


def test_multi_project_preconditions(owner: Any) -> None:
    from kiln.core.access import Visibility

    stranger = b.user(b.unique("stranger"))
    public = b.project(stranger, b.unique("pub"), visibility=Visibility.PUBLIC)
    commit(stranger, public, {".gitlab-ci.yml": "a:\n  script: [x]\n"})
    before = Pipeline.objects.filter(project=public).count()
    parent = _parent(
        b.user(b.unique("dev")),  # not an administrator
        f"readable:\n  trigger: {public.full_path}\n"
        "itself:\n  trigger: {project: $CI_PROJECT_PATH}\n",
    )
    readable, itself = _bridge(parent, "readable"), _bridge(parent, "itself")
    # Readable but not a Developer there: GitLab's insufficient_bridge_permissions.
    assert readable.failure_reason == "insufficient_bridge_permissions"
    assert itself.failure_reason == "invalid_bridge_trigger"
    assert Pipeline.objects.filter(project=public).count() == before


def test_a_trigger_job_waits_for_its_resource_group(owner: Any) -> None:
    """A bridge of a busy resource group creates its downstream pipeline only once the
    resource is its own (`resource_group` on trigger jobs, as GitLab allows)."""
    runner = instance_runner()
    first = _parent(
        owner,
        "deploy:\n  resource_group: production\n"
        "  trigger:\n    include: child.yml\n    strategy: depend\n",
        **{"child.yml": CHILD},
    )
    first_bridge = _bridge(first, "deploy")
    first_child = _child(first_bridge)
    assert first_bridge.status == st.RUNNING
    second = pipeline_services.create_pipeline(
        actor=Actor.for_user(owner), project=first.project, ref="main"
    )
    second_bridge = _bridge(second, "deploy")
    assert second_bridge.status == st.WAITING_FOR_RESOURCE
    assert not Pipeline.objects.filter(source_job=second_bridge).exists()
    # The first child's job finishes: its bridge succeeds, the resource passes on, and the
    # second bridge creates its child.
    finish(take(runner).job, st.SUCCESS)
    _refresh(first_child, first_bridge, second_bridge)
    assert (first_child.status, first_bridge.status) == (st.SUCCESS, st.SUCCESS)
    second_child = _child(second_bridge)
    assert second_bridge.status == st.RUNNING
    assert statuses(second_child) == {"child-job": st.PENDING}
