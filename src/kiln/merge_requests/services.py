"""Writes of merge requests: create, update (with close and reopen), delete.

As GitLab's MergeRequests::CreateService, UpdateService, CloseService and ReopenService. Each
service authorizes (403, or 404 for what the actor may not see), then validates with GitLab's
messages, changes what it must inside one transaction and leaves side effects (mergeability
checks, listeners) to run after the commit. What a push does to the merge requests of its
branches (RefreshService) is in `kiln.merge_requests.pushes`; merging and rebasing in
`kiln.merge_requests.merging`; approvals in `kiln.merge_requests.approvals`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from kiln.accounts.models import User, UserState
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, ValidationFailed
from kiln.core.policy import can
from kiln.gitstore import InvalidArgument, validate_branch_name
from kiln.merge_requests import diffs, hooks, planning
from kiln.merge_requests.errors import MergeRequestConflict, MergeRequestInvalid
from kiln.merge_requests.models import (
    DESCRIPTION_MAX,
    TITLE_MAX,
    MergeRequest,
    MergeRequestAssignee,
    MergeRequestIidCounter,
    MergeRequestLabel,
    MergeRequestReviewer,
    MergeRequestState,
    MergeStatus,
    draftless_title,
    is_draft_title,
)
from kiln.merge_requests.policies import can_read_merge_requests
from kiln.projects.models import Project
from kiln.repositories.storage import repo_path, store

log = logging.getLogger(__name__)

MAX_ASSIGNEES = 200
MAX_REVIEWERS = 200


# --- small helpers ------------------------------------------------------------------------


def _branch_head(project: Project, name: str) -> str | None:
    """The commit a branch points at, or None (an invalid name names no branch)."""
    try:
        validate_branch_name(name)
    except InvalidArgument:
        return None
    branch = store().find_branch(relative_path=repo_path(project), name=name)
    return branch.commit.id if branch is not None else None


def _validate_text(title: str | None, description: str | None) -> None:
    errors: dict[str, list[str]] = {}
    if title is not None:
        if not title.strip():
            errors["title"] = ["can't be blank"]
        elif len(title) > TITLE_MAX:
            errors["title"] = [f"is too long (maximum is {TITLE_MAX} characters)"]
    if description is not None and len(description) > DESCRIPTION_MAX:
        errors["description"] = [f"is too long (maximum is {DESCRIPTION_MAX} characters)"]
    if errors:
        raise ValidationFailed(errors)


def _next_iid(project: Project) -> int:
    """Take the next iid of the project; the counter row stays locked until commit."""
    MergeRequestIidCounter.objects.get_or_create(project=project)
    counter = MergeRequestIidCounter.objects.select_for_update().get(project=project)
    if counter.last_value == 0:
        # A project whose counter was lost (restored database) continues after its rows.
        highest = (
            MergeRequest.objects.filter(project=project)
            .order_by("-iid")
            .values_list("iid", flat=True)
            .first()
        )
        counter.last_value = highest or 0
    counter.last_value += 1
    counter.save(update_fields=["last_value"])
    return counter.last_value


def _users_who_may_read(project: Project, ids: Iterable[int], limit: int, name: str) -> list[User]:
    wanted = list(dict.fromkeys(i for i in ids if i and i > 0))
    if len(wanted) > limit:
        raise ValidationFailed({name: [f"total must be less than or equal to {limit}"]})
    return users_who_may_read(project, wanted)


def users_who_may_read(project: Project, ids: Iterable[int]) -> list[User]:
    """Active users among `ids` who may read the project's merge requests, in the given order:
    who may be an assignee or reviewer (GitLab drops the others silently)."""
    wanted = list(dict.fromkeys(i for i in ids if i and i > 0))
    if not wanted:
        return []
    users = {u.pk: u for u in User.objects.filter(pk__in=wanted, state=UserState.ACTIVE)}
    return [
        users[i]
        for i in wanted
        if i in users and can_read_merge_requests(Actor(user=users[i]), project)
    ]


def _names(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return list(dict.fromkeys(item.strip() for item in items if item and item.strip()))


def _mention(users: Iterable[User]) -> str:
    return ", ".join(f"@{u.username}" for u in users)


def _enqueue_check(mr: MergeRequest) -> None:
    from kiln.merge_requests.tasks import check_merge_request_mergeability

    mr_id = mr.pk

    def enqueue() -> None:
        try:
            check_merge_request_mergeability.enqueue(mr_id)
        except Exception:  # noqa: BLE001 (a queue outage must not fail the write; reads recheck)
            log.warning("could not schedule a mergeability check", extra={"mr": mr_id})

    transaction.on_commit(enqueue)


def mark_unchecked(mr: MergeRequest) -> None:
    """Forget the stored mergeability (a branch moved) and check again in the background."""
    MergeRequest.objects.filter(pk=mr.pk).update(merge_status=MergeStatus.UNCHECKED)
    mr.merge_status = MergeStatus.UNCHECKED
    _enqueue_check(mr)


# --- create -------------------------------------------------------------------------------


def create_merge_request(
    *,
    actor: Actor,
    project: Project,
    title: str,
    source_branch: str,
    target_branch: str,
    description: str | None = None,
    assignee_ids: Sequence[int] | None = None,
    reviewer_ids: Sequence[int] | None = None,
    labels: str | Sequence[str] | None = None,
    milestone_id: int | None = None,
    remove_source_branch: bool | None = None,
    squash: bool | None = None,
    allow_collaboration: bool | None = None,
    target_project_id: int | None = None,
) -> MergeRequest:
    """POST /projects/:id/merge_requests (GitLab's CreateService and BuildService).

    403 unless the actor may create merge requests here; title and description checked
    (400); both branches must exist and differ (422); one open merge request per source and
    target (409). Assignees, reviewers, labels and milestone are kept only when the actor may
    set them; quick actions in the description run as the actor.
    """
    if not can(actor, "create_merge_request", project) or not can_read_merge_requests(
        actor, project
    ):
        raise Forbidden()
    if target_project_id is not None and target_project_id != project.pk:
        raise MergeRequestInvalid("Source project is not a fork of the target project")
    _validate_text(title, description)
    errors = []
    if not source_branch or not target_branch:
        errors.append("You must select source and target branch")
    elif source_branch == target_branch:
        errors.append("You must select different branches")
    source_head = _branch_head(project, source_branch) if source_branch else None
    target_head = _branch_head(project, target_branch) if target_branch else None
    if source_branch and source_head is None:
        errors.append(f'Source branch "{source_branch}" does not exist')
    if target_branch and target_head is None:
        errors.append(f'Target branch "{target_branch}" does not exist')
    if errors:
        raise MergeRequestInvalid(*errors)
    assert source_head is not None
    assert target_head is not None

    from kiln.notes import quick_actions

    text = description or ""
    commands = quick_actions.run(
        actor=actor, project=project, noteable=None, type_name="MergeRequest", text=text
    )
    may_admin = _level_at_least_reporter(actor, project)
    assignees = (
        _users_who_may_read(project, assignee_ids or (), MAX_ASSIGNEES, "assignees")
        if may_admin
        else []
    )
    reviewers = (
        _users_who_may_read(project, reviewer_ids or (), MAX_REVIEWERS, "reviewers")
        if may_admin
        else []
    )
    label_rows = planning.find_or_create_labels(actor, project, _names(labels)) if may_admin else []
    milestone = (
        planning.find_milestone(project, milestone_id) if may_admin and milestone_id else None
    )
    if remove_source_branch is None:
        remove_source_branch = project.remove_source_branch_after_merge
    if squash is None or project.squash_option in ("always", "never"):
        squash = project.squash_option in ("always", "default_on")

    with transaction.atomic():
        existing = (
            MergeRequest.objects.filter(
                project=project,
                source_branch=source_branch,
                target_branch=target_branch,
                state__in=(MergeRequestState.OPENED, MergeRequestState.LOCKED),
            )
            .values_list("iid", flat=True)
            .first()
        )
        if existing is not None:
            raise MergeRequestConflict(
                f"Another open merge request already exists for this source branch: !{existing}"
            )
        now = timezone.now()
        mr = MergeRequest.objects.create(
            project=project,
            source_project=project,
            iid=_next_iid(project),
            title=title,
            description=commands.text,
            author=actor.user,
            draft=is_draft_title(title),
            source_branch=source_branch,
            target_branch=target_branch,
            force_remove_source_branch=remove_source_branch,
            squash=bool(squash),
            allow_collaboration=bool(allow_collaboration),
            milestone=milestone,
            created_at=now,
            updated_at=now,
        )
        MergeRequestAssignee.objects.bulk_create(
            [MergeRequestAssignee(merge_request=mr, user=u) for u in assignees]
        )
        MergeRequestReviewer.objects.bulk_create(
            [MergeRequestReviewer(merge_request=mr, user=u) for u in reviewers]
        )
        MergeRequestLabel.objects.bulk_create(
            [MergeRequestLabel(merge_request=mr, label=label) for label in label_rows]
        )
        if label_rows:
            planning.record_label_changes(actor, mr, label_rows, [])
        if milestone is not None:
            planning.record_milestone_change(actor, mr, None, milestone)
        if commands.updates:
            apply_changes(actor=actor, mr=mr, changes=commands.updates, notify=False)
        for callback in commands.after:
            callback()
        planning.record_event(actor, mr, "created")
        planning.assignment_todos(actor, mr, [u.pk for u in assignees])
        planning.assignment_todos(actor, mr, [u.pk for u in reviewers], review=True)
        planning.mention_todos(actor, mr, mr.description, skip=[u.pk for u in assignees])
    diffs.create_diff_version(mr, source_head=source_head, target_head=target_head)
    with transaction.atomic():
        MergeRequest.objects.filter(pk=mr.pk).update(prepared_at=timezone.now())
        planning.sync_closing_issues(mr)
        _enqueue_check(mr)
        # GitLab's AfterCreateService: the hook goes out once the diff is there.
        hooks.notify_after_commit(mr, "open", actor)
    mr.refresh_from_db()
    return mr


def _level_at_least_reporter(actor: Actor, project: Project) -> bool:
    from kiln.core.access import AccessLevel
    from kiln.projects.access import project_access_level

    return actor.is_admin or project_access_level(actor, project) >= AccessLevel.REPORTER


# --- update -------------------------------------------------------------------------------

# Keys an update may carry (the API's and the quick actions' names).
UPDATE_KEYS = frozenset(
    {
        "title",
        "description",
        "target_branch",
        "state_event",
        "discussion_locked",
        "assignee_ids",
        "add_assignee_ids",
        "remove_assignee_ids",
        "reviewer_ids",
        "add_reviewer_ids",
        "remove_reviewer_ids",
        "labels",
        "add_labels",
        "remove_labels",
        "label_ids",
        "add_label_ids",
        "remove_label_ids",
        "milestone_id",
        "remove_source_branch",
        "squash",
        "allow_collaboration",
        "wip_event",
    }
)
_METADATA = frozenset(
    {
        "assignee_ids",
        "add_assignee_ids",
        "remove_assignee_ids",
        "reviewer_ids",
        "add_reviewer_ids",
        "remove_reviewer_ids",
        "labels",
        "add_labels",
        "remove_labels",
        "label_ids",
        "add_label_ids",
        "remove_label_ids",
        "milestone_id",
        "discussion_locked",
    }
)


def update_merge_request(
    *, actor: Actor, mr: MergeRequest, changes: dict[str, Any]
) -> MergeRequest:
    """PUT /projects/:id/merge_requests/:iid (GitLab's UpdateService).

    403 unless the actor may update it. Metadata (assignees, reviewers, labels, milestone,
    lock) is changed only by those who may administer merge requests, and silently ignored
    otherwise, as GitLab filters it. Quick actions in a new description run as the actor.
    """
    if not can(actor, "update_merge_request", mr):
        raise Forbidden()
    _validate_text(changes.get("title"), changes.get("description"))
    with transaction.atomic():
        locked = MergeRequest.objects.select_for_update().get(pk=mr.pk)
        _copy_into(mr, locked)
        after: list[Any] = []
        if changes.get("description") is not None:
            from kiln.notes import quick_actions

            result = quick_actions.run(
                actor=actor,
                project=mr.project,
                noteable=mr,
                type_name="MergeRequest",
                text=changes["description"],
            )
            changes = {**result.updates, **changes, "description": result.text}
            after = list(result.after)
        apply_changes(actor=actor, mr=mr, changes=changes)
        for callback in after:
            callback()
    mr.refresh_from_db()
    return mr


def _copy_into(target: MergeRequest, source: MergeRequest) -> None:
    for f in MergeRequest._meta.concrete_fields:
        setattr(target, f.attname, getattr(source, f.attname))


def apply_quick_actions(actor: Actor, mr: MergeRequest, updates: Mapping[str, Any]) -> None:
    """The noteable hook quick actions in notes call (inside the note's transaction)."""
    if not can(actor, "update_merge_request", mr) and not can(actor, "admin_merge_request", mr):
        return
    apply_changes(actor=actor, mr=mr, changes=dict(updates))


# Attributes whose previous and current values the `update` webhook carries.
_TRACKED = ("title", "description", "target_branch", "draft", "milestone_id",
            "discussion_locked", "squash")  # fmt: skip


def apply_changes(
    *, actor: Actor, mr: MergeRequest, changes: dict[str, Any], notify: bool = True
) -> None:
    """Apply `changes` inside the caller's transaction, with system notes for each.

    The caller authorized `update_merge_request` (or runs quick actions, each of which checked
    its own availability); metadata additionally needs `admin_merge_request`. `notify` sends
    the `update` event (not while the merge request is being created). Changes that change
    nothing (the values it already has) leave the row alone: no `updated_at`, no event, as
    GitLab's UpdateService saves nothing and Rails keeps the timestamp.
    """
    changes = {k: v for k, v in changes.items() if k in UPDATE_KEYS}
    if not can(actor, "admin_merge_request", mr):
        changes = {k: v for k, v in changes.items() if k not in _METADATA}
    fields: set[str] = set()
    project = mr.project
    before = {name: getattr(mr, name) for name in _TRACKED}

    if (title := changes.get("title")) is not None and title != mr.title:
        old = mr.title
        mr.title = title
        fields.add("title")
        planning.system_note(
            actor,
            mr,
            f"changed title from **{_md_escape(old)}** to **{_md_escape(title)}**",
            "title",
        )
        _draft_note_on_title_change(actor, mr, old, title)
    if (event := changes.get("wip_event")) in ("draft", "ready"):
        new_title = draftless_title(mr.title)
        if event == "draft":
            new_title = f"Draft: {new_title}"
        if new_title != mr.title:
            old = mr.title
            mr.title = new_title
            fields.add("title")
            _draft_note_on_title_change(actor, mr, old, new_title)
    if is_draft_title(mr.title) != mr.draft:
        mr.draft = is_draft_title(mr.title)
        fields.add("draft")

    if (description := changes.get("description")) is not None and description != mr.description:
        planning.mention_todos(actor, mr, _new_text(mr.description, description))
        if notify:
            fresh = planning.new_mentions(mr, mr.description, description)
            if fresh:
                hooks.notify_after_commit(mr, "mention", actor, {"user_ids": fresh})
        mr.description = description
        mr.last_edited_at = timezone.now()
        fields |= {"description", "last_edited_at"}
        planning.system_note(actor, mr, "changed the description", "description")

    target_changed = False
    if (target := changes.get("target_branch")) is not None and target != mr.target_branch:
        if not target.strip():
            raise ValidationFailed({"target_branch": ["can't be blank"]})
        if _branch_head(project, target) is None:
            raise MergeRequestInvalid(f'Target branch "{target}" does not exist')
        if target == mr.source_branch:
            raise MergeRequestInvalid("You must select different branches")
        clash = (
            MergeRequest.objects.filter(
                project=project,
                source_branch=mr.source_branch,
                target_branch=target,
                state=MergeRequestState.OPENED,
            )
            .exclude(pk=mr.pk)
            .values_list("iid", flat=True)
            .first()
        )
        if clash is not None and mr.is_open:
            raise MergeRequestConflict(
                f"Another open merge request already exists for this source branch: !{clash}"
            )
        old_target = mr.target_branch
        mr.target_branch = target
        fields.add("target_branch")
        target_changed = True
        planning.system_note(
            actor,
            mr,
            f"changed target branch from `{old_target}` to `{target}`",
            "branch",
        )

    if "discussion_locked" in changes and changes["discussion_locked"] is not None:
        lock = bool(changes["discussion_locked"])
        if lock != bool(mr.discussion_locked):
            mr.discussion_locked = lock
            fields.add("discussion_locked")
            verb = "locked" if lock else "unlocked"
            planning.system_note(actor, mr, f"{verb} the discussion in this merge request", verb)

    flags = {
        "force_remove_source_branch": changes.get("remove_source_branch"),
        "allow_collaboration": changes.get("allow_collaboration"),
    }
    if project.squash_option not in ("always", "never"):
        flags["squash"] = changes.get("squash")
    for name, flag in flags.items():
        if flag is not None and bool(flag) != getattr(mr, name):
            setattr(mr, name, bool(flag))
            fields.add(name)

    if "milestone_id" in changes:
        _change_milestone(actor, mr, changes["milestone_id"], fields)

    # Labels, assignees and reviewers live in their own tables; a change to them is a change.
    associations = [
        _change_labels(actor, mr, changes),
        _change_people(actor, mr, changes, kind="assignee", notify=notify),
        _change_people(actor, mr, changes, kind="reviewer", notify=notify),
    ]

    state_event = changes.get("state_event")
    if state_event == "close" and mr.state == MergeRequestState.OPENED:
        mr.state = MergeRequestState.CLOSED
        mr.closed_at = timezone.now()
        mr.closed_by = actor.user
        mr.merge_when_pipeline_succeeds = False
        fields |= {"state", "closed_at", "closed_by", "merge_when_pipeline_succeeds"}
        planning.system_note(actor, mr, "closed", "closed")
        planning.record_state_event(actor, mr, "closed")
        planning.record_event(actor, mr, "closed")
        hooks.notify_after_commit(mr, "close", actor)
    elif state_event == "reopen" and mr.state == MergeRequestState.CLOSED:
        if _branch_head(project, mr.source_branch) is None or (
            _branch_head(project, mr.target_branch) is None
        ):
            raise MergeRequestInvalid("Cannot reopen: the source or target branch is missing")
        mr.state = MergeRequestState.OPENED
        mr.closed_at = None
        mr.closed_by = None
        mr.merge_status = MergeStatus.UNCHECKED
        fields |= {"state", "closed_at", "closed_by", "merge_status"}
        target_changed = True
        planning.system_note(actor, mr, "reopened", "reopened")
        planning.record_state_event(actor, mr, "reopened")
        planning.record_event(actor, mr, "reopened")
        hooks.notify_after_commit(mr, "reopen", actor)

    if not fields and not any(associations):
        return
    mr.updated_at = timezone.now()
    mr.updated_by = actor.user
    fields |= {"updated_at", "updated_by"}
    mr.save(update_fields=sorted(fields))
    if fields & {"title", "description"}:
        planning.sync_closing_issues(mr)
    tracked = {
        name: {"previous": before[name], "current": getattr(mr, name)}
        for name in _TRACKED
        if before[name] != getattr(mr, name)
    }
    if notify and tracked and state_event is None:
        hooks.notify_after_commit(mr, "update", actor, tracked)
    if target_changed and mr.is_open:
        refresh_diff(mr)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>&%@$:])")


def _md_escape(text: str) -> str:
    """Text placed inside a system note's Markdown stays text (every punctuation escaped)."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _new_text(old: str, new: str) -> str:
    """The lines of `new` that `old` lacks (mentions there are new mentions)."""
    before = set(old.splitlines())
    return "\n".join(line for line in new.splitlines() if line not in before)


def _draft_note_on_title_change(actor: Actor, mr: MergeRequest, old: str, new: str) -> None:
    was, now = is_draft_title(old), is_draft_title(new)
    if was == now:
        return
    if now:
        planning.system_note(actor, mr, "marked this merge request as **draft**", "title")
    else:
        planning.system_note(actor, mr, "marked this merge request as **ready**", "title")


def _change_milestone(actor: Actor, mr: MergeRequest, value: Any, fields: set[str]) -> None:
    milestone = None
    if value not in (None, 0, "0", ""):
        milestone = planning.find_milestone(mr.project, int(value))
        if milestone is None:
            return  # GitLab ignores a milestone outside the project's hierarchy
    if (milestone.pk if milestone else None) == mr.milestone_id:
        return
    old = mr.milestone
    mr.milestone = milestone
    fields.add("milestone")
    planning.record_milestone_change(actor, mr, old, milestone)
    if milestone is None:
        planning.system_note(actor, mr, "removed milestone", "milestone")
    else:
        title = milestone.title.replace('"', "")
        planning.system_note(actor, mr, f'changed milestone to %"{title}"', "milestone")


def _change_labels(actor: Actor, mr: MergeRequest, changes: dict[str, Any]) -> bool:
    """Whether the labels changed."""
    keys = ("labels", "add_labels", "remove_labels", "label_ids", "add_label_ids",
            "remove_label_ids")  # fmt: skip
    if not any(changes.get(k) is not None for k in keys):
        return False
    current = {label.pk: label for label in mr.labels.all()}
    wanted = dict(current)
    project = mr.project
    if changes.get("labels") is not None:
        wanted = {
            label.pk: label
            for label in planning.find_or_create_labels(actor, project, _names(changes["labels"]))
        }
    if changes.get("label_ids") is not None:
        wanted = {
            label.pk: label for label in planning.labels_by_ids(project, changes["label_ids"])
        }
    if changes.get("add_labels") is not None:
        for label in planning.find_or_create_labels(actor, project, _names(changes["add_labels"])):
            wanted[label.pk] = label
    if changes.get("add_label_ids") is not None:
        for label in planning.labels_by_ids(project, changes["add_label_ids"]):
            wanted[label.pk] = label
    if changes.get("remove_labels") is not None:
        for label in planning.find_labels(actor, project, _names(changes["remove_labels"])):
            wanted.pop(label.pk, None)
    if changes.get("remove_label_ids") is not None:
        for label_id in changes["remove_label_ids"]:
            wanted.pop(int(label_id), None)
    added = [label for pk, label in wanted.items() if pk not in current]
    removed = [label for pk, label in current.items() if pk not in wanted]
    if not added and not removed:
        return False
    MergeRequestLabel.objects.filter(
        merge_request=mr, label_id__in=[label.pk for label in removed]
    ).delete()
    MergeRequestLabel.objects.bulk_create(
        [MergeRequestLabel(merge_request=mr, label=label) for label in added]
    )
    planning.record_label_changes(actor, mr, added, removed)
    return True


def _change_people(
    actor: Actor, mr: MergeRequest, changes: dict[str, Any], *, kind: str, notify: bool = True
) -> bool:
    """Whether the assignees (or reviewers) changed."""
    model: Any = MergeRequestAssignee if kind == "assignee" else MergeRequestReviewer
    replace, add, remove = (
        changes.get(f"{kind}_ids"),
        changes.get(f"add_{kind}_ids"),
        changes.get(f"remove_{kind}_ids"),
    )
    if replace is None and add is None and remove is None:
        return False
    current = list(model.objects.filter(merge_request=mr).values_list("user_id", flat=True))
    wanted = list(current)
    limit = MAX_ASSIGNEES if kind == "assignee" else MAX_REVIEWERS
    if replace is not None:
        wanted = [u.pk for u in _users_who_may_read(mr.project, replace, limit, f"{kind}s")]
    if add is not None:
        wanted += [u.pk for u in _users_who_may_read(mr.project, add, limit, f"{kind}s")]
    if remove is not None:
        dropped = {int(i) for i in remove}
        wanted = [i for i in wanted if i not in dropped]
    wanted = list(dict.fromkeys(wanted))
    added = [i for i in wanted if i not in current]
    removed = [i for i in current if i not in wanted]
    if not added and not removed:
        return False
    model.objects.filter(merge_request=mr, user_id__in=removed).delete()
    model.objects.bulk_create([model(merge_request=mr, user_id=i) for i in added])
    if notify:
        # Not a webhook action (webhooks ignore it): for notifications of the change.
        action = "reassign" if kind == "assignee" else "review_request"
        hooks.notify_after_commit(mr, action, actor, {"previous": current, "current": wanted})
    planning.assignment_todos(actor, mr, added, review=kind == "reviewer")
    users = {u.pk: u for u in User.objects.filter(pk__in=added + removed)}
    parts = []
    if kind == "assignee":
        if added:
            parts.append(f"assigned to {_mention(users[i] for i in added if i in users)}")
        if removed:
            parts.append(f"unassigned {_mention(users[i] for i in removed if i in users)}")
        action = "assignee"
    else:
        if added:
            parts.append(f"requested review from {_mention(users[i] for i in added if i in users)}")
        if removed:
            parts.append(
                f"removed review request for {_mention(users[i] for i in removed if i in users)}"
            )
        action = "reviewer"
    planning.system_note(actor, mr, " and ".join(parts), action)
    return True


def refresh_diff(mr: MergeRequest) -> bool:
    """Snapshot the branches as they are now (when they moved) and recheck mergeability.

    Returns whether a new version was written. Runs after the caller's transaction work (the
    git compare holds no database lock).
    """
    project = mr.project
    source_head = _branch_head(project, mr.source_branch)
    target_head = _branch_head(project, mr.target_branch)
    written = False
    if source_head is not None and target_head is not None:
        written = (
            diffs.create_diff_version(mr, source_head=source_head, target_head=target_head)
            is not None
        )
    with transaction.atomic():
        if source_head is None or target_head is None:
            MergeRequest.objects.filter(pk=mr.pk).update(branch_missing=True)
            mr.branch_missing = True
        if written:
            planning.sync_closing_issues(mr)
        mark_unchecked(mr)
    return written


# --- reads that may start work ----------------------------------------------------------


def recheck_if_unchecked(mr: MergeRequest) -> MergeRequest:
    """GitLab checks mergeability when a merge request is read and its status is unknown;
    the check runs in the background (at once with the immediate backend)."""
    if mr.is_open and mr.merge_status == MergeStatus.UNCHECKED:
        from kiln.merge_requests.tasks import check_merge_request_mergeability

        try:
            check_merge_request_mergeability.enqueue(mr.pk)
        except Exception:  # noqa: BLE001 (a queue outage must not fail a read)
            log.warning("could not schedule a mergeability check", extra={"mr": mr.pk})
        fresh = (
            MergeRequest.objects.filter(pk=mr.pk)
            .values_list("merge_status", "branch_missing")
            .first()
        )
        if fresh is not None:
            mr.merge_status, mr.branch_missing = fresh
    return mr


def participants(mr: MergeRequest) -> list[User]:
    """Author, assignees, reviewers and commenters who may still read the merge request."""
    ids = planning.participant_ids(mr)
    for row_id in MergeRequestReviewer.objects.filter(merge_request=mr).values_list(
        "user_id", flat=True
    ):
        if row_id not in ids:
            ids.append(row_id)
    users = {u.pk: u for u in User.objects.filter(pk__in=ids)}
    return [
        users[i]
        for i in ids
        if i in users and can_read_merge_requests(Actor(user=users[i]), mr.project)
    ]


def closing_issues(actor: Actor, mr: MergeRequest) -> list[Any]:
    return planning.closing_issues(actor, mr)


def set_subscription(*, actor: Actor, mr: MergeRequest, subscribed: bool) -> bool:
    """Subscribe or unsubscribe the actor; False when nothing changed (304)."""
    return planning.set_subscription(actor, mr, subscribed)


# --- delete -------------------------------------------------------------------------------


def delete_merge_request(*, actor: Actor, mr: MergeRequest) -> None:
    """DELETE /projects/:id/merge_requests/:iid: Owners and admins only (403)."""
    if not can(actor, "destroy_merge_request", mr):
        raise Forbidden()
    with transaction.atomic():
        planning.delete_notes(mr)
        mr.delete()
