"""Todo shape (GitLab's `Entities::Todo`), with the full target entity. Target presenters per
type: issues here; merge requests register theirs with `register_target_presenter`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest

from kiln.api.v4.presenters.common import iso
from kiln.api.v4.presenters.users import user_basic
from kiln.core.actor import Actor
from kiln.core.urls import base_url
from kiln.notes.models import Todo
from kiln.notes.todos import ACTION_NAMES
from kiln.projects.models import Project

# type name -> fn(target ids, request, actor) -> {id: (entity, web url)}
TargetPresenter = Callable[[list[int], HttpRequest, Actor], dict[int, tuple[dict[str, Any], str]]]
_PRESENTERS: dict[str, TargetPresenter] = {}


def register_target_presenter(type_name: str, fn: TargetPresenter) -> None:
    _PRESENTERS[type_name] = fn


def _issues(
    ids: list[int], request: HttpRequest, actor: Actor
) -> dict[int, tuple[dict[str, Any], str]]:
    from kiln.api.v4.presenters.issues import issue_entities
    from kiln.issues.models import Issue

    issues = list(
        Issue.objects.filter(pk__in=ids).select_related(
            "project", "project__namespace", "author", "milestone", "closed_by"
        )
    )
    presented = issue_entities(issues, request, actor)
    return {i.pk: (data, data["web_url"]) for i, data in zip(issues, presented, strict=True)}


register_target_presenter("Issue", _issues)


def project_identity(project: Project) -> dict[str, Any]:
    return {
        "id": project.pk,
        "name": project.name,
        "name_with_namespace": project.name_with_namespace,
        "path": project.path,
        "path_with_namespace": project.full_path,
    }


def todo_entities(todos: list[Todo], request: HttpRequest, actor: Actor) -> list[dict[str, Any]]:
    wanted: dict[str, list[int]] = defaultdict(list)
    for todo in todos:
        if todo.target_id is not None:
            wanted[todo.target_type].append(todo.target_id)
    targets: dict[tuple[str, int], tuple[dict[str, Any], str]] = {}
    for type_name, ids in wanted.items():
        presenter = _PRESENTERS.get(type_name)
        if presenter is None:
            continue
        for target_id, value in presenter(ids, request, actor).items():
            targets[(type_name, target_id)] = value
    base = base_url(request)
    out = []
    for todo in todos:
        target, url = targets.get((todo.target_type, todo.target_id or 0), (None, ""))
        if todo.target_type == "Commit":
            target = {"id": todo.commit_id, "short_id": todo.commit_id[:8]}
            url = f"{base}/{todo.project.full_path}/-/commit/{todo.commit_id}"
        if todo.note_id and url:
            url = f"{url}#note_{todo.note_id}"
        out.append(
            {
                "id": todo.pk,
                "project": project_identity(todo.project),
                "author": user_basic(todo.author, request) if todo.author else None,
                "action_name": ACTION_NAMES.get(todo.action, "marked"),
                "target_type": todo.target_type,
                "target": target,
                "target_url": url,
                "body": todo.body,
                "state": todo.state,
                "created_at": iso(todo.created_at),
                "updated_at": iso(todo.updated_at),
            }
        )
    return out
