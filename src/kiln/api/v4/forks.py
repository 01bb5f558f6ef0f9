"""API v4: project forks, as GitLab's `POST /projects/:id/fork`, `GET /projects/:id/forks` and
the fork relation endpoints (`POST /projects/:id/fork/:forked_from_id`, `DELETE
/projects/:id/fork`) of `lib/api/projects.rb`.

`kiln.repositories.forks` decides who may fork where; this module checks in GitLab's order
(the project, may the caller fork it, the namespace, the branch, the target) so each refusal
answers what GitLab answers, and presents forks with the project entity.
"""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status

from kiln.api.v4.auth import SIGNED_IN, actor_of
from kiln.api.v4.params import Params, PathStr
from kiln.api.v4.presenters.projects import project_entity
from kiln.api.v4.projects import (
    NamespaceRef,
    ProjectListQuery,
    VisibilityLabel,
    _filters,
    _list,
    _Params,
)
from kiln.core.access import Visibility
from kiln.core.actor import Actor
from kiln.core.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from kiln.core.policy import can
from kiln.namespaces.models import Namespace
from kiln.namespaces.queries import find_namespace, find_namespace_by_path
from kiln.projects import queries
from kiln.repositories import forks

router = Router(tags=["projects"])


class ForkParams(_Params):
    namespace: NamespaceRef | None = None
    namespace_id: int | None = None
    namespace_path: str | None = None
    path: str | None = None
    name: str | None = None
    description: str | None = None
    visibility: VisibilityLabel | None = None
    mr_default_target_self: bool | None = None
    branches: str | None = None


class _ConflictMessages(Conflict):
    """GitLab's `conflict!(result.message)` for a fork that could not be created: the
    project's validation errors as full sentences (`["Path has already been taken"]`)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(errors))
        self.messages = [
            f"{_humanize(attribute)} {message}"
            for attribute, messages in errors.items()
            for message in messages
        ]

    def body(self) -> dict[str, Any]:
        return {"message": self.messages}


def _humanize(attribute: str) -> str:
    # Rails' `human_attribute_name`: "project_namespace.name" -> "Project namespace name".
    words = attribute.replace(".", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def _readable_namespace(actor: Actor, ref: str | int, *, by_path: bool = False) -> Namespace:
    """GitLab's `find_namespace!`: a namespace the caller may see, else 404 Namespace."""
    namespace = find_namespace_by_path(str(ref)) if by_path else find_namespace(ref)
    if namespace is None:
        raise NotFound("Namespace")
    if actor.is_admin:
        return namespace
    if namespace.is_group:
        if not can(actor, "read_group", namespace):
            raise NotFound("Namespace")
    elif namespace.owner_id != actor.user_id:
        raise NotFound("Namespace")
    return namespace


def _present(request: HttpRequest, actor: Actor, project: Any) -> dict[str, Any]:
    return project_entity(project, request, actor, single=True)


@router.post("/projects/{id}/fork", auth=SIGNED_IN, response={201: dict[str, Any]})
def fork_project(
    request: HttpRequest, id: PathStr, payload: Annotated[ForkParams, Params(...)]
) -> Status[dict[str, Any]]:
    actor = actor_of(request)
    project = queries.get_project_for(actor, id)
    if not forks.can_fork_project(actor, project):
        raise NotFound()
    namespace: Namespace | None = None
    if payload.namespace_id is not None:
        namespace = _readable_namespace(actor, payload.namespace_id)
    elif payload.namespace_path:
        namespace = _readable_namespace(actor, payload.namespace_path, by_path=True)
    elif payload.namespace:
        namespace = _readable_namespace(actor, payload.namespace)
    if payload.branches and not forks.source_branch_exists(project, payload.branches):
        raise NotFound("Source Branch")
    if not forks.valid_fork_target(actor, namespace):
        raise NotFound("Target Namespace")
    try:
        fork = forks.fork_project(
            actor=actor,
            project=project,
            namespace=namespace,
            name=payload.name or None,
            path=payload.path or None,
            description=payload.description,
            visibility=Visibility.from_label(payload.visibility) if payload.visibility else None,
            branch=payload.branches or None,
        )
    except ValidationFailed as exc:
        raise _ConflictMessages(exc.errors) from None
    return Status(201, _present(request, actor, fork))


@router.get("/projects/{id}/forks")
def list_forks(
    request: HttpRequest, response: HttpResponse, id: PathStr, query: Query[ProjectListQuery]
) -> Any:
    actor = actor_of(request)
    project = queries.get_project_for(actor, id)
    qs = forks.list_forks_for(actor, project, _filters(query))
    return _list(request, response, actor, qs, query)


@router.post("/projects/{id}/fork/{forked_from_id}", auth=SIGNED_IN, response={201: dict[str, Any]})
def link_fork(request: HttpRequest, id: PathStr, forked_from_id: PathStr) -> Status[dict[str, Any]]:
    actor = actor_of(request)
    project = queries.get_project_for(actor, id)
    # GitLab's `link_forked_project`: the project's Owners and admins.
    if not can(actor, "remove_project", project):
        raise Forbidden()
    source = queries.get_project_for(actor, forked_from_id)
    if not forks.can_fork_project(actor, source):
        raise Forbidden()
    if not forks.valid_fork_target(actor, project.namespace):
        raise Unauthorized("401 Unauthorized - Target Namespace")
    project = forks.link_fork(actor=actor, project=project, source=source)
    return Status(201, _present(request, actor, queries.get_project_for(actor, project.pk)))


@router.delete("/projects/{id}/fork", auth=SIGNED_IN)
def unlink_fork(request: HttpRequest, id: PathStr) -> HttpResponse:
    actor = actor_of(request)
    project = queries.get_project_for(actor, id)
    if not forks.unlink_fork(actor=actor, project=project):
        return HttpResponse(status=304)
    return HttpResponse(status=204)
