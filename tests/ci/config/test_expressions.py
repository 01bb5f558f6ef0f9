"""The CI/CD variable expression language of `rules:if` and `only/except:variables`."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiln.ci.config.errors import ExpressionError
from kiln.ci.config.expressions import MAX_TOKENS, evaluate, is_valid, parse, tokenize

VARIABLES = {
    "BRANCH": "main",
    "EMPTY": "",
    "BLANK": "   ",
    "YES": "yes",
    "PATTERN": "/^ma/",
    "PATTERN_I": "/^MA/i",
    "PLAIN": "main-branch",
    "SLASHES": "a/b/c",
}


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        # a variable alone: defined and not blank
        ("$BRANCH", True),
        ("$EMPTY", False),
        ("$BLANK", False),
        ("$UNDEFINED", False),
        ("${BRANCH}", True),
        # equality with both quote styles, null
        ('$BRANCH == "main"', True),
        ("$BRANCH == 'main'", True),
        ('$BRANCH != "main"', False),
        ('"main" == $BRANCH', True),
        ("$UNDEFINED == null", True),
        ("$EMPTY == null", False),
        ('$EMPTY == ""', True),
        ("$BRANCH != null", True),
        ("null == null", True),
        ("$BRANCH == $BRANCH", True),
        ("$BRANCH == $YES", False),
        # regular expressions
        ("$BRANCH =~ /^ma/", True),
        ("$BRANCH =~ /^MA/", False),
        ("$BRANCH =~ /^MA/i", True),
        ("$BRANCH !~ /^ma/", False),
        ("$BRANCH !~ /^feature/", True),
        ("$SLASHES =~ /a\\/b/", True),
        ("$UNDEFINED =~ /^$/", True),  # nil is matched as ""
        # a variable holding a pattern on the right of =~
        ("$BRANCH =~ $PATTERN", True),
        ("$BRANCH =~ $PATTERN_I", True),
        ("$BRANCH !~ $PATTERN", False),
        # ... a string literal in /pattern/ form too
        ('$BRANCH =~ "/^ma/"', True),
        # ... and GitLab's quirk for a non-pattern string: is the left inside the right?
        ("$BRANCH =~ $PLAIN", True),
        ("$PLAIN =~ $BRANCH", False),
        ("$BRANCH =~ $UNDEFINED", False),
        ("$BRANCH !~ $UNDEFINED", True),
        # && binds tighter than ||
        ('$YES == "no" && $BRANCH == "x" || $BRANCH == "main"', True),
        ('$BRANCH == "main" || $YES == "no" && $BRANCH == "x"', True),
        ('($BRANCH == "main" || $YES == "no") && $BRANCH == "x"', False),
        ('$YES && ($BRANCH == "x" || $BRANCH == "main")', True),
        ("(($BRANCH))", True),
        # Ruby semantics of && / ||: "" is truthy inside, blank at the end
        ("$EMPTY || $BRANCH", False),
        ("$UNDEFINED || $BRANCH", True),
        ("$EMPTY && $BRANCH", True),
        ("$UNDEFINED && $BRANCH", False),
        # string literals are not expanded
        ('$BRANCH == "$BRANCH"', False),
    ],
)
def test_evaluate(statement: str, expected: bool) -> None:
    assert is_valid(statement)
    assert evaluate(statement, VARIABLES) is expected


@pytest.mark.parametrize(
    "statement",
    [
        "",
        "$A ==",
        "== $A",
        "$A = 'x'",
        "$A == 'x' &&",
        "($A == 'x'",
        "$A == 'x')",
        "$A 'x'",
        "$A == /a/x",  # unknown flag leaves an unknown lexeme
        "$A =~ /(?=a)/",  # look-ahead: RE2 cannot compile it
        "$A =~ /a(/",
        "$A =~ /\\1/",  # back-reference
        "$A =~ /a/",  # one character: GitLab's pattern lexeme needs two
        "BRANCH == 'main'",
        "$A == 'unterminated",
    ],
)
def test_invalid_statements(statement: str) -> None:
    assert not is_valid(statement)
    assert evaluate(statement, VARIABLES) is False


def test_non_string_is_invalid() -> None:
    assert not is_valid(None)
    assert not is_valid(["$A"])


def test_token_limit() -> None:
    statement = " || ".join(["$A"] * (MAX_TOKENS // 2 + 1))
    with pytest.raises(ExpressionError, match="Too many tokens"):
        tokenize(statement)
    assert not is_valid(statement)


def test_tree_shape_reflects_precedence() -> None:
    tree = parse("$A || $B && $C")
    assert tree.kind == "||"
    assert tree.right is not None
    assert tree.right.kind == "&&"
    left_assoc = parse("$A || $B || $C")
    assert left_assoc.left is not None
    assert left_assoc.left.kind == "||"


def test_backtracking_bomb_is_linear() -> None:
    # /(a+)+$/ against 100k "a"s and a trailing "b" takes exponential time with a
    # backtracking engine; RE2 answers at once.
    variables = {"TEXT": "a" * 100_000 + "b"}
    started = time.monotonic()
    assert evaluate("$TEXT =~ /(a+)+$/", variables) is False
    assert evaluate("$TEXT =~ /^(a|aa)+$/", variables) is False
    assert time.monotonic() - started < 2


def test_pattern_in_variable_that_re2_rejects_falls_back_to_substring() -> None:
    # GitLab: an invalid /pattern/ in a variable is not a regexp, so String#scan is used.
    assert evaluate("$A =~ $B", {"A": "x", "B": "/(?=x)/"}) is True
    assert evaluate("$A =~ $B", {"A": "y", "B": "/(?=x)/"}) is False


_atoms = st.sampled_from(["$T", "$F", "$U", '$T == "yes"', '$F == "yes"', "$T =~ /^ye/"])
_values = {
    "$T": True,
    "$F": False,
    "$U": False,
    '$T == "yes"': True,
    '$F == "yes"': False,
    "$T =~ /^ye/": True,
}


@st.composite
def _boolean_expressions(draw: st.DrawFn, depth: int = 3) -> tuple[str, bool]:
    if depth == 0 or draw(st.booleans()):
        atom = draw(_atoms)
        return atom, _values[atom]
    left, left_value = draw(_boolean_expressions(depth - 1))
    right, right_value = draw(_boolean_expressions(depth - 1))
    operator = draw(st.sampled_from(["&&", "||"]))
    combined = left_value and right_value if operator == "&&" else left_value or right_value
    return f"({left} {operator} {right})", combined


@given(_boolean_expressions())
@settings(max_examples=200, deadline=None)
def test_parenthesized_expressions_match_boolean_logic(case: tuple[str, bool]) -> None:
    statement, expected = case
    # F and U are undefined (nil): falsy in Ruby, so && and || act as plain logic.
    assert evaluate(statement, {"T": "yes"}) is expected


@given(st.lists(st.sampled_from(["$T", "$F", "$U"]), min_size=2, max_size=8), st.data())
@settings(max_examples=200, deadline=None)
def test_precedence_matches_python_and_or(atoms: list[str], data: st.DataObject) -> None:
    operators = [data.draw(st.sampled_from(["&&", "||"])) for _ in atoms[1:]]
    statement = atoms[0]
    python = str(_values[atoms[0]])
    for operator, atom in zip(operators, atoms[1:], strict=True):
        statement += f" {operator} {atom}"
        python += f" {'and' if operator == '&&' else 'or'} {_values[atom]}"
    assert evaluate(statement, {"T": "yes"}) is eval(python)  # noqa: S307


@given(st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_evaluate_never_raises(statement: str) -> None:
    assert evaluate(statement, VARIABLES) in (True, False)
