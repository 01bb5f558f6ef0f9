"""Commits as noteables: `/projects/:id/repository/commits/:sha/comments|discussions`."""

from __future__ import annotations

from django.db.models import Q

from kiln.core.actor import Actor
from kiln.core.policy import can
from kiln.events.queries import register_subject_visibility
from kiln.notes import noteables
from kiln.notes.noteables import CommitNoteable
from kiln.projects.models import Project


def find_commit_noteable(actor: Actor, project: Project, sha: str) -> CommitNoteable | None:
    """The commit as a noteable when the actor may read the project's code and it exists."""
    if not can(actor, "read_code", project) or project.empty_repo:
        return None
    from kiln.repositories.queries import find_commit

    commit = find_commit(project, sha)
    if commit is None:
        return None
    return CommitNoteable(project=project, sha=commit.id, title=commit.title)


def _commit_events_rule(actor: Actor) -> Q:
    """Comments on commits are as visible as the project's code."""
    from kiln.events.queries import code_readable_projects_q

    return Q(project_id__in=Project.objects.filter(code_readable_projects_q(actor)).values("pk"))


register_subject_visibility("Commit", _commit_events_rule)

COMMIT = noteables.register(
    noteables.NoteableType(
        name="Commit",
        model=CommitNoteable,
        route="repository/commits",
        project_of=lambda commit: commit.project,
        find=find_commit_noteable,
        id_of=lambda commit: None,
        iid_of=lambda commit: None,
        title_of=lambda commit: commit.title,
        read_action="read_code",
        update_action="read_code",
        admin_action="admin_issue",
    )
)
