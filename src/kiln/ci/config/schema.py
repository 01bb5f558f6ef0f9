"""Structural validation against GitLab's CI JSON schema (draft-07).

The schema is GitLab's `app/assets/javascripts/editor/schema/ci.json`, the one its
pipeline editor uses. Kiln ships a copy (data/ci.json, see data/SOURCES.md); settings may
point at another file. It is applied to the configuration once includes, `extends:` and
`!reference` were resolved, which is the shape GitLab's own validation sees.

GitLab's server does not use this schema, and the schema is stricter than the server in a
few places. Kiln relaxes exactly those, so that no configuration GitLab runs is refused:

* `type:` in a job — deprecated alias of `stage:`, still accepted by GitLab;
* `artifacts:reports:` — any report type (GitLab EE adds types the schema lacks);
* `artifacts:public:` — documented GitLab keyword missing from this copy of the schema;
* `tags: []` — GitLab accepts an empty list (it clears `default:tags`);
* repeated names in `stages:` — GitLab keeps the first occurrence;
* a top-level `spec:` — a header lives in its own YAML document, so a `spec:` key in the
  configuration is a job, as GitLab reads it;
* nested arrays in `rules:`, scripts and `stages:` — GitLab flattens them (they come from
  `!reference` and anchors); Kiln flattens before validating.

Schema errors are rewritten into GitLab's wording where GitLab has one for the same
problem ("jobs:build config contains unknown keys: foo"). Kiln's own keyword validation
(jobs.py) speaks GitLab's exact texts; where both find a problem with the same job, the
processor reports Kiln's message and keeps the schema's for everything else.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

# jsonschema ships no type information and types-jsonschema is not a Kiln dependency.
import jsonschema  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError, best_match  # type: ignore[import-untyped]

BUNDLED_SCHEMA = Path(__file__).parent / "data" / "ci.json"
RESERVED_KEYS = frozenset(
    {
        "default",
        "include",
        "before_script",
        "image",
        "services",
        "after_script",
        "variables",
        "stages",
        "cache",
        "workflow",
    }
)
_SCRIPT_KEYS = ("script", "before_script", "after_script")
_LIST_ITEM_NAMES = {"rules": "rule", "needs": "need", "services": "service"}
# Keywords GitLab models as entries of their own (messages say "<location> config ...").
_ENTRY_KEYS = frozenset(
    {
        "artifacts",
        "cache",
        "image",
        "services",
        "environment",
        "retry",
        "timeout",
        "parallel",
        "needs",
        "rules",
        "variables",
        "trigger",
        "inherit",
        "release",
        "script",
        "before_script",
        "after_script",
        "only",
        "except",
        "coverage",
        "hooks",
        "id_tokens",
        "secrets",
        "reports",
        "matrix",
        "key",
        "default",
        "workflow",
        "include",
        "stages",
        "allow_failure",
        "changes",
        "exists",
        "forward",
        "kubernetes",
        "docker",
        "tags",
    }
)
_TYPE_NAMES = {
    "object": "a hash",
    "array": "an array",
    "string": "a string",
    "boolean": "a boolean value",
    "integer": "an integer",
    "number": "a number",
    "null": "null",
}


class CiSchema:
    """A compiled schema; build one with `load_ci_schema`."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = _relaxed(schema)
        jsonschema.Draft7Validator.check_schema(self.schema)
        self.validator = jsonschema.Draft7Validator(self.schema)

    def errors(self, config: Mapping[str, Any]) -> list[str]:
        """GitLab-style messages for every schema violation of `config`, in file order."""
        return [message for _, message in self.keyed_errors(config)]

    def keyed_errors(self, config: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(top-level key, message) for every violation, in file order, deduplicated.
        Messages are lowercased like every message of GitLab's entry validator."""
        instance = _prepare(config)
        found = sorted(self.validator.iter_errors(instance), key=lambda e: _order(e, instance))
        keyed: list[tuple[str, str]] = []
        for error in found:
            path = list(error.absolute_path)
            item = (str(path[0]) if path else "", _message(_most_relevant(error)).lower())
            if item not in keyed:
                keyed.append(item)
        return keyed


@functools.lru_cache(maxsize=4)
def _load(path: str) -> CiSchema:
    with open(path, encoding="utf-8") as handle:
        return CiSchema(json.load(handle))


def load_ci_schema(path: str | Path | None = None) -> CiSchema:
    """Load (once per path) and compile the schema; None means the bundled copy."""
    return _load(str(Path(path) if path is not None else BUNDLED_SCHEMA))


def _relaxed(schema: dict[str, Any]) -> dict[str, Any]:
    relaxed = copy.deepcopy(schema)
    definitions = relaxed.get("definitions", {})
    job = definitions.get("job_template", {}).get("properties")
    if isinstance(job, dict):
        job.setdefault("type", {"type": "string", "description": "Deprecated alias of stage."})
    artifacts = definitions.get("artifacts", {}).get("properties")
    if isinstance(artifacts, dict):
        artifacts.setdefault("public", {"type": "boolean"})
        if isinstance(artifacts.get("reports"), dict):
            artifacts["reports"]["additionalProperties"] = True
    tags = definitions.get("tags")
    if isinstance(tags, dict):
        tags.pop("minItems", None)
    stages = relaxed.get("properties", {}).get("stages")
    if isinstance(stages, dict):
        stages.pop("uniqueItems", None)
    relaxed.get("properties", {}).pop("spec", None)
    return relaxed


def flatten(items: Any, max_level: int = 10) -> Any:
    """Flatten nested lists (up to `max_level` deep) the way GitLab reads scripts/rules."""
    if not isinstance(items, list):
        return items
    flat: list[Any] = []

    def visit(values: list[Any], level: int) -> None:
        for value in values:
            if isinstance(value, list) and level < max_level:
                visit(value, level + 1)
            else:
                flat.append(value)

    visit(items, 1)
    return flat


def _prepare_job(job: dict[str, Any]) -> dict[str, Any]:
    prepared = dict(job)
    for key in (*_SCRIPT_KEYS, "rules"):
        if key in prepared:
            prepared[key] = flatten(prepared[key])
    return prepared


def _prepare(config: Mapping[str, Any]) -> dict[str, Any]:
    prepared: dict[str, Any] = {}
    for key, value in config.items():
        if key.startswith(".") or not isinstance(value, dict):
            prepared[key] = flatten(value) if key in (*_SCRIPT_KEYS, "stages") else value
        elif key == "workflow":
            prepared[key] = (
                {**value, "rules": flatten(value["rules"])} if "rules" in value else value
            )
        else:
            prepared[key] = _prepare_job(value)
    return prepared


def _order(error: ValidationError, instance: Mapping[str, Any]) -> tuple[int, str]:
    path = list(error.absolute_path)
    keys = list(instance)
    first = keys.index(path[0]) if path and path[0] in keys else -1
    return first, json.dumps(path, default=str)


def _branch_matches_type(error: ValidationError) -> bool:
    declared = error.schema.get("type") if isinstance(error.schema, dict) else None
    if declared is None:
        return True
    types = declared if isinstance(declared, list) else [declared]
    checker = jsonschema.Draft7Validator.TYPE_CHECKER
    return any(checker.is_type(error.instance, t) for t in types)


def _most_relevant(error: ValidationError) -> ValidationError:
    """For oneOf/anyOf, descend into the branch that fits the value best: not one whose
    declared type is wrong for the value, and then the one with the fewest problems (a
    hash need with a bad `job:` is a same-pipeline need with one error, not a cross-project
    need missing three keys)."""
    while error.validator in ("oneOf", "anyOf") and error.context:
        by_branch: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            by_branch.setdefault(sub.schema_path[0] if sub.schema_path else None, []).append(sub)
        fitting = [
            subs
            for subs in by_branch.values()
            if not any(s.validator in ("type", "const", "enum") and not s.path for s in subs)
        ]
        if not fitting:
            # The value has a type no branch accepts: say which types would do.
            return _TypeMismatch(error, by_branch.values())
        branch = min(fitting, key=len)
        chosen = best_match(branch)
        if chosen is None or chosen is error:
            break
        error = chosen
    return error


class _TypeMismatch(ValidationError):  # type: ignore[misc]
    """A oneOf/anyOf where the value's type fits no branch: one "should be a or b" error."""

    def __init__(self, error: ValidationError, branches: Iterable[list[ValidationError]]) -> None:
        declared: list[str] = []
        for subs in branches:
            for sub in subs:
                if sub.validator == "type" and not sub.path:
                    types = sub.validator_value
                    for kind in types if isinstance(types, list) else [types]:
                        if kind not in declared:
                            declared.append(kind)
        super().__init__(
            error.message,
            validator="type",
            path=error.relative_path,
            instance=error.instance,
            schema=error.schema,
            validator_value=declared,
            parent=error.parent,
        )


def _location(path: Iterable[Any]) -> str:
    parts = list(path)
    if not parts:
        return "root"
    head = str(parts[0])
    names = [head if head in RESERVED_KEYS else f"jobs:{head}"]
    previous = head
    for part in parts[1:]:
        if isinstance(part, int):
            names.append(_LIST_ITEM_NAMES.get(previous, str(part)))
        else:
            names.append(str(part))
        previous = str(part)
    return ":".join(names)


def _subject(error: ValidationError) -> str:
    """GitLab names entries "<location> config" and attributes "<location> <attribute>":
    "jobs:a:artifacts config should be a hash" but "jobs:a start in should be a duration"."""
    path = list(error.absolute_path)
    last = path[-1] if path else None
    if (
        len(path) >= 2
        and isinstance(last, str)
        and last not in _ENTRY_KEYS
        and not isinstance(error.instance, dict | list)
        and path[-2] not in ("variables", "reports")
    ):
        return f"{_location(path[:-1])} {last.replace('_', ' ')}"
    return f"{_location(path)} config"


def _types(declared: Any) -> str:
    types = declared if isinstance(declared, list) else [declared]
    if len(types) > 1 and "null" in types:
        types = [t for t in types if t != "null"]  # null only means "left empty"
    return " or ".join(_TYPE_NAMES.get(str(t), str(t)) for t in types)


def _message(error: ValidationError) -> str:
    where = _location(error.absolute_path)
    subject = _subject(error)
    validator, value = error.validator, error.validator_value
    if validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        patterns = list(error.schema.get("patternProperties", {}))
        unknown = [
            key
            for key in error.instance
            if key not in known and not any(re.search(p, key) for p in patterns)
        ]
        return f"{where} config contains unknown keys: {', '.join(unknown)}"
    if validator == "type":
        return f"{subject} should be {_types(value)}"
    if validator in ("enum", "const"):
        options = value if validator == "enum" else [value]
        return f"{subject} should be one of: {', '.join(str(o) for o in options)}"
    if validator == "required":
        missing = [key for key in value if key not in (error.instance or {})]
        if missing == ["start_in"]:
            # GitLab checks start_in of a delayed job as a duration: a missing one is not.
            return f"{where} start in should be a duration"
        return f"{where} config missing required keys: {', '.join(missing)}"
    if validator == "minLength" and value == 1:
        return f"{subject} can't be blank"
    if validator == "maxLength":
        return f"{subject} is too long (maximum is {value} characters)"
    if validator == "maximum":
        return f"{subject} must be less than or equal to {value}"
    if validator == "minimum":
        return f"{subject} must be greater than or equal to {value}"
    if validator == "minItems":
        return f"{where} config should contain at least {value} item{'s' if value != 1 else ''}"
    if validator == "maxItems":
        return f"{where} config should contain at most {value} items"
    if validator == "uniqueItems":
        return f"{where} config should not contain duplicates"
    return f"{subject} is invalid: {error.message}"
