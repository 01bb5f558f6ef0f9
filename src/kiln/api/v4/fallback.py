"""Any other path under /api/v4/ answers as GitLab does for an unknown route."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    return JsonResponse({"error": "404 Not Found"}, status=404)
