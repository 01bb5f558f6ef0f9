"""Writes of issues: create, update (state, metadata), delete, mentions and cross references.
Moving is `kiln.issues.moving`'s, links `kiln.issues.links`', and closing the issues that a
commit or merge request says it closes `kiln.issues.closing`'s; they share the steps here
(`mark_closed`, `notify_issue_hooks`, `issue_reference`, ...).

Each service authorizes (403 when the actor can see the issue but may not do this), validates
with GitLab's messages, changes everything in one transaction, and records what changed as
GitLab does: system notes, resource label/milestone/state events, activity events, todos.
Metadata (labels, milestone, assignees, due date, locking) from an actor without planning
rights is dropped silently, as GitLab's `filter_params` does.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from kiln import markdown
from kiln.core.actor import Actor
from kiln.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from kiln.core.policy import can
from kiln.events.models import EventAction
from kiln.events.services import record_event
from kiln.issues import iids, observers
from kiln.issues.models import (
    DESCRIPTION_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Issue,
    IssueAssignee,
    IssueState,
)
from kiln.issues.policies import can_set_metadata, issues_available
from kiln.issues.state_events import record_state_event
from kiln.labels.events import record_label_changes
from kiln.labels.models import Label
from kiln.labels.services import find_or_create_labels, labels_by_ids
from kiln.milestones.events import record_milestone_change
from kiln.milestones.models import Milestone
from kiln.milestones.queries import milestone_available
from kiln.notes import quick_actions, subscriptions, todos
from kiln.notes.models import Note, TodoAction
from kiln.notes.services import create_system_note
from kiln.projects.access import project_access_level
from kiln.projects.models import Project


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


def render_description(issue: Issue) -> None:
    """Cache the viewer-independent HTML of the description (references stay text; the API
    renders per viewer when asked, see kiln.issues.references.render_for)."""
    issue.description_html = markdown.render(issue.description) if issue.description else ""
    issue.cached_markdown_version = markdown.RENDERER_VERSION


def _validate(title: str | None, description: str | None) -> None:
    errors: dict[str, list[str]] = {}
    if title is not None:
        if not title.strip():
            errors["title"] = ["can't be blank"]
        elif len(title) > TITLE_MAX_LENGTH:
            errors["title"] = [f"is too long (maximum is {TITLE_MAX_LENGTH} characters)"]
    if description is not None and len(description) > DESCRIPTION_MAX_LENGTH:
        errors["description"] = [f"is too long (maximum is {DESCRIPTION_MAX_LENGTH} characters)"]
    if errors:
        raise ValidationFailed(errors)


def _can_set_iid_or_dates(actor: Actor, project: Project) -> bool:
    """GitLab's `set_issue_iid` / `set_issue_created_at`: admins and project owners."""
    return actor.is_admin or project_access_level(actor, project) >= 50


def valid_assignees(project: Project, ids: Iterable[int]) -> list[int]:
    """Active users who may read the project, in the order given (unknown ids dropped)."""
    wanted = [i for i in dict.fromkeys(ids) if i]
    if not wanted:
        return []
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=wanted)}
    return [
        i
        for i in wanted
        if i in users
        and users[i].is_active
        and can(Actor.for_user(users[i]), "read_project", project)
    ]


def _parse_due_date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed({"due_date": ["is not a valid date"]}) from None


def _label_ref(label: Label) -> str:
    return f"~{label.pk}"


def _milestone_ref(milestone: Milestone) -> str:
    title = milestone.title
    return f'%"{title}"' if " " in title or '"' in title else f"%{title}"


def _user_refs(ids: Sequence[int]) -> str:
    names = dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))
    refs = [f"@{names[i]}" for i in ids if i in names]
    if len(refs) <= 1:
        return "".join(refs)
    return ", ".join(refs[:-1]) + " and " + refs[-1]


def _human_date(value: dt.date) -> str:
    return value.strftime("%B %-d, %Y")


# -- creating ---------------------------------------------------------------------------------


def create_issue(
    *,
    actor: Actor,
    project: Project,
    title: str,
    description: str | None = None,
    assignee_ids: Sequence[int] | None = None,
    milestone_id: int | None = None,
    labels: Sequence[str] | None = None,
    due_date: Any = None,
    confidential: bool | None = None,
    discussion_locked: bool | None = None,
    created_at: dt.datetime | None = None,
    iid: int | None = None,
) -> Issue:
    """`POST /projects/:id/issues`. Quick actions in the description run and are stripped."""
    if actor.user is None:
        raise Forbidden()
    if not issues_available(actor, project) or not can(actor, "create_issue", project):
        raise Forbidden()
    _validate(title, description)
    description = description or ""
    result = quick_actions.run(
        actor=actor, project=project, noteable=None, type_name="Issue", text=description
    )
    description = result.text
    updates = result.updates
    metadata = can_set_metadata(actor, project)
    if not metadata:
        assignee_ids, milestone_id, labels, due_date, discussion_locked = (
            None,
            None,
            None,
            None,
            None,
        )
    label_ids: list[int] = list(updates.get("label_ids") or [])
    label_ids += list(updates.get("add_label_ids") or [])
    if "assignee_ids" in updates:
        assignee_ids = updates["assignee_ids"]
    if updates.get("add_assignee_ids"):
        assignee_ids = [*(assignee_ids or []), *updates["add_assignee_ids"]]
    if "milestone_id" in updates:
        milestone_id = updates["milestone_id"]
    if "due_date" in updates:
        due_date = updates["due_date"]
    if "confidential" in updates:
        confidential = updates["confidential"]
    if "discussion_locked" in updates:
        discussion_locked = updates["discussion_locked"]
    if not _can_set_iid_or_dates(actor, project):
        created_at, iid = None, None
    milestone = milestone_available(project, milestone_id) if milestone_id else None
    now = timezone.now()
    issue = Issue(
        project=project,
        author=actor.user,
        title=title.strip(),
        description=description,
        confidential=bool(confidential),
        discussion_locked=discussion_locked,
        due_date=_parse_due_date(due_date),
        milestone=milestone,
        created_at=created_at or now,
        updated_at=created_at or now,
    )
    render_description(issue)
    try:
        with transaction.atomic():
            if iid is not None:
                if iid <= 0 or Issue.objects.filter(project=project, iid=iid).exists():
                    raise Conflict("Duplicated issue")
                issue.iid = iids.allocate_iid(project, "issues", at_least=iid)
            else:
                issue.iid = iids.allocate_iid(project, "issues")
            issue.save()
            chosen: list[Label] = []
            if labels:
                chosen = find_or_create_labels(actor=actor, project=project, names=labels)
            if label_ids:
                chosen += [lb for lb in labels_by_ids(project, label_ids) if lb not in chosen]
            if chosen:
                issue.labels.set(chosen)
                record_label_changes(
                    actor=actor, issuable_type="Issue", issuable_id=issue.pk, added=chosen
                )
            assignees = valid_assignees(project, assignee_ids or [])
            if assignees:
                IssueAssignee.objects.bulk_create(
                    [IssueAssignee(issue=issue, user_id=u) for u in assignees]
                )
            if milestone is not None:
                record_milestone_change(
                    actor=actor,
                    issuable_type="Issue",
                    issuable_id=issue.pk,
                    old=None,
                    new=milestone,
                )
            record_event(
                actor=actor,
                project=project,
                action=EventAction.CREATED,
                target_type="Issue",
                target_id=issue.pk,
                target_iid=issue.iid,
                target_title=issue.title,
            )
            if assignees:
                todos.create_todos(
                    author=actor,
                    noteable=issue,
                    user_ids=list(assignees),
                    action=TodoAction.ASSIGNED,
                )
            todos.create_mention_todos(
                author=actor, noteable=issue, text=issue.description, skip_user_ids=assignees
            )
            _cross_reference(actor, issue, issue.description)
            _apply_side_updates(actor, issue, updates)
            for callback in result.after:
                callback()
            notify_issue_hooks(actor, issue, "open")
    except IntegrityError:
        raise Conflict("Duplicated issue") from None
    return issue


# -- updating ---------------------------------------------------------------------------------


def update_issue(
    *,
    actor: Actor,
    issue: Issue,
    title: Any = UNSET,
    description: Any = UNSET,
    state_event: str | None = None,
    assignee_ids: Any = UNSET,
    add_assignee_ids: Sequence[int] | None = None,
    remove_assignee_ids: Sequence[int] | None = None,
    milestone_id: Any = UNSET,
    labels: Any = UNSET,
    add_labels: Sequence[str] | None = None,
    remove_labels: Sequence[str] | None = None,
    label_ids: Any = UNSET,
    add_label_ids: Sequence[int] | None = None,
    remove_label_ids: Sequence[int] | None = None,
    due_date: Any = UNSET,
    confidential: Any = UNSET,
    discussion_locked: Any = UNSET,
    updated_at: dt.datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> Issue:
    """`PUT /projects/:id/issues/:iid` (and what quick actions decided).

    `labels` replaces the labels by title (missing titles become labels when the actor may
    manage them); `add_labels`/`remove_labels` change them; the `*_ids` forms are for quick
    actions. `milestone_id` 0 or None removes the milestone.
    """
    if not can(actor, "update_issue", issue):
        raise Forbidden()
    project = issue.project
    if title is not UNSET:
        _validate(title if title is not None else "", None)
    if description is not UNSET:
        _validate(None, description or "")
    side: dict[str, Any] = dict(extra or {})
    after: list[Any] = []
    if description is not UNSET and description:
        result = quick_actions.run(
            actor=actor, project=project, noteable=issue, type_name="Issue", text=description
        )
        description = result.text
        after = result.after
        for key, value in result.updates.items():
            if key == "state_event" and state_event is None:
                state_event = value
            elif key == "title" and title is UNSET:
                title = value
            elif key == "add_label_ids":
                add_label_ids = [*(add_label_ids or []), *value]
            elif key == "remove_label_ids":
                remove_label_ids = [*(remove_label_ids or []), *value]
            elif key == "label_ids":
                label_ids = value
            elif key == "assignee_ids":
                assignee_ids = value
            elif key == "add_assignee_ids":
                add_assignee_ids = [*(add_assignee_ids or []), *value]
            elif key == "remove_assignee_ids":
                remove_assignee_ids = [*(remove_assignee_ids or []), *value]
            elif key == "milestone_id":
                milestone_id = value
            elif key == "due_date":
                due_date = value
            elif key == "confidential":
                confidential = value
            elif key == "discussion_locked":
                discussion_locked = value
            else:
                side[key] = value
    metadata = can_set_metadata(actor, project)
    with transaction.atomic():
        issue = (
            Issue.objects.select_for_update(of=("self",))
            .select_related("milestone")
            .get(pk=issue.pk)
        )
        issue.project = project
        now = updated_at if updated_at and _can_set_iid_or_dates(actor, project) else timezone.now()
        changed: list[str] = []
        if title is not UNSET and title is not None and title.strip() != issue.title:
            old = issue.title
            issue.title = title.strip()
            changed.append("title")
            create_system_note(
                actor=actor,
                noteable=issue,
                action="title",
                body=f"changed title from **{old}** to **{issue.title}**",
            )
        if description is not UNSET and (description or "") != issue.description:
            old_description = issue.description
            issue.description = description or ""
            render_description(issue)
            issue.last_edited_at, issue.last_edited_by = now, actor.user
            changed.append("description")
            create_system_note(
                actor=actor, noteable=issue, action="description", body="changed the description"
            )
            _new_mentions(actor, issue, old_description)
            _cross_reference(actor, issue, issue.description, previous=old_description)
        if metadata:
            _update_labels(
                actor,
                issue,
                labels,
                add_labels,
                remove_labels,
                label_ids,
                add_label_ids,
                remove_label_ids,
                changed,
            )
            _update_assignees(
                actor, issue, assignee_ids, add_assignee_ids, remove_assignee_ids, changed
            )
            _update_milestone(actor, issue, milestone_id, changed)
            if due_date is not UNSET:
                _update_due_date(actor, issue, due_date, changed)
            if (
                discussion_locked is not UNSET
                and discussion_locked is not None
                and bool(discussion_locked) != bool(issue.discussion_locked)
            ):
                issue.discussion_locked = bool(discussion_locked)
                changed.append("discussion_locked")
                verb = "locked" if issue.discussion_locked else "unlocked"
                create_system_note(
                    actor=actor,
                    noteable=issue,
                    action=verb,
                    body=f"{verb} the discussion in this issue",
                )
        if (
            confidential is not UNSET
            and confidential is not None
            and metadata
            and bool(confidential) != issue.confidential
        ):
            issue.confidential = bool(confidential)
            changed.append("confidential")
            if issue.confidential:
                create_system_note(
                    actor=actor,
                    noteable=issue,
                    action="confidential",
                    body="made the issue confidential",
                )
            else:
                create_system_note(
                    actor=actor,
                    noteable=issue,
                    action="visible",
                    body="made the issue visible to everyone",
                )
        if state_event == "close" and issue.state == IssueState.OPENED:
            mark_closed(actor, issue, now)
            changed.append("state")
        elif state_event == "reopen" and issue.state == IssueState.CLOSED:
            _reopen(actor, issue, now)
            changed.append("state")
        if changed:
            issue.updated_at = now
            issue.updated_by = actor.user
            issue.save()
            if actor.user is not None:
                todos.mark_target_done(user_id=actor.user.pk, noteable=issue)
        _apply_side_updates(actor, issue, side)
        for callback in after:
            callback()
        if changed:
            action = "update"
            if "state" in changed:
                action = "close" if issue.state == IssueState.CLOSED else "reopen"
            notify_issue_hooks(actor, issue, action)
    return issue


def _update_labels(
    actor: Actor,
    issue: Issue,
    labels: Any,
    add_labels: Sequence[str] | None,
    remove_labels: Sequence[str] | None,
    label_ids: Any,
    add_label_ids: Sequence[int] | None,
    remove_label_ids: Sequence[int] | None,
    changed: list[str],
) -> None:
    project = issue.project
    if (
        labels is UNSET
        and label_ids is UNSET
        and not add_labels
        and not remove_labels
        and not add_label_ids
        and not remove_label_ids
    ):
        return
    current = list(issue.labels.all())
    target = {lb.pk: lb for lb in current}
    if labels is not UNSET:
        names = list(labels or [])
        target = {
            lb.pk: lb for lb in find_or_create_labels(actor=actor, project=project, names=names)
        }
    if label_ids is not UNSET:
        target = {lb.pk: lb for lb in labels_by_ids(project, label_ids or [])}
    if add_labels:
        for lb in find_or_create_labels(actor=actor, project=project, names=add_labels):
            target[lb.pk] = lb
    if add_label_ids:
        for lb in labels_by_ids(project, add_label_ids):
            target[lb.pk] = lb
    if remove_labels:
        removed_titles = set(remove_labels)
        target = {k: v for k, v in target.items() if v.title not in removed_titles}
    if remove_label_ids:
        drop = set(remove_label_ids)
        target = {k: v for k, v in target.items() if k not in drop}
    before = {lb.pk for lb in current}
    added = [lb for k, lb in target.items() if k not in before]
    removed = [lb for lb in current if lb.pk not in target]
    if not added and not removed:
        return
    issue.labels.set(list(target.values()))
    changed.append("labels")
    record_label_changes(
        actor=actor, issuable_type="Issue", issuable_id=issue.pk, added=added, removed=removed
    )
    create_system_note(
        actor=actor, noteable=issue, action="label", body=label_change_text(added, removed)
    )


def label_change_text(added: Sequence[Label], removed: Sequence[Label]) -> str:
    """GitLab's label system note: "added ~1 ~2 labels and removed ~3 label"."""
    parts = []
    if added:
        refs = " ".join(_label_ref(lb) for lb in added)
        parts.append(f"added {refs} label{'s' if len(added) > 1 else ''}")
    if removed:
        refs = " ".join(_label_ref(lb) for lb in removed)
        parts.append(f"removed {refs} label{'s' if len(removed) > 1 else ''}")
    return " and ".join(parts)


def _update_assignees(
    actor: Actor,
    issue: Issue,
    assignee_ids: Any,
    add_ids: Sequence[int] | None,
    remove_ids: Sequence[int] | None,
    changed: list[str],
) -> None:
    if assignee_ids is UNSET and not add_ids and not remove_ids:
        return
    current = list(
        IssueAssignee.objects.filter(issue=issue).order_by("id").values_list("user_id", flat=True)
    )
    target = list(current)
    if assignee_ids is not UNSET:
        target = [i for i in (assignee_ids or []) if i]
    if add_ids:
        target += [i for i in add_ids if i not in target]
    if remove_ids:
        target = [i for i in target if i not in set(remove_ids)]
    target = [i for i in target if i in current] + valid_assignees(
        issue.project, [i for i in target if i not in current]
    )
    added = [i for i in target if i not in current]
    removed = [i for i in current if i not in target]
    if not added and not removed:
        return
    IssueAssignee.objects.filter(issue=issue, user_id__in=removed).delete()
    IssueAssignee.objects.bulk_create([IssueAssignee(issue=issue, user_id=u) for u in added])
    changed.append("assignees")
    observers.notify_after_commit(
        issue, "reassign", actor, {"previous": list(current), "current": list(target)}
    )
    parts = []
    if added:
        parts.append(f"assigned to {_user_refs(added)}")
    if removed:
        parts.append(f"unassigned {_user_refs(removed)}")
    create_system_note(actor=actor, noteable=issue, action="assignee", body=" and ".join(parts))
    if added:
        todos.create_todos(author=actor, noteable=issue, user_ids=added, action=TodoAction.ASSIGNED)


def _update_milestone(actor: Actor, issue: Issue, milestone_id: Any, changed: list[str]) -> None:
    if milestone_id is UNSET:
        return
    old = issue.milestone
    new = milestone_available(issue.project, int(milestone_id)) if milestone_id else None
    if milestone_id and new is None:
        return  # not a milestone this project may use: ignored, as GitLab ignores it
    if (old.pk if old else None) == (new.pk if new else None):
        return
    issue.milestone = new
    changed.append("milestone")
    record_milestone_change(
        actor=actor, issuable_type="Issue", issuable_id=issue.pk, old=old, new=new
    )
    if new is not None:
        body = f"changed milestone to {_milestone_ref(new)}"
    else:
        assert old is not None
        body = f"removed milestone {_milestone_ref(old)}"
    create_system_note(actor=actor, noteable=issue, action="milestone", body=body)


def _update_due_date(actor: Actor, issue: Issue, value: Any, changed: list[str]) -> None:
    new = _parse_due_date(value)
    if new == issue.due_date:
        return
    old = issue.due_date
    issue.due_date = new
    changed.append("due_date")
    if new is not None:
        body = f"changed due date to {_human_date(new)}"
    else:
        assert old is not None
        body = f"removed due date {_human_date(old)}"
    create_system_note(actor=actor, noteable=issue, action="due_date", body=body)


def mark_closed(
    actor: Actor,
    issue: Issue,
    now: dt.datetime,
    *,
    body: str = "closed",
    source_commit: str = "",
    source_merge_request_id: int | None = None,
) -> None:
    """Close `issue` (the caller authorized it and saves the issue): its state, the state event,
    the system note (`body`) and the activity event."""
    issue.state = IssueState.CLOSED
    issue.closed_at = now
    issue.closed_by = actor.user
    record_state_event(
        actor=actor,
        issuable_type="Issue",
        issuable_id=issue.pk,
        state="closed",
        source_commit=source_commit,
        source_merge_request_id=source_merge_request_id,
    )
    create_system_note(actor=actor, noteable=issue, action="closed", body=body)
    record_event(
        actor=actor,
        project=issue.project,
        action=EventAction.CLOSED,
        target_type="Issue",
        target_id=issue.pk,
        target_iid=issue.iid,
        target_title=issue.title,
    )


def _reopen(actor: Actor, issue: Issue, now: dt.datetime) -> None:
    issue.state = IssueState.OPENED
    issue.closed_at = None
    issue.closed_by = None
    record_state_event(actor=actor, issuable_type="Issue", issuable_id=issue.pk, state="reopened")
    create_system_note(actor=actor, noteable=issue, action="opened", body="reopened")
    record_event(
        actor=actor,
        project=issue.project,
        action=EventAction.REOPENED,
        target_type="Issue",
        target_id=issue.pk,
        target_iid=issue.iid,
        target_title=issue.title,
    )


def _apply_side_updates(actor: Actor, issue: Issue, updates: dict[str, Any]) -> None:
    """Quick-action effects that are not issue fields: todos, subscriptions, awards."""
    from kiln.notes.awards import toggle_award

    if updates.get("todo_event") == "add":
        todos.mark_todo(actor=actor, noteable=issue)
    elif updates.get("todo_event") == "done" and actor.user is not None:
        todos.mark_target_done(user_id=actor.user.pk, noteable=issue)
    if updates.get("subscription_event") in ("subscribe", "unsubscribe"):
        subscriptions.set_subscription(
            actor=actor, noteable=issue, subscribed=updates["subscription_event"] == "subscribe"
        )
    if updates.get("emoji_award"):
        # An unknown emoji is ignored, as GitLab ignores it.
        with contextlib.suppress(NotFound):
            toggle_award(
                actor=actor,
                subject=issue,
                awardable_type="Issue",
                awardable_id=issue.pk,
                name=str(updates["emoji_award"]),
            )


def apply_quick_action_updates(actor: Actor, issue: Issue, updates: Any) -> None:
    """The Issue noteable's `apply_quick_actions`: quick actions of a note on this issue."""
    known = {
        "state_event",
        "title",
        "label_ids",
        "add_label_ids",
        "remove_label_ids",
        "assignee_ids",
        "add_assignee_ids",
        "remove_assignee_ids",
        "milestone_id",
        "due_date",
        "confidential",
        "discussion_locked",
    }
    kwargs = {k: v for k, v in updates.items() if k in known}
    extra = {k: v for k, v in updates.items() if k not in known}
    update_issue(actor=actor, issue=issue, extra=extra, **kwargs)


# -- mentions and cross references -------------------------------------------------------------


def _new_mentions(actor: Actor, issue: Issue, old_text: str) -> None:
    from kiln.notes.mentions import mentioned_user_ids

    before = set(mentioned_user_ids(old_text, project=issue.project))
    now = mentioned_user_ids(issue.description, project=issue.project)
    fresh = [u for u in now if u not in before]
    if fresh:
        observers.notify_after_commit(issue, "mention", actor, {"user_ids": fresh})
        todos.create_mention_todos(
            author=actor,
            noteable=issue,
            text=issue.description,
            skip_user_ids=[u for u in now if u not in fresh],
        )


def issue_reference(issue: Issue, from_project: Project | None) -> str:
    """`#12` in its own project, `group/project#12` elsewhere (GitLab's to_reference)."""
    if from_project is not None and from_project.pk == issue.project_id:
        return f"#{issue.iid}"
    return f"{issue.project.full_path}#{issue.iid}"


def _cross_reference(actor: Actor, issue: Issue, text: str, previous: str = "") -> None:
    """ "mentioned in issue #N" on every other issue `text` newly references."""
    from kiln.issues.references import referenced_issues

    if not text:
        return
    old = (
        {i.pk for i in referenced_issues(actor, previous, project=issue.project)}
        if previous
        else set()
    )
    for target in referenced_issues(actor, text, project=issue.project):
        if target.pk == issue.pk or target.pk in old:
            continue
        create_cross_reference_note(
            actor=actor,
            target=target,
            body=f"mentioned in issue {issue_reference(issue, target.project)}",
            metadata={"type": "Issue", "id": issue.pk},
        )


def create_cross_reference_note(
    *, actor: Actor, target: Issue, body: str, metadata: dict[str, Any]
) -> Note | None:
    """A "mentioned in ..." system note on `target`, once per source."""
    exists = Note.objects.filter(
        noteable_type="Issue",
        noteable_id=target.pk,
        system=True,
        system_action="cross_reference",
        body=body,
    ).exists()
    if exists:
        return None
    return create_system_note(
        actor=actor, noteable=target, body=body, action="cross_reference", metadata=metadata
    )


# -- deleting -------------------------------------------------------------------------------------


def delete_issue(*, actor: Actor, issue: Issue) -> None:
    """`DELETE /projects/:id/issues/:iid`: Owners and admins (403 otherwise)."""
    if not can(actor, "destroy_issue", issue):
        raise Forbidden()
    from kiln.notes.services import delete_noteable_notes

    with transaction.atomic():
        delete_noteable_notes(noteable=issue)
        issue.delete()


# -- webhooks ---------------------------------------------------------------------------------


def notify_issue_hooks(actor: Actor, issue: Issue, action: str) -> None:
    """Issue webhooks after commit (confidential issues go to confidential_issue_hooks), and
    the issue listeners (notifications)."""
    from kiln.issues import hooks

    hooks.issue_hook(actor, issue, action)
    observers.notify_after_commit(issue, action, actor)


def cached_description_html(issue: Issue) -> str:
    """The viewer-independent HTML of the description (references left as text), refreshed
    when `RENDERER_VERSION` changed since it was cached. For per-viewer HTML with links,
    use `kiln.issues.references.render_for`."""
    if issue.cached_markdown_version != markdown.RENDERER_VERSION:
        render_description(issue)
        Issue.objects.filter(pk=issue.pk).update(
            description_html=issue.description_html,
            cached_markdown_version=issue.cached_markdown_version,
        )
    return issue.description_html
