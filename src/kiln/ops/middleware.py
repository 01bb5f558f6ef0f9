"""Request middleware: correlation ids, access logs and metrics; the raw request path for the API.

Anything a view raises that nothing else handled is logged here with the request id and
answered `{"message": "500 Internal Server Error"}`: never a stack trace to the client. (The
API's own handler in kiln.api.v4.api answers the same for errors inside the API.)
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from urllib.parse import quote

from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponseBase, JsonResponse

from kiln.ops import metrics
from kiln.ops.context import request_id
from kiln.ops.network import client_ip

log = logging.getLogger("kiln.request")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._\-]{1,128}\Z")

_DJANGO_ANSWERS = (Http404, PermissionDenied, SuspiciousOperation, BadRequest)

Handler = Callable[[HttpRequest], HttpResponseBase]


class RequestContextMiddleware:
    """Sets `X-Request-Id` (keeping a client's well-formed one); logs and measures each request."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        incoming = request.headers.get("X-Request-Id", "")
        rid = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        request.request_id = rid  # type: ignore[attr-defined]
        started = time.perf_counter()
        try:
            with metrics.count_queries() as queries:
                response = self.get_response(request)
            elapsed = time.perf_counter() - started
            response["X-Request-Id"] = rid
            route = metrics.route_of(request)
            metrics.observe_request(request.method or "", route, response.status_code, elapsed)
            metrics.observe_queries(route, queries.count)
            log.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "route": route,
                    "status": response.status_code,
                    "duration_s": round(elapsed, 6),
                    "db_queries": queries.count,
                    "remote_ip": client_ip(request),
                },
            )
            return response
        finally:
            request_id.reset(token)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponseBase | None:
        if isinstance(exception, _DJANGO_ANSWERS):
            return None  # Django answers these itself (404, 403, 400)
        log.error(
            "unhandled error",
            exc_info=exception,
            extra={"method": request.method, "path": request.path},
        )
        response = JsonResponse({"message": "500 Internal Server Error"}, status=500)
        response._has_been_logged = True  # type: ignore[attr-defined]  # once is enough
        return response


class RawPathMiddleware:
    """Route API requests on the raw path, so `projects/group%2Fproj` stays one segment.

    The WSGI server decodes PATH_INFO, turning `%2F` into `/`; GitLab's API addresses projects
    by URL-encoded full path, so the API must route on what the client sent. gunicorn gives
    `RAW_URI`; other servers `REQUEST_URI`. Path parameters are decoded once by
    `kiln.api.v4.params.PathStr`.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info.startswith("/api/"):
            raw = request.META.get("RAW_URI") or request.META.get("REQUEST_URI")
            if raw:
                path = raw.split("?", 1)[0]
                if "://" in path:  # absolute-form request target
                    path = "/" + path.split("://", 1)[1].partition("/")[2]
            else:
                # No raw path from the server: re-encode what we have (loses %2F vs /).
                path = quote(request.path_info, safe="/:@!$&'()*+,;=-._~")
            request.path_info = path
        return self.get_response(request)
