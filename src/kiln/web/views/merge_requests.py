"""A project's merge requests (`/<project>/-/merge_requests...`): the list, new (pick the
branches, see the commits and the diff, then describe it), and a merge request's Overview
(description, merge widget, threads) and Commits tabs, edit, close/reopen, draft, approve
and merge. The Changes tab is `mr_diffs`.

Reads come from `kiln.merge_requests.queries` (404 for what the viewer may not read, by iid
guessing too); writes go through `kiln.merge_requests.services`, `.approvals`, `.merging` and
`kiln.notes.services`. Merging is offered only to those `merging.can_merge` allows, and a
merge POST from anyone else answers 404, as the API refuses it.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any
from urllib.parse import quote, urlencode

from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kiln.core.errors import Forbidden, KilnError, MethodNotAllowed, NotFound, Unauthorized
from kiln.core.policy import can
from kiln.merge_requests import approvals, diffs, hooks, mergeability, merging
from kiln.merge_requests import queries as mr_queries
from kiln.merge_requests import services as mr_services
from kiln.merge_requests.models import (
    MergeRequest,
    MergeRequestAssignee,
    MergeRequestReviewer,
    MergeRequestState,
)
from kiln.merge_requests.policies import can_read_merge_requests
from kiln.projects.models import Project
from kiln.repositories import protection
from kiln.repositories import queries as repo_queries
from kiln.web import diff_html, diff_lines
from kiln.web.context import actor_for, group_or_404, project_or_404
from kiln.web.views import award_emoji, sidebar
from kiln.web.views import notes as shared
from kiln.web.views.issues import attach_metadata
from kiln.web.views.repository import project_url

SORTS: dict[str, tuple[str, str, str]] = {
    "created_date": ("created_at", "desc", "Created date"),
    "created_asc": ("created_at", "asc", "Oldest created"),
    "updated_desc": ("updated_at", "desc", "Updated date"),
    "updated_asc": ("updated_at", "asc", "Oldest updated"),
    "merged_at_desc": ("merged_at", "desc", "Merged date"),
    "title_asc": ("title", "asc", "Title"),
    "title_desc": ("title", "desc", "Title, descending"),
}
STATES = (("opened", "Open"), ("merged", "Merged"), ("closed", "Closed"), ("all", "All"))

# GitLab's merge check messages, by `detailed_merge_status`.
MERGE_CHECKS = {
    "mergeable": "Ready to merge!",
    "unchecked": "Checking if merge request can be merged…",
    "checking": "Checking if merge request can be merged…",
    "not_open": "Merge request must be open.",
    "draft_status": "Merge request must not be draft.",
    "commits_status": "Source branch exists and contains commits.",
    "discussions_not_resolved": "Unresolved discussions must be resolved.",
    "ci_must_pass": "Pipeline must succeed.",
    "ci_still_running": "Pipeline must succeed.",
    "not_approved": "All required approvals must be given.",
    "conflict": "Merge conflicts must be resolved.",
    "need_rebase": "Merge request must be rebased, because a fast-forward merge is not possible.",
}
MERGE_METHODS = {
    "merge": "Merge commit",
    "rebase_merge": "Merge commit with semi-linear history",
    "ff": "Fast-forward merge",
}


def mr_project(request: HttpRequest, full_path: str) -> Project:
    project = project_or_404(request, full_path)
    if not can_read_merge_requests(actor_for(request), project):
        raise Http404(full_path)
    return project


def find_mr(request: HttpRequest, project: Project, iid: str) -> MergeRequest:
    try:
        mr = mr_queries.get_merge_request_for(actor_for(request), project, iid)
    except (NotFound, Forbidden):
        raise Http404("merge request") from None
    return mr


def mr_url(project: Project, mr: MergeRequest) -> str:
    return f"/{project.full_path}/-/merge_requests/{mr.iid}"


# -- the list ----------------------------------------------------------------------------------


def _filters(request: HttpRequest) -> tuple[mr_queries.MergeRequestFilters, str, str]:
    get = request.GET
    state = get.get("state", "opened")
    if state not in dict(STATES):
        state = "opened"
    sort = get.get("sort", "created_date")
    if sort not in SORTS:
        sort = "created_date"
    order_by, direction, _ = SORTS[sort]
    f = mr_queries.MergeRequestFilters(state=state, order_by=order_by, sort=direction)
    labels = [n for n in get.getlist("label_name[]") + get.getlist("label_name") if n][:20]
    if labels:
        f.labels = labels
    if milestone := get.get("milestone_title", "").strip():
        f.milestone = milestone
    if author := get.get("author_username", "").strip():
        f.author_username = author
    if assignee := get.get("assignee_username", "").strip():
        if assignee.lower() in ("none", "any"):
            f.assignee = assignee.lower()
        else:
            f.assignee_username = [assignee]
    if reviewer := get.get("reviewer_username", "").strip():
        f.reviewer_username = reviewer
    if source := get.get("source_branch", "").strip():
        f.source_branch = source
    if target := get.get("target_branch", "").strip():
        f.target_branch = target
    if search := get.get("search", "").strip():
        f.search = search[:255]
    return f, state, sort


@require_GET
def index(request: HttpRequest, full_path: str) -> HttpResponse:
    project = mr_project(request, full_path)
    actor = actor_for(request)
    f, state, sort = _filters(request)
    everything = mr_queries.list_project_merge_requests_for(
        actor, project, dataclasses.replace(f, state="all")
    )
    counts = everything.order_by().aggregate(
        all=Count("pk"),
        opened=Count("pk", filter=Q(state=MergeRequestState.OPENED)),
        merged=Count("pk", filter=Q(state=MergeRequestState.MERGED)),
        closed=Count("pk", filter=Q(state=MergeRequestState.CLOSED)),
    )
    items, page = shared.paginate(
        request, mr_queries.list_project_merge_requests_for(actor, project, f)
    )
    attach_metadata(items, "MergeRequest")
    tabs = shared.state_tabs(request, STATES, counts, state)
    labels_selected = [n for n in request.GET.getlist("label_name[]") if n]
    return render(
        request,
        "web/merge_requests/index.html",
        {
            "project": project,
            "nav": "merge_requests",
            "merge_requests": items,
            "page": page,
            "tabs": tabs,
            "state": state,
            "sort": sort,
            "sorts": [(key, value[2]) for key, value in SORTS.items()],
            "labels": shared.label_choices(project),
            "milestones": shared.milestone_choices(project),
            "selected_labels": labels_selected,
            "params": request.GET,
            "branches": True,
            "can_create": actor.user is not None and can(actor, "create_merge_request", project),
        },
    )


# -- new ---------------------------------------------------------------------------------------


def _branch_names(project: Project) -> list[str]:
    try:
        return [b.name for b in repo_queries.list_branches(project)]
    except KilnError:
        return []


def _default_title(source: str, commits: list[Any]) -> tuple[str, str]:
    """GitLab's defaults: one commit gives its title and body, else the branch, humanized."""
    if len(commits) == 1:
        title, _, body = commits[0].message.partition("\n")
        return title.strip(), body.strip()
    words = re.sub(r"[-_/]+", " ", source).strip()
    return (words[:1].upper() + words[1:]) or source, ""


def _form_choices(request: HttpRequest, project: Project) -> dict[str, Any]:
    actor = actor_for(request)
    admin = actor.is_admin or _may_admin(request, project)
    return {
        "metadata": admin,
        "members": shared.member_choices(actor, project) if admin else [],
        "labels": shared.label_choices(project) if admin else [],
        "milestones": shared.milestone_choices(project) if admin else [],
    }


def _may_admin(request: HttpRequest, project: Project) -> bool:
    from kiln.core.access import AccessLevel
    from kiln.projects.access import project_access_level

    actor = actor_for(request)
    return actor.user is not None and project_access_level(actor, project) >= AccessLevel.REPORTER


def _sign_in_redirect(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(f"/users/sign_in?redirect_to={quote(request.get_full_path())}")


def _new_context(
    request: HttpRequest, project: Project, source: str, target: str, values: dict[str, Any]
) -> dict[str, Any]:
    branches = _branch_names(project)
    context: dict[str, Any] = {
        "project": project,
        "nav": "merge_requests",
        "branches_list": branches,
        "source": source,
        "target": target,
        "values": values,
        "compared": False,
        **_form_choices(request, project),
    }
    if not source or not target:
        return context
    problems = []
    if source not in branches:
        problems.append(f'Source branch "{source}" does not exist')
    if target not in branches:
        problems.append(f'Target branch "{target}" does not exist')
    if not problems and source == target:
        problems.append("You must select different branches")
    if problems:
        context["compare_error"] = "; ".join(problems)
        return context
    try:
        source_head = repo_queries.find_branch(project, source).commit.id
        target_head = repo_queries.find_branch(project, target).commit.id
        comparison = repo_queries.compare(
            project, from_ref=target_head, to_ref=source_head, straight=False
        )
    except KilnError as exc:
        context["compare_error"] = shared.error_text(exc)
        return context
    commits = list(reversed(comparison.commits))
    view = diff_html.view_mode(request)
    compare_url = project_url(project, "compare", f"{target_head}...{source_head}")
    files = diff_html.file_views(
        comparison.diffs,
        view=view,
        load_url=lambda _, f: (
            f"{compare_url}?"
            + urlencode({"view": view, "expand": "1", "file_path": f.new_path or f.old_path})
        ),
        blob_urls=lambda f: (
            "" if f.new_file else project_url(project, "blob", target_head, f.old_path),
            "" if f.deleted_file else project_url(project, "blob", source_head, f.new_path),
        ),
    )
    context.update(
        compared=True,
        commits=commits,
        diffs=files,
        tree=diff_html.tree_html(files),
        view=view,
        additions=sum(f.additions for f in files),
        deletions=sum(f.deletions for f in files),
        **diff_html.view_urls(request),
    )
    if not values.get("title"):
        title, description = _default_title(source, commits)
        values["title"] = title
        values.setdefault("description", description)
        if not values.get("description"):
            values["description"] = description
    return context


@require_GET
def new(request: HttpRequest, full_path: str) -> HttpResponse:
    project = mr_project(request, full_path)
    actor = actor_for(request)
    if actor.user is None:
        return _sign_in_redirect(request)
    if not can(actor, "create_merge_request", project) or not can(actor, "read_code", project):
        raise Http404(full_path)
    source = request.GET.get("merge_request[source_branch]", "").strip()
    target = request.GET.get("merge_request[target_branch]", "").strip() or (
        project.default_branch or ""
    )
    values = {
        "title": "",
        "description": "",
        "assignee_ids": [],
        "reviewer_ids": [],
        "label_ids": [],
        "milestone_id": 0,
        "draft": False,
        "remove_source_branch": bool(project.remove_source_branch_after_merge),
        "squash": project.squash_option in ("always", "default_on"),
    }
    context = _new_context(request, project, source, target, values)
    return diff_html.respond(
        request, "web/merge_requests/new.html", context, context.get("diffs", [])
    )


def _posted(request: HttpRequest, project: Project) -> dict[str, Any]:
    post = request.POST
    milestone = post.get("merge_request[milestone_id]", "")
    return {
        "title": post.get("merge_request[title]", ""),
        "description": post.get("merge_request[description]", ""),
        "assignee_ids": shared.int_list(post.getlist("merge_request[assignee_ids][]")),
        "reviewer_ids": shared.int_list(post.getlist("merge_request[reviewer_ids][]")),
        "label_ids": shared.int_list(post.getlist("merge_request[label_ids][]")),
        "milestone_id": int(milestone) if milestone.isdigit() and len(milestone) < 19 else 0,
        "draft": post.get("merge_request[draft]") == "1",
        "remove_source_branch": post.get("merge_request[force_remove_source_branch]") == "1",
        "squash": post.get("merge_request[squash]") == "1",
        "target_branch": post.get("merge_request[target_branch]", "").strip(),
    }


def _draft_title(title: str, draft: bool) -> str:
    from kiln.merge_requests.models import draftless_title, is_draft_title

    if draft and not is_draft_title(title):
        return f"Draft: {title.strip()}"
    if not draft and is_draft_title(title):
        return draftless_title(title)
    return title


@require_POST
def create(request: HttpRequest, full_path: str) -> HttpResponse:
    project = mr_project(request, full_path)
    actor = actor_for(request)
    if actor.user is None or not can(actor, "create_merge_request", project):
        raise Http404(full_path)
    source = request.POST.get("merge_request[source_branch]", "").strip()
    values = _posted(request, project)
    target = values["target_branch"]
    from kiln.labels.queries import labels_by_ids

    titles = [lb.title for lb in labels_by_ids(project, values["label_ids"])]
    try:
        mr = mr_services.create_merge_request(
            actor=actor,
            project=project,
            title=_draft_title(values["title"], values["draft"]),
            source_branch=source,
            target_branch=target,
            description=values["description"],
            assignee_ids=values["assignee_ids"],
            reviewer_ids=values["reviewer_ids"],
            labels=titles,
            milestone_id=values["milestone_id"] or None,
            remove_source_branch=values["remove_source_branch"],
            squash=values["squash"],
        )
    except Forbidden:
        raise Http404(full_path) from None
    except KilnError as exc:
        context = _new_context(request, project, source, target, values)
        context["error"] = shared.error_text(exc)
        response = diff_html.respond(
            request, "web/merge_requests/new.html", context, context.get("diffs", [])
        )
        response.status_code = 400
        return response
    return HttpResponseRedirect(mr_url(project, mr))


# -- one merge request -------------------------------------------------------------------------


def _merge_widget(request: HttpRequest, project: Project, mr: MergeRequest) -> dict[str, Any]:
    actor = actor_for(request)
    status = mergeability.detailed_merge_status(mr)
    pipeline = hooks.head_pipeline(project, mr.diff_head_sha, mr.source_branch)
    approval = approvals.approval_view(actor, mr)
    may_merge = mr.is_open and merging.can_merge(actor, mr)
    conflicts: tuple[str, ...] = ()
    if status == "conflict":
        try:
            target = repo_queries.find_branch(project, mr.target_branch).commit.id
            conflicts = mergeability.conflicts(mr, target_head=target)
        except Exception:  # noqa: BLE001 (the list is a courtesy; the status says it all)
            conflicts = ()
    squash_option = project.squash_option
    return {
        "status": status,
        "status_message": MERGE_CHECKS.get(status, status.replace("_", " ").capitalize()),
        "mergeable": status == "mergeable",
        "pipeline": pipeline,
        "approval": approval,
        "can_approve": approval.user_can_approve,
        "can_unapprove": approval.user_has_approved
        and can(actor, "approve_merge_request", mr)
        and mr.is_open,
        "may_merge": may_merge,
        "conflicts": conflicts,
        "merge_method": MERGE_METHODS.get(project.merge_method, project.merge_method),
        "squash_option": squash_option,
        "squash_checked": merging.squash_on_merge(mr),
        "remove_source_checked": mr.remove_source_branch,
        "may_remove_source": may_merge
        and protection.can_push_to_branch(actor, project, mr.source_branch),
    }


def _base_context(
    request: HttpRequest, project: Project, mr: MergeRequest, tab: str
) -> dict[str, Any]:
    actor = actor_for(request)
    version = diffs.latest_diff(mr)
    return {
        "project": project,
        "nav": "merge_requests",
        "mr": mr,
        "mr_url": mr_url(project, mr),
        "tab": tab,
        "commits_count": version.commits_count if version else 0,
        "files_count": version.files_count if version else 0,
        "can_update": can(actor, "update_merge_request", mr),
        "can_comment": actor.user is not None and can(actor, "create_note", mr),
        "signed_in": actor.user is not None,
    }


@require_GET
def show(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    project = mr_project(request, full_path)
    mr = mr_services.recheck_if_unchecked(find_mr(request, project, iid))
    context = _base_context(request, project, mr, "overview")
    threads = shared.threads_for(request, mr, project)
    award_emoji.attach_to_notes(request, project, threads)
    context.update(
        description_html=shared.markdown_html(request, mr.description, project),
        threads=threads,
        awards=award_emoji.for_noteable(request, project, mr),
        widget=_merge_widget(request, project, mr),
        closing_issues=mr_services.closing_issues(actor_for(request), mr) if mr.is_open else [],
        sidebar=sidebar.for_issuable(request, project, mr, mr_url(project, mr)),
    )
    return render(request, "web/merge_requests/show.html", context)


@require_POST
def sidebar_block(request: HttpRequest, full_path: str, iid: str, block: str) -> HttpResponse:
    """`POST .../merge_requests/<iid>/sidebar/<block>`: an edit from the Overview's sidebar."""
    project = mr_project(request, full_path)
    mr = find_mr(request, project, iid)
    return sidebar.post_block(request, project, mr, mr_url(project, mr), block)


@require_GET
def commits(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    project = mr_project(request, full_path)
    mr = find_mr(request, project, iid)
    version = diffs.latest_diff(mr)
    context = _base_context(request, project, mr, "commits")
    context["commits"] = diffs.version_commits(version) if version is not None else []
    return render(request, "web/merge_requests/commits.html", context)


@require_POST
def update(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    """Close, reopen (`state_event`) or mark as draft/ready (`wip_event`)."""
    project = mr_project(request, full_path)
    mr = find_mr(request, project, iid)
    changes: dict[str, Any] = {}
    if (event := request.POST.get("state_event")) in ("close", "reopen"):
        changes["state_event"] = event
    if (wip := request.POST.get("wip_event")) in ("draft", "ready"):
        changes["wip_event"] = wip
    if not changes:
        raise Http404("action")
    try:
        mr_services.update_merge_request(actor=actor_for(request), mr=mr, changes=changes)
    except Forbidden:
        raise Http404("merge request") from None
    except KilnError as exc:
        messages.error(request, shared.error_text(exc))
    return HttpResponseRedirect(mr_url(project, mr))


def _mr_values(mr: MergeRequest) -> dict[str, Any]:
    from kiln.merge_requests.models import draftless_title

    return {
        "title": draftless_title(mr.title) if mr.draft else mr.title,
        "description": mr.description,
        "assignee_ids": list(
            MergeRequestAssignee.objects.filter(merge_request=mr).values_list("user_id", flat=True)
        ),
        "reviewer_ids": list(
            MergeRequestReviewer.objects.filter(merge_request=mr).values_list("user_id", flat=True)
        ),
        "label_ids": list(mr.labels.values_list("pk", flat=True)),
        "milestone_id": mr.milestone_id or 0,
        "draft": mr.draft,
        "remove_source_branch": bool(mr.force_remove_source_branch),
        "squash": mr.squash,
        "target_branch": mr.target_branch,
    }


@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    project = mr_project(request, full_path)
    actor = actor_for(request)
    mr = find_mr(request, project, iid)
    if not can(actor, "update_merge_request", mr):
        raise Http404("merge request")
    context = {
        "project": project,
        "nav": "merge_requests",
        "mr": mr,
        "branches_list": _branch_names(project),
        **_form_choices(request, project),
    }
    if request.method == "GET":
        return render(
            request, "web/merge_requests/edit.html", {**context, "values": _mr_values(mr)}
        )
    values = _posted(request, project)
    changes: dict[str, Any] = {
        "title": _draft_title(values["title"], values["draft"]),
        "description": values["description"],
        "remove_source_branch": values["remove_source_branch"],
        "squash": values["squash"],
    }
    if values["target_branch"]:
        changes["target_branch"] = values["target_branch"]
    if context["metadata"]:
        changes.update(
            assignee_ids=values["assignee_ids"],
            reviewer_ids=values["reviewer_ids"],
            label_ids=values["label_ids"],
            milestone_id=values["milestone_id"],
        )
    try:
        mr_services.update_merge_request(actor=actor, mr=mr, changes=changes)
    except Forbidden:
        raise Http404("merge request") from None
    except KilnError as exc:
        context.update(values=values, error=shared.error_text(exc))
        return render(request, "web/merge_requests/edit.html", context, status=400)
    return HttpResponseRedirect(mr_url(project, mr))


@require_POST
def merge(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    project = mr_project(request, full_path)
    actor = actor_for(request)
    mr = find_mr(request, project, iid)
    if not merging.can_merge(actor, mr):
        raise Http404("merge request")
    post = request.POST
    options = merging.MergeOptions(
        squash=post.get("squash") == "1",
        should_remove_source_branch=post.get("should_remove_source_branch") == "1",
        sha=post.get("sha") or None,
    )
    try:
        merging.merge_merge_request(actor=actor, mr=mr, options=options)
    except (Unauthorized, Forbidden, NotFound):
        raise Http404("merge request") from None
    except MethodNotAllowed:
        messages.error(request, "This merge request cannot be merged yet: check the merge checks.")
    except KilnError as exc:
        messages.error(request, shared.error_text(exc))
    return HttpResponseRedirect(mr_url(project, mr))


@require_POST
def approve(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    project = mr_project(request, full_path)
    mr = find_mr(request, project, iid)
    try:
        approvals.approve_merge_request(
            actor=actor_for(request), mr=mr, sha=request.POST.get("sha") or None
        )
    except (Forbidden, NotFound):
        raise Http404("merge request") from None
    except Unauthorized:
        messages.error(request, "You cannot approve this merge request.")
    except KilnError as exc:
        messages.error(request, shared.error_text(exc))
    return HttpResponseRedirect(mr_url(project, mr))


@require_POST
def unapprove(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    project = mr_project(request, full_path)
    mr = find_mr(request, project, iid)
    try:
        approvals.unapprove_merge_request(actor=actor_for(request), mr=mr)
    except (Forbidden, NotFound):
        raise Http404("merge request") from None
    return HttpResponseRedirect(mr_url(project, mr))


# -- notes -------------------------------------------------------------------------------------


def _position(request: HttpRequest, mr: MergeRequest) -> dict[str, Any] | None:
    """GitLab's diff position for a comment on a line of the latest diff version, built from
    the stored version (the form names only the file and the lines); None when the form
    names no line, 404 when it names one that is not in the diff."""
    post = request.POST
    file_index = post.get("line_file", "")
    if not file_index:
        return None
    if not file_index.isdigit() or len(file_index) > 9:
        raise Http404("diff line")
    version = diffs.latest_diff(mr)
    if version is None:
        raise Http404("diff line")
    row = version.files.filter(relative_order=int(file_index)).first()
    if row is None:
        raise Http404("diff line")

    def line(name: str) -> int | None:
        value = post.get(name, "")
        return int(value) if value.isdigit() and len(value) < 10 else None

    old, new = line("old_line"), line("new_line")
    if not diff_lines.has_line(row, old, new):
        raise Http404("diff line")
    return {
        "base_sha": version.base_commit_sha,
        "start_sha": version.start_commit_sha,
        "head_sha": version.head_commit_sha,
        "position_type": "text",
        "old_path": row.old_path,
        "new_path": row.new_path,
        "old_line": old,
        "new_line": new,
        "line_range": None,
    }


@require_POST
def create_note(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    project = mr_project(request, full_path)
    mr = find_mr(request, project, iid)
    position = _position(request, mr)
    try:
        shared.create_note_from_form(request, mr, position=position)
    except Forbidden:
        raise Http404("merge request") from None
    if position is not None or request.POST.get("return_to") == "diffs":
        code = (
            diff_html.line_code(
                position["new_path"] or position["old_path"],
                position["old_line"],
                position["new_line"],
            )
            if position
            else ""
        )
        return shared.back(f"{mr_url(project, mr)}/diffs", code)
    return shared.back(mr_url(project, mr), "notes")


@require_POST
def update_note(request: HttpRequest, full_path: str, iid: str, note_id: str) -> HttpResponse:
    project = mr_project(request, full_path)
    mr = find_mr(request, project, iid)
    shared.update_note_from_form(request, mr, note_id)
    return shared.back(mr_url(project, mr), f"note_{note_id}")


@require_POST
def delete_note(request: HttpRequest, full_path: str, iid: str, note_id: str) -> HttpResponse:
    project = mr_project(request, full_path)
    mr = find_mr(request, project, iid)
    shared.delete_note_from_form(request, mr, note_id)
    messages.success(request, "Comment deleted.")
    return shared.back(mr_url(project, mr), "notes")


def _resolve(
    request: HttpRequest, full_path: str, iid: str, discussion_id: str, resolved: bool
) -> HttpResponse:
    project = mr_project(request, full_path)
    mr = find_mr(request, project, iid)
    shared.resolve_from_form(request, mr, discussion_id, resolved)
    target = request.POST.get("return_to")
    url = f"{mr_url(project, mr)}/diffs" if target == "diffs" else mr_url(project, mr)
    return shared.back(url, f"discussion_{discussion_id}")


@require_POST
def resolve(request: HttpRequest, full_path: str, iid: str, discussion_id: str) -> HttpResponse:
    return _resolve(request, full_path, iid, discussion_id, True)


@require_POST
def unresolve(request: HttpRequest, full_path: str, iid: str, discussion_id: str) -> HttpResponse:
    return _resolve(request, full_path, iid, discussion_id, False)


@require_GET
def group_index(request: HttpRequest, full_path: str) -> HttpResponse:
    """`/groups/<path>/-/merge_requests`: the merge requests of the group's projects and
    subgroups' that the visitor may see (the query of `GET /groups/:id/merge_requests`)."""
    group = group_or_404(request, full_path)
    actor = actor_for(request)
    f, state, sort = _filters(request)
    everything = mr_queries.list_group_merge_requests_for(
        actor, group, dataclasses.replace(f, state="all")
    )
    counts = everything.order_by().aggregate(
        all=Count("pk"),
        opened=Count("pk", filter=Q(state=MergeRequestState.OPENED)),
        merged=Count("pk", filter=Q(state=MergeRequestState.MERGED)),
        closed=Count("pk", filter=Q(state=MergeRequestState.CLOSED)),
    )
    listed = mr_queries.list_group_merge_requests_for(actor, group, f).select_related("project")
    items, page = shared.paginate(request, listed)
    attach_metadata(items, "MergeRequest")
    tabs = shared.state_tabs(request, STATES, counts, state)
    return render(
        request,
        "web/merge_requests/group_index.html",
        {
            "group": group,
            "nav": "merge_requests",
            "merge_requests": items,
            "page": page,
            "tabs": tabs,
            "state": state,
            "sort": sort,
            "sorts": [(key, value[2]) for key, value in SORTS.items()],
            "labels": [],
            "milestones": [],
            "selected_labels": [n for n in request.GET.getlist("label_name[]") if n],
            "params": request.GET,
            "branches": True,
        },
    )


@require_http_methods(["GET", "POST"])
def index_or_create(request: HttpRequest, full_path: str) -> HttpResponse:
    if request.method == "POST":
        return create(request, full_path)
    return index(request, full_path)


@require_http_methods(["GET", "POST"])
def show_or_update(request: HttpRequest, full_path: str, iid: str) -> HttpResponse:
    if request.method == "POST":
        return update(request, full_path, iid)
    return show(request, full_path, iid)
