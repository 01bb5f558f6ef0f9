"""Routes of a project's settings, under `/<full_path>/-/` (see kiln.web.urls_project).

GitLab's pages: `settings/general`, `project_members`, `settings/repository` (with the
`protected_branches` and `protected_tags` it posts to), `settings/merge_requests`, `hooks`.
Actions are POSTs to sub-paths of the page they belong to.
"""

from django.urls import URLPattern, URLResolver, path

from kiln.web.views import members
from kiln.web.views import settings as views

urlpatterns: list[URLPattern | URLResolver] = [
    path("settings/general", views.general, name="project_settings_general"),
    path("settings/general/archive", views.archive, name="project_archive"),
    path("settings/general/unarchive", views.unarchive, name="project_unarchive"),
    path("settings/general/transfer", views.transfer, name="project_transfer"),
    path("settings/general/delete", views.delete, name="project_delete"),
    path("project_members", members.project_members_page, name="project_members"),
    path(
        "project_members/<int:user_id>",
        members.update_project_member,
        name="project_member_update",
    ),
    path(
        "project_members/<int:user_id>/remove",
        members.remove_project_member,
        name="project_member_remove",
    ),
    path("settings/repository", views.repository, name="project_settings_repository"),
    path("protected_branches", views.protect_branch, name="project_protect_branch"),
    path(
        "protected_branches/<int:rule_id>",
        views.update_protected_branch,
        name="project_protected_branch_update",
    ),
    path(
        "protected_branches/<int:rule_id>/unprotect",
        views.unprotect_branch,
        name="project_unprotect_branch",
    ),
    path("protected_tags", views.protect_tag, name="project_protect_tag"),
    path(
        "protected_tags/<int:rule_id>/unprotect",
        views.unprotect_tag,
        name="project_unprotect_tag",
    ),
    path("settings/merge_requests", views.merge_requests, name="project_settings_mrs"),
    path("hooks", views.hooks, name="project_hooks"),
    path("hooks/<int:hook_id>/edit", views.hook_edit, name="project_hook_edit"),
    path("hooks/<int:hook_id>/delete", views.hook_delete, name="project_hook_delete"),
    path("hooks/<int:hook_id>/test", views.hook_test, name="project_hook_test"),
    path(
        "hooks/<int:hook_id>/hook_logs/<int:log_id>",
        views.hook_log,
        name="project_hook_log",
    ),
    path(
        "hooks/<int:hook_id>/hook_logs/<int:log_id>/retry",
        views.hook_log_retry,
        name="project_hook_log_retry",
    ),
]
