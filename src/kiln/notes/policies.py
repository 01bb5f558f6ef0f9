"""Who may read, edit and resolve notes.

- read_note: the actor may read the noteable; an internal note also needs Planner or more in
  the project (or admin), as GitLab's `read_internal_note`.
- admin_note (edit, delete): the author, or a Maintainer or more; never a system note.
- resolve_note: whatever the noteable type says (`resolve_action` on the noteable).
Commits as noteables follow the project's code access.
"""

from __future__ import annotations

from kiln.core import policy
from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.notes import noteables
from kiln.notes.models import Note
from kiln.notes.noteables import CommitNoteable
from kiln.projects.access import project_access_level
from kiln.projects.models import Project

INTERNAL_NOTE_LEVEL = AccessLevel.PLANNER


def can_read_internal_notes(actor: Actor, project: Project) -> bool:
    if actor.user is None:
        return False
    return actor.is_admin or project_access_level(actor, project) >= INTERNAL_NOTE_LEVEL


def note_rule(actor: Actor, action: str, note: Note) -> bool:
    noteable = getattr(note, "noteable", None)
    if noteable is None:
        return False
    nt = noteables.type_of(noteable)
    if not policy.can(actor, nt.read_action, noteable):
        return False
    project = nt.project_of(noteable)
    if note.internal and not can_read_internal_notes(actor, project):
        return False
    if action == "read_note":
        return True
    if actor.user is None:
        return False
    if action == "admin_note":
        if note.system or project.archived:
            return False
        if note.author_id == actor.user.pk or actor.is_admin:
            return True
        return project_access_level(actor, project) >= AccessLevel.MAINTAINER
    if action == "resolve_note":
        return note.resolvable and policy.can(actor, nt.resolve_action, noteable)
    if action == "award_emoji":
        return policy.can(actor, "create_note", noteable)
    raise LookupError(f"unknown note action {action!r}")


def commit_rule(actor: Actor, action: str, commit: CommitNoteable) -> bool:
    project = commit.project
    if action in ("read_code", "read_commit", "read_note"):
        return policy.can(actor, "read_code", project)
    if action == "create_note":
        return policy.can(actor, "read_code", project) and policy.can(actor, "create_note", project)
    if action in ("resolve_note", "admin_issue", "update_issue"):
        return False
    raise LookupError(f"unknown commit action {action!r}")


policy.register(Note, note_rule)
policy.register(CommitNoteable, commit_rule)
