"""Sending events to hooks: which hooks get an event, and the push listener.

Other packages call `execute_project_hooks(project=..., data=..., trigger="issue_hooks")` (or the
group and system variants) from inside their service; delivery is enqueued once the caller's
transaction commits, so a rolled-back change sends nothing. The triggers are GitLab's hook
scopes (`push_hooks`, `tag_push_hooks`, `issue_hooks`, `confidential_issue_hooks`,
`note_hooks`, `confidential_note_hooks`, `merge_request_hooks`, ...): each names the hook column
that subscribes to it (`TRIGGER_FLAGS`). Choosing the confidential scope for a confidential
issue or note is the caller's job, as in GitLab.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import re2
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from kiln.namespaces.models import Namespace
from kiln.projects.models import Project
from kiln.repositories.models import Push
from kiln.repositories.protection import matches as wildcard_matches
from kiln.webhooks import execution, payloads
from kiln.webhooks.models import BranchFilterStrategy, HookKind, WebHook

log = logging.getLogger(__name__)

# hook scope -> the column subscribing to it (GitLab's `triggers` of each hook class).
TRIGGER_FLAGS: dict[str, str] = {
    "push_hooks": "push_events",
    "tag_push_hooks": "tag_push_events",
    "issue_hooks": "issues_events",
    "confidential_issue_hooks": "confidential_issues_events",
    "note_hooks": "note_events",
    "confidential_note_hooks": "confidential_note_events",
    "merge_request_hooks": "merge_requests_events",
    "job_hooks": "job_events",
    "pipeline_hooks": "pipeline_events",
    "wiki_page_hooks": "wiki_page_events",
    "deployment_hooks": "deployment_events",
    "feature_flag_hooks": "feature_flag_events",
    "release_hooks": "releases_events",
    "milestone_hooks": "milestone_events",
    "emoji_hooks": "emoji_events",
    "resource_access_token_hooks": "resource_access_token_events",
    "resource_deploy_token_hooks": "resource_deploy_token_events",
    "vulnerability_hooks": "vulnerability_events",
    "member_hooks": "member_events",
    "subgroup_hooks": "subgroup_events",
    "project_hooks": "project_events",
    "repository_update_hooks": "repository_update_events",
}
# The scopes a system hook can subscribe to (GitLab's SystemHook::AVAILABLE_HOOKS).
SYSTEM_TRIGGERS = frozenset(
    {"repository_update_hooks", "push_hooks", "tag_push_hooks", "merge_request_hooks"}
)
# GitLab's `push_event_hooks_limit`: a push changing more refs of one kind in one way (e.g.
# creating 4 branches) triggers no push hooks at all.
PUSH_EVENT_HOOKS_LIMIT = 3


def executable_q() -> Q:
    """Hooks not resting after failures (GitLab's `executable` scope); system hooks always."""
    now = timezone.now()
    threshold = execution.TEMPORARILY_DISABLED_FAILURE_THRESHOLD
    permanent = execution.PERMANENTLY_DISABLED_FAILURE_THRESHOLD
    resting_over = Q(recent_failures__gt=threshold, disabled_until__lt=now)
    healthy = Q(recent_failures__lte=threshold) | resting_over
    return Q(kind=HookKind.SYSTEM) | (healthy & Q(recent_failures__lte=permanent))


def _group_ids(namespace: Namespace | None) -> list[int]:
    if namespace is None or not namespace.is_group:
        return []
    return namespace.ancestor_ids or [namespace.pk]


def _scope_q(*, project: Project | None, group: Namespace | None, system: bool) -> Q:
    q = Q(pk__in=[])
    if project is not None:
        q |= Q(kind=HookKind.PROJECT, project=project)
        group = project.namespace
    if group_ids := _group_ids(group):
        q |= Q(kind=HookKind.GROUP, group_id__in=group_ids)
    if system:
        q |= Q(kind=HookKind.SYSTEM)
    return q


def subscribed_hooks(
    *, trigger: str, project: Project | None = None, group: Namespace | None = None
) -> QuerySet[WebHook]:
    """Executable hooks of the project (and its groups), the group (and its ancestors) and
    the system, subscribed to `trigger`."""
    flag = TRIGGER_FLAGS[trigger]
    scope = _scope_q(project=project, group=group, system=trigger in SYSTEM_TRIGGERS)
    return WebHook.objects.filter(scope, executable_q(), **{flag: True}).order_by("pk")


def branch_filter_matches(hook: WebHook, ref: str) -> bool:
    """GitLab's ActiveHookFilter: the push hook's branch filter (wildcard, RE2 regex, all)."""
    pattern = hook.push_events_branch_filter
    if not pattern or hook.branch_filter_strategy == BranchFilterStrategy.ALL_BRANCHES:
        return True
    branch = ref.removeprefix("refs/heads/")
    if hook.branch_filter_strategy == BranchFilterStrategy.REGEX:
        try:
            return re2.search(pattern, branch) is not None
        except re2.error:
            return False
    return wildcard_matches(pattern, branch)


def jsonable(data: Mapping[str, Any]) -> dict[str, Any]:
    """The payload as JSON would carry it (dates as ISO strings), for the task queue."""
    loaded = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    return loaded if isinstance(loaded, dict) else {}


def _enqueue(hooks: Iterable[WebHook], data: dict[str, Any], trigger: str) -> int:
    from kiln.webhooks.tasks import deliver_web_hook

    count = 0
    for hook in hooks:
        try:
            deliver_web_hook.enqueue(hook.pk, trigger, data, str(uuid.uuid4()), str(uuid.uuid4()))
            count += 1
        except Exception:
            log.exception("could not enqueue a webhook delivery", extra={"hook_id": hook.pk})
    return count


def _filtered(hooks: Iterable[WebHook], trigger: str, data: Mapping[str, Any]) -> list[WebHook]:
    if trigger != "push_hooks":
        return list(hooks)
    ref = str(data.get("ref", ""))
    return [hook for hook in hooks if branch_filter_matches(hook, ref)]


def deliver_now(
    *,
    trigger: str,
    data: Mapping[str, Any],
    project: Project | None = None,
    group: Namespace | None = None,
) -> int:
    """Enqueue deliveries to the subscribed hooks at once (the caller is past its commit)."""
    if trigger not in TRIGGER_FLAGS:
        raise ValueError(f"unknown webhook trigger {trigger!r}")
    hooks = _filtered(
        subscribed_hooks(trigger=trigger, project=project, group=group), trigger, data
    )
    return _enqueue(hooks, jsonable(data), trigger)


def execute_project_hooks(*, project: Project, data: Mapping[str, Any], trigger: str) -> None:
    """Send `data` to the hooks of `project`, of its groups, and to system hooks when they
    have this trigger, once the current transaction commits."""
    payload = jsonable(data)
    transaction.on_commit(lambda: deliver_now(trigger=trigger, data=payload, project=project))


def execute_group_hooks(*, group: Namespace, data: Mapping[str, Any], trigger: str) -> None:
    """Group events (members, subgroups, projects): the group's and its ancestors' hooks."""
    payload = jsonable(data)
    transaction.on_commit(lambda: deliver_now(trigger=trigger, data=payload, group=group))


def execute_system_hooks(*, data: Mapping[str, Any], trigger: str) -> None:
    payload = jsonable(data)
    transaction.on_commit(lambda: deliver_now(trigger=trigger, data=payload))


# -- pushes ----------------------------------------------------------------------------------


def _push_subscribers(project: Project) -> bool:
    interested = Q(push_events=True) | Q(tag_push_events=True)
    interested |= Q(kind=HookKind.SYSTEM, repository_update_events=True)
    scope = _scope_q(project=project, group=None, system=True)
    return WebHook.objects.filter(scope, interested).exists()


def on_pushes(pushes: list[Push]) -> None:
    """The push listener (runs after the push committed): hand the work to the worker, which
    reads the commits, only when some hook may want it."""
    if not pushes or not _push_subscribers(pushes[0].project):
        return
    from kiln.webhooks.tasks import execute_push_hooks

    execute_push_hooks.enqueue([push.pk for push in pushes])


def _action(push: Push) -> str:
    if push.before == payloads.BLANK_SHA:
        return "create"
    if push.after == payloads.BLANK_SHA:
        return "delete"
    return "update"


def deliver_pushes(pushes: Sequence[Push]) -> int:
    """Push Hook / Tag Push Hook for each ref, and the system hooks' repository_update."""
    if not pushes:
        return 0
    project = pushes[0].project
    counts: dict[tuple[bool, str], int] = {}
    for push in pushes:
        key = (push.is_tag, _action(push))
        counts[key] = counts.get(key, 0) + 1
    sent = 0
    for push in pushes:
        if not (push.is_branch or push.is_tag):
            continue
        if counts[(push.is_tag, _action(push))] > PUSH_EVENT_HOOKS_LIMIT:
            continue
        trigger = "tag_push_hooks" if push.is_tag else "push_hooks"
        hooks = list(subscribed_hooks(trigger=trigger, project=project))
        if trigger == "push_hooks":
            hooks = [hook for hook in hooks if branch_filter_matches(hook, push.ref)]
        if not hooks:
            continue
        sent += _enqueue(hooks, jsonable(payloads.push_data(push)), trigger)
    system = list(subscribed_hooks(trigger="repository_update_hooks", project=None))
    if system:
        data = payloads.repository_update_data(project, pushes[0].author, pushes)
        sent += _enqueue(system, jsonable(data), "repository_update_hooks")
    return sent
