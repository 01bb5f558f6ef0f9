"""To-do items through GitLab's API v4."""

from __future__ import annotations

from typing import Any

import gitlab
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kiln.notes.models import Todo
from tests.issues import builders as ib
from tests.projects import builders as b

TODO_KEYS = [
    "id",
    "project",
    "author",
    "action_name",
    "target_type",
    "target",
    "target_url",
    "body",
    "state",
    "created_at",
    "updated_at",
]


@pytest.fixture
def root(server_url: str) -> Any:
    return b.root_user()


@pytest.fixture
def project(root: Any) -> Any:
    return ib.project(root)


def test_assignment_mention_and_marked_todos(
    gl: gitlab.Gitlab, project: Any, make_user: Any, server_url: str, root: Any
) -> None:
    dev, dev_gl = make_user("tododev")
    ib.add_project_member(project, dev, ib.DEVELOPER, by=root)
    p = gl.projects.get(project.pk)
    assigned = p.issues.create({"title": "do it", "assignee_ids": [dev.pk]})
    mentioned = p.issues.create({"title": "fyi", "description": "cc @tododev"})
    mentioned.notes.create({"body": "@tododev please look"})
    todos = dev_gl.todos.list(get_all=True)
    assert [(t.action_name, t.target["iid"]) for t in todos] == [
        ("directly_addressed", mentioned.iid),
        ("mentioned", mentioned.iid),
        ("assigned", assigned.iid),
    ]
    raw = b.Api(server_url, dev_gl.private_token).get("/todos").json()[0]
    assert list(raw) == TODO_KEYS
    note_id = Todo.objects.get(pk=raw["id"]).note_id
    expected = f"{server_url}/{project.full_path}/-/issues/{mentioned.iid}#note_{note_id}"
    assert raw["target_url"] == expected
    assert raw["project"]["path_with_namespace"] == project.full_path
    assert [t.action_name for t in dev_gl.todos.list(get_all=True, action="assigned")] == [
        "assigned"
    ]
    assert dev_gl.todos.list(get_all=True, type="MergeRequest") == []
    todos[0].mark_as_done()
    assert len(dev_gl.todos.list(get_all=True)) == 2
    assert len(dev_gl.todos.list(get_all=True, state="done")) == 1
    dev_gl.todos.mark_all_as_done()
    assert dev_gl.todos.list(get_all=True) == []
    # The author is not reminded of their own mention; `/todo` adds one for oneself.
    assert gl.todos.list(get_all=True) == []
    dev_issue = dev_gl.projects.get(project.pk).issues.get(assigned.iid)
    dev_issue.todo()
    assert [t.action_name for t in dev_gl.todos.list(get_all=True)] == ["marked"]
    with pytest.raises(gitlab.GitlabTodoError) as again:
        dev_issue.todo()
    assert again.value.response_code == 304
    # Commenting on the issue resolves the commenter's pending todos on it.
    dev_issue.notes.create({"body": "done"})
    assert dev_gl.todos.list(get_all=True) == []


def test_other_users_todos_are_not_reachable(
    project: Any, make_user: Any, root: Any, server_url: str
) -> None:
    dev, _ = make_user("todoowner")
    ib.add_project_member(project, dev, ib.DEVELOPER, by=root)
    ib.issue(project, root, "for dev", assignee_ids=[dev.pk])
    todo = Todo.objects.get(user=dev)
    _, other = make_user("todothief")
    api = b.Api(server_url, other.private_token)
    response = api.post(f"/todos/{todo.pk}/mark_as_done")
    assert response.status_code == 404
    assert response.json() == {"message": "404 Todo Not Found"}
    assert Todo.objects.get(pk=todo.pk).state == "pending"
    assert b.Api(server_url).get("/todos").status_code == 401


def test_todo_list_query_budget(project: Any, make_user: Any, root: Any) -> None:
    dev, dev_gl = make_user("todobudget")
    ib.add_project_member(project, dev, ib.DEVELOPER, by=root)
    for n in range(22):
        ib.issue(project, root, f"todo {n}", assignee_ids=[dev.pk])

    def count(per_page: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = Client().get(
                "/api/v4/todos", {"per_page": per_page}, HTTP_PRIVATE_TOKEN=dev_gl.private_token
            )
        assert len(response.json()) == per_page
        return len(queries)

    count(2)
    assert count(2) == count(20)
