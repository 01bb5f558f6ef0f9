"""Reads of hooks and their delivery logs, for the actors allowed to manage them.

The caller found the parent (project or group) with a visibility check; these answer 403 for a
visible parent the actor may not manage (see kiln.webhooks.services) and 404 for a hook or log
that is not the parent's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db.models import Q, QuerySet
from django.utils import timezone

from kiln.core.actor import Actor
from kiln.core.errors import NotFound
from kiln.namespaces.models import Namespace
from kiln.projects.models import Project
from kiln.webhooks import services
from kiln.webhooks.models import HookKind, WebHook, WebHookLog

# GitLab's hook events API shows the last seven days.
EVENTS_WINDOW = dt.timedelta(days=7)
STATUS_CATEGORIES = {
    "successful": (200, 299),
    "client_failure": (400, 499),
    "server_failure": (500, 599),
}


def list_project_hooks(actor: Actor, project: Project) -> QuerySet[WebHook]:
    services.authorize_project(actor, project)
    return WebHook.objects.filter(kind=HookKind.PROJECT, project=project).order_by("pk")


def list_group_hooks(actor: Actor, group: Namespace) -> QuerySet[WebHook]:
    services.authorize_group(actor, group)
    return WebHook.objects.filter(kind=HookKind.GROUP, group=group).order_by("pk")


def list_system_hooks(actor: Actor) -> QuerySet[WebHook]:
    services.authorize_system(actor)
    return WebHook.objects.filter(kind=HookKind.SYSTEM).order_by("pk")


def _one(qs: QuerySet[WebHook], hook_id: int) -> WebHook:
    hook = qs.filter(pk=hook_id).select_related("project__namespace", "group").first()
    if hook is None:
        raise NotFound()
    return hook


def get_project_hook(actor: Actor, project: Project, hook_id: int) -> WebHook:
    return _one(list_project_hooks(actor, project), hook_id)


def get_group_hook(actor: Actor, group: Namespace, hook_id: int) -> WebHook:
    return _one(list_group_hooks(actor, group), hook_id)


def get_system_hook(actor: Actor, hook_id: int) -> WebHook:
    return _one(list_system_hooks(actor), hook_id)


def status_q(statuses: Sequence[str]) -> Q:
    """`status` of the events API: codes ("200") and categories ("server_failure")."""
    q = Q(pk__in=[])
    for status in statuses:
        if status in STATUS_CATEGORIES:
            low, high = STATUS_CATEGORIES[status]
            q |= Q(status_code__gte=low, status_code__lte=high)
        else:
            q |= Q(status_code=int(status))
    return q


def list_hook_events(
    actor: Actor, hook: WebHook, *, statuses: Sequence[str] = ()
) -> QuerySet[WebHookLog]:
    services.authorize_hook(actor, hook)
    logs = WebHookLog.objects.filter(web_hook=hook, created_at__gte=timezone.now() - EVENTS_WINDOW)
    if statuses:
        logs = logs.filter(status_q(statuses))
    return logs.order_by("-created_at", "-pk")


def get_hook_event(actor: Actor, hook: WebHook, event_id: int) -> WebHookLog:
    services.authorize_hook(actor, hook)
    entry = WebHookLog.objects.filter(web_hook=hook, pk=event_id).first()
    if entry is None:
        raise NotFound()
    return entry
