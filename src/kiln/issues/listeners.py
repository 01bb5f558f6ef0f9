"""What issues plug into the layers below at start-up: the Issue noteable type, the push
listener ("Closes #12" on the default branch, "mentioned in commit"), the note listener
(cross references and note webhooks), the event visibility rule and the label counter."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import QuerySet

from kiln.accounts.models import User
from kiln.core.actor import Actor
from kiln.events.queries import register_subject_visibility
from kiln.issues import queries
from kiln.issues.models import Issue, IssueAssignee
from kiln.labels.queries import register_label_counter
from kiln.notes import noteables
from kiln.notes.models import Note
from kiln.notes.services import register_note_listener
from kiln.projects.models import Project
from kiln.repositories.models import Push
from kiln.repositories.services import register_push_listener

log = logging.getLogger(__name__)


def _find(actor: Actor, project: Project, ref: str) -> Issue | None:
    return queries.find_issue_for(actor, project, ref)


def _participants(issue: Issue) -> Iterable[int]:
    ids = [issue.author_id] if issue.author_id else []
    ids += list(
        IssueAssignee.objects.filter(issue=issue).order_by("id").values_list("user_id", flat=True)
    )
    return ids


def _apply(actor: Actor, issue: Issue, updates: Mapping[str, Any]) -> None:
    from kiln.issues.services import apply_quick_action_updates

    apply_quick_action_updates(actor, issue, updates)


def _visible_ids(actor: Actor) -> QuerySet[Any]:
    return queries.visible_issue_ids(actor)


ISSUE = noteables.register(
    noteables.NoteableType(
        name="Issue",
        model=Issue,
        route="issues",
        project_of=lambda issue: issue.project,
        find=_find,
        id_of=lambda issue: issue.pk,
        iid_of=lambda issue: issue.iid,
        title_of=lambda issue: issue.title,
        read_action="read_issue",
        update_action="update_issue",
        admin_action="admin_issue",
        visible_ids=_visible_ids,
        locked=lambda issue: bool(issue.discussion_locked),
        apply_quick_actions=_apply,
        participants=_participants,
    )
)


def _issue_events_rule(actor: Actor) -> Any:
    from django.db.models import Q

    return Q(subject_id__in=queries.visible_issue_ids(actor))


register_subject_visibility("Issue", _issue_events_rule)
register_label_counter(queries.label_issue_counts)


def on_pushes(pushes: list[Push]) -> None:
    """After a push commits: "mentioned in commit" on referenced issues for every branch,
    and closing the issues a commit closes when the push is to the default branch."""
    from kiln.issues.closing import close_issues_mentioned, cross_reference_from_commit

    for push in pushes:
        if not push.is_branch or not push.commits or push.author_id is None:
            continue
        project = Project.objects.select_related("namespace").filter(pk=push.project_id).first()
        author = User.objects.filter(pk=push.author_id).first()
        if project is None or author is None:
            continue
        actor = Actor.for_user(author)
        default = push.ref_name == project.default_branch
        # Oldest first, as GitLab processes a push's commits.
        for commit in reversed(push.commits):
            message = str(commit.get("message") or "")
            sha = str(commit.get("id") or "")
            if not message or not sha:
                continue
            try:
                cross_reference_from_commit(
                    actor=actor, project=project, commit_sha=sha, message=message
                )
                if default:
                    close_issues_mentioned(
                        actor=actor, project=project, text=message, commit_sha=sha
                    )
            except Exception:  # one bad commit must not stop the others
                log.exception("processing a pushed commit failed", extra={"sha": sha})


register_push_listener(on_pushes)


def on_note(actor: Actor, note: Note, noteable: Any) -> None:
    """Cross references from a comment, and note webhooks for comments on issues."""
    from kiln.issues import hooks
    from kiln.issues.references import referenced_issues
    from kiln.issues.services import create_cross_reference_note, issue_reference

    if note.system:
        return
    project = note.project
    if isinstance(noteable, Issue):
        hooks.note_hook(actor, note, noteable)
        for target in referenced_issues(actor, note.body, project=project):
            if target.pk == noteable.pk:
                continue
            create_cross_reference_note(
                actor=actor,
                target=target,
                body=f"mentioned in issue {issue_reference(noteable, target.project)}",
                metadata={"type": "Issue", "id": noteable.pk},
            )


register_note_listener(on_note)


def _register_hook_samples() -> None:
    from kiln.issues.hooks import register_samples

    register_samples()


_register_hook_samples()
