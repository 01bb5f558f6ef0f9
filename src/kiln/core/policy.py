"""`can(actor, action, subject)`: the one question every read and write asks.

Domain packages register a rule function per subject type (see their `policies.py`); this
module only dispatches, so the kernel stays free of domain imports. An unknown subject type or
an unknown action is a programming error and raises, rather than silently allowing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from kiln.core.errors import NotFound


class ActorLike(Protocol):
    @property
    def is_anonymous(self) -> bool: ...

    @property
    def is_admin(self) -> bool: ...


Rule = Callable[[Any, str, Any], bool]
_RULES: dict[type, Rule] = {}


def register(subject_type: type, rule: Rule) -> None:
    _RULES[subject_type] = rule


def can(actor: ActorLike, action: str, subject: object) -> bool:
    for klass in type(subject).__mro__:
        if (rule := _RULES.get(klass)) is not None:
            return rule(actor, action, subject)
    raise LookupError(f"no policy registered for {type(subject).__name__}")


def authorize(actor: ActorLike, action: str, subject: object, *, what: str = "") -> None:
    """Raise NotFound unless allowed, so denied and missing objects answer alike."""
    if not can(actor, action, subject):
        raise NotFound(what)
