"""GitLab's hook entities (`Entities::Hook`, `ProjectHook`, `GroupHook`) and hook events
(`Entities::WebHookLog`). The token is never shown; URL variables and custom headers show their
keys only, as GitLab masks them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kiln.api.v4.presenters.common import iso
from kiln.webhooks.execution import alert_status
from kiln.webhooks.models import HookKind, WebHook, WebHookLog
from kiln.webhooks.services import GROUP_EVENTS, PROJECT_EVENTS

# The events `Entities::Hook` shows for every kind; the rest depend on the kind.
_BASE_EVENTS = (
    "push_events",
    "tag_push_events",
    "merge_requests_events",
    "repository_update_events",
)


def hook_entity(hook: WebHook) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": hook.pk,
        "url": hook.url,
        "name": hook.name,
        "description": hook.description,
        "created_at": iso(hook.created_at),
    }
    data.update({event: getattr(hook, event) for event in _BASE_EVENTS})
    data["enable_ssl_verification"] = hook.enable_ssl_verification
    if hook.kind == HookKind.SYSTEM:
        data["organization_id"] = 1
    data.update(
        {
            "alert_status": alert_status(hook),
            "disabled_until": iso(hook.disabled_until),
            "url_variables": [{"key": key} for key in sorted(hook.url_variables or {})],
            "push_events_branch_filter": hook.push_events_branch_filter,
            "branch_filter_strategy": hook.branch_filter_strategy,
            "custom_webhook_template": hook.custom_webhook_template or None,
            "custom_headers": [{"key": key} for key in sorted(hook.custom_headers or {})],
        }
    )
    if hook.kind == HookKind.PROJECT:
        data["project_id"] = hook.project_id
        data.update({e: getattr(hook, e) for e in PROJECT_EVENTS if e not in _BASE_EVENTS})
    elif hook.kind == HookKind.GROUP:
        data["group_id"] = hook.group_id
        data.update({e: getattr(hook, e) for e in GROUP_EVENTS if e not in _BASE_EVENTS})
    return data


def hook_entities(hooks: Sequence[WebHook]) -> list[dict[str, Any]]:
    return [hook_entity(hook) for hook in hooks]


def hook_event_entity(entry: WebHookLog) -> dict[str, Any]:
    return {
        "id": entry.pk,
        "url": entry.url,
        "trigger": entry.trigger,
        "request_headers": entry.request_headers,
        "request_data": entry.request_data,
        "response_headers": entry.response_headers,
        "response_body": entry.response_body,
        "execution_duration": entry.execution_duration,
        "response_status": entry.response_status,
        "created_at": iso(entry.created_at),
    }


def hook_event_entities(entries: Sequence[WebHookLog]) -> list[dict[str, Any]]:
    return [hook_event_entity(entry) for entry in entries]
