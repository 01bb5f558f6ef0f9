"""`parallel:` — one job definition becoming several jobs.

* `parallel: N` (1..200) creates `name 1/N` ... `name N/N`;
* `parallel: matrix:` creates one job per combination of values, named
  `name: [v1, v2]` with the values in the order the variables are written; each entry of
  the matrix contributes the product of its value lists, and the whole matrix may not
  produce more than 200 jobs (GitLab's PARALLEL_LIMIT). The size is computed from the
  lengths of the lists, so a 10,000-job matrix is refused before anything is expanded.

`needs:` and `dependencies:` naming a parallel job mean every instance of it; a need with
`parallel: matrix:` selects the listed combinations. `$[[ matrix.NAME ]]` inside `needs:`
is replaced by the instance's own value, so `build: [$[[ matrix.OS ]]]` pairs instances.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from kiln.ci.config.types import Need

PARALLEL_LIMIT = 200
_MATRIX_BLOCK = re.compile(r"\$\[\[\s*matrix\.(?P<name>[A-Za-z0-9_]+)\s*\]\]")


@dataclass(frozen=True)
class Instance:
    name: str
    index: int
    total: int
    matrix: Mapping[str, str]


def _values(value: Any) -> list[str] | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int | float):
        return [str(value)]
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value)
    ):
        return [str(v) for v in value]
    return None


def validate_parallel(value: Any, location: str, limit: int = PARALLEL_LIMIT) -> list[str]:
    where = f"{location}:parallel"
    if isinstance(value, bool) or not isinstance(value, int | dict):
        return [f"{where} should be an integer or a hash"]
    if isinstance(value, int):
        if value < 1:
            return [f"{where} config must be greater than or equal to 1"]
        if value > limit:
            return [f"{where} config must be less than or equal to {limit}"]
        return []
    unknown = [key for key in value if key != "matrix"]
    if unknown:
        return [f"{where} config contains unknown keys: {', '.join(unknown)}"]
    if "matrix" not in value:
        return [f"{where} config missing required keys: matrix"]
    return validate_matrix(value["matrix"], where, limit)


def validate_matrix(matrix: Any, where: str, limit: int = PARALLEL_LIMIT) -> list[str]:
    location = f"{where}:matrix"
    if not isinstance(matrix, list) or not all(isinstance(entry, dict) for entry in matrix):
        return [f"{location} config should be an array of hashes"]
    errors = []
    for entry in matrix:
        if not entry:
            errors.append(f"{location}:variables config requires at least 1 items")
        elif any(_values(v) is None for v in entry.values()):
            errors.append(
                f"{location}:variables config should be a hash of key value pairs, "
                "value can be an array"
            )
    if errors:
        return errors
    if matrix_size(matrix) > limit:
        return [f"{location} config generates too many jobs (maximum is {limit})"]
    return []


def matrix_size(matrix: Sequence[Mapping[str, Any]]) -> int:
    total = 0
    for entry in matrix:
        size = 1
        for value in entry.values():
            size *= len(_values(value) or [])
        total += size
    return total


def _combinations(matrix: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    combos: list[dict[str, str]] = []
    for entry in matrix:
        keys = list(entry)
        lists = [_values(entry[key]) or [] for key in keys]
        combos.extend(dict(zip(keys, values, strict=True)) for values in itertools.product(*lists))
    return combos


def matrix_job_name(job: str, variables: Mapping[str, str]) -> str:
    return f"{job}: [{', '.join(variables.values())}]"


def instances(job: str, parallel: Any) -> list[Instance]:
    """The jobs a validated `parallel:` value creates (one plain instance when absent)."""
    if parallel is None:
        return [Instance(job, 0, 0, {})]
    if isinstance(parallel, int):
        return [Instance(f"{job} {i}/{parallel}", i, parallel, {}) for i in range(1, parallel + 1)]
    combos = _combinations(parallel["matrix"])
    return [
        Instance(matrix_job_name(job, combo), i, len(combos), combo)
        for i, combo in enumerate(combos, start=1)
    ]


def interpolate_needs(needs: Sequence[Need], matrix: Mapping[str, str], job: str) -> list[Need]:
    """Replace `$[[ matrix.NAME ]]` in need names. Raises ValueError on an unknown name."""

    def fill(text: str) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group("name")
            if name not in matrix:
                raise ValueError(f"{job} job: unknown matrix variable `{name}` in needs")
            return matrix[name]

        return _MATRIX_BLOCK.sub(value, text)

    return [replace(need, job=fill(need.job)) for need in needs]


def expand_needs(
    needs: Sequence[Need],
    parallel_of: Mapping[str, list[Instance]],
    need_matrices: Mapping[int, Sequence[Mapping[str, Any]]],
) -> list[Need]:
    """Replace needs on a parallel job by needs on its instances.

    `need_matrices` maps the index of a need to its `parallel: matrix:` selection.
    """
    expanded: list[Need] = []
    for index, need in enumerate(needs):
        if not need.same_pipeline or need.job not in parallel_of:
            expanded.append(need)
            continue
        if index in need_matrices:
            names = [matrix_job_name(need.job, c) for c in _combinations(need_matrices[index])]
        else:
            names = [instance.name for instance in parallel_of[need.job]]
        expanded.extend(replace(need, job=name) for name in names)
    return expanded


def expand_dependencies(
    names: Sequence[str], parallel_of: Mapping[str, list[Instance]]
) -> list[str]:
    expanded: list[str] = []
    for name in names:
        if name in parallel_of:
            expanded.extend(instance.name for instance in parallel_of[name])
        else:
            expanded.append(name)
    return expanded
