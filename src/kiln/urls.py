"""Top-level routes: the API, health endpoints, git over HTTP, and the web UI."""

from django.urls import include, path, re_path

from kiln.api.v4 import fallback
from kiln.api.v4.api import api
from kiln.ops import views as ops

urlpatterns = [
    path("api/v4/", api.urls),
    re_path(r"^api/v4/(?P<rest>.*)$", fallback.not_found),
    path("-/health", ops.health),
    path("-/readiness", ops.readiness),
    path("-/liveness", ops.liveness),
    path("-/noop", ops.noop),
    path("-/metrics", ops.metrics),
    path("", include("kiln.githttp.urls")),
    path("", include("kiln.web.urls")),
]

handler400 = "kiln.web.views.errors.bad_request"
handler403 = "kiln.web.views.errors.forbidden"
handler404 = "kiln.web.views.errors.not_found"
handler500 = "kiln.web.views.errors.server_error"
