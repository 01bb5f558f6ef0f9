"""Any other path under /api/v4/ answers as GitLab does for an unknown route."""

from django.http import HttpRequest, JsonResponse


def not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    return JsonResponse({"error": "404 Not Found"}, status=404)
