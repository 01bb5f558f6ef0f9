"""Writes of notes and discussions, system notes, and applying quick actions.

Stable contract (see kiln.notes): `create_note`, `update_note`, `delete_note`,
`resolve_note`, `resolve_discussion`, `create_system_note`. Each takes the noteable itself
(an Issue, a MergeRequest, a `CommitNoteable`) and dispatches through the noteable registry.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from kiln import markdown
from kiln.core.actor import Actor
from kiln.core.errors import BadRequest, Forbidden, NotFound
from kiln.core.policy import can
from kiln.events.models import EventAction
from kiln.events.services import record_event
from kiln.notes import noteables, quick_actions
from kiln.notes.models import BODY_MAX_LENGTH, Note, NoteType
from kiln.notes.policies import can_read_internal_notes


@dataclass
class NoteResult:
    """What `create_note` did: the note (None when the body held only quick actions), the
    changes its quick actions made and their messages (GitLab's `commands_changes` and
    `summary`)."""

    note: Note | None
    commands_changes: dict[str, Any] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    @property
    def only_commands(self) -> bool:
        return self.note is None


# Packages above react to a new note (cross references, webhooks): `fn(actor, note,
# noteable)`, called inside the transaction; side effects outside the database go through
# `transaction.on_commit`.
NoteListener = Callable[[Actor, Note, Any], None]
_NOTE_LISTENERS: list[NoteListener] = []


def register_note_listener(fn: NoteListener) -> NoteListener:
    if fn not in _NOTE_LISTENERS:
        _NOTE_LISTENERS.append(fn)
    return fn


def new_discussion_id() -> str:
    return secrets.token_hex(20)


def ruby_hash(errors: dict[str, list[str]]) -> str:
    parts = []
    for key, messages in errors.items():
        quoted = ", ".join('"' + m.replace('"', '\\"') + '"' for m in messages)
        parts.append(f":{key}=>[{quoted}]")
    return "{" + ", ".join(parts) + "}"


class NoteInvalid(BadRequest):
    """`{"message": "400 Bad request - Note {:note=>[\"can't be blank\"]}"}`."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(f"Note {ruby_hash(errors)}")
        self.errors = errors


def _validate_body(body: str) -> None:
    if not body or not body.strip():
        raise NoteInvalid({"note": ["can't be blank"]})
    if len(body) > BODY_MAX_LENGTH:
        raise NoteInvalid({"note": [f"is too long (maximum is {BODY_MAX_LENGTH} characters)"]})


def _render(note: Note) -> None:
    """Cache the viewer-independent HTML (references stay text until shown to a viewer)."""
    note.body_html = markdown.render(note.body)
    note.cached_markdown_version = markdown.RENDERER_VERSION


def _touch(nt: noteables.NoteableType, noteable: Any) -> None:
    noteable_id = nt.id_of(noteable)
    if noteable_id is None or not hasattr(nt.model, "updated_at"):
        return
    now = timezone.now()
    nt.model._default_manager.filter(pk=noteable_id).update(updated_at=now)
    noteable.updated_at = now


def _base_note(nt: noteables.NoteableType, noteable: Any, actor: Actor | None) -> Note:
    project = nt.project_of(noteable)
    return Note(
        project=project,
        noteable_type=nt.name,
        noteable_id=nt.id_of(noteable),
        commit_id=getattr(noteable, "sha", "") if nt.name == "Commit" else "",
        author=actor.user if actor is not None else None,
    )


def notes_of(nt: noteables.NoteableType, noteable: Any) -> Any:
    qs = Note.objects.filter(noteable_type=nt.name)
    noteable_id = nt.id_of(noteable)
    if noteable_id is not None:
        return qs.filter(noteable_id=noteable_id)
    return qs.filter(project_id=nt.project_of(noteable).pk, commit_id=noteable.sha)


def _apply_quick_actions(
    actor: Actor, noteable: Any, result: quick_actions.QuickActionResult
) -> None:
    nt = noteables.type_of(noteable)
    if result.updates:
        nt.apply_quick_actions(actor, noteable, result.updates)
    for callback in result.after:
        callback()


def create_note(
    *,
    actor: Actor,
    noteable: Any,
    body: str,
    discussion_id: str | None = None,
    position: dict[str, Any] | None = None,
    internal: bool = False,
    system: bool = False,
    note_type: str | None = None,
    created_at: dt.datetime | None = None,
    system_action: str = "",
) -> NoteResult:
    """Comment on `noteable` (see kiln.notes for the contract).

    Authorizes `create_note` on the noteable (403 when the actor can read it but may not
    comment, e.g. a locked discussion) unless `system`; validates the body with GitLab's
    messages; runs quick actions (stripped from the body; a body of only commands creates
    no note); records the event, todos for mentions, and tells the note listeners.
    """
    nt = noteables.type_of(noteable)
    project = nt.project_of(noteable)
    if not system:
        if actor.user is None:
            raise Forbidden()
        if not can(actor, "create_note", noteable):
            raise Forbidden()
        if internal and not can_read_internal_notes(actor, project):
            raise Forbidden()
    _validate_body(body)
    existing: list[Note] = []
    if discussion_id is not None:
        existing = list(notes_of(nt, noteable).filter(discussion_id=discussion_id).order_by("id"))
        if not existing or (existing[0].internal and not can_read_internal_notes(actor, project)):
            raise NotFound("Discussion")
        if existing[0].system:
            raise BadRequest("Discussion can not be replied to.")
    result: quick_actions.QuickActionResult | None = None
    text = body
    if not system and nt.name != "Commit":
        result = quick_actions.run(
            actor=actor, project=project, noteable=noteable, type_name=nt.name, text=body
        )
        text = result.text
    with transaction.atomic():
        if result is not None and result.commands:
            if result.only_commands and not result.updates and not result.after:
                # Nothing the actor may do (or nothing to do): GitLab refuses the note.
                raise NoteInvalid({"commands_only": ["Failed to apply commands."]})
            _apply_quick_actions(actor, noteable, result)
            if result.only_commands:
                return NoteResult(
                    note=None,
                    commands_changes=_public_changes(result.updates),
                    messages=result.messages,
                )
        note = _base_note(nt, noteable, actor)
        note.body = text
        note.system = system
        note.system_action = system_action
        note.internal = bool(internal) or (existing[0].internal if existing else False)
        when = created_at or timezone.now()
        note.created_at = note.updated_at = when
        if existing:
            first = existing[0]
            note.discussion_id = first.discussion_id
            note.note_type = first.note_type or NoteType.DISCUSSION
            if first.note_type is None:
                # Replying to an individual note turns it into a thread.
                first.note_type = NoteType.DISCUSSION
                first.resolvable = nt.resolvable and not first.system
                first.save(update_fields=["note_type", "resolvable"])
            if first.note_type == NoteType.DIFF:
                note.note_type = NoteType.DIFF
                note.position = first.position
                note.original_position = first.original_position
                note.line_code = first.line_code
        else:
            note.discussion_id = new_discussion_id()
            if position is not None:
                note.note_type = NoteType.DIFF
                note.position = note.original_position = position
                note.line_code = _line_code(position)
            elif note_type == NoteType.DISCUSSION:
                note.note_type = NoteType.DISCUSSION
        note.resolvable = nt.resolvable and not system and note.note_type is not None
        _render(note)
        note.save()
        note.noteable = noteable  # type: ignore[attr-defined]
        if existing and note.resolvable and existing[0].resolved_at is not None:
            # A reply reopens a resolved thread, as GitLab does.
            notes_of(nt, noteable).filter(discussion_id=note.discussion_id).update(
                resolved_at=None, resolved_by=None
            )
        _touch(nt, noteable)
        if not system:
            _after_user_note(actor, note, noteable, nt)
        for listener in list(_NOTE_LISTENERS):
            listener(actor, note, noteable)
    return NoteResult(
        note=note,
        commands_changes=_public_changes(result.updates) if result else {},
        messages=result.messages if result else [],
    )


def _public_changes(updates: dict[str, Any]) -> dict[str, Any]:
    """`commands_changes` as JSON: dates as ISO strings, objects dropped."""
    out: dict[str, Any] = {}
    for key, value in updates.items():
        if isinstance(value, dt.date):
            out[key] = value.isoformat()
        elif isinstance(value, (str, int, float, bool, list, type(None))):
            out[key] = value
    return out


def _line_code(position: dict[str, Any]) -> str:
    import hashlib

    path = str(position.get("new_path") or position.get("old_path") or "")
    digest = hashlib.sha1(path.encode(), usedforsecurity=False).hexdigest()
    return f"{digest}_{position.get('old_line') or 0}_{position.get('new_line') or 0}"


def _after_user_note(actor: Actor, note: Note, noteable: Any, nt: noteables.NoteableType) -> None:
    from kiln.notes import todos

    project = nt.project_of(noteable)
    record_event(
        actor=actor,
        project=project,
        action=EventAction.COMMENTED,
        target_type=note.note_type or "Note",
        target_id=note.pk,
        target_title=nt.title_of(noteable),
        subject_type=nt.name,
        subject_id=nt.id_of(noteable),
        data={"commit_id": note.commit_id} if note.commit_id else None,
    )
    if actor.user is not None:
        todos.mark_target_done(user_id=actor.user.pk, noteable=noteable)
    if not note.internal:
        todos.create_mention_todos(author=actor, noteable=noteable, text=note.body, note_id=note.pk)


def create_system_note(
    *,
    actor: Actor | None,
    noteable: Any,
    body: str,
    action: str,
    metadata: dict[str, Any] | None = None,
) -> Note:
    """A system note ("closed", "assigned to @x", ...) on `noteable`, by `actor`.

    No authorization: the caller changed something and says what. Call it inside the
    caller's transaction.
    """
    nt = noteables.type_of(noteable)
    note = _base_note(nt, noteable, actor)
    note.body = body
    note.system = True
    note.system_action = action
    note.metadata = metadata
    note.discussion_id = new_discussion_id()
    note.created_at = note.updated_at = timezone.now()
    _render(note)
    note.save()
    note.noteable = noteable  # type: ignore[attr-defined]
    return note


def update_note(*, actor: Actor, note: Note, body: str) -> NoteResult:
    """Edit a note's body (`admin_note`: its author or a Maintainer; 403 otherwise).

    Quick actions in the new body run as on creation; a body of only commands leaves the
    note as it was (GitLab answers 202 with the changes then)."""
    if not can(actor, "admin_note", note):
        raise Forbidden()
    noteable = note.noteable  # type: ignore[attr-defined]
    nt = noteables.type_of(noteable)
    _validate_body(body)
    result = None
    text = body
    if nt.name != "Commit":
        result = quick_actions.run(
            actor=actor,
            project=nt.project_of(noteable),
            noteable=noteable,
            type_name=nt.name,
            text=body,
        )
        text = result.text
    with transaction.atomic():
        if result is not None and result.commands:
            _apply_quick_actions(actor, noteable, result)
            if result.only_commands:
                return NoteResult(
                    note=None,
                    commands_changes=_public_changes(result.updates),
                    messages=result.messages,
                )
        if text != note.body:
            note.body = text
            note.last_edited_at = note.updated_at = timezone.now()
            note.updated_by = actor.user
            _render(note)
            note.save()
    return NoteResult(note=note)


def delete_note(*, actor: Actor, note: Note) -> None:
    if not can(actor, "admin_note", note):
        raise Forbidden()
    note.delete()


def resolve_note(*, actor: Actor, note: Note, resolved: bool = True) -> Note:
    """Resolve or unresolve one note of a thread ("Note is not resolvable" otherwise)."""
    if not note.resolvable:
        raise BadRequest("Note is not resolvable")
    if not can(actor, "resolve_note", note):
        raise Forbidden()
    if resolved and note.resolved_at is None:
        note.resolved_at = timezone.now()
        note.resolved_by = actor.user
    elif not resolved:
        note.resolved_at = None
        note.resolved_by = None
    note.save(update_fields=["resolved_at", "resolved_by"])
    return note


@dataclass
class Discussion:
    """A thread: its notes in order (the first one opened it)."""

    id: str
    notes: list[Note]
    noteable: Any

    @property
    def individual_note(self) -> bool:
        return len(self.notes) == 1 and self.notes[0].note_type is None

    @property
    def resolvable(self) -> bool:
        return any(n.resolvable for n in self.notes)

    @property
    def resolved(self) -> bool:
        resolvable = [n for n in self.notes if n.resolvable]
        return bool(resolvable) and all(n.resolved_at is not None for n in resolvable)


def resolve_discussion(
    *, actor: Actor, noteable: Any, discussion_id: str, resolved: bool = True
) -> Discussion:
    """Resolve (or reopen) every resolvable note of a thread. 404 for an unknown thread,
    403 when the actor may not resolve it (GitLab's `forbidden!`)."""
    from kiln.notes.queries import get_discussion_for

    discussion = get_discussion_for(actor, noteable, discussion_id)
    nt = noteables.type_of(noteable)
    if not discussion.resolvable or not can(actor, nt.resolve_action, noteable):
        raise Forbidden()
    now = timezone.now()
    with transaction.atomic():
        for note in discussion.notes:
            if not note.resolvable:
                continue
            if resolved and note.resolved_at is None:
                note.resolved_at, note.resolved_by = now, actor.user
            elif not resolved:
                note.resolved_at, note.resolved_by = None, None
            note.save(update_fields=["resolved_at", "resolved_by"])
    return discussion


def mark_outdated_diff_notes(*, noteable: Any, head_sha: str, actor: Actor | None = None) -> int:
    """A diff note is outdated when its position's head is not the noteable's current head
    (see `position_is_current`): nothing to write for that. When the project resolves
    outdated threads (`resolve_outdated_diff_discussions`), the unresolved threads that became
    outdated are resolved, by `actor` (the pusher). Returns how many notes are outdated."""
    nt = noteables.type_of(noteable)
    qs = notes_of(nt, noteable).filter(note_type=NoteType.DIFF)
    outdated = [n for n in qs if not position_is_current(n, head_sha)]
    project = nt.project_of(noteable)
    if outdated and nt.resolvable and project.resolve_outdated_diff_discussions:
        discussions = {n.discussion_id for n in outdated if n.resolvable and n.resolved_at is None}
        if discussions:
            notes_of(nt, noteable).filter(
                discussion_id__in=discussions, resolvable=True, resolved_at__isnull=True
            ).update(
                resolved_at=timezone.now(),
                resolved_by=actor.user if actor is not None else None,
            )
    return len(outdated)


def update_diff_note_position(*, note: Note, position: dict[str, Any]) -> Note:
    """Move a diff note to `position` in a newer version of its merge request (a push left
    its line alone; see `kiln.merge_requests.positions.trace`). `original_position` keeps
    where it was written; `line_code` follows the new lines. No authorization: called by the
    push refresh. Inside the caller's transaction."""
    if note.note_type != NoteType.DIFF:
        raise ValueError("only diff notes have a position")
    note.position = dict(position)
    if note.original_position is None:
        note.original_position = note.position
    note.line_code = _line_code(note.position)
    Note.objects.filter(pk=note.pk).update(
        position=note.position,
        original_position=note.original_position,
        line_code=note.line_code,
    )
    return note


def position_is_current(note: Note, head_sha: str) -> bool:
    position = note.position or {}
    return str(position.get("head_sha") or "") == head_sha


def delete_noteable_notes(*, noteable: Any) -> None:
    """Everything notes keep about a noteable being deleted: its notes, their award emoji,
    the noteable's award emoji, todos and subscriptions. No authorization (the caller is
    deleting the noteable); call inside the caller's transaction."""
    from kiln.notes.models import AwardEmoji, Subscription, Todo

    nt = noteables.type_of(noteable)
    noteable_id = nt.id_of(noteable)
    notes = notes_of(nt, noteable)
    AwardEmoji.objects.filter(awardable_type="Note", awardable_id__in=notes.values("pk")).delete()
    notes.delete()
    if noteable_id is None:
        return
    AwardEmoji.objects.filter(awardable_type=nt.name, awardable_id=noteable_id).delete()
    Todo.objects.filter(target_type=nt.name, target_id=noteable_id).delete()
    Subscription.objects.filter(subscribable_type=nt.name, subscribable_id=noteable_id).delete()


def cached_body_html(note: Note) -> str:
    """The viewer-independent HTML of a note, refreshed when `RENDERER_VERSION` changed."""
    if note.cached_markdown_version != markdown.RENDERER_VERSION:
        _render(note)
        Note.objects.filter(pk=note.pk).update(
            body_html=note.body_html, cached_markdown_version=note.cached_markdown_version
        )
    return note.body_html
