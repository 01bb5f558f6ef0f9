"""The web UI's routes. Paths follow GitLab's, so links people share keep working.

Top-level words (users, dashboard, explore, groups, projects, admin, -) come first; then
`/<full_path>/-/...` for a project's pages, then `/<full_path>` for a user, group or project.
Each area keeps its routes in its own module.
"""

from django.urls import include, path, re_path

from kiln.web.views import account, namespaces

# A namespace or project path: GitLab's path segments, any depth.
FULL_PATH = r"(?P<full_path>[A-Za-z0-9_.][A-Za-z0-9_.\-]*(?:/[A-Za-z0-9_.][A-Za-z0-9_.\-]*)*)"

urlpatterns = [
    path("", account.home, name="home"),
    path("users/sign_in", account.sign_in, name="sign_in"),
    path("users/sign_out", account.sign_out, name="sign_out"),
    path("", include("kiln.web.urls_account")),
    path("", include("kiln.web.urls_dashboard")),
    path("", include("kiln.web.urls_groups")),
    path("", include("kiln.web.urls_admin")),
    re_path(rf"^{FULL_PATH}/-/", include("kiln.web.urls_project")),
    re_path(rf"^{FULL_PATH}/?$", namespaces.show, name="namespace"),
]
