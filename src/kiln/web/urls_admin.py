"""Routes of the admin area (see kiln.web.urls): GitLab's `/admin`, `/admin/users` (new, show,
edit and the state changes it posts), `/admin/groups`, `/admin/projects`,
`/admin/application_settings` and `/admin/hooks` (system hooks)."""

from django.urls import URLPattern, URLResolver, path, re_path

from kiln.web.views import admin

_USER = r"(?P<username>[A-Za-z0-9_.][A-Za-z0-9_.\-]*)"

urlpatterns: list[URLPattern | URLResolver] = [
    path("admin", admin.dashboard, name="admin"),
    path("admin/users", admin.users, name="admin_users"),
    path("admin/users/new", admin.user_new, name="admin_user_new"),
    re_path(rf"^admin/users/{_USER}$", admin.user_show, name="admin_user"),
    re_path(rf"^admin/users/{_USER}/edit$", admin.user_edit, name="admin_user_edit"),
    re_path(rf"^admin/users/{_USER}/delete$", admin.user_delete, name="admin_user_delete"),
    re_path(
        rf"^admin/users/{_USER}/(?P<action>block|unblock|deactivate|activate|approve)$",
        admin.user_state,
        name="admin_user_state",
    ),
    path("admin/groups", admin.groups, name="admin_groups"),
    path("admin/projects", admin.projects, name="admin_projects"),
    path("admin/application_settings", admin.application_settings, name="admin_settings"),
    path("admin/hooks", admin.hooks, name="admin_hooks"),
    path("admin/hooks/<int:hook_id>/edit", admin.hook_edit, name="admin_hook_edit"),
    path("admin/hooks/<int:hook_id>/delete", admin.hook_delete, name="admin_hook_delete"),
    path("admin/hooks/<int:hook_id>/test", admin.hook_test, name="admin_hook_test"),
    path(
        "admin/hooks/<int:hook_id>/hook_logs/<int:log_id>",
        admin.hook_log,
        name="admin_hook_log",
    ),
    path(
        "admin/hooks/<int:hook_id>/hook_logs/<int:log_id>/retry",
        admin.hook_log_retry,
        name="admin_hook_log_retry",
    ),
]
