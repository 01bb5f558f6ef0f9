"""Event shape (GitLab's `Entities::Event`), with `push_data` for pushes and `note` for
comments (the notes of a page fetched in one query)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from kiln.api.v4.presenters.common import iso
from kiln.api.v4.presenters.users import user_basic
from kiln.events.models import Event
from kiln.notes.models import Note

_NOTE_TYPES = ("Note", "DiscussionNote", "DiffNote")


def action_name(event: Event) -> str:
    """GitLab's `Event#action_name`."""
    if event.action == "pushed":
        data = event.data or {}
        if data.get("action") == "created":
            return "pushed new"
        if data.get("action") == "removed":
            return "deleted"
        return "pushed to"
    return {
        "commented": "commented on",
        "merged": "accepted",
        "expired": "removed due to membership expiration from",
    }.get(event.action, event.action)


def _note(note: Note, request: HttpRequest) -> dict[str, Any]:
    return {
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
        "resolvable": note.resolvable,
        "confidential": note.internal,
        "internal": note.internal,
        "imported": False,
        "imported_from": "none",
        "noteable_iid": None,
        "commands_changes": {},
    }


def event_entities(events: list[Event], request: HttpRequest) -> list[dict[str, Any]]:
    note_ids = [e.target_id for e in events if e.target_type in _NOTE_TYPES and e.target_id]
    notes = (
        {n.pk: n for n in Note.objects.filter(pk__in=note_ids).select_related("author")}
        if note_ids
        else {}
    )
    out = []
    for event in events:
        data: dict[str, Any] = {
            "id": event.pk,
            "project_id": event.project_id,
            "action_name": action_name(event),
            "target_id": event.target_id,
            "target_iid": event.target_iid,
            "target_type": event.target_type or None,
            "author_id": event.author_id,
            "target_title": event.target_title or None,
            "created_at": iso(event.created_at),
            "author": user_basic(event.author, request) if event.author else None,
            "imported": False,
            "imported_from": "none",
            "author_username": event.author.username if event.author else None,
        }
        if event.action == "pushed":
            data["push_data"] = event.data or {}
        if event.target_type in _NOTE_TYPES and event.target_id in notes:
            note = _note(notes[event.target_id], request)
            if event.subject_type in ("Issue", "MergeRequest"):
                note["noteable_iid"] = None
            data["note"] = note
        out.append(data)
    return out
