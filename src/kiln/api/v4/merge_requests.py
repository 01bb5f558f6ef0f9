"""API v4: merge requests, as GitLab's `lib/api/merge_requests.rb`,
`lib/api/merge_request_diffs.rb` and `lib/api/merge_request_approvals.rb`.

Each endpoint parses, calls one query or service of `kiln.merge_requests`, and presents the
result with `kiln.api.v4.presenters.merge_requests`. A project the caller cannot see is 404
(`404 Project Not Found`), a merge request of it likewise; writes need a signed-in caller
(401) before anything else, as GitLab's `authenticate_non_get!`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status
from pydantic import BeforeValidator

from kiln.api.v4.auth import SIGNED_IN, actor_of
from kiln.api.v4.pagination import paginated
from kiln.api.v4.params import CommaList, Params, PathStr, merged_params
from kiln.api.v4.presenters import merge_requests as present
from kiln.api.v4.presenters.users import user_basic
from kiln.api.v4.repository import ApiParams, paginate_list
from kiln.core.actor import Actor
from kiln.core.errors import InvalidParameter
from kiln.merge_requests import approvals, diffs, merging, queries, services
from kiln.merge_requests.models import MergeRequest, MergeRequestDiffFile
from kiln.namespaces.queries import get_group_for
from kiln.projects.models import Project
from kiln.projects.queries import get_project_for

router = Router(tags=["merge_requests"])

_MR = "/projects/{id}/merge_requests/{merge_request_iid}"


# --- parameters ---------------------------------------------------------------------------


def _none_any_or_id(value: Any) -> Any:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return None if value is None else str(value)
    if isinstance(value, str) and (value.isdigit() or value.lower() in ("none", "any")):
        return value
    raise ValueError("must be an id, None or Any")


IdNoneAny = Annotated[str | None, BeforeValidator(_none_any_or_id)]
State = Literal["opened", "closed", "locked", "merged", "all"]
Scope = Literal["created_by_me", "assigned_to_me", "created-by-me", "assigned-to-me", "all"]
OrderBy = Literal["created_at", "updated_at", "title", "merged_at", "label_priority",
                  "milestone_due", "popularity", "priority"]  # fmt: skip


class MergeRequestListQuery(ApiParams):
    state: State = "all"
    order_by: OrderBy = "created_at"
    sort: Literal["asc", "desc"] = "desc"
    milestone: str | None = None
    view: Literal["simple"] | None = None
    labels: CommaList | None = None
    with_labels_details: bool = False
    with_merge_status_recheck: bool = False
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    updated_after: dt.datetime | None = None
    updated_before: dt.datetime | None = None
    scope: Scope | None = None
    author_id: int | None = None
    author_username: str | None = None
    assignee_id: IdNoneAny = None
    assignee_username: CommaList | None = None
    reviewer_id: IdNoneAny = None
    reviewer_username: str | None = None
    merge_user_id: int | None = None
    merge_user_username: str | None = None
    my_reaction_emoji: str | None = None
    source_branch: str | None = None
    target_branch: str | None = None
    search: str | None = None
    # `in`: a Python keyword; read from the request.
    wip: Literal["yes", "no"] | None = None
    draft: bool | None = None
    non_archived: bool | None = None


def _int_list(values: list[str], name: str) -> list[int]:
    out = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit() or len(part) > 18:
                raise InvalidParameter(f"{name} is invalid")
            out.append(int(part))
    return out


def _filters(
    request: HttpRequest, query: MergeRequestListQuery, *, scope: str
) -> queries.MergeRequestFilters:
    if query.author_id is not None and query.author_username:
        raise InvalidParameter("author_id, author_username are mutually exclusive")
    if query.reviewer_id is not None and query.reviewer_username:
        raise InvalidParameter("reviewer_id, reviewer_username are mutually exclusive")
    get = request.GET
    draft = query.draft
    if query.wip is not None:
        draft = query.wip == "yes"
    search_in = [p.strip() for p in get.get("in", "title,description").split(",") if p.strip()]
    if any(p not in ("title", "description") for p in search_in):
        raise InvalidParameter("in is invalid")

    def not_value(name: str) -> str | None:
        value = get.get(f"not[{name}]")
        return value if value not in (None, "") else None

    not_author = not_value("author_id")
    not_assignee = not_value("assignee_id")
    not_reviewer = not_value("reviewer_id")
    not_labels = not_value("labels")
    return queries.MergeRequestFilters(
        state=query.state,
        order_by=query.order_by,
        sort=query.sort,
        milestone=query.milestone,
        labels=query.labels or None,
        created_after=query.created_after,
        created_before=query.created_before,
        updated_after=query.updated_after,
        updated_before=query.updated_before,
        author_id=query.author_id,
        author_username=query.author_username,
        assignee=query.assignee_id,
        assignee_username=query.assignee_username,
        reviewer=query.reviewer_id,
        reviewer_username=query.reviewer_username,
        merge_user_id=query.merge_user_id,
        merge_user_username=query.merge_user_username,
        source_branch=query.source_branch,
        target_branch=query.target_branch,
        search=query.search,
        search_in=search_in,
        draft=draft,
        iids=_int_list(get.getlist("iids[]") + get.getlist("iids"), "iids") or None,
        scope=query.scope or scope,
        not_labels=[p for p in not_labels.split(",") if p] if not_labels else None,
        not_milestone=not_value("milestone"),
        not_author_id=int(not_author) if not_author and not_author.isdigit() else None,
        not_author_username=not_value("author_username"),
        not_assignee_id=int(not_assignee) if not_assignee and not_assignee.isdigit() else None,
        not_assignee_username=not_value("assignee_username"),
        not_reviewer_id=int(not_reviewer) if not_reviewer and not_reviewer.isdigit() else None,
        not_reviewer_username=not_value("reviewer_username"),
        non_archived=query.non_archived,
    )


def _list(
    request: HttpRequest,
    response: HttpResponse,
    actor: Actor,
    qs: Any,
    query: MergeRequestListQuery,
    *,
    project: Project | None = None,
    group: Any = None,
) -> list[dict[str, Any]]:
    def page(rows: list[MergeRequest]) -> list[dict[str, Any]]:
        return present.merge_request_entities(
            rows,
            request,
            actor,
            project=project,
            group=group,
            simple=query.view == "simple",
            with_labels_details=query.with_labels_details,
        )

    return paginated(request, response, qs, page)


# --- lists --------------------------------------------------------------------------------


@router.get("/merge_requests")
def list_merge_requests(
    request: HttpRequest, response: HttpResponse, query: Query[MergeRequestListQuery]
) -> list[dict[str, Any]]:
    actor = actor_of(request)
    filters = _filters(request, query, scope="created_by_me")
    qs = queries.list_merge_requests_for(actor, filters)
    return _list(request, response, actor, qs, query)


@router.get("/groups/{id}/merge_requests")
def list_group_merge_requests(
    request: HttpRequest,
    response: HttpResponse,
    id: PathStr,
    query: Query[MergeRequestListQuery],
) -> list[dict[str, Any]]:
    actor = actor_of(request)
    group = get_group_for(actor, id)
    filters = _filters(request, query, scope="all")
    qs = queries.list_group_merge_requests_for(actor, group, filters)
    return _list(request, response, actor, qs, query, group=group)


@router.get("/projects/{id}/merge_requests")
def list_project_merge_requests(
    request: HttpRequest,
    response: HttpResponse,
    id: PathStr,
    query: Query[MergeRequestListQuery],
) -> list[dict[str, Any]]:
    actor = actor_of(request)
    project = get_project_for(actor, id)
    filters = _filters(request, query, scope="all")
    qs = queries.list_project_merge_requests_for(actor, project, filters)
    return _list(request, response, actor, qs, query, project=project)


# --- one merge request --------------------------------------------------------------------


def _find(request: HttpRequest, id: str, iid: str) -> tuple[Actor, MergeRequest]:
    actor = actor_of(request)
    project = get_project_for(actor, id)
    return actor, queries.get_merge_request_for(actor, project, iid)


class GetQuery(ApiParams):
    render_html: bool = False
    include_diverged_commits_count: bool = False
    include_rebase_in_progress: bool = False


@router.get(_MR)
def get_merge_request(
    request: HttpRequest, id: PathStr, merge_request_iid: PathStr, query: Query[GetQuery]
) -> dict[str, Any]:
    actor, mr = _find(request, id, merge_request_iid)
    mr = services.recheck_if_unchecked(mr)
    return present.merge_request_entity(
        mr,
        request,
        actor,
        render_html=query.render_html,
        include_diverged_commits_count=query.include_diverged_commits_count,
        include_rebase_in_progress=query.include_rebase_in_progress,
    )


def _ids(value: Any) -> Any:
    """`assignee_ids`/`reviewer_ids`: a list, `a,b`, or one id; 0 or empty clears."""
    if value is None:
        return None
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        value = [v for v in str(value).split(",") if v.strip() != ""]
    return value


IdList = Annotated[list[int] | None, BeforeValidator(_ids)]


class CreateParams(ApiParams):
    title: str
    source_branch: str
    target_branch: str
    target_project_id: int | None = None
    description: str | None = None
    assignee_id: int | None = None
    assignee_ids: IdList = None
    reviewer_ids: IdList = None
    labels: CommaList | None = None
    milestone_id: int | None = None
    remove_source_branch: bool | None = None
    allow_collaboration: bool | None = None
    allow_maintainer_to_push: bool | None = None
    squash: bool | None = None


def _assignees(single: int | None, many: list[int] | None) -> list[int] | None:
    if many is not None:
        return [i for i in many if i]
    if single is not None:
        return [single] if single else []
    return None


@router.post("/projects/{id}/merge_requests", auth=SIGNED_IN, response={201: dict[str, Any]})
def create_merge_request(
    request: HttpRequest, id: PathStr, payload: Annotated[CreateParams, Params(...)]
) -> Status[dict[str, Any]]:
    actor = actor_of(request)
    project = get_project_for(actor, id)
    collaboration = payload.allow_collaboration
    if collaboration is None:
        collaboration = payload.allow_maintainer_to_push
    mr = services.create_merge_request(
        actor=actor,
        project=project,
        title=payload.title,
        source_branch=payload.source_branch,
        target_branch=payload.target_branch,
        description=payload.description,
        assignee_ids=_assignees(payload.assignee_id, payload.assignee_ids),
        reviewer_ids=[i for i in payload.reviewer_ids or [] if i] or None,
        labels=payload.labels,
        milestone_id=payload.milestone_id,
        remove_source_branch=payload.remove_source_branch,
        squash=payload.squash,
        allow_collaboration=collaboration,
        target_project_id=payload.target_project_id,
    )
    mr.project = project
    return Status(201, present.merge_request_entity(mr, request, actor))


# GitLab's `update_params_at_least_one_of`.
UPDATE_PARAMS = ("assignee_id", "assignee_ids", "reviewer_ids", "description", "labels",
                 "add_labels", "remove_labels", "milestone_id", "remove_source_branch",
                 "allow_collaboration", "allow_maintainer_to_push", "squash", "target_branch",
                 "title", "state_event", "discussion_locked")  # fmt: skip


class UpdateParams(ApiParams):
    title: str | None = None
    target_branch: str | None = None
    state_event: Literal["close", "reopen"] | None = None
    discussion_locked: bool | None = None
    description: str | None = None
    assignee_id: int | None = None
    assignee_ids: IdList = None
    reviewer_ids: IdList = None
    labels: CommaList | None = None
    add_labels: CommaList | None = None
    remove_labels: CommaList | None = None
    milestone_id: int | None = None
    remove_source_branch: bool | None = None
    allow_collaboration: bool | None = None
    allow_maintainer_to_push: bool | None = None
    squash: bool | None = None


def _update_changes(request: HttpRequest, payload: UpdateParams) -> dict[str, Any]:
    sent = merged_params(request)
    if not any(name in sent for name in UPDATE_PARAMS):
        raise InvalidParameter(
            ", ".join(UPDATE_PARAMS) + " are missing, at least one parameter must be provided"
        )
    for name in ("title", "target_branch"):
        value = getattr(payload, name)
        if name in sent and (value is None or not str(value).strip()):
            raise InvalidParameter(f"{name} is empty")
    changes: dict[str, Any] = {}
    for name in ("title", "target_branch", "state_event", "discussion_locked", "description",
                 "remove_source_branch", "squash"):  # fmt: skip
        value = getattr(payload, name)
        if value is not None:
            changes[name] = value
    collaboration = payload.allow_collaboration
    if collaboration is None:
        collaboration = payload.allow_maintainer_to_push
    if collaboration is not None:
        changes["allow_collaboration"] = collaboration
    if "assignee_ids" in sent or "assignee_id" in sent:
        changes["assignee_ids"] = _assignees(payload.assignee_id, payload.assignee_ids) or []
    if "reviewer_ids" in sent:
        changes["reviewer_ids"] = [i for i in payload.reviewer_ids or [] if i]
    if "labels" in sent:
        changes["labels"] = payload.labels or []
    if payload.add_labels is not None:
        changes["add_labels"] = payload.add_labels
    if payload.remove_labels is not None:
        changes["remove_labels"] = payload.remove_labels
    if "milestone_id" in sent:
        changes["milestone_id"] = payload.milestone_id or None
    return changes


@router.put(_MR, auth=SIGNED_IN)
def update_merge_request(
    request: HttpRequest,
    id: PathStr,
    merge_request_iid: PathStr,
    payload: Annotated[UpdateParams, Params(...)],
) -> dict[str, Any]:
    actor, mr = _find(request, id, merge_request_iid)
    changes = _update_changes(request, payload)
    mr = services.update_merge_request(actor=actor, mr=mr, changes=changes)
    return present.merge_request_entity(mr, request, actor)


@router.delete(_MR, auth=SIGNED_IN, response={204: None})
def delete_merge_request(
    request: HttpRequest, id: PathStr, merge_request_iid: PathStr
) -> Status[None]:
    actor, mr = _find(request, id, merge_request_iid)
    services.delete_merge_request(actor=actor, mr=mr)
    return Status(204, None)


# --- people -------------------------------------------------------------------------------


@router.get(f"{_MR}/participants")
def list_participants(
    request: HttpRequest, response: HttpResponse, id: PathStr, merge_request_iid: PathStr
) -> list[dict[str, Any]]:
    _, mr = _find(request, id, merge_request_iid)
    users = services.participants(mr)
    return [user_basic(u, request) for u in paginate_list(request, response, users)]


@router.get(f"{_MR}/reviewers")
def list_reviewers(
    request: HttpRequest, id: PathStr, merge_request_iid: PathStr
) -> list[dict[str, Any]]:
    _, mr = _find(request, id, merge_request_iid)
    return present.reviewer_entities(mr, request)


# --- commits, changes, diffs, versions ----------------------------------------------------


@router.get(f"{_MR}/commits")
def list_commits(
    request: HttpRequest, response: HttpResponse, id: PathStr, merge_request_iid: PathStr
) -> list[dict[str, Any]]:
    _, mr = _find(request, id, merge_request_iid)
    version = diffs.latest_diff(mr)
    commits = diffs.version_commits(version) if version is not None else []
    page = paginate_list(request, response, commits)
    from kiln.api.v4.presenters.repository import commit_entity

    return [commit_entity(c, mr.project, request) for c in page]


class DiffQuery(ApiParams):
    unidiff: bool = False
    access_raw_diffs: bool = False


def _latest_files(mr: MergeRequest) -> Any:
    version = diffs.latest_diff(mr)
    if version is None:
        return MergeRequestDiffFile.objects.none()
    return version.files.order_by("relative_order")


@router.get(f"{_MR}/changes")
def get_changes(
    request: HttpRequest, id: PathStr, merge_request_iid: PathStr, query: Query[DiffQuery]
) -> dict[str, Any]:
    actor, mr = _find(request, id, merge_request_iid)
    rows = list(_latest_files(mr))
    return present.changes_entity(mr, rows, request, actor, unidiff=query.unidiff)


@router.get(f"{_MR}/diffs")
def list_diffs(
    request: HttpRequest,
    response: HttpResponse,
    id: PathStr,
    merge_request_iid: PathStr,
    query: Query[DiffQuery],
) -> list[dict[str, Any]]:
    _, mr = _find(request, id, merge_request_iid)
    return paginated(
        request,
        response,
        _latest_files(mr),
        lambda rows: present.diff_file_entities(rows, unidiff=query.unidiff),
    )


@router.get(f"{_MR}/raw_diffs")
def get_raw_diffs(request: HttpRequest, id: PathStr, merge_request_iid: PathStr) -> HttpResponse:
    _, mr = _find(request, id, merge_request_iid)
    text = diffs.raw_patch(list(_latest_files(mr)))
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["X-Content-Type-Options"] = "nosniff"
    return response


@router.get(f"{_MR}/versions")
def list_versions(
    request: HttpRequest, response: HttpResponse, id: PathStr, merge_request_iid: PathStr
) -> list[dict[str, Any]]:
    _, mr = _find(request, id, merge_request_iid)
    return paginated(
        request,
        response,
        queries.list_versions(mr),
        lambda rows: [present.version_entity(v) for v in rows],
    )


@router.get(f"{_MR}/versions/{{version_id}}")
def get_version(
    request: HttpRequest,
    id: PathStr,
    merge_request_iid: PathStr,
    version_id: PathStr,
    query: Query[DiffQuery],
) -> dict[str, Any]:
    _, mr = _find(request, id, merge_request_iid)
    version = queries.get_version_for(mr, version_id)
    rows = list(version.files.order_by("relative_order"))
    return present.version_full_entity(version, rows, mr.project, request, unidiff=query.unidiff)


# --- merging ------------------------------------------------------------------------------


class MergeParams(ApiParams):
    merge_commit_message: str | None = None
    squash_commit_message: str | None = None
    should_remove_source_branch: bool | None = None
    merge_when_pipeline_succeeds: bool | None = None
    auto_merge: bool | None = None
    sha: str | None = None
    squash: bool | None = None


@router.put(f"{_MR}/merge", auth=SIGNED_IN)
def merge(
    request: HttpRequest,
    id: PathStr,
    merge_request_iid: PathStr,
    payload: Annotated[MergeParams, Params(...)],
) -> dict[str, Any]:
    actor, mr = _find(request, id, merge_request_iid)
    options = merging.MergeOptions(
        merge_commit_message=payload.merge_commit_message or None,
        squash_commit_message=payload.squash_commit_message or None,
        squash=payload.squash,
        should_remove_source_branch=payload.should_remove_source_branch,
        sha=payload.sha or None,
    )
    mr = merging.merge_merge_request(
        actor=actor,
        mr=mr,
        options=options,
        merge_when_pipeline_succeeds=bool(
            payload.merge_when_pipeline_succeeds or payload.auto_merge
        ),
    )
    return present.merge_request_entity(mr, request, actor)


@router.post(
    f"{_MR}/cancel_merge_when_pipeline_succeeds", auth=SIGNED_IN, response={201: dict[str, Any]}
)
def cancel_merge_when_pipeline_succeeds(
    request: HttpRequest, id: PathStr, merge_request_iid: PathStr
) -> Status[dict[str, Any]]:
    actor, mr = _find(request, id, merge_request_iid)
    mr = merging.cancel_auto_merge(actor=actor, mr=mr)
    return Status(201, present.merge_request_entity(mr, request, actor))


class RebaseParams(ApiParams):
    skip_ci: bool = False


@router.put(f"{_MR}/rebase", auth=SIGNED_IN, response={202: dict[str, Any]})
def rebase(
    request: HttpRequest,
    id: PathStr,
    merge_request_iid: PathStr,
    payload: Annotated[RebaseParams, Params(...)],
) -> Status[dict[str, Any]]:
    actor, mr = _find(request, id, merge_request_iid)
    in_progress = merging.rebase_merge_request(actor=actor, mr=mr, skip_ci=payload.skip_ci)
    return Status(202, {"rebase_in_progress": in_progress})


# --- approvals ----------------------------------------------------------------------------


@router.get(f"{_MR}/approvals")
def get_approvals(request: HttpRequest, id: PathStr, merge_request_iid: PathStr) -> dict[str, Any]:
    actor, mr = _find(request, id, merge_request_iid)
    return present.approvals_entity(mr, approvals.approval_view(actor, mr), request)


@router.get(f"{_MR}/approval_state")
def get_approval_state(
    request: HttpRequest, id: PathStr, merge_request_iid: PathStr
) -> dict[str, Any]:
    actor, mr = _find(request, id, merge_request_iid)
    return present.approval_state_entity(mr, approvals.approval_view(actor, mr), request)


class ApproveParams(ApiParams):
    sha: str | None = None
    approval_password: str | None = None


@router.post(f"{_MR}/approve", auth=SIGNED_IN, response={201: dict[str, Any]})
def approve(
    request: HttpRequest,
    id: PathStr,
    merge_request_iid: PathStr,
    payload: Annotated[ApproveParams, Params(...)],
) -> Status[dict[str, Any]]:
    actor, mr = _find(request, id, merge_request_iid)
    approvals.approve_merge_request(actor=actor, mr=mr, sha=payload.sha or None)
    return Status(201, present.approvals_entity(mr, approvals.approval_view(actor, mr), request))


@router.post(f"{_MR}/unapprove", auth=SIGNED_IN, response={201: dict[str, Any]})
def unapprove(
    request: HttpRequest, id: PathStr, merge_request_iid: PathStr
) -> Status[dict[str, Any]]:
    actor, mr = _find(request, id, merge_request_iid)
    approvals.unapprove_merge_request(actor=actor, mr=mr)
    return Status(201, present.approvals_entity(mr, approvals.approval_view(actor, mr), request))


@router.get("/projects/{id}/approvals")
def get_project_approvals(request: HttpRequest, id: PathStr) -> dict[str, Any]:
    actor = actor_of(request)
    project = get_project_for(actor, id)
    return present.approval_settings_entity(approvals.settings_for(project))


class ApprovalSettingsParams(ApiParams):
    approvals_before_merge: int | None = None
    reset_approvals_on_push: bool | None = None
    disable_overriding_approvers_per_merge_request: bool | None = None
    merge_requests_author_approval: bool | None = None
    merge_requests_disable_committers_approval: bool | None = None
    require_password_to_approve: bool | None = None
    require_reauthentication_to_approve: bool | None = None
    selective_code_owner_removals: bool | None = None


@router.post("/projects/{id}/approvals", auth=SIGNED_IN, response={201: dict[str, Any]})
def update_project_approvals(
    request: HttpRequest, id: PathStr, payload: Annotated[ApprovalSettingsParams, Params(...)]
) -> Status[dict[str, Any]]:
    actor = actor_of(request)
    project = get_project_for(actor, id)
    changes = payload.model_dump(exclude_none=True)
    if "require_reauthentication_to_approve" in changes:
        changes.setdefault(
            "require_password_to_approve", changes.pop("require_reauthentication_to_approve")
        )
    settings = approvals.update_settings(actor=actor, project=project, changes=changes)
    return Status(201, present.approval_settings_entity(settings))


# --- issues, subscriptions, time ----------------------------------------------------------


@router.get(f"{_MR}/closes_issues")
def list_closes_issues(
    request: HttpRequest, response: HttpResponse, id: PathStr, merge_request_iid: PathStr
) -> list[dict[str, Any]]:
    actor, mr = _find(request, id, merge_request_iid)
    issues = services.closing_issues(actor, mr)
    page = paginate_list(request, response, issues)
    return present.issue_entities(page, request, actor)


@router.post(f"{_MR}/subscribe", auth=SIGNED_IN, response={201: dict[str, Any], 304: None})
def subscribe(request: HttpRequest, id: PathStr, merge_request_iid: PathStr) -> Any:
    actor, mr = _find(request, id, merge_request_iid)
    if not services.set_subscription(actor=actor, mr=mr, subscribed=True):
        return Status(304, None)
    return Status(201, present.merge_request_entity(mr, request, actor))


@router.post(f"{_MR}/unsubscribe", auth=SIGNED_IN, response={201: dict[str, Any], 304: None})
def unsubscribe(request: HttpRequest, id: PathStr, merge_request_iid: PathStr) -> Any:
    actor, mr = _find(request, id, merge_request_iid)
    if not services.set_subscription(actor=actor, mr=mr, subscribed=False):
        return Status(304, None)
    return Status(201, present.merge_request_entity(mr, request, actor))


@router.get(f"{_MR}/time_stats")
def time_stats(request: HttpRequest, id: PathStr, merge_request_iid: PathStr) -> dict[str, Any]:
    _find(request, id, merge_request_iid)
    return {
        "human_time_estimate": None,
        "human_total_time_spent": None,
        "time_estimate": 0,
        "total_time_spent": 0,
    }
