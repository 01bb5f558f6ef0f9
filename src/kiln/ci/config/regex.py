"""Regular expressions from users, compiled with RE2 only.

GitLab evaluates every regular expression that comes from `.gitlab-ci.yml` (`rules:if`
patterns, `only:refs` regexes, `coverage`) with RE2 through its `UntrustedRegexp`, because
a backtracking engine lets one crafted pattern freeze a worker (`/(a+)+$/` against a long
string of `a`). RE2 runs in time linear in the input; patterns it cannot compile
(look-arounds, back-references) are invalid, exactly as on GitLab.

Patterns are written in Ruby syntax, `/body/flags`. GitLab passes the flags i, m, s and U to
RE2 as an inline group `(?flags)`; Kiln does the same.
"""

from __future__ import annotations

import functools
import re
from typing import Protocol, cast

import re2

# GitLab's Gitlab::UntrustedRegexp::RubySyntax::PATTERN.
_RUBY_SYNTAX = re.compile(r"\A/(?P<body>.*)/(?P<flags>[ismU]*)\Z", re.DOTALL)
_MAX_PATTERN_LENGTH = 10_000


class CompiledRegex(Protocol):
    def search(self, text: str) -> object | None: ...


class UntrustedRegexError(ValueError):
    """The pattern is not valid RE2 syntax (GitLab: "Invalid regular expression!")."""


def _options() -> object:
    options = re2.Options()
    # RE2 logs every compile error to stderr by default; a bad user pattern is not news.
    options.log_errors = False
    return cast(object, options)


_OPTIONS = _options()


@functools.lru_cache(maxsize=512)
def compile_untrusted(body: str, flags: str = "") -> CompiledRegex:
    """Compile `body` with RE2, `flags` being a subset of "ismU". Raises UntrustedRegexError."""
    if len(body) > _MAX_PATTERN_LENGTH:
        raise UntrustedRegexError("Invalid regular expression!")
    pattern = f"(?{flags}){body}" if flags else body
    try:
        return cast(CompiledRegex, re2.compile(pattern, options=_OPTIONS))
    except re2.error as exc:
        raise UntrustedRegexError("Invalid regular expression!") from exc


def ruby_syntax_parts(text: str) -> tuple[str, str] | None:
    """Split "/body/flags" into (body, flags); None when `text` is not in that form."""
    match = _RUBY_SYNTAX.match(text)
    if match is None:
        return None
    return match.group("body"), match.group("flags")


def compile_ruby_syntax(text: str) -> CompiledRegex:
    """Compile a "/body/flags" pattern. Raises UntrustedRegexError."""
    parts = ruby_syntax_parts(text)
    if parts is None:
        raise UntrustedRegexError("Invalid regular expression!")
    return compile_untrusted(*parts)


def is_valid_ruby_syntax(text: str) -> bool:
    try:
        compile_ruby_syntax(text)
    except UntrustedRegexError:
        return False
    return True


def searches(regex: CompiledRegex, text: str) -> bool:
    """Whether the pattern matches anywhere in `text` (Ruby's `scan(...).present?`)."""
    return regex.search(text) is not None
