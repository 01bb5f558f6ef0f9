"""A project's pages, under `/<full_path>/-/`; each view takes `full_path` first.

Each area keeps its routes in its own module: the repository browser and editor, issues and
merge requests, project settings, CI/CD.
"""

from django.urls import include, path

urlpatterns = [
    path("", include("kiln.web.urls_repository")),
    path("", include("kiln.web.urls_issues")),
    path("", include("kiln.web.urls_settings")),
    path("", include("kiln.web.urls_ci")),
]
