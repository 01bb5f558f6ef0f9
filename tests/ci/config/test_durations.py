"""Human durations (ChronicDuration semantics) for timeout, start_in and expire_in."""

from __future__ import annotations

import pytest

from kiln.ci.config.durations import parse_duration, parse_expire_in

from .helpers import errors, plan


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("42", 42),
        (42, 42),
        ("30 seconds", 30),
        ("5 mins", 300),
        ("1h", 3600),
        ("1h 30m", 5400),
        ("1h30m", 5400),
        ("3 hours", 10800),
        ("1.5 hours", 5400),
        ("1 day and 2 hours", 93600),
        ("2 days, 3 hours", 183600),
        ("1 week", 604800),
        ("2 weeks", 1209600),
        ("1 month", 2592000),
        ("1 year", 31557600),
        ("3 mins 4 sec", 184),
        ("2 hrs 20 min", 8400),
        ("6 mos 1 day", 15638400),
        ("1:30", 90),
        ("1:02:03", 3723),
        ("  1 HOUR  ", 3600),
    ],
)
def test_parse_duration(text: object, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "1 fortnight", "h", "-5", True, None, [], "1h" * 200])
def test_invalid_durations(text: object) -> None:
    assert parse_duration(text) is None


def test_expire_in_never() -> None:
    assert parse_expire_in("never") == (True, None)
    assert parse_expire_in("1 week") == (True, 604800)
    assert parse_expire_in("whenever") == (False, None)


def test_timeout_and_expire_in_in_plan() -> None:
    result = plan(
        """
        job:
          script: x
          timeout: 1h 30m
          artifacts:
            paths: [out/]
            expire_in: 2 days
        """
    )
    job = result.job("job")
    assert job.timeout == 5400
    assert job.artifacts is not None
    assert job.artifacts.expire_in == "2 days"
    assert job.artifacts.expire_in_seconds == 172800


def test_timeout_limit_and_garbage() -> None:
    assert errors("job: {script: x, timeout: 2 months}") == (
        "jobs:job:timeout config should not exceed the limit",
    )
    assert errors("job: {script: x, timeout: soon}") == (
        "jobs:job:timeout config should be a duration",
    )
    assert errors("job: {script: x, artifacts: {expire_in: soon}}") == (
        "jobs:job:artifacts expire in should be a duration",
    )


def test_start_in() -> None:
    job = plan("job: {script: x, when: delayed, start_in: 30 minutes}").job("job")
    assert (job.when, job.start_in, job.start_in_seconds) == ("delayed", "30 minutes", 1800)
    assert errors("job: {script: x, when: delayed}") == ("jobs:job start in should be a duration",)
    assert errors("job: {script: x, when: delayed, start_in: 2 weeks}") == (
        "jobs:job start in should not exceed the limit",
    )
    assert errors("job: {script: x, start_in: 1 hour}") == ("jobs:job start in must be blank",)
