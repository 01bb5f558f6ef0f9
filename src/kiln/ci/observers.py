"""Pipeline listeners: packages above CI (notifications) react to a pipeline's status.

CI never imports them; a listener registers here at import time and is called once the
transaction that moved the pipeline to a new status commits: `fn(pipeline, status)`, the
pipeline row as it was saved and its new status. A failing listener is logged, never raised
into the change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.db import transaction

if TYPE_CHECKING:
    from kiln.ci.models import Pipeline

log = logging.getLogger(__name__)

PipelineListener = Callable[["Pipeline", str], None]
_LISTENERS: list[PipelineListener] = []


def register_pipeline_listener(listener: PipelineListener) -> PipelineListener:
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)
    return listener


def _notify(pipeline: Pipeline, status: str) -> None:
    for listener in list(_LISTENERS):
        try:
            listener(pipeline, status)
        except Exception:
            log.exception("pipeline listener failed", extra={"status": status})


def status_changed_after_commit(pipeline: Pipeline, status: str) -> None:
    """Tell the listeners that `pipeline` reached `status` once the transaction commits."""
    if _LISTENERS:
        transaction.on_commit(lambda: _notify(pipeline, status))
