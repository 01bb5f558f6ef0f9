"""A project's merge request settings (`/-/settings/merge_requests`): merge method, squash
option, merge checks and approvals. Maintainers only (404 otherwise)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods

from kiln.core.errors import (
    Forbidden,
    KilnError,
    NotFound,
)
from kiln.merge_requests import approvals
from kiln.projects import services as project_services
from kiln.projects.models import Project
from kiln.web.context import actor_for, project_or_404
from kiln.web.views.forms import checked, form_errors, int_or_none, redirect
from kiln.web.views.settings import settings_base, settings_page

# --- merge requests ---------------------------------------------------------------------------

MERGE_METHODS = [
    ("merge", "Merge commit", "Every merge creates a merge commit."),
    (
        "rebase_merge",
        "Merge commit with semi-linear history",
        "Every merge creates a merge commit; merging is possible only when the source branch "
        "is up to date with the target.",
    ),
    ("ff", "Fast-forward merge", "No merge commits are created; the target is fast-forwarded."),
]
SQUASH_OPTIONS = [
    ("never", "Do not allow", "Squashing is never performed and the checkbox is hidden."),
    ("default_off", "Allow", "Checkbox is visible and unselected by default."),
    ("default_on", "Encourage", "Checkbox is visible and selected by default."),
    ("always", "Require", "Squashing is always performed; the checkbox is shown but locked."),
]
_MR_FLAGS = (
    "only_allow_merge_if_all_discussions_are_resolved",
    "only_allow_merge_if_pipeline_succeeds",
    "remove_source_branch_after_merge",
)


def _mr_form(project: Project) -> dict[str, Any]:
    mr_settings = approvals.settings_for(project)
    form: dict[str, Any] = {
        "merge_method": project.merge_method,
        "squash_option": project.squash_option,
        "approvals_before_merge": mr_settings.approvals_before_merge,
        "reset_approvals_on_push": mr_settings.reset_approvals_on_push,
        "merge_requests_author_approval": mr_settings.merge_requests_author_approval,
    }
    for flag in _MR_FLAGS:
        form[flag] = getattr(project, flag)
    return form


@require_http_methods(["GET", "POST"])
def merge_requests(request: HttpRequest, full_path: str) -> HttpResponse:
    project = project_or_404(request, full_path, "admin_project")
    actor = actor_for(request)
    errors: list[str] = []
    form = _mr_form(project)
    if request.method == "POST":
        post = request.POST
        method = post.get("merge_method", project.merge_method)
        squash = post.get("squash_option", project.squash_option)
        if method not in {m for m, _, _ in MERGE_METHODS}:
            errors.append("Merge method is not included in the list")
        if squash not in {s for s, _, _ in SQUASH_OPTIONS}:
            errors.append("Squash option is not included in the list")
        required = int_or_none(post.get("approvals_before_merge", "0") or "0")
        if required is None or not 0 <= required <= approvals.MAX_APPROVALS_REQUIRED:
            errors.append(
                f"Approvals required must be a number from 0 to {approvals.MAX_APPROVALS_REQUIRED}"
            )
        settings: dict[str, Any] = {flag: checked(post, flag) for flag in _MR_FLAGS}
        settings |= {"merge_method": method, "squash_option": squash}
        form.update(settings)
        form["approvals_before_merge"] = post.get("approvals_before_merge", "")
        form["reset_approvals_on_push"] = checked(post, "reset_approvals_on_push")
        form["merge_requests_author_approval"] = checked(post, "merge_requests_author_approval")
        if not errors:
            try:
                project_services.update_project(actor=actor, project=project, settings=settings)
                approvals.update_settings(
                    actor=actor,
                    project=project,
                    changes={
                        "approvals_before_merge": required,
                        "reset_approvals_on_push": form["reset_approvals_on_push"],
                        "merge_requests_author_approval": form["merge_requests_author_approval"],
                    },
                )
            except (NotFound, Forbidden):
                raise
            except KilnError as exc:
                errors = form_errors(exc)
        if not errors:
            messages.success(request, "Merge request settings were saved.")
            return redirect(f"{settings_base(project)}/-/settings/merge_requests")
        project.refresh_from_db()
    context = {
        "form": form,
        "errors": errors,
        "merge_methods": MERGE_METHODS,
        "squash_options": SQUASH_OPTIONS,
    }
    return settings_page(
        request, "web/settings/merge_requests.html", project, "merge_requests", context
    )
