"""Routes of the groups pages and of the new project page (see kiln.web.urls).

GitLab's paths: `/groups/new` (`?parent_id=` for a subgroup), `/groups/<path>/-/group_members`,
`/groups/<path>/-/edit` (with the transfer and delete it posts to), `/groups/<path>/-/labels`
and `/groups/<path>/-/milestones` (with their new, edit and delete), `/groups/<path>` (the old
URL of a group's overview, now at `/<path>`), and `/projects/new`.
"""

from django.urls import URLPattern, URLResolver, path, re_path

from kiln.web.views import group_planning, groups, issues, merge_requests, new_project

# A group's full path (the same segments as kiln.web.urls.FULL_PATH).
_GROUP = r"(?P<full_path>[A-Za-z0-9_.][A-Za-z0-9_.\-]*(?:/[A-Za-z0-9_.][A-Za-z0-9_.\-]*)*)"
_ID = r"(?P<id>[0-9]{1,18})"
_IID = r"(?P<iid>[0-9]{1,18})"

urlpatterns: list[URLPattern | URLResolver] = [
    path("groups/new", groups.new, name="group_new"),
    path("projects/new", new_project.new, name="project_new"),
    re_path(rf"^groups/{_GROUP}/-/group_members$", groups.members, name="group_members"),
    re_path(
        rf"^groups/{_GROUP}/-/group_members/(?P<user_id>[0-9]{{1,18}})$",
        groups.update_member,
        name="group_member_update",
    ),
    re_path(
        rf"^groups/{_GROUP}/-/group_members/(?P<user_id>[0-9]{{1,18}})/remove$",
        groups.remove_member,
        name="group_member_remove",
    ),
    re_path(rf"^groups/{_GROUP}/-/issues$", issues.group_index, name="group_issues"),
    re_path(
        rf"^groups/{_GROUP}/-/merge_requests$",
        merge_requests.group_index,
        name="group_merge_requests",
    ),
    re_path(rf"^groups/{_GROUP}/-/preview_markdown$", group_planning.preview_markdown),
    re_path(rf"^groups/{_GROUP}/-/labels/?$", group_planning.labels, name="group_labels"),
    re_path(rf"^groups/{_GROUP}/-/labels/new$", group_planning.label_new),
    re_path(rf"^groups/{_GROUP}/-/labels/{_ID}/edit$", group_planning.label_edit),
    re_path(rf"^groups/{_GROUP}/-/labels/{_ID}/delete$", group_planning.label_delete),
    re_path(
        rf"^groups/{_GROUP}/-/milestones/?$", group_planning.milestones, name="group_milestones"
    ),
    re_path(rf"^groups/{_GROUP}/-/milestones/new$", group_planning.milestone_new),
    re_path(rf"^groups/{_GROUP}/-/milestones/{_IID}$", group_planning.milestone),
    re_path(rf"^groups/{_GROUP}/-/milestones/{_IID}/edit$", group_planning.milestone_edit),
    re_path(rf"^groups/{_GROUP}/-/milestones/{_IID}/delete$", group_planning.milestone_delete),
    re_path(rf"^groups/{_GROUP}/-/edit$", groups.edit, name="group_edit"),
    re_path(rf"^groups/{_GROUP}/-/transfer$", groups.transfer, name="group_transfer"),
    re_path(rf"^groups/{_GROUP}/-/delete$", groups.delete, name="group_delete"),
    re_path(rf"^groups/{_GROUP}/?$", groups.redirect_to_overview, name="group_legacy"),
]
