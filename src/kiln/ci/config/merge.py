"""GitLab's deep merge, used by `include:` and `extends:`.

Rails' `Hash#deep_merge`: when both sides hold a hash under the same key the hashes are
merged recursively; any other value on the right replaces the left one. Arrays are never
concatenated, so `script:` in a job replaces the `script:` it extends.
"""

from __future__ import annotations

from typing import Any


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A new dict: `base` with `override` merged on top. Neither argument is changed."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged
