"""The web UI's response policy: a strict Content-Security-Policy on every page, and the
friendly 404 page for anything a view refuses with the domain's NotFound or Forbidden."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from kiln.core.errors import Forbidden, NotFound

# No inline scripts or styles anywhere in the UI: every script and stylesheet is a vendored
# file under /assets/. Images may come from anywhere over HTTPS (Markdown embeds them).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: https:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def _is_ui(request: HttpRequest) -> bool:
    return not request.path.startswith("/api/")


class WebMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            _is_ui(request)
            and response.get("Content-Type", "").startswith("text/html")
            and "Content-Security-Policy" not in response
        ):
            response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if _is_ui(request) and isinstance(exception, NotFound | Forbidden):
            return render(request, "web/errors/404.html", status=404)
        return None
