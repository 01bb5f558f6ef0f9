"""Pipeline schedules: cron (with a time zone) creating pipelines of source `schedule` as the
schedule's owner, as GitLab's Ci::PipelineSchedule and its services.

Who may do what (GitLab's pipeline schedule policy):

- see schedules: whoever may see the project's pipelines;
- create one: a Developer who may run pipelines on its ref; they own it;
- change it or its variables: its owner (a Developer who may still run pipelines on its ref);
- delete it, take it over: a Maintainer (or its owner);
- play it now: whoever may run pipelines on its ref; the pipeline runs as them.

Validation answers as GitLab: `{"cron": [" is invalid syntax"]}`, `{"cron_timezone":
[" is invalid syntax"]}`; a short ref becomes `refs/heads/...` or `refs/tags/...` when it
names exactly one of them (an unknown ref is kept, as GitLab keeps it: the schedule then
creates nothing when it comes due).

The worker's periodic task `run_due_schedules` creates the pipelines that came due; each is
claimed by moving `next_run_at` with a compare-and-swap first, so two workers never run one
schedule twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from kiln.accounts.models import User
from kiln.ci import cron, policies
from kiln.ci.inputs import schedule_inputs
from kiln.ci.models import (
    PipelineSchedule,
    PipelineScheduleVariable,
    PipelineSource,
    VariableType,
)
from kiln.ci.pipelines import (
    PipelineError,
    PipelineInput,
    create_pipeline_unchecked,
    may_set_variables,
)
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, NotFound, ValidationFailed
from kiln.gitstore import GitStoreError, validate_branch_name, validate_tag_name
from kiln.projects.models import Project
from kiln.repositories.storage import repo_path, store

log = logging.getLogger(__name__)

BRANCH_PREFIX = "refs/heads/"
TAG_PREFIX = "refs/tags/"
_KEY = re.compile(r"^[a-zA-Z0-9_]{1,255}$")
MAX_PER_TICK = 200


# --- reading ------------------------------------------------------------------------------------


def short_ref(ref: str) -> str:
    for prefix in (BRANCH_PREFIX, TAG_PREFIX):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


def is_tag_ref(ref: str) -> bool:
    return ref.startswith(TAG_PREFIX)


def list_schedules(*, actor: Actor, project: Project, scope: str | None) -> Any:
    if not policies.can_read_pipelines(actor, project):
        raise Forbidden()
    found = PipelineSchedule.objects.filter(project=project).select_related("owner")
    if scope == "active":
        found = found.filter(active=True)
    elif scope == "inactive":
        found = found.filter(active=False)
    return found.order_by("pk")


def get_schedule(*, actor: Actor, project: Project, schedule_id: int) -> PipelineSchedule:
    if not policies.can_read_pipelines(actor, project):
        raise NotFound("Pipeline Schedule")
    found = (
        PipelineSchedule.objects.select_related("owner", "project__namespace")
        .filter(project=project, pk=schedule_id)
        .first()
    )
    if found is None:
        raise NotFound("Pipeline Schedule")
    return found


def last_pipeline(schedule: PipelineSchedule) -> Any:
    return schedule.pipelines.order_by("-pk").first()


# --- validation ---------------------------------------------------------------------------------


def _expand_ref(project: Project, ref: str) -> str:
    if ref.startswith((BRANCH_PREFIX, TAG_PREFIX)):
        return ref
    path = repo_path(project)
    gitstore = store()
    branch = tag = None
    try:
        validate_branch_name(ref)
        branch = gitstore.find_branch(relative_path=path, name=ref)
    except (GitStoreError, ValueError):
        branch = None
    try:
        validate_tag_name(ref)
        tag = gitstore.find_tag(relative_path=path, name=ref)
    except (GitStoreError, ValueError):
        tag = None
    if branch is not None and tag is not None:
        raise ValidationFailed({"ref": ["is ambiguous"]})
    if branch is not None:
        return BRANCH_PREFIX + ref
    if tag is not None:
        return TAG_PREFIX + ref
    return ref


def _validated(schedule: PipelineSchedule) -> None:
    errors: dict[str, list[str]] = {}
    if not (schedule.description or "").strip():
        errors["description"] = ["can't be blank"]
    elif len(schedule.description) > 255:
        errors["description"] = ["is too long (maximum is 255 characters)"]
    if not (schedule.ref or "").strip():
        errors["ref"] = ["can't be blank"]
    elif len(schedule.ref) > 1024 or "\x00" in schedule.ref:
        errors["ref"] = ["is invalid"]
    schedule.cron = (schedule.cron or "").strip()
    parsed = None
    if not schedule.cron:
        errors["cron"] = ["can't be blank"]
    else:
        try:
            parsed = cron.parse(schedule.cron)
        except cron.CronError:
            errors["cron"] = [" is invalid syntax"]
    tz = None
    if not (schedule.cron_timezone or "").strip():
        errors["cron_timezone"] = ["can't be blank"]
    else:
        try:
            tz = cron.zone(schedule.cron_timezone)
        except cron.CronError:
            errors["cron_timezone"] = [" is invalid syntax"]
    if errors:
        raise ValidationFailed(errors)
    assert parsed is not None
    assert tz is not None
    schedule.next_run_at = cron.next_run(parsed, tz, timezone.now())


def _may_save(actor: Actor, project: Project, ref: str) -> bool:
    return policies.can_run_pipelines(actor, project) and policies.can_update_ref(
        actor, project, short_ref(ref), tag=is_tag_ref(ref)
    )


def _not_authorized(action: str) -> ValidationFailed:
    # GitLab renders the service's refusal as a validation error on `base`.
    return ValidationFailed(
        {"base": [f"The current user is not authorized to {action} the pipeline schedule"]}
    )


def _is_owner(actor: Actor, schedule: PipelineSchedule) -> bool:
    return actor.user is not None and schedule.owner_id == actor.user.pk


def _may_admin(actor: Actor, schedule: PipelineSchedule) -> bool:
    return _is_owner(actor, schedule) or policies.can_admin_ci(actor, schedule.project)


# --- writing ------------------------------------------------------------------------------------


def create_schedule(
    *, actor: Actor, project: Project, attrs: Mapping[str, Any]
) -> PipelineSchedule:
    if not policies.can_run_pipelines(actor, project):
        raise Forbidden()
    schedule = PipelineSchedule(
        project=project,
        owner=actor.user,
        description=str(attrs.get("description") or ""),
        ref=str(attrs.get("ref") or ""),
        cron=str(attrs.get("cron") or ""),
        cron_timezone=str(attrs.get("cron_timezone") or "UTC"),
        active=bool(attrs.get("active", True)),
        inputs=schedule_inputs([], attrs.get("inputs")),
    )
    _validated(schedule)
    schedule.ref = _expand_ref(project, schedule.ref)
    if not _may_save(actor, project, schedule.ref):
        raise _not_authorized("create")
    schedule.save()
    return schedule


def update_schedule(
    *, actor: Actor, schedule: PipelineSchedule, attrs: Mapping[str, Any]
) -> PipelineSchedule:
    if not _is_owner(actor, schedule) and not actor.is_admin:
        raise Forbidden()
    for name in ("description", "ref", "cron", "cron_timezone"):
        if attrs.get(name) is not None:
            setattr(schedule, name, str(attrs[name]))
    if attrs.get("active") is not None:
        schedule.active = bool(attrs["active"])
    schedule.inputs = schedule_inputs(list(schedule.inputs or []), attrs.get("inputs"))
    _validated(schedule)
    schedule.ref = _expand_ref(schedule.project, schedule.ref)
    if not _may_save(actor, schedule.project, schedule.ref):
        raise _not_authorized("update")
    schedule.save()
    return schedule


def take_ownership(*, actor: Actor, schedule: PipelineSchedule) -> tuple[PipelineSchedule, bool]:
    """(schedule, changed): the owner asking again is a no-op (GitLab answers 200, not 201)."""
    if _is_owner(actor, schedule):
        return schedule, False
    if not policies.can_admin_ci(actor, schedule.project):
        raise Forbidden()
    schedule.owner = actor.user
    schedule.save(update_fields=["owner", "updated_at"])
    return schedule, True


def delete_schedule(*, actor: Actor, schedule: PipelineSchedule) -> None:
    if not _may_admin(actor, schedule):
        raise Forbidden()
    schedule.delete()


def play_schedule(*, actor: Actor, schedule: PipelineSchedule) -> None:
    """POST .../play: run it now as `actor` (in the background); `next_run_at` is kept."""
    ref = schedule.ref
    if not policies.can_run_pipelines(actor, schedule.project) or not policies.can_update_ref(
        actor, schedule.project, short_ref(ref), tag=is_tag_ref(ref)
    ):
        raise Forbidden()
    from kiln.ci.tasks import run_pipeline_schedule

    assert actor.user is not None
    schedule_id, user_id = schedule.pk, actor.user.pk
    transaction.on_commit(lambda: run_pipeline_schedule.enqueue(schedule_id, user_id))


# --- variables ----------------------------------------------------------------------------------


def _authorize_variables(actor: Actor, schedule: PipelineSchedule, *, delete: bool) -> None:
    allowed = _may_admin(actor, schedule) if delete else _is_owner(actor, schedule)
    if not allowed and not actor.is_admin:
        raise Forbidden()
    if not may_set_variables(actor, schedule.project):
        raise Forbidden()


def get_variable(schedule: PipelineSchedule, key: str) -> PipelineScheduleVariable:
    found = schedule.variables.filter(key=key).first()
    if found is None:
        raise NotFound("Pipeline Schedule Variable")
    return found


def _variable_type(value: Any) -> str:
    kind = str(value or VariableType.ENV_VAR)
    if kind not in VariableType.values:
        from kiln.core.errors import InvalidParameter

        raise InvalidParameter("variable_type does not have a valid value")
    return kind


def create_variable(
    *, actor: Actor, schedule: PipelineSchedule, attrs: Mapping[str, Any]
) -> PipelineScheduleVariable:
    _authorize_variables(actor, schedule, delete=False)
    key = str(attrs.get("key") or "")
    if not _KEY.fullmatch(key):
        raise ValidationFailed(
            {"key": ["can contain only letters, digits and '_'." if key else "can't be blank"]}
        )
    if schedule.variables.filter(key=key).exists():
        raise ValidationFailed({"key": ["(" + key + ") has already been taken"]})
    return PipelineScheduleVariable.objects.create(
        schedule=schedule,
        key=key,
        value=str(attrs.get("value") or ""),
        variable_type=_variable_type(attrs.get("variable_type")),
    )


def update_variable(
    *, actor: Actor, variable: PipelineScheduleVariable, attrs: Mapping[str, Any]
) -> PipelineScheduleVariable:
    _authorize_variables(actor, variable.schedule, delete=False)
    if attrs.get("value") is not None:
        variable.value = str(attrs["value"])
    if attrs.get("variable_type") is not None:
        variable.variable_type = _variable_type(attrs["variable_type"])
    variable.save()
    return variable


def delete_variable(*, actor: Actor, variable: PipelineScheduleVariable) -> None:
    _authorize_variables(actor, variable.schedule, delete=True)
    variable.delete()


# --- running ------------------------------------------------------------------------------------


def run_schedule(schedule: PipelineSchedule, user: User | None) -> int | None:
    """Create the schedule's pipeline as `user`; the pipeline's id, or None (logged) when
    there is none: no such ref, no configuration, or the user may not run it any more."""
    project = schedule.project
    if user is None or not user.is_active:
        log.info("schedule %s has no active owner: no pipeline", schedule.pk)
        return None
    actor = Actor(user=user)
    ref = short_ref(schedule.ref)
    tag = is_tag_ref(schedule.ref)
    if project.archived or project.builds_access_level == "disabled":
        return None
    if not policies.can_run_pipelines(actor, project) or not policies.can_update_ref(
        actor, project, ref, tag=tag
    ):
        log.info("the owner of schedule %s may not run pipelines on its ref", schedule.pk)
        return None
    from kiln.ci.pipelines import resolve_ref

    try:
        sha, found_tag = resolve_ref(project, ref)
    except PipelineError:
        log.info("schedule %s: ref %s not found", schedule.pk, schedule.ref)
        return None
    variables = tuple((v.key, v.value, v.variable_type) for v in schedule.variables.order_by("pk"))
    created = create_pipeline_unchecked(
        project=project,
        user=user,
        spec=PipelineInput(
            ref=ref,
            sha=sha,
            tag=found_tag,
            source=PipelineSource.SCHEDULE,
            variables=variables,
            schedule_id=schedule.pk,
            inputs={item["name"]: item["value"] for item in schedule.inputs or []},
        ),
    )
    return created.pipeline.pk if created.pipeline is not None else None


def run_due_schedules(now: dt.datetime | None = None) -> int:
    """Create the pipelines of every active schedule that came due; returns how many ran."""
    now = now or timezone.now()
    due = list(
        PipelineSchedule.objects.filter(active=True, next_run_at__lte=now)
        .select_related("project__namespace", "owner")
        .order_by("next_run_at")[:MAX_PER_TICK]
    )
    ran = 0
    for schedule in due:
        try:
            parsed = cron.parse(schedule.cron)
            following = cron.next_run(parsed, cron.zone(schedule.cron_timezone), now)
        except cron.CronError:
            following = None
        claimed = PipelineSchedule.objects.filter(
            pk=schedule.pk, next_run_at=schedule.next_run_at
        ).update(next_run_at=following)
        if not claimed:
            continue  # another worker took it
        try:
            run_schedule(schedule, schedule.owner)
            ran += 1
        except Exception:
            log.exception("a pipeline schedule failed", extra={"schedule_id": schedule.pk})
    return ran
