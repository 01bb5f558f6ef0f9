"""Todos: what a user is asked to look at (assigned, mentioned, directly addressed, marked,
review requested...). Issue, note and merge request services create them; users mark them
done. A todo only ever goes to someone who may read its target, and the list hides todos
whose target the user can no longer read (confidential issues, lost access).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from kiln.core.actor import Actor
from kiln.core.errors import NotFound
from kiln.core.policy import can
from kiln.notes import noteables
from kiln.notes.models import Todo, TodoAction
from kiln.projects.models import Project
from kiln.projects.queries import visible_projects_q

ACTION_NAMES = {choice.value: choice.label for choice in TodoAction}


def _readers(user_ids: Iterable[int], noteable: object, read_action: str) -> list[int]:
    """Those users (active) who may read the target."""
    user_model = get_user_model()
    readers = []
    for user in user_model.objects.filter(pk__in=set(user_ids)):
        if user.is_active and can(Actor.for_user(user), read_action, noteable):
            readers.append(user.pk)
    return readers


def create_todos(
    *,
    author: Actor,
    noteable: object,
    user_ids: Iterable[int],
    action: int,
    note_id: int | None = None,
    body: str = "",
) -> list[Todo]:
    """Pending todos for those users who may read `noteable`. Called inside the caller's
    transaction; the caller decided who gets one (and that the author acted)."""
    nt = noteables.type_of(noteable)
    project = nt.project_of(noteable)
    readers = _readers(user_ids, noteable, nt.read_action)
    commit_id = getattr(noteable, "sha", "") if nt.name == "Commit" else ""
    rows = [
        Todo(
            user_id=user_id,
            author=author.user,
            project=project,
            target_type=nt.name,
            target_id=nt.id_of(noteable),
            commit_id=commit_id,
            note_id=note_id,
            action=action,
            body=body[:1000],
        )
        for user_id in readers
    ]
    return Todo.objects.bulk_create(rows) if rows else []


def create_mention_todos(
    *,
    author: Actor,
    noteable: object,
    text: str,
    note_id: int | None = None,
    skip_user_ids: Iterable[int] = (),
) -> list[Todo]:
    """`mentioned` (or `directly_addressed`, for a mention opening the text) todos for users
    @mentioned in `text`, except the author."""
    from kiln.notes.mentions import mentioned_user_ids

    nt = noteables.type_of(noteable)
    project = nt.project_of(noteable)
    mentioned = mentioned_user_ids(text, project=project)
    skip = set(skip_user_ids)
    if author.user is not None:
        skip.add(author.user.pk)
    mentioned = [u for u in mentioned if u not in skip]
    if not mentioned:
        return []
    user_model = get_user_model()
    opening = text.lstrip().split(None, 1)[0] if text.strip() else ""
    direct_ids: set[int] = set()
    if opening.startswith("@"):
        direct = user_model.objects.filter(username__iexact=opening[1:].rstrip(",:")).first()
        if direct is not None:
            direct_ids.add(direct.pk)
    todos = []
    plain = [u for u in mentioned if u not in direct_ids]
    direct_list = [u for u in mentioned if u in direct_ids]
    if direct_list:
        todos += create_todos(
            author=author,
            noteable=noteable,
            user_ids=direct_list,
            action=TodoAction.DIRECTLY_ADDRESSED,
            note_id=note_id,
            body=text,
        )
    if plain:
        todos += create_todos(
            author=author,
            noteable=noteable,
            user_ids=plain,
            action=TodoAction.MENTIONED,
            note_id=note_id,
            body=text,
        )
    return todos


def mark_target_done(*, user_id: int, noteable: object) -> int:
    """The user acted on the target: their pending todos on it are done."""
    nt = noteables.type_of(noteable)
    qs = Todo.objects.filter(user_id=user_id, target_type=nt.name, state="pending")
    target_id = nt.id_of(noteable)
    qs = (
        qs.filter(target_id=target_id)
        if target_id is not None
        else qs.filter(commit_id=getattr(noteable, "sha", ""))
    )
    return qs.update(state="done", updated_at=timezone.now())


def mark_todo(*, actor: Actor, noteable: object) -> Todo | None:
    """`/todo` and `POST .../todo`: a `marked` todo for the actor; None when one is pending
    already (the API answers 304)."""
    assert actor.user is not None
    nt = noteables.type_of(noteable)
    existing = Todo.objects.filter(
        user_id=actor.user.pk,
        target_type=nt.name,
        target_id=nt.id_of(noteable),
        action=TodoAction.MARKED,
        state="pending",
    ).exists()
    if existing:
        return None
    todos = create_todos(
        author=actor, noteable=noteable, user_ids=[actor.user.pk], action=TodoAction.MARKED
    )
    return todos[0] if todos else None


# -- reads and writes of the todo list ---------------------------------------------------------


def _readable_targets_q(actor: Actor) -> Q:
    q = Q(pk__in=[])
    for nt in noteables.all_types():
        if nt.visible_ids is not None:
            q |= Q(target_type=nt.name, target_id__in=nt.visible_ids(actor))
    # Commits: the project's code must be readable.
    from kiln.events.queries import code_readable_projects_q

    code_projects = Project.objects.filter(code_readable_projects_q(actor)).values("pk")
    q |= Q(target_type="Commit", project_id__in=code_projects)
    return q & Q(project_id__in=Project.objects.filter(visible_projects_q(actor)).values("pk"))


@dataclass
class TodoFilters:
    action: str | None = None
    author_id: int | None = None
    project_id: int | None = None
    group_id: int | None = None
    state: str | None = None
    type: str | None = None


def list_todos_for(actor: Actor, filters: TodoFilters) -> QuerySet[Todo]:
    assert actor.user is not None
    qs = Todo.objects.filter(user_id=actor.user.pk).filter(_readable_targets_q(actor))
    state = filters.state or "pending"
    if state in ("pending", "done"):
        qs = qs.filter(state=state)
    if filters.action:
        number = next((k for k, v in ACTION_NAMES.items() if v == filters.action), None)
        qs = qs.filter(action=number) if number is not None else qs.none()
    if filters.author_id is not None:
        qs = qs.filter(author_id=filters.author_id)
    if filters.project_id is not None:
        qs = qs.filter(project_id=filters.project_id)
    if filters.group_id is not None:
        from kiln.namespaces.models import Namespace

        group = Namespace.objects.filter(pk=filters.group_id).first()
        if group is None:
            return qs.none()
        qs = qs.filter(
            Q(project__namespace_id=group.pk)
            | Q(project__namespace__traversal_ids__startswith=f"{group.traversal_ids}/")
        )
    if filters.type:
        qs = qs.filter(target_type=filters.type)
    return qs.select_related("author", "project", "project__namespace").order_by("-id")


def get_todo_for(actor: Actor, todo_id: int) -> Todo:
    assert actor.user is not None
    todo = (
        Todo.objects.filter(user_id=actor.user.pk, pk=todo_id)
        .filter(_readable_targets_q(actor))
        .select_related("author", "project", "project__namespace")
        .first()
    )
    if todo is None:
        raise NotFound("Todo")
    return todo


def mark_todo_done(*, actor: Actor, todo: Todo) -> Todo:
    if todo.state != "done":
        todo.state = "done"
        todo.save(update_fields=["state", "updated_at"])
    return todo


def mark_all_done(*, actor: Actor) -> int:
    assert actor.user is not None
    return Todo.objects.filter(user_id=actor.user.pk, state="pending").update(
        state="done", updated_at=timezone.now()
    )
