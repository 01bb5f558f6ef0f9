"""Variable expansion and precedence."""

from __future__ import annotations

from kiln.ci.config import Variable
from kiln.ci.config.variables import expand, expand_all, references, stack

from .helpers import context, plan


def test_expand_syntaxes() -> None:
    lookup = {"A": "1", "B_2": "two"}
    assert expand("$A ${A} %A% $B_2", lookup) == "1 1 1 two"
    assert expand("x$UNKNOWN.y", lookup) == "x.y"
    assert expand("x$UNKNOWN.y", lookup, keep_undefined=True) == "x$UNKNOWN.y"
    assert expand("$$A %%A%%", lookup) == "$$A %%A%%"  # escapes are left for the runner
    assert references("$A ${B} %C% $$D") == {"A", "B", "C"}


def test_expand_all_nested_raw_and_cycles() -> None:
    values = {
        "BASE": Variable("/base"),
        "NESTED": Variable("$BASE/dir"),
        "DEEP": Variable("${NESTED}/file"),
        "RAW": Variable("$BASE/raw", expand=False),
        "USES_RAW": Variable("[$RAW]"),
    }
    assert expand_all(values) == {
        "BASE": "/base",
        "NESTED": "/base/dir",
        "DEEP": "/base/dir/file",
        "RAW": "$BASE/raw",
        "USES_RAW": "[$BASE/raw]",
    }
    cyclic = {"A": Variable("$B"), "B": Variable("$A"), "C": Variable("c")}
    assert expand_all(cyclic) == {"A": "$B", "B": "$A", "C": "c"}


def test_stack_later_layers_win() -> None:
    merged = stack({"A": "low", "B": "low"}, {"A": Variable("high", expand=False)})
    assert merged == {"A": Variable("high", expand=False), "B": Variable("low")}


def test_job_variables_precedence_and_expansion() -> None:
    ctx = context(
        project_variables={"DEPLOY_TOKEN": "secret", "OVERRIDDEN": "project"},
        pipeline_variables={"FROM_TRIGGER": "trigger"},
    )
    result = plan(
        """
        variables:
          GLOBAL: global
          OVERRIDDEN: global
          URL: https://$CI_SERVER_HOST/$CI_PROJECT_PATH
        job:
          script: x
          variables:
            JOB: job-$GLOBAL
            RAW:
              value: $GLOBAL
              expand: false
            TRIGGERED: $FROM_TRIGGER
        """,
        ctx,
    )
    job = result.job("job")
    assert job.variables["RAW"] == Variable("$GLOBAL", expand=False)
    assert job.expanded_variables == {
        "GLOBAL": "global",
        "OVERRIDDEN": "project",  # a project variable outranks YAML
        "URL": "https://kiln.example.com/grp/proj",
        "JOB": "job-global",
        "RAW": "$GLOBAL",
        "TRIGGERED": "trigger",
    }
    assert "DEPLOY_TOKEN" not in job.variables  # the plan lists YAML-level keys only


def test_global_variable_with_description_and_options() -> None:
    result = plan(
        """
        variables:
          ENV:
            value: staging
            description: Where to deploy
            options: [staging, production]
        job: {script: x}
        """
    )
    assert result.variables["ENV"] == Variable("staging")


def test_number_values_become_strings() -> None:
    result = plan("variables: {N: 3, F: 1.5}\njob: {script: x}\n")
    assert result.job("job").variables == {"N": Variable("3"), "F": Variable("1.5")}
