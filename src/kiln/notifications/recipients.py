"""Who gets an email about an event (GitLab's `NotificationRecipients::Builder`s).

Candidates are gathered with a type (`participating`, `mention`, `watch`, `custom`,
`subscription`) and a reason (`assigned`, `review_requested`, `mentioned`, `subscribed`);
then each candidate is checked as GitLab's `NotificationRecipient#notifiable?` does, at send
time: an active user who may still read the project and the target (confidential issues,
internal notes), not the one who acted, whose effective notification level takes this kind
of candidate for this event, and who did not unsubscribe from the target (a mention still
reaches them). A user kept under several types is notified once, with the most specific
reason.

Pipelines have their own, shorter path (`kiln.notifications.pipelines`) that uses the same
level rules (`level_takes`, `Settings`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from kiln.accounts.models import User
from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.core.policy import can
from kiln.labels.models import LabelSubscription
from kiln.notes import noteables
from kiln.notes.models import Note, Subscription
from kiln.notes.noteables import CommitNoteable
from kiln.notes.policies import can_read_internal_notes
from kiln.notes.subscriptions import participant_ids
from kiln.notifications.events import Event, custom_action_of
from kiln.notifications.mentions import mentioned_ids
from kiln.notifications.models import (
    EXCLUDED_WATCHER_EVENTS,
    NotificationLevel,
    NotificationSetting,
)
from kiln.projects.access import project_access_level
from kiln.projects.models import Project

PARTICIPATING, MENTION, WATCH, CUSTOM, SUBSCRIPTION = (
    "participating",
    "mention",
    "watch",
    "custom",
    "subscription",
)
# GitLab's `NotificationReason::REASON_PRIORITY` (a reason-less candidate comes last).
REASON_PRIORITY = ("own_activity", "assigned", "review_requested", "mentioned", "subscribed")
# Custom actions the `participating` level takes whoever the candidate is (GitLab's
# `participating_custom_action?`).
PARTICIPATING_CUSTOM_ACTIONS = frozenset({"failed_pipeline", "fixed_pipeline", "moved_project"})


@dataclass(frozen=True)
class Candidate:
    user_id: int
    type: str
    reason: str | None = None


@dataclass(frozen=True)
class Recipient:
    user: User
    reason: str | None
    setting: NotificationSetting  # the global row (for the notification email)


@dataclass
class Context:
    event: Event
    target: Any
    nt: noteables.NoteableType
    project: Project
    note: Note | None
    custom_action: str | None
    # Commits: the users whose email the commit's author and committer use.
    commit_user_ids: tuple[int, ...] = ()

    @property
    def is_commit(self) -> bool:
        return self.nt.name == "Commit"


def thread_notes(ctx: Context) -> QuerySet[Note]:
    """Every note on the target (commit notes are keyed by project and sha)."""
    if ctx.is_commit:
        return Note.objects.filter(
            project=ctx.project, noteable_type="Commit", commit_id=ctx.target.sha
        )
    return Note.objects.filter(noteable_type=ctx.nt.name, noteable_id=ctx.nt.id_of(ctx.target))


def _author_id(target: Any) -> int | None:
    value = getattr(target, "author_id", None)
    return int(value) if value is not None else None


def _participants(ctx: Context) -> list[int]:
    """Author, assignees and commenters; for a commit, its author and committer (when they
    are users) and commenters (GitLab's `Commit` participants)."""
    if not ctx.is_commit:
        return participant_ids(ctx.target)
    authors = (
        thread_notes(ctx)
        .filter(system=False, author__isnull=False)
        .order_by("pk")
        .values_list("author_id", flat=True)
    )
    return list(dict.fromkeys([*ctx.commit_user_ids, *authors]))


def _mentions_in_thread(ctx: Context) -> list[int]:
    """Users mentioned in the description and in comments, groups expanded (GitLab counts
    them as participants)."""
    ids = mentioned_ids(
        getattr(ctx.target, "description", "") or "",
        project=ctx.project,
        author_id=_author_id(ctx.target),
    )
    notes = thread_notes(ctx).filter(system=False, body__contains="@")
    for author_id, body in notes.values_list("author_id", "body"):
        ids += mentioned_ids(body, project=ctx.project, author_id=author_id)
    return list(dict.fromkeys(ids))


def _label_subscriber_ids(target: Any, project: Project) -> list[int]:
    labels = getattr(target, "labels", None)
    if labels is None:
        return []
    label_ids = list(labels.values_list("pk", flat=True))
    if not label_ids:
        return []
    return list(
        LabelSubscription.objects.filter(
            Q(project__isnull=True) | Q(project=project), label_id__in=label_ids
        )
        .values_list("user_id", flat=True)
        .distinct()
    )


def _ancestor_group_ids(project: Project) -> list[int]:
    namespace = project.namespace
    return namespace.ancestor_ids if namespace.is_group else []


def _watch_and_custom_candidates(ctx: Context) -> list[Candidate]:
    """Users whose level for this project may be `watch` or `custom`: those with a setting on
    the project or one of its groups, and members whose global level is one of those."""
    groups = _ancestor_group_ids(ctx.project)
    ids = set(
        NotificationSetting.objects.filter(
            Q(project=ctx.project) | Q(namespace_id__in=groups),
            level__in=(NotificationLevel.WATCH, NotificationLevel.CUSTOM, NotificationLevel.GLOBAL),
        ).values_list("user_id", flat=True)
    )
    global_ids = set(
        NotificationSetting.objects.filter(
            project__isnull=True,
            namespace__isnull=True,
            level__in=(NotificationLevel.WATCH, NotificationLevel.CUSTOM),
        ).values_list("user_id", flat=True)
    )
    members = []
    for user in User.objects.filter(pk__in=global_ids - ids):
        if project_access_level(Actor(user=user), ctx.project) >= AccessLevel.GUEST:
            members.append(user.pk)
    found = [Candidate(uid, WATCH) for uid in sorted(ids | set(members))]
    found += [Candidate(uid, CUSTOM) for uid in sorted(ids | set(members))]
    return found


def _subscriber_candidates(ctx: Context) -> list[Candidate]:
    nt = ctx.nt
    if ctx.is_commit:
        return []  # no subscriptions to commits
    ids = Subscription.objects.filter(
        subscribable_type=nt.name, subscribable_id=ctx.event.target_id, subscribed=True
    ).values_list("user_id", flat=True)
    return [Candidate(uid, SUBSCRIPTION, "subscribed") for uid in ids]


def _people(ctx: Context, relation: str) -> list[int]:
    """Current assignees or reviewers of the target (issues have no reviewers)."""
    manager = getattr(ctx.target, relation, None)
    return list(manager.values_list("pk", flat=True)) if manager is not None else []


def gather(ctx: Context) -> list[Candidate]:
    """Every candidate for the event, before filtering (GitLab's builders' `build!`)."""
    event = ctx.event
    found: list[Candidate] = []
    found += [Candidate(uid, PARTICIPATING) for uid in _participants(ctx)]
    found += [Candidate(uid, PARTICIPATING) for uid in _mentions_in_thread(ctx)]
    if event.action == "note" and ctx.note is not None:
        found += [
            Candidate(uid, MENTION, "mentioned")
            for uid in mentioned_ids(
                ctx.note.body, project=ctx.project, author_id=ctx.note.author_id
            )
        ]
    found += _watch_and_custom_candidates(ctx)
    if event.action in ("reassign", "review_request"):
        reason = "assigned" if event.action == "reassign" else "review_requested"
        found += [Candidate(uid, MENTION) for uid in event.previous_ids]
        found += [Candidate(uid, MENTION, reason) for uid in event.current_ids]
    found += _subscriber_candidates(ctx)
    if event.action in ("open", "mention"):
        # New issues and merge requests: mentions count as mentions (so `mention` level
        # users hear of them), assignees and reviewers as participants.
        description = getattr(ctx.target, "description", "") or ""
        found += [
            Candidate(uid, MENTION, "mentioned")
            for uid in mentioned_ids(
                description, project=ctx.project, author_id=_author_id(ctx.target)
            )
        ]
        found += [Candidate(uid, PARTICIPATING, "assigned") for uid in _people(ctx, "assignees")]
        if ctx.nt.name == "MergeRequest":
            found += [
                Candidate(uid, PARTICIPATING, "review_requested")
                for uid in _people(ctx, "reviewers")
            ]
        found += [
            Candidate(uid, SUBSCRIPTION, "subscribed")
            for uid in _label_subscriber_ids(ctx.target, ctx.project)
        ]
    if event.action == "mention":
        # Only the users newly mentioned in an edited description.
        fresh = set(event.current_ids)
        found = [c for c in found if c.user_id in fresh]
    return found


class Settings:
    """Effective notification settings of many users for one project, in two queries."""

    def __init__(self, project: Project, user_ids: Iterable[int]) -> None:
        self.groups = _ancestor_group_ids(project)
        ids = list(set(user_ids))
        rows = NotificationSetting.objects.filter(user_id__in=ids).filter(
            Q(project=project)
            | Q(namespace_id__in=self.groups)
            | Q(project__isnull=True, namespace__isnull=True)
        )
        self.project_rows: dict[int, NotificationSetting] = {}
        self.group_rows: dict[tuple[int, int], NotificationSetting] = {}
        self.global_rows: dict[int, NotificationSetting] = {}
        for row in rows:
            if row.project_id is not None:
                self.project_rows[row.user_id] = row
            elif row.namespace_id is not None:
                self.group_rows[(row.user_id, row.namespace_id)] = row
            else:
                self.global_rows[row.user_id] = row

    def global_row(self, user_id: int) -> NotificationSetting:
        row = self.global_rows.get(user_id)
        if row is None:
            row = NotificationSetting(user_id=user_id, level=NotificationLevel.PARTICIPATING)
        return row

    def effective(self, user_id: int) -> NotificationSetting:
        """The project's setting unless `global`, else the closest group's unless `global`,
        else the global setting (GitLab's `find_notification_setting`)."""
        row = self.project_rows.get(user_id)
        if row is not None and row.level != NotificationLevel.GLOBAL:
            return row
        for group_id in reversed(self.groups):
            row = self.group_rows.get((user_id, group_id))
            if row is not None and row.level != NotificationLevel.GLOBAL:
                return row
        return self.global_row(user_id)


def _custom_enabled(setting: NotificationSetting, action: str | None) -> bool:
    if action is None:
        return False
    if setting.event_enabled(action):
        return True
    # A fixed pipeline is a successful one: `success_pipeline` covers it.
    return action == "fixed_pipeline" and setting.event_enabled("success_pipeline")


def level_takes(setting: NotificationSetting, candidate_type: str, action: str | None) -> bool:
    """GitLab's `suitable_notification_level?` (subscriptions are handled by the caller).

    `custom`: the event's flag, else participation or a mention; participation does not
    bring back an event `watch` leaves out (a push, a due date, a successful pipeline) whose
    flag is off.
    """
    level = setting.level
    if level == NotificationLevel.GLOBAL:
        # Only the global row can be here with `global`: it means the default.
        level = NotificationLevel.PARTICIPATING
    if level == NotificationLevel.MENTION:
        return candidate_type == MENTION
    if level == NotificationLevel.PARTICIPATING:
        return action in PARTICIPATING_CUSTOM_ACTIONS or candidate_type in (PARTICIPATING, MENTION)
    if level == NotificationLevel.CUSTOM:
        if _custom_enabled(setting, action) or candidate_type == MENTION:
            return True
        return candidate_type == PARTICIPATING and action not in EXCLUDED_WATCHER_EVENTS
    if level == NotificationLevel.WATCH:
        return action not in EXCLUDED_WATCHER_EVENTS
    return False  # disabled


def emails_enabled(project: Project) -> bool:
    if not project.emails_enabled:
        return False
    from kiln.namespaces.models import Namespace

    ids = project.namespace.ancestor_ids if project.namespace.is_group else []
    return not Namespace.objects.filter(pk__in=ids, emails_enabled=False).exists()


def build(ctx: Context) -> list[Recipient]:
    """The recipients of the event, each once, checked now (not when the event happened)."""
    if not emails_enabled(ctx.project):
        return []
    candidates = [c for c in gather(ctx) if c.user_id != ctx.event.actor_id]
    if not candidates:
        return []
    user_ids = {c.user_id for c in candidates}
    users = {
        u.pk: u for u in User.objects.filter(pk__in=user_ids) if u.is_active and u.email.strip()
    }
    unsubscribed = (
        set()
        if ctx.is_commit
        else set(
            Subscription.objects.filter(
                subscribable_type=ctx.nt.name,
                subscribable_id=ctx.event.target_id,
                subscribed=False,
                user_id__in=user_ids,
            ).values_list("user_id", flat=True)
        )
    )
    settings = Settings(ctx.project, users)
    access: dict[int, bool] = {}

    def may_read(user: User) -> bool:
        if user.pk not in access:
            actor = Actor(user=user)
            # Commits are as readable as the project's code.
            subject = ctx.project if ctx.is_commit else ctx.target
            ok = can(actor, "read_project", ctx.project) and can(actor, ctx.nt.read_action, subject)
            if ok and ctx.note is not None and ctx.note.internal:
                ok = can_read_internal_notes(actor, ctx.project)
            access[user.pk] = ok
        return access[user.pk]

    chosen: dict[int, Candidate] = {}
    for candidate in candidates:
        user = users.get(candidate.user_id)
        if user is None or not may_read(user):
            continue
        if candidate.type == SUBSCRIPTION:
            # Even users with notifications disabled get what they subscribed to.
            if candidate.user_id in unsubscribed:
                continue
        else:
            if not level_takes(settings.effective(user.pk), candidate.type, ctx.custom_action):
                continue
            if candidate.user_id in unsubscribed and candidate.type != MENTION:
                continue
        best = chosen.get(user.pk)
        if best is None or _priority(candidate.reason) < _priority(best.reason):
            chosen[user.pk] = candidate
    return [
        Recipient(user=users[uid], reason=c.reason, setting=settings.global_row(uid))
        for uid, c in sorted(chosen.items())
    ]


def _priority(reason: str | None) -> int:
    return REASON_PRIORITY.index(reason) if reason in REASON_PRIORITY else len(REASON_PRIORITY)


def context_for(event: Event) -> Context | None:
    """Load what the event is about; None when it is gone."""
    nt = noteables.by_name(event.target_type)
    if nt is None:
        return None
    if nt.name == "Commit":
        return _commit_context(event, nt)
    target = (
        nt.model.objects.select_related("project", "project__namespace")
        .filter(pk=event.target_id)
        .first()
    )
    if target is None:
        return None
    note = None
    if event.note_id is not None:
        note = Note.objects.filter(pk=event.note_id).first()
        if note is None:
            return None
    return Context(
        event=event,
        target=target,
        nt=nt,
        project=nt.project_of(target),
        note=note,
        custom_action=custom_action_of(event),
    )


def _commit_context(event: Event, nt: noteables.NoteableType) -> Context | None:
    from kiln.repositories.queries import find_commit

    project = Project.objects.select_related("namespace").filter(pk=event.target_id).first()
    note = Note.objects.filter(pk=event.note_id).first() if event.note_id is not None else None
    if project is None or note is None or not event.target_sha:
        return None
    commit = find_commit(project, event.target_sha)
    if commit is None:
        return None
    emails = {e.strip().lower() for e in (commit.author.email, commit.committer.email) if e}
    email_q = Q(pk__in=[])
    for email in emails:
        email_q |= Q(email__iexact=email)
    user_ids = tuple(User.objects.filter(email_q).order_by("pk").values_list("pk", flat=True))
    return Context(
        event=event,
        target=CommitNoteable(project=project, sha=commit.id, title=commit.title),
        nt=nt,
        project=project,
        note=note,
        custom_action=custom_action_of(event),
        commit_user_ids=user_ids,
    )
