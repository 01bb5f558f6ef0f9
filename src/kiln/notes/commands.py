"""The quick actions every issuable shares (GitLab's IssueAndMergeRequestActions and
IssueActions). Merge-request-only commands are registered by kiln.merge_requests.

Availability follows GitLab: state changes need `update_*` on the noteable, metadata
(labels, milestone, assignees, due date, confidentiality, locking) needs `admin_*`; on a
noteable being created, the project's `admin_issue` decides. Commands only record what they
decided in `ctx.updates` / `ctx.after`.
"""

from __future__ import annotations

import datetime as dt
import re

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from kiln.core.policy import can
from kiln.labels.queries import find_labels_by_title
from kiln.milestones.queries import find_milestone_for
from kiln.notes import noteables
from kiln.notes.quick_actions import QuickAction, QuickActionContext, register

ISSUABLES = frozenset({"Issue", "MergeRequest"})
ISSUES = frozenset({"Issue"})


def _nt(ctx: QuickActionContext) -> noteables.NoteableType | None:
    return noteables.by_name(ctx.type_name)


def _noun(ctx: QuickActionContext) -> str:
    return "merge request" if ctx.type_name == "MergeRequest" else "issue"


def can_update(ctx: QuickActionContext) -> bool:
    nt = _nt(ctx)
    if ctx.noteable is None:
        return can(ctx.actor, "create_issue", ctx.project)
    return nt is not None and can(ctx.actor, nt.update_action, ctx.noteable)


def can_admin(ctx: QuickActionContext) -> bool:
    nt = _nt(ctx)
    if ctx.noteable is None:
        return can(ctx.actor, "admin_issue", ctx.project)
    return nt is not None and can(ctx.actor, nt.admin_action, ctx.noteable)


def _state(ctx: QuickActionContext) -> str | None:
    return getattr(ctx.noteable, "state", None) if ctx.noteable is not None else None


# -- argument parsing --------------------------------------------------------------------------

_LABEL = re.compile(r'~"([^"]+)"|~([^\s~"]+)')
_USER = re.compile(r"@?([A-Za-z0-9_.\-]+)")


def label_names(arg: str) -> list[str]:
    names = [m.group(1) or m.group(2) for m in _LABEL.finditer(arg)]
    if not names and arg.strip():
        # `/label bug` (no tilde) is accepted too, one name per word.
        names = [w for w in arg.split() if w]
    return names


def _label_ids(ctx: QuickActionContext, arg: str) -> tuple[list[int], list[str]]:
    names = label_names(arg)
    found = find_labels_by_title(ctx.project, names)
    labels = [found[n] for n in dict.fromkeys(names) if n in found]
    return [label.pk for label in labels], [label.title for label in labels]


def _users(ctx: QuickActionContext, arg: str) -> list[int]:
    user_model = get_user_model()
    names = [m.group(1) for m in _USER.finditer(arg.replace(",", " "))]
    ids: list[int] = []
    q = Q(pk__in=[])
    for name in names:
        if name.lower() == "me" and ctx.actor.user is not None:
            ids.append(ctx.actor.user.pk)
        else:
            q |= Q(username__iexact=name)
    ids += [u.pk for u in user_model.objects.filter(q) if u.is_active]
    return list(dict.fromkeys(ids))


def _milestone_title(arg: str) -> str:
    text = arg.strip()
    if text.startswith("%"):
        text = text[1:]
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1]
    return text.strip()


_IN = re.compile(r"in\s+(\d+)\s+(day|days|week|weeks|month|months)\Z", re.IGNORECASE)


def parse_due_date(arg: str) -> dt.date | None:
    """GitLab accepts natural dates (Chronic); Kiln: ISO dates, today, tomorrow, next week,
    `in N days|weeks|months`."""
    text = arg.strip().lower()
    today = timezone.localdate()
    if text == "today":
        return today
    if text == "tomorrow":
        return today + dt.timedelta(days=1)
    if text == "next week":
        return today + dt.timedelta(days=7)
    if (match := _IN.match(text)) is not None:
        count, unit = int(match.group(1)), match.group(2).lower()
        if unit.startswith("day"):
            return today + dt.timedelta(days=count)
        if unit.startswith("week"):
            return today + dt.timedelta(weeks=count)
        return today + dt.timedelta(days=30 * count)
    try:
        return dt.date.fromisoformat(arg.strip())
    except ValueError:
        return None


def _human_date(value: dt.date) -> str:
    return value.strftime("%B %-d, %Y")


# -- commands ----------------------------------------------------------------------------------


def _close(ctx: QuickActionContext, arg: str) -> None:
    ctx.updates["state_event"] = "close"
    ctx.messages.append(f"Closed this {_noun(ctx)}.")


def _reopen(ctx: QuickActionContext, arg: str) -> None:
    ctx.updates["state_event"] = "reopen"
    ctx.messages.append(f"Reopened this {_noun(ctx)}.")


def _title(ctx: QuickActionContext, arg: str) -> None:
    if arg.strip():
        ctx.updates["title"] = arg.strip()
        ctx.messages.append(f'Changed the title to "{arg.strip()}".')


def _label(ctx: QuickActionContext, arg: str) -> None:
    ids, titles = _label_ids(ctx, arg)
    if not ids:
        return
    current = ctx.updates.setdefault("add_label_ids", [])
    current.extend(i for i in ids if i not in current)
    shown = " ".join(f"~{t}" for t in titles)
    ctx.messages.append(f"Added {shown} label{'s' if len(ids) > 1 else ''}.")


def _unlabel(ctx: QuickActionContext, arg: str) -> None:
    if not arg.strip():
        ctx.updates["label_ids"] = []
        ctx.messages.append("Removed all labels.")
        return
    ids, titles = _label_ids(ctx, arg)
    if not ids:
        return
    current = ctx.updates.setdefault("remove_label_ids", [])
    current.extend(i for i in ids if i not in current)
    shown = " ".join(f"~{t}" for t in titles)
    ctx.messages.append(f"Removed {shown} label{'s' if len(ids) > 1 else ''}.")


def _relabel(ctx: QuickActionContext, arg: str) -> None:
    ids, titles = _label_ids(ctx, arg)
    if not ids:
        return
    ctx.updates.pop("add_label_ids", None)
    ctx.updates.pop("remove_label_ids", None)
    ctx.updates["label_ids"] = ids
    ctx.messages.append("Replaced all labels with " + " ".join(f"~{t}" for t in titles) + ".")


def _usernames(ids: list[int]) -> str:
    user_model = get_user_model()
    names = dict(user_model.objects.filter(pk__in=ids).values_list("pk", "username"))
    return ", ".join(f"@{names[i]}" for i in ids if i in names)


def _assign(ctx: QuickActionContext, arg: str) -> None:
    ids = _users(ctx, arg)
    if not ids:
        return
    current = ctx.updates.setdefault("add_assignee_ids", [])
    current.extend(i for i in ids if i not in current)
    ctx.messages.append(f"Assigned {_usernames(ids)}.")


def _unassign(ctx: QuickActionContext, arg: str) -> None:
    if not arg.strip():
        ctx.updates["assignee_ids"] = []
        ctx.messages.append("Removed all assignees.")
        return
    ids = _users(ctx, arg)
    if not ids:
        return
    current = ctx.updates.setdefault("remove_assignee_ids", [])
    current.extend(i for i in ids if i not in current)
    ctx.messages.append(f"Removed assignee {_usernames(ids)}.")


def _reassign(ctx: QuickActionContext, arg: str) -> None:
    ids = _users(ctx, arg)
    if not ids:
        return
    ctx.updates.pop("add_assignee_ids", None)
    ctx.updates["assignee_ids"] = ids
    ctx.messages.append(f"Reassigned to {_usernames(ids)}.")


def _milestone(ctx: QuickActionContext, arg: str) -> None:
    milestone = find_milestone_for(ctx.project, _milestone_title(arg))
    if milestone is None:
        return
    ctx.updates["milestone_id"] = milestone.pk
    ctx.messages.append(f"Set the milestone to %{milestone.title}.")


def _remove_milestone(ctx: QuickActionContext, arg: str) -> None:
    ctx.updates["milestone_id"] = None
    ctx.messages.append("Removed the milestone.")


def _due(ctx: QuickActionContext, arg: str) -> None:
    date = parse_due_date(arg)
    if date is None:
        return
    ctx.updates["due_date"] = date
    ctx.messages.append(f"Set the due date to {_human_date(date)}.")


def _remove_due_date(ctx: QuickActionContext, arg: str) -> None:
    ctx.updates["due_date"] = None
    ctx.messages.append("Removed the due date.")


def _confidential(ctx: QuickActionContext, arg: str) -> None:
    ctx.updates["confidential"] = True
    ctx.messages.append("Made this issue confidential.")


def _lock(ctx: QuickActionContext, arg: str) -> None:
    ctx.updates["discussion_locked"] = True
    ctx.messages.append("Locked the discussion.")


def _unlock(ctx: QuickActionContext, arg: str) -> None:
    ctx.updates["discussion_locked"] = False
    ctx.messages.append("Unlocked the discussion.")


def _todo(ctx: QuickActionContext, arg: str) -> None:
    ctx.updates["todo_event"] = "add"
    ctx.messages.append("Added a to-do item.")


def _done(ctx: QuickActionContext, arg: str) -> None:
    ctx.updates["todo_event"] = "done"
    ctx.messages.append("Marked to-do item as done.")


def _subscribe(ctx: QuickActionContext, arg: str) -> None:
    ctx.updates["subscription_event"] = "subscribe"
    ctx.messages.append(f"Subscribed to this {_noun(ctx)}.")


def _unsubscribe(ctx: QuickActionContext, arg: str) -> None:
    ctx.updates["subscription_event"] = "unsubscribe"
    ctx.messages.append(f"Unsubscribed from this {_noun(ctx)}.")


def _award(ctx: QuickActionContext, arg: str) -> None:
    name = arg.strip().strip(":")
    if not name:
        return
    ctx.updates["emoji_award"] = name
    ctx.messages.append(f"Toggled :{name}: emoji award.")


def _noop(ctx: QuickActionContext, arg: str) -> None:
    return None


def _exists(ctx: QuickActionContext) -> bool:
    return ctx.noteable is not None and ctx.actor.user is not None


def _signed_in(ctx: QuickActionContext) -> bool:
    return ctx.actor.user is not None


register(
    QuickAction(
        name="close",
        types=ISSUABLES,
        execute=_close,
        available=lambda ctx: _state(ctx) == "opened" and can_update(ctx),
        explanation="Close this issue or merge request.",
    )
)
register(
    QuickAction(
        name="reopen",
        types=ISSUABLES,
        execute=_reopen,
        available=lambda ctx: _state(ctx) == "closed" and can_update(ctx),
        explanation="Reopen this issue or merge request.",
    )
)
register(
    QuickAction(
        name="title",
        types=ISSUABLES,
        execute=_title,
        available=lambda ctx: ctx.noteable is not None and can_update(ctx),
        params="<New title>",
    )
)
register(
    QuickAction(
        name="label",
        aliases=("labels",),
        types=ISSUABLES,
        execute=_label,
        available=can_admin,
        params='~label1 ~"label 2"',
    )
)
register(
    QuickAction(
        name="unlabel",
        aliases=("remove_label",),
        types=ISSUABLES,
        execute=_unlabel,
        available=can_admin,
    )
)
register(QuickAction(name="relabel", types=ISSUABLES, execute=_relabel, available=can_admin))
register(
    QuickAction(
        name="assign", types=ISSUABLES, execute=_assign, available=can_admin, params="@user1 @user2"
    )
)
register(QuickAction(name="unassign", types=ISSUABLES, execute=_unassign, available=can_admin))
register(QuickAction(name="reassign", types=ISSUABLES, execute=_reassign, available=can_admin))
register(
    QuickAction(
        name="milestone",
        types=ISSUABLES,
        execute=_milestone,
        available=can_admin,
        params='%"milestone"',
    )
)
register(
    QuickAction(
        name="remove_milestone", types=ISSUABLES, execute=_remove_milestone, available=can_admin
    )
)
register(
    QuickAction(
        name="due",
        types=ISSUES,
        execute=_due,
        available=can_admin,
        params="<in 2 days | this Friday | December 31st>",
    )
)
register(
    QuickAction(name="remove_due_date", types=ISSUES, execute=_remove_due_date, available=can_admin)
)
register(
    QuickAction(
        name="confidential",
        types=ISSUES,
        execute=_confidential,
        available=lambda ctx: not getattr(ctx.noteable, "confidential", False) and can_admin(ctx),
    )
)
register(
    QuickAction(
        name="lock",
        types=ISSUABLES,
        execute=_lock,
        available=lambda ctx: (
            not getattr(ctx.noteable, "discussion_locked", False) and can_admin(ctx)
        ),
    )
)
register(
    QuickAction(
        name="unlock",
        types=ISSUABLES,
        execute=_unlock,
        available=lambda ctx: (
            bool(getattr(ctx.noteable, "discussion_locked", False)) and can_admin(ctx)
        ),
    )
)
register(QuickAction(name="todo", types=ISSUABLES, execute=_todo, available=_exists))
register(QuickAction(name="done", types=ISSUABLES, execute=_done, available=_exists))
register(QuickAction(name="subscribe", types=ISSUABLES, execute=_subscribe, available=_exists))
register(QuickAction(name="unsubscribe", types=ISSUABLES, execute=_unsubscribe, available=_exists))
register(
    QuickAction(
        name="award", aliases=("react",), types=ISSUABLES, execute=_award, available=_exists
    )
)
register(
    QuickAction(
        name="shrug",
        types=ISSUABLES,
        execute=_noop,
        available=_signed_in,
        substitution="\u00af\\\uff3f(\u30c4)\uff3f/\u00af",
    )
)
register(
    QuickAction(
        name="tableflip",
        types=ISSUABLES,
        execute=_noop,
        available=_signed_in,
        substitution="(╯°□°)╯︵ ┻━┻",
    )
)
