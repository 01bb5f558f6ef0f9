"""Registries that packages above this one fill at import time (CI, webhooks, notifications).

Merge requests sit below CI and webhooks in the layers, so they never import them; instead:

- CI registers a *pipeline status provider*: given a project, a commit sha and a branch, the
  status of the newest pipeline for that commit (GitLab's `head_pipeline`), or None when
  there is none. Merge checks (`only_allow_merge_if_pipeline_succeeds`,
  `merge_when_pipeline_succeeds`) and `detailed_merge_status` ask it. Without a provider,
  every merge request reads as having no pipeline.
- CI calls `kiln.merge_requests.merging.pipeline_succeeded(...)` when a pipeline succeeds.
- Notifications (and anything else that reacts to merge requests) register *merge request
  listeners*: called after the transaction that changed a merge request commits, with what
  happened (GitLab's webhook `action`: "open", "update", "close", "reopen", "merge",
  "approved", "unapproved"...) and, for updates, `{attribute: {"previous", "current"}}`.
  Actions for notifications only (no webhook): "reassign" and "review_request" (changes:
  `{"previous": [user ids], "current": [user ids]}`) and "mention" (`{"user_ids": [...]}`,
  users newly mentioned in an edited description) and "merge_when_pipeline_succeeds" (an
  automatic merge was just set). A push to the source branch is an
  "update" whose changes hold `oldrev`.
  This package's own webhooks (`kiln.merge_requests.webhooks`) are one such listener.
  A failing listener is logged, never raised into the change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import transaction

if TYPE_CHECKING:
    from kiln.core.actor import Actor
    from kiln.merge_requests.models import MergeRequest
    from kiln.projects.models import Project

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineInfo:
    """What merge requests need to know about a pipeline (GitLab's `PipelineBasic`)."""

    id: int
    iid: int
    sha: str
    ref: str
    status: str  # GitLab's pipeline statuses: created, pending, running, success, failed, ...
    source: str = "push"
    web_url: str = ""
    created_at: Any = None
    updated_at: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


# GitLab's `Ci::HasStatus::ACTIVE_STATUSES`: the pipeline may still succeed.
ACTIVE_STATUSES = frozenset(
    {"created", "waiting_for_resource", "preparing", "pending", "running", "scheduled"}
)

PipelineStatusProvider = Callable[["Project", str, str], PipelineInfo | None]
_PROVIDERS: list[PipelineStatusProvider] = []


def register_pipeline_status_provider(provider: PipelineStatusProvider) -> PipelineStatusProvider:
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)
    return provider


def head_pipeline(project: Project, sha: str, ref: str) -> PipelineInfo | None:
    """The newest pipeline for `sha` on `ref`, as the registered provider reports it."""
    if not sha:
        return None
    for provider in _PROVIDERS:
        try:
            found = provider(project, sha, ref)
        except Exception:
            log.exception("pipeline status provider failed")
            continue
        if found is not None:
            return found
    return None


MergeRequestListener = Callable[["MergeRequest", str, "Actor | None", dict[str, Any]], None]
_LISTENERS: list[MergeRequestListener] = []


def register_merge_request_listener(listener: MergeRequestListener) -> MergeRequestListener:
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)
    return listener


def _notify(mr: MergeRequest, action: str, actor: Actor | None, changes: dict[str, Any]) -> None:
    for listener in list(_LISTENERS):
        try:
            listener(mr, action, actor, changes)
        except Exception:
            log.exception("merge request listener failed", extra={"action": action})


def notify_after_commit(
    mr: MergeRequest, action: str, actor: Actor | None, changes: dict[str, Any] | None = None
) -> None:
    """Tell the listeners about `action` once the current transaction commits."""
    data = dict(changes or {})
    transaction.on_commit(lambda: _notify(mr, action, actor, data))
