"""`extends:` — a job (or any top-level hash) inherits the configuration of others.

As GitLab's Config::Extendable: every top-level entry that is a hash with `extends:` is
replaced by the deep merge of its bases (in the order listed, each base extended first)
with its own keys on top. Errors use GitLab's texts:

    <key>: unknown keys in `extends` (<names>)
    <key>: invalid base hashes in `extends` (<names>)
    <key>: nesting too deep in `extends`        (more than 10 ancestors)
    <key>: circular dependency detected in `extends`
"""

from __future__ import annotations

from typing import Any

from kiln.ci.config.errors import ExtendsError
from kiln.ci.config.merge import deep_merge

MAX_NESTING_LEVELS = 10


def _extends_keys(value: Any) -> list[str] | None:
    if not (isinstance(value, dict) and "extends" in value):
        return None
    raw = value["extends"]
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return list(raw)
    # A malformed `extends:` is reported by job validation ("should be an array of strings
    # or a string"); GitLab's Extendable skips nothing, but coerces with Array(...).
    if isinstance(raw, list):
        return [str(item) for item in raw]
    return [str(raw)]


def resolve_extends(config: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of `config` with every `extends:` applied. Raises ExtendsError.

    GitLab walks the whole chain again for every entry, so an entry that was fine when
    reached first can be too deep when reached through a longer chain. Kiln merges each
    entry once but remembers the longest chain below it, and raises the same error when a
    later, longer route pushes that chain past the limit.
    """
    context = dict(config)
    # key -> the longest chain of extensible entries starting at key (key first).
    chains: dict[str, tuple[str, ...]] = {}

    def check_depth(key: str, depth: int) -> None:
        for offset, member in enumerate(chains[key]):
            if depth + offset > MAX_NESTING_LEVELS:
                raise ExtendsError(f"{member}: nesting too deep in `extends`")

    def extend(key: str, ancestors: tuple[str, ...]) -> Any:
        value = context[key]
        bases = _extends_keys(value)
        if bases is None:
            return value
        if key in chains:
            check_depth(key, len(ancestors))
            return context[key]
        unknown = [base for base in bases if base not in context]
        if unknown:
            raise ExtendsError(f"{key}: unknown keys in `extends` ({', '.join(unknown)})")
        invalid = [base for base in bases if not isinstance(context[base], dict)]
        if invalid:
            raise ExtendsError(f"{key}: invalid base hashes in `extends` ({', '.join(invalid)})")
        if len(ancestors) > MAX_NESTING_LEVELS:
            raise ExtendsError(f"{key}: nesting too deep in `extends`")
        if key in ancestors:
            raise ExtendsError(f"{key}: circular dependency detected in `extends`")
        merged: dict[str, Any] = {}
        longest: tuple[str, ...] = ()
        for base in bases:
            merged = deep_merge(merged, extend(base, (*ancestors, key)))
            below = chains.get(base, ())
            longest = below if len(below) > len(longest) else longest
        context[key] = deep_merge(merged, value)
        chains[key] = (key, *longest)
        return context[key]

    for key in list(context):
        extend(key, ())
    return context
