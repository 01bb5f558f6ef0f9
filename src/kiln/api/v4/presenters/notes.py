"""Note shapes: GitLab's `Entities::Note`, `NoteCommands`, `Discussion`, `CommitNote`,
`AwardEmoji`. Notes arrive with their noteable attached (`note.noteable`) by the queries."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from kiln.api.v4.presenters.common import iso
from kiln.api.v4.presenters.users import user_basic
from kiln.notes import noteables
from kiln.notes.models import AwardEmoji, Note, NoteType
from kiln.notes.services import Discussion, NoteResult

_POSITION_KEYS = (
    "base_sha",
    "start_sha",
    "head_sha",
    "old_path",
    "new_path",
    "position_type",
    "old_line",
    "new_line",
    "line_range",
    "width",
    "height",
    "x",
    "y",
)


def position_entity(position: dict[str, Any] | None) -> dict[str, Any] | None:
    if position is None:
        return None
    data = {k: position.get(k) for k in _POSITION_KEYS[:9]}
    for key in _POSITION_KEYS[9:]:
        if key in position:
            data[key] = position[key]
    return data


def note_entity(
    note: Note, request: HttpRequest, *, commands_changes: dict[str, Any] | None = None
) -> dict[str, Any]:
    noteable = getattr(note, "noteable", None)
    iid = None
    if noteable is not None and note.noteable_type in ("Issue", "MergeRequest"):
        iid = noteables.type_of(noteable).iid_of(noteable)
    data: dict[str, Any] = {
        "id": note.pk,
        "type": note.note_type,
        "body": note.body,
        "attachment": None,
        "author": user_basic(note.author, request) if note.author else None,
        "created_at": iso(note.created_at),
        "updated_at": iso(note.updated_at),
        "system": note.system,
        "noteable_id": note.noteable_id,
        "noteable_type": note.noteable_type,
        "project_id": note.project_id,
    }
    if note.noteable_type == "MergeRequest" and note.note_type == NoteType.DIFF:
        data["commit_id"] = note.commit_id or None
    if note.note_type == NoteType.DIFF:
        data["position"] = position_entity(note.position)
    data["resolvable"] = note.resolvable
    if note.resolvable:
        data["resolved"] = note.resolved_at is not None
        data["resolved_by"] = user_basic(note.resolved_by, request) if note.resolved_by else None
        data["resolved_at"] = iso(note.resolved_at)
    data.update(
        {
            "confidential": note.internal,
            "internal": note.internal,
            "imported": False,
            "imported_from": "none",
            "noteable_iid": iid,
            "commands_changes": commands_changes or {},
        }
    )
    return data


def note_entities(notes: list[Note], request: HttpRequest) -> list[dict[str, Any]]:
    return [note_entity(n, request) for n in notes]


def note_commands_entity(result: NoteResult) -> dict[str, Any]:
    """GitLab's `NoteCommands` (202): what a body of only quick actions did."""
    return {"commands_changes": result.commands_changes, "summary": result.messages}


def discussion_entity(discussion: Discussion, request: HttpRequest) -> dict[str, Any]:
    return {
        "id": discussion.id,
        "individual_note": discussion.individual_note,
        "notes": note_entities(discussion.notes, request),
    }


def commit_note_entity(note: Note, request: HttpRequest) -> dict[str, Any]:
    """GitLab's `CommitNote` (`/repository/commits/:sha/comments`)."""
    position = note.position or {}
    path = position.get("new_path") or position.get("old_path")
    line = position.get("new_line") or position.get("old_line")
    line_type = None
    if line is not None:
        line_type = "new" if position.get("new_line") else "old"
    return {
        "note": note.body,
        "path": path,
        "line": line,
        "line_type": line_type,
        "author": user_basic(note.author, request) if note.author else None,
        "created_at": iso(note.created_at),
    }


def award_entity(award: AwardEmoji, request: HttpRequest) -> dict[str, Any]:
    return {
        "id": award.pk,
        "name": award.name,
        "user": user_basic(award.user, request),
        "created_at": iso(award.created_at),
        "updated_at": iso(award.updated_at),
        "awardable_id": award.awardable_id,
        "awardable_type": award.awardable_type,
        "url": None,
    }
