"""GitLab's logical checks on needs, dependencies and stages."""

from __future__ import annotations

import pytest

from kiln.ci.config import Need

from .helpers import context, errors, jobs_of, plan


def test_needs_build_a_dag() -> None:
    result = plan(
        """
        stages: [build, test, deploy]
        compile: {stage: build, script: x}
        lint: {stage: test, script: x, needs: []}
        unit:
          stage: test
          script: x
          needs:
            - compile
            - {job: lint, artifacts: false}
            - {project: grp/lib, job: build, ref: main, artifacts: true}
            - {pipeline: $PARENT_PIPELINE_ID, job: generate}
        ship: {stage: deploy, script: x}
        """
    )
    assert result.job("lint").needs == ()
    assert result.job("ship").needs is None
    assert result.job("unit").needs == (
        Need("compile"),
        Need("lint", artifacts=False),
        Need("build", project="grp/lib", ref="main"),
        Need("generate", pipeline="$PARENT_PIPELINE_ID"),
    )


def test_needs_in_the_same_stage_are_allowed() -> None:
    result = plan("a: {script: x}\nb: {script: x, needs: [a]}\n")
    assert jobs_of(result)["b"]["needs"] == ["a"]


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "a: {stage: build, script: x, needs: [b]}\nb: {stage: test, script: x}",
            "a job: need b is not defined in current or prior stages",
        ),
        ("a: {script: x, needs: [missing]}", "a job: undefined need: missing"),
        (
            "a: {stage: build, script: x, dependencies: [b]}\nb: {stage: test, script: x}",
            "a job: dependency b is not defined in current or prior stages",
        ),
        ("a: {script: x, dependencies: [missing]}", "a job: undefined dependency: missing"),
        (
            "a: {script: x}\nb: {script: x, needs: [a, a]}",
            "b has the following needs duplicated: a.",
        ),
        (
            "a: {script: x, needs: [b]}\nb: {script: x, needs: [a]}",
            'The pipeline has circular dependencies: topological sort failed: ["a", "b"]',
        ),
        (
            "a: {script: x, needs: [a]}",
            'The pipeline has circular dependencies: topological sort failed: ["a"]',
        ),
        ("a: {script: x, rules: [{needs: [missing]}]}", "a job: undefined need: missing"),
    ],
)
def test_graph_errors(yaml_text: str, message: str) -> None:
    assert errors(yaml_text + "\n") == (message,)


def test_optional_need_on_undefined_job_is_ignored() -> None:
    result = plan("a: {script: x, needs: [{job: nowhere, optional: true}]}\n")
    assert result.job("a").needs == ()


def test_need_on_job_excluded_by_rules() -> None:
    yaml_text = """
        build:
          stage: build
          script: x
          rules: [{if: $CI_COMMIT_TAG}]
        test:
          script: x
          needs: [build]
        """
    assert errors(yaml_text) == (
        "'test' job needs 'build' job, but 'build' does not exist in the pipeline. This might "
        "be because of the only, except, or rules keywords. To need a job that sometimes does "
        "not exist in the pipeline, use needs:optional.",
    )
    on_tag = plan(yaml_text, context(branch=None, tag="v1"))
    assert jobs_of(on_tag)["test"]["needs"] == ["build"]
    optional = yaml_text.replace("needs: [build]", "needs: [{job: build, optional: true}]")
    assert plan(optional).job("test").needs == ()


def test_needs_limit_counts_parallel_instances() -> None:
    found = errors("a: {stage: build, script: x, parallel: 51}\nb: {script: x, needs: [a]}\n")
    assert found[0].startswith("b: one job can only need 50 others, but you have listed 51.")


def test_needs_limit() -> None:
    jobs = "".join(f"j{i}: {{stage: build, script: x}}\n" for i in range(51))
    needs = ", ".join(f"j{i}" for i in range(51))
    found = errors(jobs + f"last: {{script: x, needs: [{needs}]}}\n")
    assert found == (
        "last: one job can only need 50 others, but you have listed 51. See needs keyword "
        "documentation for more details",
    )
