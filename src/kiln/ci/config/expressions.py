"""GitLab's CI/CD variable expression language (`rules:if`, `only/except:variables`).

    $VAR            the variable's value; alone, true when defined and not blank
    ${VAR}          the same
    "text" 'text'   string literals (no escapes, no expansion inside)
    null            no value: `$VAR == null` is true when VAR is undefined
    /re/i           a regular expression (RE2, flags i m s U)
    == != =~ !~     comparisons; the right side of =~ may be a variable holding "/re/"
    && ||           and, or; && binds tighter; both left-associative
    ( )             grouping

Evaluation follows GitLab's Ruby code rather than a tidier logic: `&&` and `||` return one
of their operands (Ruby semantics: only nil and false are falsy, so "" is "true" inside an
expression), and the result of the whole statement is true when it is "present" (not nil,
not false, not a blank string). When the right side of `=~` is a string that is not in
/pattern/ form, GitLab ends up asking whether the *left* text occurs inside the right
string; Kiln keeps that quirk so that pipelines behave the same on both servers.

Any lexing, parsing or regex error makes the statement false at evaluation time; at
validation time it makes the configuration invalid ("invalid expression syntax").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

from kiln.ci.config.errors import ExpressionError
from kiln.ci.config.regex import (
    CompiledRegex,
    UntrustedRegexError,
    compile_ruby_syntax,
    searches,
)

MAX_TOKENS = 100  # GitLab's Lexer::MAX_TOKENS
MAX_STATEMENT_LENGTH = 10_000

# Token kinds
_OP, _OPEN, _CLOSE = "op", "(", ")"

# Lexemes in GitLab's order of precedence when scanning.
_LEXEMES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("(", re.compile(r"\(")),
    (")", re.compile(r"\)")),
    ("variable", re.compile(r"\$\{(?P<braced>[A-Za-z0-9_]+)\}|\$(?P<name>[A-Za-z0-9_]+)")),
    ("string", re.compile(r"\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'")),
    # GitLab's Lexeme::Pattern::PATTERN: at least two characters between the slashes.
    ("pattern", re.compile(r"/(?:[^/]|\\/)+[^\\]/[ismU]*")),
    ("null", re.compile(r"null")),
    ("==", re.compile(r"==")),
    ("=~", re.compile(r"=~")),
    ("!=", re.compile(r"!=")),
    ("!~", re.compile(r"!~")),
    ("&&", re.compile(r"&&")),
    ("||", re.compile(r"\|\|")),
)
_WHITESPACE = re.compile(r"\s+")
_COMPARISONS = frozenset({"==", "!=", "=~", "!~"})


class Regex:
    """A compiled pattern as an expression value (always "present")."""

    __slots__ = ("compiled", "source")

    def __init__(self, source: str, compiled: CompiledRegex) -> None:
        self.source = source
        self.compiled = compiled


Value = str | bool | Regex | None


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    value: str | Regex | None = None


@dataclass(frozen=True)
class Node:
    """A parsed expression: a leaf (kind "variable"/"string"/"pattern"/"null") or an
    operator with two children."""

    kind: str
    value: str | Regex | None = None
    left: Node | None = None
    right: Node | None = None


def _pattern_value(text: str) -> Regex:
    # GitLab unescapes "\/" before handing the pattern to RE2.
    source = text.replace("\\/", "/")
    try:
        return Regex(source, compile_ruby_syntax(source))
    except UntrustedRegexError as exc:
        raise ExpressionError("Invalid regular expression!") from exc


def tokenize(statement: str) -> list[_Token]:
    if len(statement) > MAX_STATEMENT_LENGTH:
        raise ExpressionError("Too many tokens!")
    tokens: list[_Token] = []
    position = 0
    while True:
        space = _WHITESPACE.match(statement, position)
        if space:
            position = space.end()
        if position >= len(statement):
            return tokens
        if len(tokens) >= MAX_TOKENS:
            raise ExpressionError("Too many tokens!")
        for kind, regex in _LEXEMES:
            match = regex.match(statement, position)
            if match is None:
                continue
            text = match.group(0)
            if kind == "variable":
                tokens.append(
                    _Token("variable", text, match.group("braced") or match.group("name"))
                )
            elif kind == "string":
                literal = match.group("dq") if match.group("dq") is not None else match.group("sq")
                tokens.append(_Token("string", text, literal))
            elif kind == "pattern":
                tokens.append(_Token("pattern", text, _pattern_value(text)))
            elif kind == "null":
                tokens.append(_Token("null", text))
            elif kind in ("(", ")"):
                tokens.append(_Token(kind, text))
            else:
                tokens.append(_Token(_OP, text))
            position = match.end()
            break
        else:
            raise ExpressionError("Unknown lexeme found!")


class _Parser:
    """Recursive descent with GitLab's precedence: comparisons, then &&, then ||."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.position = 0

    def _peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self) -> _Token:
        token = self._peek()
        if token is None:
            raise ExpressionError("Unexpected end of expression")
        self.position += 1
        return token

    def parse(self) -> Node:
        if not self.tokens:
            raise ExpressionError("Empty parse tree")
        node = self._or()
        if self._peek() is not None:
            raise ExpressionError("Unreachable nodes in parse tree")
        return node

    def _binary(self, operators: frozenset[str], operand: str) -> Node:
        node = self._operand(operand)
        while (token := self._peek()) is not None and token.kind == _OP and token.text in operators:
            self._take()
            node = Node(token.text, left=node, right=self._operand(operand))
        return node

    def _operand(self, level: str) -> Node:
        if level == "and":
            return self._binary(frozenset({"&&"}), "comparison")
        if level == "comparison":
            return self._binary(_COMPARISONS, "primary")
        return self._primary()

    def _or(self) -> Node:
        return self._binary(frozenset({"||"}), "and")

    def _primary(self) -> Node:
        token = self._take()
        if token.kind == _OPEN:
            node = self._or()
            closing = self._take()
            if closing.kind != _CLOSE:
                raise ExpressionError("Unmatched parenthesis")
            return node
        if token.kind in ("variable", "string", "pattern", "null"):
            return Node(token.kind, token.value)
        raise ExpressionError("Unprocessable token found in parse tree")


@functools.lru_cache(maxsize=2048)
def parse(statement: str) -> Node:
    """Parse a statement. Raises ExpressionError; results are cached (they are immutable)."""
    return _Parser(tokenize(statement)).parse()


def is_valid(statement: object) -> bool:
    """GitLab's ExpressionValidator: a string that lexes and parses."""
    if not isinstance(statement, str):
        return False
    try:
        parse(statement)
    except ExpressionError:
        return False
    return True


def _truthy(value: Value) -> bool:
    # Ruby truthiness: everything but nil and false.
    return value is not None and value is not False


def _present(value: Value) -> bool:
    # Rails' present?: not nil, not false, not a whitespace-only string.
    if isinstance(value, str):
        return value.strip() != ""
    return _truthy(value)


def _ruby_to_s(value: Value) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Regex):
        return value.source
    return value


def _matches(left: Value, right: Value) -> bool:
    if right is None or isinstance(right, bool):
        return False
    text = _ruby_to_s(left)
    if isinstance(right, Regex):
        return searches(right.compiled, text)
    # A string on the right (a variable's value): GitLab tries to read it as /pattern/...
    try:
        return searches(_pattern_value(right).compiled, text)
    except ExpressionError:
        # ...and otherwise calls String#scan(text): is the left text inside the right one?
        return text in right


def _equal(left: Value, right: Value) -> bool:
    if isinstance(left, Regex) or isinstance(right, Regex):
        return left is right
    return left == right


def _evaluate(node: Node, variables: Mapping[str, str]) -> Value:
    kind = node.kind
    if kind == "variable":
        return variables.get(str(node.value))
    if kind in ("string", "pattern"):
        return node.value
    if kind == "null":
        return None
    if node.left is None or node.right is None:  # pragma: no cover - parser invariant
        raise ExpressionError("Malformed expression")
    if kind == "&&":
        left = _evaluate(node.left, variables)
        return _evaluate(node.right, variables) if _truthy(left) else left
    if kind == "||":
        left = _evaluate(node.left, variables)
        return left if _truthy(left) else _evaluate(node.right, variables)
    left, right = _evaluate(node.left, variables), _evaluate(node.right, variables)
    if kind == "==":
        return _equal(left, right)
    if kind == "!=":
        return not _equal(left, right)
    if kind == "=~":
        return _matches(left, right)
    if kind == "!~":
        return right is None or not _matches(left, right)
    raise ExpressionError(f"Unknown operator {kind}")  # pragma: no cover


def evaluate(statement: str, variables: Mapping[str, str]) -> bool:
    """Whether `statement` holds for `variables`; false on any error, as in GitLab."""
    try:
        return _present(_evaluate(parse(statement), variables))
    except ExpressionError:
        return False
