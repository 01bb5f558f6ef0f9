"""API v4: to-do items (GitLab's `lib/api/todos.rb`): the caller's own, signed in."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status

from kiln.api.v4.auth import require_user
from kiln.api.v4.pagination import paginated
from kiln.api.v4.presenters.todos import todo_entities
from kiln.notes import todos

router = Router(tags=["todos"])


class TodoQuery(Schema):
    action: (
        Literal[
            "assigned",
            "mentioned",
            "build_failed",
            "marked",
            "approval_required",
            "unmergeable",
            "directly_addressed",
            "merge_train_removed",
            "review_requested",
            "member_access_requested",
            "review_submitted",
        ]
        | None
    ) = None
    author_id: int | None = None
    project_id: int | None = None
    group_id: int | None = None
    state: Literal["pending", "done"] | None = None
    type: (
        Literal[
            "Issue",
            "MergeRequest",
            "Commit",
            "Epic",
            "DesignManagement::Design",
            "AlertManagement::Alert",
            "Project",
            "Namespace",
            "Vulnerability",
            "WikiPage::Meta",
        ]
        | None
    ) = None


@router.get("/todos")
def list_todos(
    request: HttpRequest, response: HttpResponse, query: Query[TodoQuery]
) -> list[dict[str, Any]]:
    actor = require_user(request)
    filters = todos.TodoFilters(
        action=query.action,
        author_id=query.author_id,
        project_id=query.project_id,
        group_id=query.group_id,
        state=query.state,
        type=query.type,
    )
    qs = todos.list_todos_for(actor, filters)
    return paginated(request, response, qs, lambda page: todo_entities(page, request, actor))


@router.post("/todos/{todo_id}/mark_as_done", response={201: dict[str, Any]})
def mark_as_done(request: HttpRequest, todo_id: int) -> Status[dict[str, Any]]:
    actor = require_user(request)
    todo = todos.mark_todo_done(actor=actor, todo=todos.get_todo_for(actor, todo_id))
    return Status(201, todo_entities([todo], request, actor)[0])


@router.post("/todos/mark_as_done")
def mark_all_as_done(request: HttpRequest) -> HttpResponse:
    actor = require_user(request)
    todos.mark_all_done(actor=actor)
    return HttpResponse(status=204)
