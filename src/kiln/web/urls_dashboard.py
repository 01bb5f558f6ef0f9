"""Routes of the dashboard and explore pages (see kiln.web.urls)."""

from django.urls import URLPattern, URLResolver, path

from kiln.web.urls_account import _RowId  # noqa: F401  (registers the kiln_id converter)
from kiln.web.views import dashboard, explore

urlpatterns: list[URLPattern | URLResolver] = [
    path("dashboard", dashboard.dashboard),
    path("dashboard/projects", dashboard.projects, name="dashboard_projects"),
    path("dashboard/projects/starred", dashboard.starred_projects),
    path("dashboard/groups", dashboard.groups, name="dashboard_groups"),
    path("dashboard/activity", dashboard.activity, name="dashboard_activity"),
    path("dashboard/issues", dashboard.issues, name="dashboard_issues"),
    path("dashboard/merge_requests", dashboard.merge_requests, name="dashboard_merge_requests"),
    path("dashboard/todos", dashboard.todo_list, name="dashboard_todos"),
    path("dashboard/todos/destroy_all", dashboard.todos_all_done),
    path("dashboard/todos/<kiln_id:todo_id>", dashboard.todo_done),
    path("explore", explore.projects, name="explore"),
    path("explore/projects", explore.projects),
    path("explore/projects/starred", explore.starred_projects),
    path("explore/groups", explore.groups, name="explore_groups"),
]
