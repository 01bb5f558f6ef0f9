"""Pipeline trigger tokens, and creating pipelines with them (source `trigger`).

As GitLab's Ci::Trigger and PipelineTriggerService:

- Maintainers list, create and delete a project's trigger tokens; only a token's owner may
  change its description. The token (`glptt-...`) is shown whole once, in the answer that
  created it; afterwards its first four characters (Kiln keeps only its digest).
- `POST /projects/:id/trigger/pipeline` with `token`, `ref` and `variables` creates a
  pipeline as the token's owner. A token unknown to this project, expired, or used against
  another project answers 404; a running job's CI_JOB_TOKEN works too (source `pipeline`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from kiln.accounts.tokens import digest, generate
from kiln.ci import policies
from kiln.ci.models import Pipeline, PipelineSource, PipelineTrigger
from kiln.ci.pipelines import (
    PipelineError,
    PipelineInput,
    create_pipeline_unchecked,
    may_set_variables,
    resolve_ref,
)
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, KilnError, NotFound, ValidationFailed
from kiln.projects.models import Project

TRIGGER_TOKEN_PREFIX = "glptt-"  # noqa: S105 (GitLab's public token prefix)
MAX_VARIABLES = 200


class TriggerError(KilnError):
    """GitLab's `render_api_error!(message, status)`: `{"message": "..."}`."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status  # type: ignore[misc]


def short_token(token: str) -> str:
    return token.removeprefix(TRIGGER_TOKEN_PREFIX)[:4]


def list_triggers(*, actor: Actor, project: Project) -> Any:
    if not policies.can_admin_ci(actor, project):
        raise Forbidden()
    return PipelineTrigger.objects.filter(project=project).select_related("owner").order_by("pk")


def get_trigger(*, actor: Actor, project: Project, trigger_id: int) -> PipelineTrigger:
    if not policies.can_admin_ci(actor, project):
        raise Forbidden()
    found = (
        PipelineTrigger.objects.select_related("owner")
        .filter(project=project, pk=trigger_id)
        .first()
    )
    if found is None:
        raise NotFound("Trigger")
    return found


def create_trigger(
    *, actor: Actor, project: Project, description: str | None, expires_at: dt.datetime | None
) -> tuple[PipelineTrigger, str]:
    """A new token and its value (shown only now)."""
    if not policies.can_admin_ci(actor, project):
        raise Forbidden()
    if description is not None and len(description) > 255:
        raise ValidationFailed({"description": ["is too long (maximum is 255 characters)"]})
    for _ in range(3):
        token = generate(TRIGGER_TOKEN_PREFIX)
        try:
            with transaction.atomic():
                trigger = PipelineTrigger.objects.create(
                    project=project,
                    owner=actor.user,
                    description=description or "",
                    token_digest=digest(token),
                    token_start=short_token(token),
                    expires_at=expires_at,
                )
            return trigger, token
        except IntegrityError:
            continue
    raise RuntimeError("could not store the trigger token")


def update_trigger(
    *, actor: Actor, trigger: PipelineTrigger, description: str | None
) -> PipelineTrigger:
    owner = actor.user is not None and trigger.owner_id == actor.user.pk
    if not (policies.can_admin_ci(actor, trigger.project) and owner):
        raise Forbidden()
    if description is not None:
        if len(description) > 255:
            raise ValidationFailed({"description": ["is too long (maximum is 255 characters)"]})
        trigger.description = description
        trigger.save(update_fields=["description", "updated_at"])
    return trigger


def delete_trigger(*, actor: Actor, trigger: PipelineTrigger) -> None:
    if not policies.can_admin_ci(actor, trigger.project):
        raise Forbidden()
    trigger.delete()


# --- triggering ---------------------------------------------------------------------------------


def _variables(value: Any) -> tuple[tuple[str, str, str], ...]:
    if value is None or value == "":
        return ()
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise TriggerError("variables needs to be a map of key-valued strings")
    if len(value) > MAX_VARIABLES:
        raise TriggerError("variables has too many entries")
    from kiln.ci.pipelines import parse_pipeline_variable

    return tuple(parse_pipeline_variable({"key": k, "value": v}) for k, v in value.items())


def _find(project: Project, token: str) -> PipelineTrigger | None:
    if not token or len(token) > 256:
        return None
    found = (
        PipelineTrigger.objects.select_related("owner")
        .filter(token_digest=digest(token), project=project)
        .first()
    )
    if found is None:
        return None
    if found.expires_at is not None and found.expires_at <= timezone.now():
        return None
    return found


def trigger_pipeline(
    *,
    project: Project,
    token: str,
    ref: str,
    variables: Any = None,
    inputs: Mapping[str, Any] | None = None,
) -> Pipeline:
    """Create a pipeline for `ref` with a trigger token (or a running job's token), with
    `inputs` for its configuration's `spec:inputs` (shape checked by the caller). As on
    GitLab, a pipeline that failed on its configuration (mistyped inputs too) is answered,
    failed, not refused."""
    parsed = _variables(variables)
    trigger = _find(project, token)
    source: str = PipelineSource.TRIGGER
    if trigger is not None:
        user = trigger.owner
    else:
        from kiln.ci.jobtokens import running_job_for_token

        job = running_job_for_token(token)
        if job is None or job.user is None:
            raise NotFound()
        user = job.user
        source = PipelineSource.PIPELINE
    if user is None or not user.is_active:
        raise NotFound()
    actor = Actor(user=user)
    if not policies.can_read_pipelines(actor, project):
        raise NotFound()
    if not policies.can_run_pipelines(actor, project):
        raise TriggerError("403 Forbidden", 403)
    try:
        sha, tag = resolve_ref(project, ref)
    except PipelineError as exc:
        raise TriggerError(exc.message) from exc
    if not policies.can_update_ref(actor, project, ref, tag=tag):
        raise TriggerError("403 Forbidden", 403)
    if parsed and not may_set_variables(actor, project):
        raise TriggerError("Insufficient permissions to set pipeline variables")
    created = create_pipeline_unchecked(
        project=project,
        user=user,
        spec=PipelineInput(
            ref=ref,
            sha=sha,
            tag=tag,
            source=source,
            variables=parsed,
            trigger_id=trigger.pk if trigger is not None else None,
            inputs=dict(inputs or {}),
        ),
    )
    if trigger is not None:
        PipelineTrigger.objects.filter(pk=trigger.pk).update(last_used=timezone.now())
    if created.pipeline is None:
        from kiln.ci.config import PipelineSkipped

        if isinstance(created.result, PipelineSkipped):
            raise TriggerError(created.result.message)
        raise TriggerError("Missing CI config file")
    return created.pipeline
