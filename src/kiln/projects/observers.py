"""Project listeners: packages above projects (notifications) react to a project moving.

Projects sit below them in the layers and never import them; a listener registers here at
import time and is called once the transaction that moved the project commits:
`fn(project, old_full_path, actor)`. A project moves when it is transferred to another
namespace or its path changes (GitLab's `Project#send_move_instructions`, called by its
`TransferService` and `AfterRenameService`). A failing listener is logged, never raised into
the change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.db import transaction

if TYPE_CHECKING:
    from kiln.core.actor import Actor
    from kiln.projects.models import Project

log = logging.getLogger(__name__)

ProjectMovedListener = Callable[["Project", str, "Actor"], None]
_MOVED_LISTENERS: list[ProjectMovedListener] = []


def register_project_moved_listener(listener: ProjectMovedListener) -> ProjectMovedListener:
    if listener not in _MOVED_LISTENERS:
        _MOVED_LISTENERS.append(listener)
    return listener


def _notify_moved(project: Project, old_full_path: str, actor: Actor) -> None:
    for listener in list(_MOVED_LISTENERS):
        try:
            listener(project, old_full_path, actor)
        except Exception:
            log.exception("project moved listener failed", extra={"project_id": project.pk})


def project_moved_after_commit(project: Project, old_full_path: str, actor: Actor) -> None:
    """Tell the listeners that the project, which was at `old_full_path`, moved, once the
    current transaction commits (never if it rolls back)."""
    if not _MOVED_LISTENERS:
        return
    transaction.on_commit(lambda: _notify_moved(project, old_full_path, actor))
