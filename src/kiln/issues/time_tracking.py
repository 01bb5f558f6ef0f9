"""GitLab's time tracking units, as its API and sidebar show an estimate or time spent."""

from __future__ import annotations

# GitLab's working calendar: 1mo = 4w, 1w = 5d, 1d = 8h.
_UNITS = (
    ("mo", 4 * 5 * 8 * 3600),
    ("w", 5 * 8 * 3600),
    ("d", 8 * 3600),
    ("h", 3600),
    ("m", 60),
    ("s", 1),
)


def human_time(seconds: int) -> str | None:
    """`seconds` as GitLab writes it (`1w 2d 3h`); None for none."""
    if not seconds:
        return None
    parts = []
    for unit, size in _UNITS:
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts)
