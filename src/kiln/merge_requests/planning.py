"""What merge requests ask of the planning packages (notes, issues, labels, milestones,
events), in one place, so the rest of this package reads as GitLab's services do.

Merge requests sit above those packages in the layers and call their services; they never
write the planning tables themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from kiln.core.actor import Actor
from kiln.events import services as events
from kiln.issues import closing, state_events
from kiln.issues.models import Issue
from kiln.issues.queries import visible_issues_q
from kiln.labels import events as label_events
from kiln.labels import services as labels
from kiln.milestones import events as milestone_events
from kiln.milestones import queries as milestones
from kiln.notes import awards, subscriptions, todos
from kiln.notes.models import TodoAction

if TYPE_CHECKING:
    from kiln.labels.models import Label
    from kiln.merge_requests.models import MergeRequest, MergeRequestDiff
    from kiln.milestones.models import Milestone
    from kiln.projects.models import Project

log = logging.getLogger(__name__)

NOTEABLE_TYPE = "MergeRequest"


def _actor(actor: Actor | None) -> Actor:
    return actor if actor is not None else Actor()


# --- notes --------------------------------------------------------------------------------


def system_note(actor: Actor | None, mr: MergeRequest, body: str, action: str) -> None:
    """A system note on the merge request ("added 2 commits", "merged", ...)."""
    from kiln.notes import services as notes

    notes.create_system_note(actor=_actor(actor), noteable=mr, body=body, action=action)


def discussions_resolved(mr: MergeRequest) -> bool:
    from kiln.notes import queries as notes

    return bool(notes.discussions_resolved(mr))


def user_notes_counts(ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    from kiln.notes import queries as notes

    return dict(notes.user_notes_counts(NOTEABLE_TYPE, ids))


def mark_outdated_diff_notes(mr: MergeRequest, actor: Actor | None = None) -> None:
    from kiln.notes import services as notes

    notes.mark_outdated_diff_notes(noteable=mr, head_sha=mr.diff_head_sha, actor=actor)


def move_diff_notes(mr: MergeRequest, version: MergeRequestDiff) -> int:
    """Move diff notes whose line a push left alone to the new version (the others read as
    outdated); returns how many moved.
    """
    from kiln.merge_requests import positions
    from kiln.notes import noteables
    from kiln.notes import services as notes
    from kiln.notes.models import NoteType

    moved = 0
    diff_notes = notes.notes_of(noteables.type_of(mr), mr).filter(note_type=NoteType.DIFF)
    threads: dict[str, list[Any]] = {}
    for note in diff_notes.order_by("id"):
        threads.setdefault(note.discussion_id, []).append(note)
    # One trace per thread: its replies share the first note's position.
    for thread in threads.values():
        traced = positions.trace(mr, dict(thread[0].position or {}), version)
        if traced is None:
            continue
        for note in thread:
            notes.update_diff_note_position(note=note, position=traced)
            moved += 1
    return moved


def assignment_todos(
    actor: Actor, mr: MergeRequest, user_ids: Iterable[int], *, review: bool = False
) -> None:
    """`assigned` / `review_requested` todos for users given the merge request (not the
    actor, who did it); only those who may read it get one."""
    wanted = [i for i in user_ids if i != actor.user_id]
    if wanted:
        action = TodoAction.REVIEW_REQUESTED if review else TodoAction.ASSIGNED
        todos.create_todos(author=actor, noteable=mr, user_ids=wanted, action=action)


def mention_todos(actor: Actor, mr: MergeRequest, text: str, skip: Iterable[int] = ()) -> None:
    todos.create_mention_todos(author=actor, noteable=mr, text=text, skip_user_ids=list(skip))


def new_mentions(mr: MergeRequest, old_text: str, new_text: str) -> list[int]:
    """Users `new_text` mentions that `old_text` did not."""
    from kiln.notes.mentions import mentioned_user_ids

    before = set(mentioned_user_ids(old_text, project=mr.project))
    return [u for u in mentioned_user_ids(new_text, project=mr.project) if u not in before]


def delete_notes(mr: MergeRequest) -> None:
    """Notes, awards, todos and subscriptions of a merge request being deleted."""
    from kiln.notes import services as notes

    notes.delete_noteable_notes(noteable=mr)


def participant_ids(mr: MergeRequest) -> list[int]:
    return subscriptions.participant_ids(mr)


def is_subscribed(actor: Actor, mr: MergeRequest) -> bool:
    return subscriptions.is_subscribed(actor, mr)


def set_subscription(actor: Actor, mr: MergeRequest, subscribed: bool) -> bool:
    return subscriptions.set_subscription(actor=actor, noteable=mr, subscribed=subscribed)


def vote_counts(ids: list[int]) -> dict[int, tuple[int, int]]:
    return awards.vote_counts(NOTEABLE_TYPE, ids)


# --- issues -------------------------------------------------------------------------------


def closing_texts(mr: MergeRequest) -> list[str]:
    from kiln.merge_requests.diffs import latest_diff

    texts = [mr.title, mr.description]
    version = latest_diff(mr)
    if version is not None:
        texts += [str(c.get("message", "")) for c in version.commits]
    return texts


def _closing_text(mr: MergeRequest) -> str:
    return "\n\n".join(closing_texts(mr))


def closing_issues(actor: Actor, mr: MergeRequest) -> list[Issue]:
    """The issues "Closes #N" in the title, description or commits would close, as far as
    `actor` may see them (GitLab's `visible_closing_issues_for`)."""
    wanted = closing.closing_references(_closing_text(mr), mr.project)
    found: list[Issue] = []
    visible = Issue.objects.filter(visible_issues_q(actor)).select_related(
        "project", "project__namespace", "author", "milestone"
    )
    for project, iid in wanted:
        issue = visible.filter(project=project, iid=iid).first()
        if issue is not None:
            found.append(issue)
    return found


def sync_closing_issues(mr: MergeRequest) -> None:
    """Record which issues the merge request closes (for `merge_requests_count` on issues);
    every issue named, visible or not: readers filter by what they may see."""
    from kiln.merge_requests.models import MergeRequestClosingIssue

    wanted: set[int] = set()
    for project, iid in closing.closing_references(_closing_text(mr), mr.project):
        found = Issue.objects.filter(project=project, iid=iid).values_list("pk", flat=True).first()
        if found is not None:
            wanted.add(found)
    current = set(
        MergeRequestClosingIssue.objects.filter(merge_request=mr).values_list("issue_id", flat=True)
    )
    MergeRequestClosingIssue.objects.filter(
        merge_request=mr, issue_id__in=current - wanted
    ).delete()
    MergeRequestClosingIssue.objects.bulk_create(
        [MergeRequestClosingIssue(merge_request=mr, issue_id=i) for i in wanted - current],
        ignore_conflicts=True,
    )


def close_issues_mentioned(actor: Actor, mr: MergeRequest) -> None:
    """On merge into the default branch: close what the merge request says it closes."""
    if mr.target_branch != mr.project.default_branch:
        return
    closing.close_issues_mentioned(
        actor=actor,
        project=mr.project,
        text=_closing_text(mr),
        merge_request_id=mr.pk,
        merge_request_reference=f"!{mr.iid}",
    )


def record_state_event(actor: Actor | None, mr: MergeRequest, state: str) -> None:
    state_events.record_state_event(
        actor=actor, issuable_type=NOTEABLE_TYPE, issuable_id=mr.pk, state=state
    )


# --- labels and milestones ----------------------------------------------------------------


def find_labels(actor: Actor, project: Project, names: Iterable[str]) -> list[Label]:
    return labels.find_or_create_labels(
        actor=actor, project=project, names=list(names), create=False
    )


def find_or_create_labels(actor: Actor, project: Project, names: Iterable[str]) -> list[Label]:
    """Labels by title; missing ones become project labels for those who may manage them."""
    return labels.find_or_create_labels(actor=actor, project=project, names=list(names))


def labels_by_ids(project: Project, ids: Iterable[int]) -> list[Label]:
    return labels.labels_by_ids(project, [int(i) for i in ids])


def find_milestone(project: Project, milestone_id: int) -> Milestone | None:
    return milestones.milestone_available(project, milestone_id)


def record_label_changes(
    actor: Actor | None, mr: MergeRequest, added: list[Label], removed: list[Label]
) -> None:
    if added or removed:
        label_events.record_label_changes(
            actor=_actor(actor),
            issuable_type=NOTEABLE_TYPE,
            issuable_id=mr.pk,
            added=added,
            removed=removed,
        )


def record_milestone_change(
    actor: Actor | None, mr: MergeRequest, old: Milestone | None, new: Milestone | None
) -> None:
    milestone_events.record_milestone_change(
        actor=_actor(actor), issuable_type=NOTEABLE_TYPE, issuable_id=mr.pk, old=old, new=new
    )


# --- events -------------------------------------------------------------------------------


def record_event(actor: Actor | None, mr: MergeRequest, action: str) -> None:
    events.record_event(
        actor=actor,
        project=mr.project,
        action=action,
        target_type=NOTEABLE_TYPE,
        target_id=mr.pk,
        target_iid=mr.iid,
        target_title=mr.title[:255],
    )
