"""process_config end to end: result kinds, limits and the shape of the plan."""

from __future__ import annotations

import dataclasses

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln.ci.config import (
    ConfigErrors,
    Limits,
    PipelinePlan,
    PipelineSkipped,
    process_config,
)

from .helpers import context, errors, plan, run, skipped


def test_empty_and_invalid_top_level() -> None:
    assert errors("") == ("Please provide content of .gitlab-ci.yml",)
    assert errors("# nothing\n") == ("Please provide content of .gitlab-ci.yml",)
    assert errors("- a\n- b\n") == ("Invalid configuration format",)
    assert errors("just a string\n") == ("Invalid configuration format",)
    assert errors("job: [\n")[0].startswith("(<unknown>): ")


def test_no_jobs_after_rules() -> None:
    result = skipped("job: {script: x, rules: [{if: $CI_COMMIT_TAG}]}\n")
    assert result.reason == "no_jobs"
    assert result.message == (
        "Pipeline will not run for the selected trigger. The rules configuration prevented "
        "any jobs from being added to the pipeline."
    )


def test_only_edge_stage_jobs_create_no_pipeline() -> None:
    result = skipped("a: {stage: .pre, script: x}\nb: {stage: .post, script: x}\n")
    assert result.reason == "no_jobs"
    assert plan("a: {stage: .pre, script: x}\nb: {script: x}\n").job_names == ("a", "b")


def test_jobs_are_ordered_by_stage_then_definition() -> None:
    result = plan(
        """
        stages: [one, two]
        late: {stage: two, script: x}
        early-b: {stage: one, script: x}
        early-a: {stage: one, script: x}
        """
    )
    assert result.job_names == ("early-b", "early-a", "late")
    assert [job.stage_index for job in result.jobs] == [1, 1, 2]


def test_job_count_limit() -> None:
    ctx = context(limits=Limits(max_jobs=10))
    found = errors("a: {script: x, parallel: 6}\nb: {script: x, parallel: 6}\n", ctx)
    assert found == ("Pipeline has too many jobs! Requested 12, but the limit is 10.",)


def test_plan_is_immutable_data() -> None:
    result = plan("job: {script: x}\n")
    assert dataclasses.is_dataclass(result)
    try:
        result.jobs[0].name = "other"  # type: ignore[misc]
    except dataclasses.FrozenInstanceError:
        pass
    else:  # pragma: no cover
        raise AssertionError("JobPlan must be frozen")


def test_result_types_are_distinct() -> None:
    assert isinstance(run("job: {script: x}\n"), PipelinePlan)
    assert isinstance(run("job: {}\n"), ConfigErrors)
    assert isinstance(
        run("workflow: {rules: [{when: never}]}\njob: {script: x}\n"), PipelineSkipped
    )


def test_default_schema_is_the_bundled_copy() -> None:
    assert isinstance(process_config("job: {script: x}\n", context()), PipelinePlan)


def test_config_path_makes_self_include_a_cycle() -> None:
    from .helpers import FakeFetcher

    fetcher = FakeFetcher(files={"ci/main.yml": "job: {script: x}\n"})
    result = process_config(
        "include: ci/main.yml\n", context(), fetcher=fetcher, config_path="ci/main.yml"
    )
    assert isinstance(result, ConfigErrors)
    assert result.errors == ("Include cycle detected: `ci/main.yml` -> `ci/main.yml`",)


def test_hostile_inputs_fail_fast() -> None:
    import time

    cases = [
        "a: &a ["
        + ", ".join(["x"] * 50)
        + "]\n"
        + "".join(
            f"l{i}: &l{i} [" + ", ".join([f"*{'a' if i == 0 else f'l{i - 1}'}"] * 50) + "]\n"
            for i in range(5)
        ),
        "job:\n  script: x\n  parallel:\n    matrix:\n      - A: ["
        + ",".join(map(str, range(10000)))
        + "]\n",
        "job:\n  script: x\n  rules:\n    - if: '$X =~ /(a+)+$/'\n",
        "".join(f".e{i}: {{extends: .e{i + 1}}}\n" for i in range(500))
        + "job: {extends: .e0, script: x}\n",
    ]
    for text in cases:
        started = time.process_time()  # CPU time: other work on the machine must not count
        run(text, context(project_variables={"X": "a" * 100_000 + "b"}))
        assert time.process_time() - started < 3, text[:40]


_KEYWORDS = [
    "script",
    "stage",
    "stages",
    "rules",
    "if",
    "when",
    "needs",
    "job",
    "extends",
    "only",
    "except",
    "variables",
    "parallel",
    "matrix",
    "artifacts",
    "paths",
    "cache",
    "key",
    "include",
    "local",
    "template",
    "image",
    "services",
    "retry",
    "timeout",
    "environment",
    "name",
    "trigger",
    "default",
    "workflow",
    "inherit",
    "allow_failure",
    "start_in",
    ".hidden",
    "build",
    "test",
    "deploy",
    "a",
    "b",
]
_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 300),
    st.sampled_from(
        ["x", "$CI_COMMIT_BRANCH == 'main'", "manual", "never", "1h", "/a+/", "a", "b"]
    ),
)
_documents = st.recursive(
    _leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(_KEYWORDS), children, max_size=5),
    ),
    max_leaves=30,
)


@given(st.dictionaries(st.sampled_from(_KEYWORDS), _documents, max_size=6))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_arbitrary_documents_never_crash(document: dict[str, object]) -> None:
    # Whatever the shape, the processor answers with one of its three results.
    text = yaml.safe_dump(document)
    assert isinstance(run(text), PipelinePlan | ConfigErrors | PipelineSkipped)
