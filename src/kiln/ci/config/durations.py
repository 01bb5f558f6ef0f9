"""Human durations as GitLab reads them: `timeout`, `start_in`, `artifacts:expire_in`.

GitLab parses these with the ChronicDuration gem: a bare number is seconds, and numbers
take units in long or short form ("1h 30m", "3 hours", "1 day and 2 hours", "1.5 hours",
"2 weeks"), and "hh:mm:ss" / "mm:ss" clock forms. A month is 30 days and a year 365.25
days, as in ChronicDuration's defaults. `artifacts:expire_in` also accepts "never".
"""

from __future__ import annotations

import re

_MINUTE = 60
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR
_WEEK = 7 * _DAY
_MONTH = 30 * _DAY
_YEAR = int(365.25 * _DAY)

# Unit words ChronicDuration knows, mapped to seconds.
_UNITS: dict[str, int] = {}
for _names, _seconds in (
    (("s", "sec", "secs", "second", "seconds"), 1),
    (("m", "min", "mins", "minute", "minutes"), _MINUTE),
    (("h", "hr", "hrs", "hour", "hours"), _HOUR),
    (("d", "day", "days"), _DAY),
    (("w", "wk", "wks", "week", "weeks"), _WEEK),
    (("mo", "mos", "month", "months"), _MONTH),
    (("y", "yr", "yrs", "year", "years"), _YEAR),
):
    for _name in _names:
        _UNITS[_name] = _seconds

_NUMBER = r"\d+(?:\.\d+)?|\.\d+"
_TOKEN = re.compile(rf"\s*(?P<number>{_NUMBER})\s*(?P<unit>[a-z]+)?\s*")
_CLOCK = re.compile(r"\A(?:(?P<h>\d+):)?(?P<m>\d+):(?P<s>\d+(?:\.\d+)?)\Z")
_FILLER = re.compile(r"\b(?:and)\b|,")
_MAX_TEXT = 200

# GitLab's limits: start_in at most a week, a job timeout at most a month.
START_IN_LIMIT = _WEEK
TIMEOUT_LIMIT = _MONTH


def parse_duration(text: object) -> int | None:
    """Seconds in `text`, or None when it is not a duration. Fractions are truncated."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text if text >= 0 else None
    if not isinstance(text, str) or len(text) > _MAX_TEXT:
        return None
    value = _FILLER.sub(" ", text.strip().lower()).strip()
    if not value:
        return None
    clock = _CLOCK.match(value)
    if clock:
        hours = int(clock.group("h") or 0)
        return hours * _HOUR + int(clock.group("m")) * _MINUTE + int(float(clock.group("s")))
    total = 0.0
    position = 0
    while position < len(value):
        match = _TOKEN.match(value, position)
        if match is None or match.end() == position:
            return None
        number = float(match.group("number"))
        unit = match.group("unit")
        if unit is None:
            total += number
        elif unit in _UNITS:
            total += number * _UNITS[unit]
        else:
            return None
        position = match.end()
    return int(total)


def parse_expire_in(text: object) -> tuple[bool, int | None]:
    """(valid, seconds) for `artifacts:expire_in`; "never" is valid with no expiry."""
    if isinstance(text, str) and text.strip().lower() == "never":
        return True, None
    seconds = parse_duration(text)
    return seconds is not None, seconds
