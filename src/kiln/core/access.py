"""GitLab's access levels and visibility levels, with the numbers its API uses."""

from __future__ import annotations

from enum import IntEnum


class AccessLevel(IntEnum):
    NO_ACCESS = 0
    MINIMAL_ACCESS = 5
    GUEST = 10
    PLANNER = 15
    REPORTER = 20
    DEVELOPER = 30
    MAINTAINER = 40
    OWNER = 50

    @classmethod
    def member_levels(cls) -> tuple[AccessLevel, ...]:
        """The levels a membership may have (the API refuses others)."""
        return (cls.GUEST, cls.PLANNER, cls.REPORTER, cls.DEVELOPER, cls.MAINTAINER, cls.OWNER)


class Visibility(IntEnum):
    PRIVATE = 0
    INTERNAL = 10
    PUBLIC = 20

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> Visibility:
        try:
            return cls[label.upper()]
        except KeyError:
            raise ValueError(label) from None

    @classmethod
    def labels(cls) -> list[str]:
        return [v.label for v in cls]
