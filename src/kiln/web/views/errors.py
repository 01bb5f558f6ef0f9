"""Error pages: GitLab's JSON for API paths, friendly pages for the UI; never a stack trace."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader


def _api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _api(request):
        return JsonResponse({"message": "400 Bad request"}, status=400)
    return render(request, "web/errors/400.html", status=400)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _api(request):
        return JsonResponse({"message": "403 Forbidden"}, status=403)
    return render(request, "web/errors/403.html", status=403)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _api(request):
        return JsonResponse({"message": "404 Not Found"}, status=404)
    return render(request, "web/errors/404.html", status=404)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(
        request,
        "web/errors/403.html",
        {"reason": "The form expired or was sent from another site. Reload the page and retry."},
        status=403,
    )


def server_error(request: HttpRequest) -> HttpResponse:
    if _api(request):
        return JsonResponse({"message": "500 Internal Server Error"}, status=500)
    # No context processors: whatever failed may fail again while rendering the page.
    # The request id is set by the request middleware (kiln.ops) before any view runs.
    rid = getattr(request, "request_id", "")
    html = loader.get_template("web/errors/500.html").render({"request_id": rid})
    return HttpResponse(html, status=500)
