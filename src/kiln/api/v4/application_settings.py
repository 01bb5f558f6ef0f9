"""API v4: `GET/PUT /application/settings`, the subset of GitLab's settings Kiln supports.

Admins only (403 otherwise, 401 without credentials). Unknown attributes are ignored, as
Grape ignores undeclared parameters; a PUT naming none of the supported ones is refused as
GitLab's `at_least_one_of` refuses it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import BeforeValidator

from kiln.api.v4.auth import require_admin
from kiln.api.v4.params import Params
from kiln.api.v4.presenters.common import iso
from kiln.core import appsettings
from kiln.core.access import Visibility
from kiln.core.errors import InvalidParameter
from kiln.core.models import ApplicationSetting

router = Router(tags=["application_settings"])

VisibilityLabel = Literal["private", "internal", "public"]


def _split(value: Any) -> Any:
    # Grape's CommaSeparatedToArray: "public,internal" as well as a list.
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


LevelList = Annotated[list[str | int], BeforeValidator(_split)]

# GitLab's deprecated names, still accepted and still shown (the new name wins on PUT).
LEGACY_NAMES = {
    "throttle_unauthenticated_enabled": "throttle_unauthenticated_web_enabled",
    "throttle_unauthenticated_requests_per_period": (
        "throttle_unauthenticated_web_requests_per_period"
    ),
    "throttle_unauthenticated_period_in_seconds": "throttle_unauthenticated_web_period_in_seconds",
    "allow_local_requests_from_hooks_and_services": (
        "allow_local_requests_from_web_hooks_and_services"
    ),
}


class ApplicationSettingsUpdate(Schema):
    signup_enabled: bool | None = None
    require_admin_approval_after_user_signup: bool | None = None
    user_default_external: bool | None = None
    can_create_group: bool | None = None
    default_projects_limit: int | None = None
    default_project_visibility: VisibilityLabel | None = None
    default_group_visibility: VisibilityLabel | None = None
    restricted_visibility_levels: LevelList | None = None
    default_branch_name: str | None = None
    max_attachment_size: int | None = None
    max_import_size: int | None = None
    receive_max_input_size: int | None = None
    repository_size_limit: int | None = None
    max_file_size: int | None = None
    allow_local_requests_from_web_hooks_and_services: bool | None = None
    allow_local_requests_from_hooks_and_services: bool | None = None
    allow_local_requests_from_system_hooks: bool | None = None
    shared_runners_enabled: bool | None = None
    kiln_embedded_runner_enabled: bool | None = None
    throttle_authenticated_api_enabled: bool | None = None
    throttle_authenticated_api_requests_per_period: int | None = None
    throttle_authenticated_api_period_in_seconds: int | None = None
    throttle_authenticated_web_enabled: bool | None = None
    throttle_authenticated_web_requests_per_period: int | None = None
    throttle_authenticated_web_period_in_seconds: int | None = None
    throttle_unauthenticated_api_enabled: bool | None = None
    throttle_unauthenticated_api_requests_per_period: int | None = None
    throttle_unauthenticated_api_period_in_seconds: int | None = None
    throttle_unauthenticated_web_enabled: bool | None = None
    throttle_unauthenticated_web_requests_per_period: int | None = None
    throttle_unauthenticated_web_period_in_seconds: int | None = None
    throttle_unauthenticated_enabled: bool | None = None
    throttle_unauthenticated_requests_per_period: int | None = None
    throttle_unauthenticated_period_in_seconds: int | None = None
    rate_limiting_response_text: str | None = None
    max_login_attempts: int | None = None
    failed_login_attempts_unlock_period_in_minutes: int | None = None


def _label(level: int) -> str:
    return Visibility(level).label


def present(setting: ApplicationSetting) -> dict[str, Any]:
    """GitLab's ApplicationSetting entity, limited to the attributes Kiln supports."""
    body: dict[str, Any] = {"id": setting.pk}
    for name in appsettings.FIELDS:
        body[name] = getattr(setting, name)
    body["default_project_visibility"] = _label(setting.default_project_visibility)
    body["default_group_visibility"] = _label(setting.default_group_visibility)
    body["restricted_visibility_levels"] = [
        _label(level) for level in setting.restricted_visibility_levels
    ]
    # Stored blank, shown as GitLab shows an unset value.
    for name in ("default_branch_name", "rate_limiting_response_text"):
        body[name] = body[name] or None
    for legacy, name in LEGACY_NAMES.items():
        body[legacy] = body[name]
    body["created_at"] = iso(setting.created_at)
    body["updated_at"] = iso(setting.updated_at)
    return dict(sorted(body.items()))


@router.get("/application/settings")
def get_application_settings(request: HttpRequest) -> dict[str, Any]:
    require_admin(request)
    return present(appsettings.current())


@router.put("/application/settings")
def update_application_settings(
    request: HttpRequest, payload: Annotated[ApplicationSettingsUpdate, Params(...)]
) -> dict[str, Any]:
    actor = require_admin(request)
    given = {name: getattr(payload, name) for name in payload.model_fields_set}
    for legacy, name in LEGACY_NAMES.items():
        if legacy in given:
            value = given.pop(legacy)
            given.setdefault(name, value)
    if not given:
        names = ", ".join(sorted([*appsettings.FIELDS, *LEGACY_NAMES]))
        raise InvalidParameter(f"{names} are missing, at least one parameter must be provided")
    setting = appsettings.update_application_settings(actor=actor, changes=given)
    return present(setting)
