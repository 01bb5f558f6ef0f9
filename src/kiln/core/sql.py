"""Plain SQL for the reads on every request.

The ORM spends several times a small query's own cost compiling it; the handful of reads that
run on every API request (token, memberships, project rows) are written as SQL with values
always passed as parameters, portable across SQLite and PostgreSQL. Everything else uses the ORM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model

M = TypeVar("M", bound=Model)


def fetch_rows(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Every row of a parameterized query, as tuples."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    return rows


def placeholders(count: int) -> str:
    """`%s, %s, ...` for an `IN (...)` of `count` parameters."""
    return ", ".join(["%s"] * count)


@dataclass(frozen=True)
class _RowPlan:
    attnames: list[str]  # the model's concrete fields, in `from_db` order
    positions: list[int]  # where each of them is in the row
    converters: list[tuple[int, list[Any], Any]]  # (field index, converters, its column)


# Per connection (each server thread keeps its own): converters are bound to one connection.
_ROW_PLANS: WeakKeyDictionary[Any, dict[tuple[type[Model], tuple[str, ...]], _RowPlan]] = (
    WeakKeyDictionary()
)


def _row_plan(db: Any, model: type[Model], names: tuple[str, ...]) -> _RowPlan:
    plans = _ROW_PLANS.setdefault(db, {})
    plan = plans.get((model, names))
    if plan is None:
        fields = model._meta.concrete_fields
        position = {name: i for i, name in enumerate(names)}
        converters = []
        for index, model_field in enumerate(fields):
            column = model_field.get_col(model._meta.db_table)
            found = db.ops.get_db_converters(column) + column.get_db_converters(db)
            if found:
                converters.append((index, found, column))
        plan = _RowPlan(
            attnames=[f.attname for f in fields],
            positions=[position[str(f.column)] for f in fields],
            converters=converters,
        )
        plans[(model, names)] = plan
    return plan


def load_rows(model: type[M], sql: str, params: Sequence[Any]) -> list[M]:
    """What `model.objects.raw(sql, params)` gives for a `SELECT *` of the model's table: model
    instances, every field converted as the ORM converts it (`Model.from_db`).

    For reads on every request: the ORM spends several times the query's own cost compiling a
    wide select, and `raw()` maps columns and looks converters up again on every query; here
    that mapping is worked out once per connection and table shape, then reused.
    """
    db = connections[DEFAULT_DB_ALIAS]
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        names = tuple(column[0] for column in cursor.description)
        rows = cursor.fetchall()
    plan = _row_plan(db, model, names)
    loaded = []
    for row in rows:
        values = [row[i] for i in plan.positions]
        for index, converters, column in plan.converters:
            value = values[index]
            for convert in converters:
                value = convert(value, column, db)
            values[index] = value
        loaded.append(model.from_db(DEFAULT_DB_ALIAS, plan.attnames, values))
    return loaded
