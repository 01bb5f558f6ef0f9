"""How a job's variables are expanded for the runner (GitLab's `sort_and_expand_all` with
`keep_undefined`, file and raw references left alone) and environment scopes."""

from __future__ import annotations

import pytest

from kiln.ci.variables import JobVariable, expand_for_runner, scope_matches


def _values(variables: list[JobVariable]) -> dict[str, str]:
    return {v.key: v.value for v in variables}


def test_references_are_expanded_in_dependency_order_and_later_entries_win() -> None:
    result = expand_for_runner(
        [
            JobVariable("B", "$A-b"),
            JobVariable("A", "first"),
            JobVariable("C", "${B}/c and $HOME"),
            JobVariable("A", "second", public=False),
        ]
    )
    assert _values(result) == {"B": "second-b", "C": "second-b/c and $HOME", "A": "second"}
    assert [v.key for v in result] == ["B", "C", "A"]
    assert result[-1].public is False


def test_raw_and_file_variables_are_neither_expanded_nor_expanded_into_others() -> None:
    result = _values(
        expand_for_runner(
            [
                JobVariable("SECRET_FILE", "content $X", file=True),
                JobVariable("RAW", "$X", raw=True),
                JobVariable("X", "x"),
                JobVariable("USES", "$SECRET_FILE $RAW $X"),
            ]
        )
    )
    assert result == {
        "SECRET_FILE": "content $X",
        "RAW": "$X",
        "X": "x",
        "USES": "$SECRET_FILE $RAW x",
    }


def test_a_cycle_leaves_every_value_as_written() -> None:
    result = _values(
        expand_for_runner([JobVariable("A", "$B"), JobVariable("B", "$A"), JobVariable("C", "$D")])
    )
    assert result == {"A": "$B", "B": "$A", "C": "$D"}


@pytest.mark.parametrize(
    ("scope", "environment", "expected"),
    [
        ("*", None, True),
        ("*", "production", True),
        ("production", "production", True),
        ("production", "staging", False),
        ("production", None, False),
        ("review/*", "review/feature-1", True),
        ("review/*", "production", False),
        ("*-prod", "eu-prod", True),
        ("a.b", "axb", False),
    ],
)
def test_environment_scopes(scope: str, environment: str | None, expected: bool) -> None:
    assert scope_matches(scope, environment) is expected
