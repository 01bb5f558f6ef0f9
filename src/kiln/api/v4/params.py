"""Request parameters as GitLab (Grape) reads them, and GitLab-style error bodies for them.

Grape merges query, form and JSON parameters into one set; clients rely on it (python-gitlab
sends JSON, curl users send forms, some send everything in the query). `Params` is a
django-ninja parameter source doing that merge; arrays may come as `key[]=a&key[]=b`, as a JSON
list, or comma-separated where the endpoint says so. Path segments arrive percent-encoded
(see kiln.ops.middleware.RawPathMiddleware) and `PathStr` decodes each exactly once.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import unquote

from django.http import HttpRequest, QueryDict
from ninja.params.models import Body, BodyModel
from pydantic import AfterValidator, BeforeValidator

from kiln.core.errors import BadRequest, InvalidParameter, MissingParameter

MAX_JSON_BYTES = 10 * 1024 * 1024


def _decode_path(value: str) -> str:
    decoded = unquote(value, errors="strict")
    if "\x00" in decoded:
        raise ValueError("contains a NUL byte")
    return decoded


PathStr = Annotated[str, AfterValidator(_decode_path)]


def _split_list(value: Any) -> Any:
    """Accept `a,b` as well as a list, as Grape's `coerce_with` on array params does."""
    if isinstance(value, str):
        return [item for item in value.split(",") if item != ""]
    return value


CommaList = Annotated[list[str], BeforeValidator(_split_list)]
CommaIntList = Annotated[list[int], BeforeValidator(_split_list)]


def _querydict_to_dict(data: QueryDict) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key in data:
        if key.endswith("[]"):
            result[key[:-2]] = data.getlist(key)
        else:
            values = data.getlist(key)
            result[key] = values[-1] if values else ""
    return result


def merged_params(request: HttpRequest) -> dict[str, Any]:
    """Query, then form or JSON body (the body wins), as one dict."""
    cached = getattr(request, "_kiln_params", None)
    if cached is not None:
        return dict(cached)
    data = _querydict_to_dict(request.GET)
    content_type = (request.content_type or "").lower()
    if content_type == "application/json":
        raw = request.body
        if len(raw) > MAX_JSON_BYTES:
            raise BadRequest("request body is too large")
        if raw.strip():
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                raise BadRequest("the request body is not valid JSON") from None
            if not isinstance(body, dict):
                raise BadRequest("the request body must be a JSON object")
            data.update(body)
    elif content_type == "multipart/form-data" or request.method == "POST":
        data.update(_querydict_to_dict(request.POST))
    elif content_type == "application/x-www-form-urlencoded":
        data.update(_querydict_to_dict(QueryDict(request.body, encoding=request.encoding)))
    request._kiln_params = dict(data)  # type: ignore[attr-defined]
    return data


class MergedParamsModel(BodyModel):
    @classmethod
    def get_request_data(
        cls, request: HttpRequest, api: Any, path_params: dict[str, Any]
    ) -> dict[str, Any] | None:
        data = merged_params(request)
        varname = getattr(cls, "__read_from_single_attr__", None)
        return {varname: data} if varname else data


class Params(Body):  # type: ignore[misc]
    """Use as `payload: Annotated[Schema, Params(...)]`."""

    _model = MergedParamsModel

    @classmethod
    def _param_source(cls) -> str:
        return "body"


def validation_error_body(errors: list[dict[str, Any]]) -> dict[str, str]:
    """Grape's `{"error": "name is missing, visibility does not have a valid value"}`."""
    messages = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "form")]
        # Drop the name of the schema argument (e.g. "payload"): Grape names the parameter.
        if len(loc) > 1:
            loc = loc[1:]
        name = "[".join(loc[:1]) + "".join(f"[{p}]" for p in loc[1:]) if loc else "parameters"
        if error.get("type") == "missing":
            messages.append(f"{name} is missing")
        elif error.get("type") in ("literal_error", "enum"):
            messages.append(f"{name} does not have a valid value")
        else:
            messages.append(f"{name} is invalid")
    return {"error": ", ".join(dict.fromkeys(messages))}


def require(params: dict[str, Any], *names: str) -> None:
    missing = [n for n in names if params.get(n) in (None, "")]
    if missing:
        raise MissingParameter(*missing)


def one_of(value: str | None, allowed: tuple[str, ...], name: str) -> str | None:
    if value is not None and value not in allowed:
        raise InvalidParameter(f"{name} does not have a valid value")
    return value
