"""Cron expressions of pipeline schedules: parsing and the next run time in a time zone.

Five fields (minute, hour, day of month, month, day of week) with `*`, lists, ranges, steps
and names (`jan`..`dec`, `sun`..`sat`; 7 is Sunday too), and the nicknames `@yearly`,
`@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`. As in Vixie cron, when
both the day of month and the day of week are restricted a day matching either runs.

Times are wall-clock times in the schedule's zone (an IANA name such as `Europe/Berlin`, or
one of the Rails names GitLab accepts such as `Pacific Time (US & Canada)`). A wall-clock
time skipped by a daylight-saving jump does not run that day; one that happens twice runs
once (the first).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass

_NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
_DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_NO_NAMES: dict[str, int] = {}
_FIELDS = (
    (0, 59, _NO_NAMES),
    (0, 23, _NO_NAMES),
    (1, 31, _NO_NAMES),
    (1, 12, _MONTHS),
    (0, 7, _DAYS),
)
_ITEM = re.compile(r"^(\*|[0-9a-z]+(?:-[0-9a-z]+)?)(?:/([0-9]+))?$")

# The Rails (ActiveSupport::TimeZone) names people use most, as GitLab accepts them.
RAILS_ZONES = {
    "UTC": "Etc/UTC",
    "International Date Line West": "Etc/GMT+12",
    "Hawaii": "Pacific/Honolulu",
    "Alaska": "America/Juneau",
    "Pacific Time (US & Canada)": "America/Los_Angeles",
    "Mountain Time (US & Canada)": "America/Denver",
    "Central Time (US & Canada)": "America/Chicago",
    "Eastern Time (US & Canada)": "America/New_York",
    "Atlantic Time (Canada)": "America/Halifax",
    "Brasilia": "America/Sao_Paulo",
    "London": "Europe/London",
    "Dublin": "Europe/Dublin",
    "Lisbon": "Europe/Lisbon",
    "Amsterdam": "Europe/Amsterdam",
    "Berlin": "Europe/Berlin",
    "Paris": "Europe/Paris",
    "Madrid": "Europe/Madrid",
    "Rome": "Europe/Rome",
    "Vienna": "Europe/Vienna",
    "Warsaw": "Europe/Warsaw",
    "Athens": "Europe/Athens",
    "Helsinki": "Europe/Helsinki",
    "Moscow": "Europe/Moscow",
    "Istanbul": "Europe/Istanbul",
    "Mumbai": "Asia/Kolkata",
    "New Delhi": "Asia/Kolkata",
    "Beijing": "Asia/Shanghai",
    "Hong Kong": "Asia/Hong_Kong",
    "Singapore": "Asia/Singapore",
    "Tokyo": "Asia/Tokyo",
    "Seoul": "Asia/Seoul",
    "Sydney": "Australia/Sydney",
    "Auckland": "Pacific/Auckland",
}


class CronError(ValueError):
    """Not a valid cron expression or time zone."""


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_restricted: bool
    weekdays_restricted: bool

    def day_matches(self, day: dt.date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return in_month or in_week
        return in_month and in_week


def _value(text: str, low: int, high: int, names: dict[str, int]) -> int:
    if text.isdigit():
        number = int(text)
    elif text in names:
        number = names[text]
    else:
        raise CronError(f"bad value {text!r}")
    if not low <= number <= high:
        raise CronError(f"{number} is out of range")
    return number


def _field(text: str, low: int, high: int, names: dict[str, int]) -> tuple[frozenset[int], bool]:
    values: set[int] = set()
    restricted = text != "*"
    for item in text.split(","):
        match = _ITEM.match(item)
        if match is None:
            raise CronError(f"bad field {text!r}")
        base, step_text = match.groups()
        step = int(step_text) if step_text else 1
        if step < 1 or step > high:
            raise CronError(f"bad step in {text!r}")
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, last = base.split("-", 1)
            start, end = _value(first, low, high, names), _value(last, low, high, names)
            if start > end:
                raise CronError(f"bad range {base!r}")
        else:
            start = _value(base, low, high, names)
            end = high if step_text else start
        values.update(range(start, end + 1, step))
    return frozenset(values), restricted


def parse(expression: str) -> Cron:
    text = (expression or "").strip().lower()
    text = _NICKNAMES.get(text, text)
    parts = text.split()
    if len(parts) != 5 or len(text) > 256:
        raise CronError("a cron expression has five fields")
    fields = [
        _field(part, lo, hi, names) for part, (lo, hi, names) in zip(parts, _FIELDS, strict=True)
    ]
    weekdays = frozenset(d % 7 for d in fields[4][0])
    return Cron(
        minutes=fields[0][0],
        hours=fields[1][0],
        days=fields[2][0],
        months=fields[3][0],
        weekdays=weekdays,
        days_restricted=fields[2][1],
        weekdays_restricted=fields[4][1],
    )


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The time zone for an IANA or Rails name; CronError when there is none."""
    key = RAILS_ZONES.get((name or "").strip(), (name or "").strip())
    if not key or len(key) > 64 or ".." in key or key.startswith("/"):
        raise CronError("unknown time zone")
    try:
        return zoneinfo.ZoneInfo(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise CronError("unknown time zone") from exc


def next_run(cron: Cron, tz: zoneinfo.ZoneInfo, after: dt.datetime) -> dt.datetime | None:
    """The first time strictly after `after` (aware) the expression fires, in UTC; None when
    it never does (e.g. `0 0 31 2 *`)."""
    local = after.astimezone(tz)
    day = local.date()
    for _ in range(366 * 5):  # a valid expression fires within a few years (29 Feb: 4 years)
        if cron.day_matches(day):
            for hour in sorted(cron.hours):
                for minute in sorted(cron.minutes):
                    wall = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
                    # A wall time inside a DST gap does not round-trip: it does not exist.
                    back = wall.astimezone(dt.UTC).astimezone(tz)
                    if back.replace(tzinfo=None) != wall.replace(tzinfo=None):
                        continue
                    moment = wall.astimezone(dt.UTC)
                    if moment > after:
                        return moment
        day += dt.timedelta(days=1)
    return None
