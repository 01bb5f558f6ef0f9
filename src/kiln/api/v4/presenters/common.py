"""Small formatting rules shared by every presenter."""

from __future__ import annotations

import datetime as dt


def iso(value: dt.datetime | None) -> str | None:
    """GitLab's timestamps: ISO 8601 with milliseconds and a `Z`."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_date(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None
