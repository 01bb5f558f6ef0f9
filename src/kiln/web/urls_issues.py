"""Routes of the planning and review pages under `/<full_path>/-/` (see kiln.web.urls):
issues, merge requests, labels, milestones, and the Markdown preview. GET paths are GitLab's;
each state change is a POST to the object's path or to a named action below it."""

from django.urls import URLPattern, URLResolver, path, re_path

from kiln.web.views import (
    award_emoji,
    issues,
    labels,
    merge_requests,
    milestones,
    mr_diffs,
    notes,
)

IID = r"(?P<iid>[0-9]{1,18})"
NOTE = r"(?P<note_id>[0-9]{1,18})"
DISCUSSION = r"(?P<discussion_id>[0-9a-f]{1,64})"
ID = r"(?P<id>[0-9]{1,18})"
BLOCK = r"(?P<block>[a-z_]{1,32})"

urlpatterns: list[URLPattern | URLResolver] = [
    path("preview_markdown", notes.preview_markdown, name="preview_markdown"),
    # Issues
    re_path(r"^issues/?$", issues.index_or_create, name="issues"),
    path("issues/new", issues.new, name="issue_new"),
    re_path(rf"^issues/{IID}$", issues.show_or_update, name="issue"),
    re_path(rf"^issues/{IID}/edit$", issues.edit, name="issue_edit"),
    re_path(rf"^issues/{IID}/sidebar/{BLOCK}$", issues.sidebar_block, name="issue_sidebar"),
    re_path(rf"^issues/{IID}/notes$", issues.create_note, name="issue_notes"),
    re_path(rf"^issues/{IID}/notes/{NOTE}$", issues.update_note, name="issue_note"),
    re_path(rf"^issues/{IID}/notes/{NOTE}/delete$", issues.delete_note, name="issue_note_delete"),
    re_path(
        rf"^issues/{IID}/toggle_award_emoji$",
        award_emoji.toggle_noteable,
        {"route": "issues"},
        name="issue_toggle_award",
    ),
    # Labels
    re_path(r"^labels/?$", labels.index_or_create, name="labels"),
    path("labels/new", labels.new, name="label_new"),
    re_path(rf"^labels/{ID}/edit$", labels.edit, name="label_edit"),
    re_path(rf"^labels/{ID}/delete$", labels.delete, name="label_delete"),
    re_path(rf"^labels/{ID}/set_priority$", labels.set_priority, name="label_set_priority"),
    re_path(
        rf"^labels/{ID}/remove_priority$", labels.remove_priority, name="label_remove_priority"
    ),
    # Milestones
    re_path(r"^milestones/?$", milestones.index_or_create, name="milestones"),
    path("milestones/new", milestones.new, name="milestone_new"),
    re_path(rf"^milestones/{IID}$", milestones.show_or_update, name="milestone"),
    re_path(rf"^milestones/{IID}/edit$", milestones.edit, name="milestone_edit"),
    re_path(rf"^milestones/{IID}/delete$", milestones.delete, name="milestone_delete"),
    # Merge requests
    re_path(r"^merge_requests/?$", merge_requests.index_or_create, name="merge_requests"),
    path("merge_requests/new", merge_requests.new, name="merge_request_new"),
    re_path(rf"^merge_requests/{IID}$", merge_requests.show_or_update, name="merge_request"),
    re_path(rf"^merge_requests/{IID}/commits$", merge_requests.commits, name="mr_commits"),
    re_path(rf"^merge_requests/{IID}/diffs$", mr_diffs.diffs_tab, name="mr_diffs"),
    re_path(
        rf"^merge_requests/{IID}/diff_for_path$", mr_diffs.diff_for_path, name="mr_diff_for_path"
    ),
    re_path(rf"^merge_requests/{IID}/edit$", merge_requests.edit, name="mr_edit"),
    re_path(rf"^merge_requests/{IID}/merge$", merge_requests.merge, name="mr_merge"),
    re_path(rf"^merge_requests/{IID}/approve$", merge_requests.approve, name="mr_approve"),
    re_path(rf"^merge_requests/{IID}/unapprove$", merge_requests.unapprove, name="mr_unapprove"),
    re_path(rf"^merge_requests/{IID}/notes$", merge_requests.create_note, name="mr_notes"),
    re_path(rf"^merge_requests/{IID}/notes/{NOTE}$", merge_requests.update_note, name="mr_note"),
    re_path(
        rf"^merge_requests/{IID}/notes/{NOTE}/delete$",
        merge_requests.delete_note,
        name="mr_note_delete",
    ),
    re_path(
        rf"^merge_requests/{IID}/toggle_award_emoji$",
        award_emoji.toggle_noteable,
        {"route": "merge_requests"},
        name="mr_toggle_award",
    ),
    re_path(
        rf"^merge_requests/{IID}/sidebar/{BLOCK}$",
        merge_requests.sidebar_block,
        name="mr_sidebar",
    ),
    re_path(rf"^notes/{NOTE}/toggle_award_emoji$", award_emoji.toggle_note, name="note_award"),
    re_path(
        rf"^merge_requests/{IID}/discussions/{DISCUSSION}/resolve$",
        merge_requests.resolve,
        name="mr_resolve",
    ),
    re_path(
        rf"^merge_requests/{IID}/discussions/{DISCUSSION}/unresolve$",
        merge_requests.unresolve,
        name="mr_unresolve",
    ),
]
