"""The registry of noteable types: what notes can hang off, and how to ask about each.

Notes sit between issues and merge requests in the layers, so they know neither model: each
noteable package registers a `NoteableType` at import time (see `kiln.notes` for the
contract). Commits are registered here, wrapped as `CommitNoteable`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from kiln.core.actor import Actor
from kiln.projects.models import Project


def _no_participants(noteable: Any) -> Iterable[int]:
    return ()


def _not_locked(noteable: Any) -> bool:
    return False


def _ignore_updates(actor: Actor, noteable: Any, updates: Mapping[str, Any]) -> None:
    return None


@dataclass(frozen=True, kw_only=True)
class NoteableType:
    """How notes talk to one kind of noteable.

    name: GitLab's `noteable_type` ("Issue", "MergeRequest", "Commit").
    model: the noteable's class (`noteable_for` dispatches on it).
    route: the API path segment of the noteable ("issues", "merge_requests").
    project_of: the project a noteable lives in.
    find: `find(actor, project, ref)`: the noteable with that iid (or sha for commits) if the
        actor may read it, else None (missing and invisible answer alike).
    id_of / iid_of / title_of: the noteable's row id (None for commits), iid, title.
    read_action: the policy action on the noteable that lets an actor read it (and its notes).
    update_action / admin_action: the policy actions for editing it and for its metadata
        (labels, milestone, assignees): quick actions check them.
    resolvable: threads can be resolved (merge requests).
    resolve_action: the policy action on the noteable that lets an actor resolve threads.
    locked: whether the discussion is locked (non-members cannot comment).
    visible_ids: `visible_ids(actor)`: a queryset of the ids of every noteable of this type
        the actor may read (used as a subquery by todos, events and note searches).
    apply_quick_actions: applies `ctx.updates` of quick actions to the noteable.
    participants: user ids beyond note authors (author, assignees, ...).
    """

    name: str
    model: type[Any]
    route: str
    project_of: Callable[[Any], Project]
    find: Callable[[Actor, Project, str], Any | None]
    id_of: Callable[[Any], int | None]
    iid_of: Callable[[Any], int | None]
    title_of: Callable[[Any], str]
    read_action: str
    update_action: str = "update_issue"
    admin_action: str = "admin_issue"
    visible_ids: Callable[[Actor], QuerySet[Any]] | None = None
    resolvable: bool = False
    resolve_action: str = "resolve_note"
    locked: Callable[[Any], bool] = _not_locked
    apply_quick_actions: Callable[[Actor, Any, Mapping[str, Any]], None] = _ignore_updates
    participants: Callable[[Any], Iterable[int]] = _no_participants
    extra: Mapping[str, Any] = field(default_factory=dict)


_BY_NAME: dict[str, NoteableType] = {}
_BY_MODEL: dict[type[Any], NoteableType] = {}


def register(noteable_type: NoteableType) -> NoteableType:
    """Register (or replace, for module reloads) a noteable type."""
    _BY_NAME[noteable_type.name] = noteable_type
    _BY_MODEL[noteable_type.model] = noteable_type
    return noteable_type


def by_name(name: str) -> NoteableType | None:
    return _BY_NAME.get(name)


def by_route(route: str) -> NoteableType | None:
    return next((t for t in _BY_NAME.values() if t.route == route), None)


def all_types() -> list[NoteableType]:
    return list(_BY_NAME.values())


def type_of(noteable: Any) -> NoteableType:
    """The registered type of a noteable instance (LookupError for an unregistered one)."""
    for klass in type(noteable).__mro__:
        if (found := _BY_MODEL.get(klass)) is not None:
            return found
    raise LookupError(f"{type(noteable).__name__} is not a registered noteable")


@dataclass(frozen=True)
class CommitNoteable:
    """A commit as a noteable: notes on it are keyed by the project and the full SHA."""

    project: Project
    sha: str
    title: str = ""
