"""Routes of a project's settings, under `/<full_path>/-/` (see kiln.web.urls_project).

GitLab's pages: `settings/general`, `project_members`, `settings/repository` (with the
`protected_branches` and `protected_tags` it posts to), `settings/merge_requests`, `hooks`.
Actions are POSTs to sub-paths of the page they belong to.
"""

from django.urls import URLPattern, URLResolver, path

from kiln.web.views import members, settings_hooks, settings_merge_requests, settings_repository
from kiln.web.views import settings as general

urlpatterns: list[URLPattern | URLResolver] = [
    path("settings/general", general.general, name="project_settings_general"),
    path("settings/general/archive", general.archive, name="project_archive"),
    path("settings/general/unarchive", general.unarchive, name="project_unarchive"),
    path("settings/general/transfer", general.transfer, name="project_transfer"),
    path("settings/general/delete", general.delete, name="project_delete"),
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
    path("settings/repository", settings_repository.repository, name="project_settings_repository"),
    path("protected_branches", settings_repository.protect_branch, name="project_protect_branch"),
    path(
        "protected_branches/<int:rule_id>",
        settings_repository.update_protected_branch,
        name="project_protected_branch_update",
    ),
    path(
        "protected_branches/<int:rule_id>/unprotect",
        settings_repository.unprotect_branch,
        name="project_unprotect_branch",
    ),
    path("protected_tags", settings_repository.protect_tag, name="project_protect_tag"),
    path(
        "protected_tags/<int:rule_id>/unprotect",
        settings_repository.unprotect_tag,
        name="project_unprotect_tag",
    ),
    path(
        "settings/merge_requests",
        settings_merge_requests.merge_requests,
        name="project_settings_mrs",
    ),
    path("hooks", settings_hooks.hooks, name="project_hooks"),
    path("hooks/<int:hook_id>/edit", settings_hooks.hook_edit, name="project_hook_edit"),
    path("hooks/<int:hook_id>/delete", settings_hooks.hook_delete, name="project_hook_delete"),
    path("hooks/<int:hook_id>/test", settings_hooks.hook_test, name="project_hook_test"),
    path(
        "hooks/<int:hook_id>/hook_logs/<int:log_id>",
        settings_hooks.hook_log,
        name="project_hook_log",
    ),
    path(
        "hooks/<int:hook_id>/hook_logs/<int:log_id>/retry",
        settings_hooks.hook_log_retry,
        name="project_hook_log_retry",
    ),
]
