"""Reads of notes and discussions, as the actor may see them.

The caller found the noteable with the noteable type's `find` (so the actor may read it).
Internal notes need Planner or more; a cross-reference system note is shown only when the
actor may see what it points at ("mentioned in #7" from a confidential issue stays hidden).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Min, QuerySet

from kiln.core.actor import Actor
from kiln.core.errors import NotFound
from kiln.notes import noteables
from kiln.notes.models import Note
from kiln.notes.policies import can_read_internal_notes
from kiln.notes.services import Discussion, notes_of
from kiln.projects.models import Project

ACTIVITY_FILTERS = ("all_notes", "only_comments", "only_activity")


def _readable(actor: Actor, noteable: Any) -> QuerySet[Note]:
    nt = noteables.type_of(noteable)
    qs: QuerySet[Note] = notes_of(nt, noteable)
    if not can_read_internal_notes(actor, nt.project_of(noteable)):
        qs = qs.filter(internal=False)
    return qs


def hide_invisible_system_notes(actor: Actor, notes: list[Note]) -> list[Note]:
    """Drop cross-reference system notes pointing at what the actor may not see."""
    wanted: dict[str, set[int]] = defaultdict(set)
    commit_projects: set[int] = set()
    for note in notes:
        meta = note.metadata or {}
        if note.system and meta.get("type"):
            if meta["type"] == "Commit":
                commit_projects.add(int(meta.get("project_id") or 0))
            elif meta.get("id") is not None:
                wanted[str(meta["type"])].add(int(meta["id"]))
    if not wanted and not commit_projects:
        return notes
    visible: dict[str, set[int]] = {}
    for type_name, ids in wanted.items():
        nt = noteables.by_name(type_name)
        if nt is None or nt.visible_ids is None:
            visible[type_name] = set()
            continue
        visible[type_name] = set(
            nt.model._default_manager.filter(pk__in=ids)
            .filter(pk__in=nt.visible_ids(actor))
            .values_list("pk", flat=True)
        )
    code_projects: set[int] = set()
    if commit_projects:
        from kiln.events.queries import code_readable_projects_q
        from kiln.projects.models import Project

        code_projects = set(
            Project.objects.filter(
                code_readable_projects_q(actor), pk__in=commit_projects
            ).values_list("pk", flat=True)
        )
    kept = []
    for note in notes:
        meta = note.metadata or {}
        kind = meta.get("type") if note.system else None
        if kind == "Commit" and int(meta.get("project_id") or 0) not in code_projects:
            continue
        if kind and kind != "Commit" and int(meta.get("id") or 0) not in visible.get(kind, set()):
            continue
        kept.append(note)
    return kept


def _attach(notes: Iterable[Note], noteable: Any) -> list[Note]:
    out = []
    for note in notes:
        note.noteable = noteable  # type: ignore[attr-defined]
        out.append(note)
    return out


def list_notes_for(
    actor: Actor,
    noteable: Any,
    *,
    order_by: str = "created_at",
    sort: str = "desc",
    activity_filter: str = "all_notes",
) -> QuerySet[Note]:
    """`GET .../notes`, ordered with an id tie-breaker. Present pages through
    `prepare_page` (it hides invisible system notes, as GitLab filters a page)."""
    qs = _readable(actor, noteable)
    if activity_filter == "only_comments":
        qs = qs.filter(system=False)
    elif activity_filter == "only_activity":
        qs = qs.filter(system=True)
    prefix = "" if sort == "asc" else "-"
    field = "updated_at" if order_by == "updated_at" else "created_at"
    return qs.select_related("author", "resolved_by").order_by(f"{prefix}{field}", f"{prefix}id")


def prepare_page(actor: Actor, noteable: Any, notes: list[Note]) -> list[Note]:
    return _attach(hide_invisible_system_notes(actor, notes), noteable)


def get_note_for(actor: Actor, noteable: Any, note_id: int | str) -> Note:
    """One note of the noteable ("404 Note Not Found" when missing or hidden)."""
    text = str(note_id)
    note = None
    if text.isdigit() and len(text) < 19:
        note = (
            _readable(actor, noteable)
            .select_related("author", "resolved_by")
            .filter(pk=int(text))
            .first()
        )
    if note is None or not hide_invisible_system_notes(actor, [note]):
        raise NotFound("Note")
    note.noteable = noteable  # type: ignore[attr-defined]
    return note


def find_noteable_of_note(actor: Actor, project: Project, note_id: int | str) -> Any | None:
    """What a note of `project` annotates (an issue or merge request: a noteable with a row),
    found through its type's `find`, so None when the actor may not read it (or it is
    missing). The note itself is then read with `get_note_for`."""
    text = str(note_id)
    if not text.isdigit() or len(text) > 18:
        return None
    row = (
        Note.objects.filter(project=project, pk=int(text))
        .values_list("noteable_type", "noteable_id")
        .first()
    )
    nt = noteables.by_name(row[0]) if row is not None else None
    if row is None or nt is None or row[1] is None:
        return None
    owner = nt.model.objects.filter(project=project, pk=row[1]).first()
    if owner is None:
        return None
    return nt.find(actor, project, str(nt.iid_of(owner)))


def discussion_ids_for(actor: Actor, noteable: Any) -> QuerySet[Any]:
    """Thread ids in the order threads started (a queryset of dicts, for paginating)."""
    return (
        _readable(actor, noteable)
        .values("discussion_id")
        .annotate(first_id=Min("id"))
        .order_by("first_id")
    )


def discussions_for_ids(actor: Actor, noteable: Any, discussion_ids: list[str]) -> list[Discussion]:
    """The threads with these ids, in the given order (one query)."""
    notes = list(
        _readable(actor, noteable)
        .filter(discussion_id__in=discussion_ids)
        .select_related("author", "resolved_by")
        .order_by("created_at", "id")
    )
    notes = prepare_page(actor, noteable, notes)
    grouped: dict[str, list[Note]] = defaultdict(list)
    for note in notes:
        grouped[note.discussion_id].append(note)
    return [
        Discussion(id=d, notes=grouped[d], noteable=noteable)
        for d in discussion_ids
        if grouped.get(d)
    ]


def list_discussions_for(actor: Actor, noteable: Any) -> list[Discussion]:
    ids = [row["discussion_id"] for row in discussion_ids_for(actor, noteable)]
    return discussions_for_ids(actor, noteable, ids)


def get_discussion_for(actor: Actor, noteable: Any, discussion_id: str) -> Discussion:
    found = discussions_for_ids(actor, noteable, [discussion_id])
    if not found:
        raise NotFound("Discussion")
    return found[0]


def unresolved_discussions_count(noteable: Any) -> int:
    nt = noteables.type_of(noteable)
    return int(
        notes_of(nt, noteable)
        .filter(resolvable=True, resolved_at__isnull=True)
        .values("discussion_id")
        .distinct()
        .count()
    )


def discussions_resolved(noteable: Any) -> bool:
    """Every resolvable thread is resolved (merge checks, `blocking_discussions_resolved`)."""
    return unresolved_discussions_count(noteable) == 0


def user_notes_counts(noteable_type: str, ids: Iterable[int]) -> dict[int, int]:
    """Comments (not system notes) per noteable, in one query (list presenters)."""
    id_list = list(ids)
    if not id_list:
        return {}
    rows = (
        Note.objects.filter(noteable_type=noteable_type, noteable_id__in=id_list, system=False)
        .values("noteable_id")
        .annotate(n=Count("pk"))
    )
    return {int(row["noteable_id"] or 0): int(row["n"]) for row in rows}
