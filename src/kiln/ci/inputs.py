"""Pipeline inputs as callers give them: a hash of `spec:inputs` names to values on the API,
the trigger endpoint and the web form, a list of `{name, value}` on pipeline schedules.

This module checks only their shape (GitLab's parameter types); whether the configuration
declares them and with which type is the configuration's (`kiln.ci.config.inputs`), which
fails the pipeline with GitLab's messages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kiln.ci.commit_files import read_config_text
from kiln.ci.config.errors import ConfigError
from kiln.ci.config.loader import load_yaml
from kiln.ci.pipelines import DEFAULT_CONFIG_PATH, resolve_ref
from kiln.core.errors import InvalidParameter, KilnError, ValidationFailed
from kiln.projects.models import Project

MAX_INPUTS = 50  # GitLab's `spec:inputs` limit per configuration
MAX_NAME_LENGTH = 255
MAX_VALUE_BYTES = 64 * 1024


def _value_ok(value: Any) -> bool:
    if isinstance(value, str | bool | int | float):
        return True
    if isinstance(value, list):
        return all(isinstance(item, str | bool | int | float) for item in value)
    return False


def _size(value: Any) -> int:
    if isinstance(value, list):
        return sum(_size(item) for item in value)
    return len(str(value).encode())


def pipeline_inputs(raw: Any, *, param: str = "inputs") -> dict[str, Any]:
    """A pipeline's `inputs` hash, checked: names are non-empty text, values text, numbers,
    booleans or arrays of those (GitLab's `Hash` parameter). Else 400 `inputs is invalid`."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or len(raw) > MAX_INPUTS:
        raise InvalidParameter(f"{param} is invalid")
    result: dict[str, Any] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
            raise InvalidParameter(f"{param} is invalid")
        if not _value_ok(value) or _size(value) > MAX_VALUE_BYTES:
            raise InvalidParameter(f"{param} is invalid")
        result[name] = value
    return result


def schedule_inputs(current: list[dict[str, Any]], changes: Any) -> list[dict[str, Any]]:
    """A schedule's inputs after `changes` (GitLab's `inputs` array of `{name, value}`:
    `_destroy: true` (or `destroy`) removes the input of that name, a known name takes the
    new value, as nested attributes do; on creation a destroyed input is simply not saved).
    Order is kept: new names go last."""
    if changes is None:
        return current
    if not isinstance(changes, list) or len(changes) > MAX_INPUTS:
        raise InvalidParameter("inputs is invalid")
    result = {item["name"]: item["value"] for item in current}
    for item in changes:
        if not isinstance(item, Mapping):
            raise InvalidParameter("inputs is invalid")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
            raise InvalidParameter("inputs[name] is missing" if not name else "inputs is invalid")
        if _truthy(item.get("_destroy", item.get("destroy"))):
            result.pop(name, None)
            continue
        if "value" not in item:
            raise InvalidParameter("inputs[value] is missing")
        value = item["value"]
        if not _value_ok(value) or _size(value) > MAX_VALUE_BYTES:
            raise InvalidParameter("inputs[value] is invalid")
        result[name] = value
    if len(result) > MAX_INPUTS:
        raise ValidationFailed({"inputs": [f"exceeds the limit of {MAX_INPUTS}"]})
    return [{"name": name, "value": value} for name, value in result.items()]


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "t", "yes", "on")
    return value is True or value == 1


# --- what a configuration declares (the web's "Run pipeline" form) ------------------------------

_SIMPLE_TYPES = ("string", "number", "boolean", "array")


@dataclass(frozen=True)
class DeclaredInput:
    """One `spec:inputs` entry of a project's top-level CI file, for a form."""

    name: str
    type: str
    required: bool
    default: Any
    options: tuple[Any, ...]
    description: str

    @property
    def default_text(self) -> str:
        """The default as a form shows it (arrays as JSON, booleans as `true`/`false`)."""
        if self.default is None:
            return ""
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        if isinstance(self.default, list):
            return json.dumps(self.default)
        return str(self.default)


def declared_inputs(project: Project, ref: str) -> list[DeclaredInput]:
    """The inputs the CI file of `project` at `ref` declares in its `spec:` header, in order;
    empty when there is no such file, no header, or the header is not simple (anything this
    cannot show as form fields: the pipeline's creation reports what is wrong)."""
    try:
        sha, _ = resolve_ref(project, ref)
    except KilnError:
        return []
    text = read_config_text(project, sha, project.ci_config_path or DEFAULT_CONFIG_PATH)
    if text is None:
        return []
    try:
        document = load_yaml(text)
    except ConfigError:
        return []
    spec = (document.header or {}).get("spec")
    inputs = spec.get("inputs") if isinstance(spec, dict) else None
    if not isinstance(inputs, dict) or len(inputs) > MAX_INPUTS:
        return []
    result = []
    for name, raw in inputs.items():
        definition = raw if isinstance(raw, dict) else {}
        kind = definition.get("type", "string")
        options = definition.get("options")
        if not isinstance(name, str) or kind not in _SIMPLE_TYPES:
            return []
        result.append(
            DeclaredInput(
                name=name,
                type=str(kind),
                required="default" not in definition,
                default=definition.get("default"),
                options=tuple(options) if isinstance(options, list) else (),
                description=str(definition.get("description") or ""),
            )
        )
    return result


def form_inputs(declared: list[DeclaredInput], fields: Mapping[str, str]) -> dict[str, Any]:
    """The inputs a "Run pipeline" form posted (`inputs[name]` fields, text): empty fields
    are left out so the defaults apply; typed inputs are read by the configuration."""
    known = {item.name for item in declared}
    return {
        name: value
        for name, value in fields.items()
        if value.strip() != "" and (name in known or not declared)
    }
