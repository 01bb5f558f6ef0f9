"""The names django-ninja gives an endpoint from its function's name and module: the OpenAPI
operation id and summary, and the Django URL name.

Endpoints registered once per kind of parent (a project's and a group's, from one function
that defines them) pass these, so that the OpenAPI document and the URL names stay what one
function per endpoint would have given.
"""

from __future__ import annotations

from typing import Any


def endpoint_names(module: str, name: str) -> dict[str, Any]:
    """Keyword arguments of a router decorator naming the endpoint `name` of `module`."""
    return {
        "operation_id": f"{module}_{name}".replace(".", "_"),
        "summary": name.title().replace("_", " "),
        "url_name": name,
    }
