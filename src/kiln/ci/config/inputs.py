"""`spec:inputs` headers and `$[[ inputs.name ]]` interpolation.

A CI file may start with a header document that declares inputs:

    spec:
      inputs:
        stage: {default: test}
        parallel: {type: number, default: 2}
    ---
    "$[[ inputs.stage ]]-job":
      stage: $[[ inputs.stage ]]
      parallel: $[[ inputs.parallel ]]

Values come from `include: inputs:` (or the pipeline's inputs for the top-level file).
Interpolation runs over keys and values; a string that is exactly one block takes the
input's type (so `parallel:` above is the number 2), otherwise the value is inserted as
text. Types string, number, boolean and array, `options:` and `regex:` are checked with
GitLab's messages. Pipeline inputs given as text (form fields, `inputs[name]=value`) are
read as JSON where the input's type is not `string` (`"3"` for a number). Interpolation
functions (`| truncate(0,5)` ...) are not supported yet and are reported as such. Files
without a header are not interpolated, as in GitLab.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from kiln.ci.config.errors import InterpolationError
from kiln.ci.config.regex import UntrustedRegexError, compile_untrusted, searches

# GitLab's Interpolation::Template::BLOCK_PATTERN.
_BLOCK = re.compile(r"\$\[\[\s*(?P<data>\S.*?\S)\s*\]\]")
MAX_BLOCKS = 10_000
_TYPES = ("string", "number", "boolean", "array")


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return isinstance(value, list)


def _from_text(kind: str, value: Any) -> Any:
    """A text value for a typed input, read as JSON when that gives the type (else as is)."""
    if kind == "string" or not isinstance(value, str):
        return value
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if _type_ok(kind, decoded) else value


def _input_values(
    spec: Mapping[str, Any], given: Mapping[str, Any], *, from_text: bool = False
) -> dict[str, Any]:
    errors: list[str] = []
    unknown = [name for name in given if name not in spec]
    if unknown:
        errors.append(f"unknown input arguments: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, raw_definition in spec.items():
        definition = raw_definition if isinstance(raw_definition, dict) else {}
        kind = definition.get("type", "string")
        if kind not in _TYPES:
            errors.append(
                f"unknown input specification for `{name}` (valid types: {', '.join(_TYPES)})"
            )
            continue
        if name in given and given[name] is not None:
            value = _from_text(kind, given[name]) if from_text else given[name]
        elif "default" in definition:
            value = definition["default"]
            if not _type_ok(kind, value):
                errors.append(f"`{name}` input: default value is not a {kind}")
                continue
        else:
            errors.append(f"`{name}` input: required value has not been provided")
            continue
        if not _type_ok(kind, value):
            errors.append(f"`{name}` input: provided value is not a {kind}")
            continue
        options = definition.get("options")
        if isinstance(options, list) and value not in options:
            errors.append(
                f"`{name}` input: `{value}` cannot be used because it is not in the list of "
                "allowed options"
            )
            continue
        pattern = definition.get("regex")
        if isinstance(pattern, str) and kind == "string":
            try:
                if not searches(compile_untrusted(pattern), value):
                    errors.append(
                        f"`{name}` input: provided value does not match required RE2 "
                        "regular expression"
                    )
                    continue
            except UntrustedRegexError:
                errors.append(f"`{name}` input: invalid regular expression")
                continue
        values[name] = value
    if errors:
        raise InterpolationError(", ".join(errors[:3]))
    return values


class _Interpolator:
    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values
        self.blocks = 0

    def block_value(self, data: str) -> Any:
        self.blocks += 1
        if self.blocks > MAX_BLOCKS:
            raise InterpolationError("too many interpolation blocks")
        access, *functions = (part.strip() for part in data.split("|"))
        if functions:
            raise InterpolationError(
                f"interpolation functions are not supported yet: `{' | '.join(functions)}`"
            )
        parts = access.split(".")
        if len(parts) != 2:
            raise InterpolationError("invalid interpolation access pattern")
        context, name = parts
        if context == "matrix":
            return None  # resolved later, per parallel instance (needs only)
        if context != "inputs" or name not in self.values:
            key = context if context != "inputs" else name
            raise InterpolationError(f"unknown interpolation key: `{key}`")
        return self.values[name]

    def string(self, text: str) -> Any:
        if "$[[" not in text:
            return text
        # Not fullmatch: the lazy pattern would stretch one block over "$[[ a ]]-$[[ b ]]".
        whole = _BLOCK.match(text)
        if whole and whole.end() == len(text):
            value = self.block_value(whole.group("data"))
            return text if value is None else value

        def replace(match: re.Match[str]) -> str:
            value = self.block_value(match.group("data"))
            if value is None:
                return match.group(0)
            if isinstance(value, bool):
                return "true" if value else "false"
            return str(value)

        return _BLOCK.sub(replace, text)

    def walk(self, node: Any) -> Any:
        if isinstance(node, str):
            return self.string(node)
        if isinstance(node, list):
            return [self.walk(item) for item in node]
        if isinstance(node, dict):
            result: dict[str, Any] = {}
            for key, value in node.items():
                new_key = self.string(key)
                result[str(new_key)] = self.walk(value)
            return result
        return node


def interpolate(
    header: Mapping[str, Any] | None,
    content: Any,
    given: Mapping[str, Any],
    *,
    from_text: bool = False,
) -> Any:
    """Apply a file's `spec:inputs` to its content. Raises InterpolationError.

    Without a header, content is returned unchanged and giving inputs is an error.
    `from_text`: the values may be text for typed inputs (a pipeline's inputs).
    """
    if header is None:
        if given:
            raise InterpolationError(
                "Given inputs not defined in the `spec` section of the included configuration file"
            )
        return content
    spec = header.get("spec")
    if not isinstance(spec, dict) or set(spec) - {"inputs", "include", "component"}:
        raise InterpolationError("header:spec config contains unknown keys")
    inputs = spec.get("inputs") or {}
    if not isinstance(inputs, dict):
        raise InterpolationError("header:spec:inputs config must be a hash")
    values = _input_values(inputs, given, from_text=from_text)
    return _Interpolator(values).walk(content)
