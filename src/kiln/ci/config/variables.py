"""CI/CD variable precedence and expansion, as GitLab computes them.

Expansion recognises `$VAR`, `${VAR}` and `%VAR%`; `$$` and `%%` are escapes left for the
runner. A variable with `expand: false` (GitLab's "raw") is never expanded itself, but its
value is inserted where other variables reference it. When variables reference each other
in a cycle GitLab gives up and keeps every value as written; Kiln does the same.

Precedence, lowest first: predefined, global YAML (after `workflow:rules:variables`), job
YAML (then matrix values, then the matching rule's), instance, group, project, pipeline
(trigger, schedule, manual run). `stack` applies that order; the caller passes the layers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from kiln.ci.config.context import VariableValue, variable_of
from kiln.ci.config.types import Variable

_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
VARIABLE_REFERENCE = re.compile(
    rf"\$\$|%%|\$(?P<plain>{_NAME})|\$\{{(?P<braced>{_NAME})\}}|%(?P<percent>{_NAME})%"
)


def _name_of(match: re.Match[str]) -> str | None:
    return match.group("plain") or match.group("braced") or match.group("percent")


def references(value: str) -> set[str]:
    """Names of the variables `value` refers to."""
    return {name for m in VARIABLE_REFERENCE.finditer(value) if (name := _name_of(m))}


def expand(value: str, lookup: Mapping[str, str], *, keep_undefined: bool = False) -> str:
    """Replace references by their value. Undefined ones become "" (GitLab's `expand`) or
    stay as written with keep_undefined (GitLab's `expand_existing`)."""

    def replace(match: re.Match[str]) -> str:
        name = _name_of(match)
        if name is None:
            return match.group(0)
        if name in lookup:
            return lookup[name]
        return match.group(0) if keep_undefined else ""

    return VARIABLE_REFERENCE.sub(replace, value)


def stack(*layers: Mapping[str, VariableValue]) -> dict[str, Variable]:
    """Merge layers of variables; a later layer wins over an earlier one."""
    merged: dict[str, Variable] = {}
    for layer in layers:
        for key, value in layer.items():
            merged[key] = variable_of(value)
    return merged


def expand_all(variables: Mapping[str, Variable]) -> dict[str, str]:
    """Every variable's value with references expanded (GitLab's sort_and_expand_all)."""
    dependencies = {
        key: references(var.value) & variables.keys() if var.expand else set()
        for key, var in variables.items()
    }
    order = _topological(dependencies)
    if order is None:
        return {key: var.value for key, var in variables.items()}
    expanded: dict[str, str] = {}
    for key in order:
        var = variables[key]
        expanded[key] = expand(var.value, expanded) if var.expand else var.value
    return expanded


def _topological(dependencies: Mapping[str, set[str]]) -> list[str] | None:
    """Dependencies first; None when there is a cycle."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done
    for root in dependencies:
        if state.get(root) == 2:
            continue
        stack_: list[tuple[str, list[str]]] = [(root, sorted(dependencies[root]))]
        state[root] = 1
        while stack_:
            node, pending = stack_[-1]
            if pending:
                child = pending.pop()
                child_state = state.get(child)
                if child_state == 1:
                    return None
                if child_state is None:
                    state[child] = 1
                    stack_.append((child, sorted(dependencies[child])))
                continue
            stack_.pop()
            state[node] = 2
            order.append(node)
    return order
