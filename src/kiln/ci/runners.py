"""Runners: creating them (GitLab's `glrt-` tokens), the legacy registration-token flow,
verification, heartbeats, settings, and which projects a project runner serves.

Tokens are shown once and kept only as SHA-256 digests. A runner created by a user
(POST /user/runners) gets a `glrt-` authentication token; one registered with a
registration token (the legacy POST /runners) gets an unprefixed one, as on GitLab.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from kiln.accounts.tokens import digest, generate
from kiln.ci import policies
from kiln.ci.models import (
    RegistrationToken,
    Runner,
    RunnerAccessLevel,
    RunnerNamespace,
    RunnerProject,
    RunnerType,
)
from kiln.ci.queue import queue_keys_for_runner
from kiln.core.actor import Actor
from kiln.core.errors import BadRequest, Forbidden, InvalidParameter, NotFound, ValidationFailed
from kiln.namespaces.models import Namespace
from kiln.projects.models import Project

RUNNER_TOKEN_PREFIX = "glrt-"  # noqa: S105 (GitLab's public token prefix)
REGISTRATION_TOKEN_PREFIX = "GR1348941"  # noqa: S105 (GitLab's public prefix)
MIN_MAXIMUM_TIMEOUT = 600
HEARTBEAT_INTERVAL = dt.timedelta(seconds=60)
INFO_FIELDS = ("name", "version", "revision", "platform", "architecture", "executor")


@dataclass(frozen=True)
class Registered:
    runner: Runner
    token: str


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    tags = [str(item).strip() for item in items]
    return list(dict.fromkeys(t for t in tags if t))


def _bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes", "t", "on")


def _apply(runner: Runner, attrs: Mapping[str, Any]) -> None:
    """Settings common to creation, registration and update, validated as GitLab does."""
    errors: dict[str, list[str]] = {}
    if attrs.get("description") is not None:
        runner.description = str(attrs["description"])[:1024]
    note = attrs.get("maintenance_note", attrs.get("maintainer_note"))
    if note is not None:
        runner.maintenance_note = str(note)
    if attrs.get("paused") is not None:
        runner.active = not _bool(attrs["paused"], False)
    elif attrs.get("active") is not None:
        runner.active = _bool(attrs["active"], True)
    if attrs.get("locked") is not None:
        runner.locked = _bool(attrs["locked"], False)
    if attrs.get("run_untagged") is not None:
        runner.run_untagged = _bool(attrs["run_untagged"], True)
    if attrs.get("tag_list") is not None:
        runner.tag_list = _tags(attrs["tag_list"])
    if attrs.get("access_level") is not None:
        if attrs["access_level"] not in RunnerAccessLevel.values:
            raise InvalidParameter("access_level does not have a valid value")
        runner.access_level = attrs["access_level"]
    if "maximum_timeout" in attrs:
        value = attrs["maximum_timeout"]
        if value in (None, ""):
            runner.maximum_timeout = None
        else:
            try:
                number = int(value)
            except (TypeError, ValueError):
                raise InvalidParameter("maximum_timeout is invalid") from None
            if number < MIN_MAXIMUM_TIMEOUT:
                errors["maximum_timeout"] = ["needs to be at least 10 minutes"]
            runner.maximum_timeout = number
    if not runner.run_untagged and not runner.tag_list:
        errors["tags_list"] = ["can not be empty when runner is not allowed to pick untagged jobs"]
    if errors:
        raise ValidationFailed(errors)


def _save_new(runner: Runner, *, project: Project | None, group: Namespace | None) -> None:
    for _ in range(3):
        try:
            with transaction.atomic():
                runner.save()
                if project is not None:
                    RunnerProject.objects.create(runner=runner, project=project)
                if group is not None:
                    RunnerNamespace.objects.create(runner=runner, namespace=group)
                runner.queue_keys = queue_keys_for_runner(runner)
                runner.save(update_fields=["queue_keys"])
            return
        except IntegrityError:  # a token digest collision: draw again
            runner.pk = None
    raise RuntimeError("could not store the runner")


def create_runner(
    *,
    actor: Actor,
    runner_type: str,
    project: Project | None = None,
    group: Namespace | None = None,
    attrs: Mapping[str, Any],
) -> Registered:
    """POST /user/runners: a runner owned by the instance, a group or a project."""
    if runner_type not in RunnerType.values:
        raise InvalidParameter("runner_type does not have a valid value")
    if runner_type == RunnerType.PROJECT and project is None:
        raise BadRequest("Missing/invalid project ID")
    if runner_type == RunnerType.GROUP and group is None:
        raise BadRequest("Missing/invalid group ID")
    if not policies.can_create_runner(actor, runner_type, project=project, group=group):
        raise Forbidden("Insufficient permissions")
    token = generate(RUNNER_TOKEN_PREFIX)
    runner = Runner(
        token_digest=digest(token),
        runner_type=runner_type,
        registration_type="authenticated_user",
        creator=actor.user,
    )
    _apply(runner, attrs)
    _save_new(
        runner,
        project=project if runner_type == RunnerType.PROJECT else None,
        group=group if runner_type == RunnerType.GROUP else None,
    )
    return Registered(runner, token)


def _registration_owner(token: str) -> tuple[str, Project | None, Namespace | None] | None:
    row = (
        RegistrationToken.objects.select_related("project__namespace", "namespace")
        .filter(token_digest=digest(token))
        .first()
    )
    if row is None:
        return None
    if row.project is not None:
        return RunnerType.PROJECT, row.project, None
    if row.namespace is not None:
        return RunnerType.GROUP, None, row.namespace
    return RunnerType.INSTANCE, None, None


def register_runner(
    *, registration_token: str, attrs: Mapping[str, Any], ip_address: str = ""
) -> Registered | None:
    """Legacy POST /runners: None when the registration token is unknown (403)."""
    if not registration_token or len(registration_token) > 256:
        return None
    owner = _registration_owner(registration_token)
    if owner is None:
        return None
    runner_type, project, group = owner
    token = generate("")
    runner = Runner(
        token_digest=digest(token),
        runner_type=runner_type,
        registration_type="registration_token",
        ip_address=ip_address[:64],
    )
    _apply(runner, attrs)
    _record_info(runner, attrs.get("info"))
    _save_new(runner, project=project, group=group)
    return Registered(runner, token)


def reset_registration_token(
    *, actor: Actor, project: Project | None = None, group: Namespace | None = None
) -> str:
    """A new registration token for the instance (admins), a group (Owners) or a project
    (Maintainers); the old one stops working."""
    if project is not None:
        allowed = policies.can_admin_ci(actor, project)
    elif group is not None:
        allowed = policies.can_admin_group_ci(actor, group)
    else:
        allowed = actor.is_admin
    if not allowed:
        raise Forbidden()
    token = generate(REGISTRATION_TOKEN_PREFIX)
    if project is not None:
        existing = RegistrationToken.objects.filter(project=project)
    elif group is not None:
        existing = RegistrationToken.objects.filter(namespace=group)
    else:
        existing = RegistrationToken.objects.filter(project__isnull=True, namespace__isnull=True)
    with transaction.atomic():
        existing.delete()
        RegistrationToken.objects.create(
            project=project, namespace=group, token_digest=digest(token)
        )
    return token


def find_runner_by_token(token: str) -> Runner | None:
    if not token or len(token) > 256:
        return None
    # Every poll of every runner starts here: a plain query by the unique digest costs a
    # third of what building the ORM query does (measured in bench/ci_idle.py).
    table = connection.ops.quote_name(Runner._meta.db_table)
    sql = f"SELECT * FROM {table} WHERE token_digest = %s"  # noqa: S608
    found = list(Runner.objects.raw(sql, [digest(token)]))
    if not found:
        return None
    runner = found[0]
    if runner.token_expires_at is not None and runner.token_expires_at < timezone.now():
        return None
    return runner


def _record_info(runner: Runner, info: Any) -> bool:
    """Copy what the runner says about itself; True when something changed."""
    changed = False
    if isinstance(info, Mapping):
        for name in INFO_FIELDS:
            value = info.get(name)
            if isinstance(value, str) and getattr(runner, name) != value[:255]:
                setattr(runner, name, value[:255])
                changed = True
    return changed


def heartbeat(
    runner: Runner, *, info: Any = None, ip_address: str = "", system_id: Any = None
) -> None:
    """Note that the runner called. Writes at most once a minute unless what it reports changed,
    so a poll usually costs no write."""
    now = timezone.now()
    changed = _record_info(runner, info)
    if isinstance(system_id, str) and system_id[:64] != runner.system_id:
        runner.system_id = system_id[:64]
        changed = True
    if ip_address and ip_address[:64] != runner.ip_address:
        runner.ip_address = ip_address[:64]
        changed = True
    stale = runner.contacted_at is None or now - runner.contacted_at > HEARTBEAT_INTERVAL
    if not changed and not stale:
        return
    runner.contacted_at = now
    Runner.objects.filter(pk=runner.pk).update(
        contacted_at=now,
        ip_address=runner.ip_address,
        system_id=runner.system_id,
        **{name: getattr(runner, name) for name in INFO_FIELDS},
    )


def reset_runner_token(runner: Runner) -> str:
    token = generate(
        RUNNER_TOKEN_PREFIX if runner.registration_type == "authenticated_user" else ""
    )
    Runner.objects.filter(pk=runner.pk).update(token_digest=digest(token))
    return token


def unregister_runner(runner: Runner) -> None:
    """DELETE /runners with the runner's own token."""
    runner.delete()


def update_runner(*, actor: Actor, runner: Runner, changes: Mapping[str, Any]) -> Runner:
    if not policies.can_admin_runner(actor, runner):
        raise Forbidden()
    _apply(runner, changes)
    runner.config_version = F("config_version") + 1
    runner.save()
    runner.refresh_from_db()
    return runner


def delete_runner(*, actor: Actor, runner: Runner) -> None:
    if not policies.can_admin_runner(actor, runner):
        raise Forbidden()
    runner.delete()


def assign_runner(*, actor: Actor, runner: Runner, project: Project) -> Runner:
    """POST /projects/:id/runners: let a project runner serve another project too."""
    if not policies.can_admin_ci(actor, project):
        raise Forbidden()
    if runner.runner_type != RunnerType.PROJECT:
        raise BadRequest("Runner is not a project runner")
    if runner.locked and not actor.is_admin:
        raise Forbidden("Runner is locked")
    if not policies.can_read_runner(actor, runner):
        raise NotFound("Runner")
    with transaction.atomic():
        _, created = RunnerProject.objects.get_or_create(runner=runner, project=project)
        if not created:
            raise BadRequest("Runner was already enabled for this project")
        _refresh_keys(runner)
    return runner


def unassign_runner(*, actor: Actor, runner: Runner, project: Project) -> None:
    if not policies.can_admin_ci(actor, project):
        raise Forbidden()
    links = RunnerProject.objects.filter(runner=runner)
    first = links.order_by("id").first()
    if first is not None and first.project_id == project.pk:
        raise Forbidden(
            "Only one project associated with the runner. Please remove the runner instead"
        )
    with transaction.atomic():
        deleted, _ = links.filter(project=project).delete()
        if not deleted:
            raise NotFound("Runner")
        _refresh_keys(runner)


def _refresh_keys(runner: Runner) -> None:
    runner.queue_keys = queue_keys_for_runner(runner)
    Runner.objects.filter(pk=runner.pk).update(
        queue_keys=runner.queue_keys, config_version=F("config_version") + 1
    )


EMBEDDED_RUNNER_DESCRIPTION = "Kiln embedded runner"


def create_embedded_runner_unchecked() -> Registered:
    """The instance runner `kiln serve` runs itself (no actor: the server registers it on its
    own first start). Untagged jobs only; a `glrt-` token like any created runner."""
    token = generate(RUNNER_TOKEN_PREFIX)
    runner = Runner(
        token_digest=digest(token),
        runner_type=RunnerType.INSTANCE,
        registration_type="authenticated_user",
        description=EMBEDDED_RUNNER_DESCRIPTION,
        run_untagged=True,
    )
    _save_new(runner, project=None, group=None)
    return Registered(runner, token)
