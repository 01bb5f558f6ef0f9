"""Rack's nested form parameters, for the few endpoints whose documented examples send them:
`inputs[][name]=a&inputs[][value]=b` (an array of hashes) and `inputs[name]=value` (a hash).

JSON bodies carry the same as real arrays and objects; these helpers read form fields only
when the JSON (or merged) parameters did not have the value.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl

from django.http import HttpRequest

MAX_ITEMS = 100


def _ordered_pairs(request: HttpRequest) -> Iterator[tuple[str, str]]:
    """The query's and the form's fields in the order they were sent (for multipart bodies,
    whose fields Django groups by name, field by field in each name's order)."""
    yield from parse_qsl(request.META.get("QUERY_STRING", ""), keep_blank_values=True)
    content_type = (request.content_type or "").lower()
    if content_type == "application/x-www-form-urlencoded":
        yield from parse_qsl(
            request.body.decode(request.encoding or "utf-8", errors="replace"),
            keep_blank_values=True,
        )
    elif content_type == "multipart/form-data":
        lists = list(request.POST.lists())
        longest = max((len(values) for _, values in lists), default=0)
        for index in range(longest):
            for key, values in lists:
                if index < len(values):
                    yield key, values[index]


def form_array(request: HttpRequest, name: str, given: Any) -> Any:
    """`given` when the parameters had `name`; else the hashes of `name[][field]` form fields,
    a new hash starting whenever a field repeats (Rack's rule), or None when there are none."""
    if given is not None:
        return given
    prefix = f"{name}[]["
    items: list[dict[str, str]] = []
    for key, value in _ordered_pairs(request):
        if not (key.startswith(prefix) and key.endswith("]")):
            continue
        field = key[len(prefix) : -1]
        if not items or field in items[-1]:
            if len(items) >= MAX_ITEMS:
                break
            items.append({})
        items[-1][field] = value
    return items or None


def form_hash(params: Mapping[str, Any], name: str) -> Any:
    """`params[name]` when given (a JSON object); else the `name[key]=value` form fields as
    a hash, or None when there are none."""
    if name in params:
        return params[name]
    prefix = f"{name}["
    found = {
        key[len(prefix) : -1]: value
        for key, value in params.items()
        if key.startswith(prefix) and key.endswith("]") and len(key) > len(prefix) + 1
    }
    return found or None
