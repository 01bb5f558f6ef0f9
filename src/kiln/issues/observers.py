"""Issue listeners: packages above issues (notifications) react to issue changes.

Issues sit below them in the layers and never import them; a listener registers here at
import time and is called once the transaction that changed the issue commits:
`fn(issue, action, actor, changes)`. Actions: "open", "update", "close", "reopen",
"reassign" (changes: `{"previous": [user ids], "current": [user ids]}`), "mention" (changes:
`{"user_ids": [...]}`, users newly mentioned in an edited description), "move" (changes:
`{"new_issue_id": id}`, the copy in the other project). A failing listener is logged, never
raised into the change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db import transaction

if TYPE_CHECKING:
    from kiln.core.actor import Actor
    from kiln.issues.models import Issue

log = logging.getLogger(__name__)

IssueListener = Callable[["Issue", str, "Actor", dict[str, Any]], None]
_LISTENERS: list[IssueListener] = []


def register_issue_listener(listener: IssueListener) -> IssueListener:
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)
    return listener


def _notify(issue: Issue, action: str, actor: Actor, changes: dict[str, Any]) -> None:
    for listener in list(_LISTENERS):
        try:
            listener(issue, action, actor, changes)
        except Exception:
            log.exception("issue listener failed", extra={"action": action})


def notify_after_commit(
    issue: Issue, action: str, actor: Actor, changes: dict[str, Any] | None = None
) -> None:
    """Tell the listeners about `action` once the current transaction commits."""
    if not _LISTENERS:
        return
    data = dict(changes or {})
    transaction.on_commit(lambda: _notify(issue, action, actor, data))
