"""Internal ids (`iid`) per project: issues, merge requests, anything numbered per project.

`allocate_iid` locks the project's counter row (`select_for_update`) for the rest of the
caller's transaction, so concurrent creations get distinct, gap-free numbers on PostgreSQL;
on SQLite the IMMEDIATE transaction already serializes writers. The first allocation starts
from the highest number in use (rows created before the counter existed).
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from kiln.issues.models import InternalId
from kiln.projects.models import Project

# usage -> fn(project) -> highest iid already in use (merge requests register theirs).
_MAX_IN_USE: dict[str, Callable[[Project], int]] = {}


def register_usage(usage: str, max_in_use: Callable[[Project], int]) -> None:
    _MAX_IN_USE[usage] = max_in_use


def allocate_iid(project: Project, usage: str = "issues", *, at_least: int | None = None) -> int:
    """The next iid for `usage` in `project`; with `at_least`, that number exactly (and the
    counter moves past it). Must run inside the caller's `transaction.atomic()`."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("allocate_iid must run inside a transaction")
    InternalId.objects.bulk_create(
        [InternalId(project=project, usage=usage)], ignore_conflicts=True
    )
    counter = InternalId.objects.select_for_update().get(project=project, usage=usage)
    if counter.last_value == 0 and usage in _MAX_IN_USE:
        counter.last_value = _MAX_IN_USE[usage](project)
    if at_least is not None:
        value = at_least
        counter.last_value = max(counter.last_value, at_least)
    else:
        counter.last_value += 1
        value = counter.last_value
    counter.save(update_fields=["last_value"])
    return value
