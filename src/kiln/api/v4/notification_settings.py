"""API v4: notification settings (GitLab's `lib/api/notification_settings.rb`): the caller's
global setting and their setting for a project or a group they can see. Signed in only."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import ConfigDict

from kiln.api.v4.auth import require_user
from kiln.api.v4.params import Params, PathStr
from kiln.namespaces.queries import get_group_for
from kiln.notifications import services
from kiln.notifications.models import EMAIL_EVENTS, NotificationLevel, NotificationSetting
from kiln.projects.queries import get_project_for

router = Router(tags=["notification_settings"])


class SourceSettingParams(Schema):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    level: str | None = None
    new_release: bool | None = None
    new_note: bool | None = None
    new_issue: bool | None = None
    reopen_issue: bool | None = None
    close_issue: bool | None = None
    reassign_issue: bool | None = None
    issue_due: bool | None = None
    new_merge_request: bool | None = None
    push_to_merge_request: bool | None = None
    reopen_merge_request: bool | None = None
    close_merge_request: bool | None = None
    reassign_merge_request: bool | None = None
    change_reviewer_merge_request: bool | None = None
    merge_merge_request: bool | None = None
    failed_pipeline: bool | None = None
    fixed_pipeline: bool | None = None
    success_pipeline: bool | None = None
    moved_project: bool | None = None
    merge_when_pipeline_succeeds: bool | None = None


class GlobalSettingParams(SourceSettingParams):
    notification_email: str | None = None


def _events(payload: SourceSettingParams) -> dict[str, bool]:
    values = payload.model_dump()
    return {name: bool(values[name]) for name in EMAIL_EVENTS if values.get(name) is not None}


def setting_entity(row: NotificationSetting, *, with_email: bool = False) -> dict[str, Any]:
    """GitLab's `NotificationSetting` entity (`GlobalNotificationSetting` adds the email)."""
    data: dict[str, Any] = {"level": row.level_name}
    if row.level == NotificationLevel.CUSTOM:
        data["events"] = services.settings_entity_events(row)
    if with_email:
        data["notification_email"] = services.notification_email_of(row.user, row)
    return data


@router.get("/notification_settings")
def get_global(request: HttpRequest) -> dict[str, Any]:
    actor = require_user(request)
    assert actor.user is not None
    return setting_entity(services.global_setting_for(actor.user), with_email=True)


@router.put("/notification_settings")
def update_global(
    request: HttpRequest, payload: Annotated[GlobalSettingParams, Params(...)]
) -> dict[str, Any]:
    actor = require_user(request)
    row = services.update_notification_setting(
        actor=actor,
        level=payload.level,
        notification_email=payload.notification_email,
        events=_events(payload),
    )
    return setting_entity(row, with_email=True)


@router.get("/projects/{id}/notification_settings")
def get_project(request: HttpRequest, id: PathStr) -> dict[str, Any]:
    actor = require_user(request)
    assert actor.user is not None
    project = get_project_for(actor, id)
    return setting_entity(services.source_setting_for(actor.user, project=project))


@router.put("/projects/{id}/notification_settings")
def update_project(
    request: HttpRequest, id: PathStr, payload: Annotated[SourceSettingParams, Params(...)]
) -> dict[str, Any]:
    actor = require_user(request)
    project = get_project_for(actor, id)
    row = services.update_notification_setting(
        actor=actor, project=project, level=payload.level, events=_events(payload)
    )
    return setting_entity(row)


@router.get("/groups/{id}/notification_settings")
def get_group(request: HttpRequest, id: PathStr) -> dict[str, Any]:
    actor = require_user(request)
    assert actor.user is not None
    group = get_group_for(actor, id)
    return setting_entity(services.source_setting_for(actor.user, group=group))


@router.put("/groups/{id}/notification_settings")
def update_group(
    request: HttpRequest, id: PathStr, payload: Annotated[SourceSettingParams, Params(...)]
) -> dict[str, Any]:
    actor = require_user(request)
    group = get_group_for(actor, id)
    row = services.update_notification_setting(
        actor=actor, group=group, level=payload.level, events=_events(payload)
    )
    return setting_entity(row)
