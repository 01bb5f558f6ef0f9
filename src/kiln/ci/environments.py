"""Environments: where a project is deployed (GitLab's `Environment` model and its services).

An environment is created the first time a job names it (`environment:`; see
kiln.ci.deployments.prepare_jobs) or through the API. Its name follows GitLab's rule (letters,
digits, `-_/${}.` and spaces, not starting or ending with `/`, at most 255 characters), and its
slug is GitLab's: lowercase letters, digits and `-`, starting with a letter, at most 24
characters, with a suffix derived from the name whenever the slug is not the name itself.

States are GitLab's: `available` (deployed to, or created), `stopping` (a stop job was played
and has not finished), `stopped`. Stopping an environment plays the `on_stop` job of its last
successful deployment when that job waits for a manual action; otherwise it stops at once.

Who may do what (GitLab's ProjectPolicy): Reporters read environments and deployments;
Developers create, update, stop and delete (stopped) environments, record deployments and
change resource groups. Services here authorize the actor themselves.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from kiln.ci import statuses as st
from kiln.ci.jobtokens import JobTokenActor
from kiln.ci.models import (
    Deployment,
    DeploymentStatus,
    Environment,
    EnvironmentState,
    EnvironmentTier,
    Job,
)
from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.core.errors import BadRequest, Forbidden, InvalidParameter, NotFound, ValidationFailed
from kiln.core.policy import can
from kiln.projects.access import project_access_level
from kiln.projects.models import Project
from kiln.projects.queries import get_project_for

NAME_MESSAGE = (
    "can contain only letters, digits, '-', '_', '/', '$', '{', '}', '.', and spaces, "
    "but it cannot start or end with '/'"
)
_EDGE = r"a-zA-Z0-9_${}. \-"
_NAME_RE = re.compile(rf"\A[{_EDGE}](?:[{_EDGE}/]*[{_EDGE}])?\Z")
TIERS = tuple(EnvironmentTier.values)
STATES = tuple(EnvironmentState.values)
MIN_SEARCH_LENGTH = 3

log = logging.getLogger(__name__)


# --- access ---------------------------------------------------------------------------------


def access_level(actor: Actor, project: Project) -> int:
    if actor.user is None or not actor.user.is_active:
        return AccessLevel.NO_ACCESS
    if actor.is_admin:
        return AccessLevel.OWNER
    return project_access_level(actor, project)


def can_read(actor: Actor, project: Project) -> bool:
    """`read_environment`, `read_deployment`: Reporter."""
    return access_level(actor, project) >= AccessLevel.REPORTER


def can_write(actor: Actor, project: Project) -> bool:
    """`create_environment`, `update_environment`, `destroy_environment`,
    `create_deployment`, `update_deployment`, `update_resource_group`: Developer."""
    return not project.archived and access_level(actor, project) >= AccessLevel.DEVELOPER


def get_deploy_project_for(actor: Actor, ref: str | int) -> Project:
    """The project whose environments `actor` may read: 404 when the project is not visible
    (a job token outside its job's project included), 403 when it is but the actor is below
    Reporter, as GitLab's `authorize! :read_environment`."""
    project = get_project_for(actor, ref)
    if isinstance(actor, JobTokenActor) and not actor.allows_project(project.pk):
        raise NotFound("Project")
    if not can_read(actor, project):
        raise Forbidden()
    return project


def _require_write(actor: Actor, project: Project) -> None:
    if not can_write(actor, project):
        raise Forbidden()


# --- names, slugs, tiers --------------------------------------------------------------------


def name_errors(name: str) -> list[str]:
    if not name:
        return ["can't be blank"]
    if len(name) > 255:
        return ["is too long (maximum is 255 characters)"]
    if not _NAME_RE.match(name):
        return [NAME_MESSAGE]
    return []


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out or "0"


def slug_for(name: str) -> str:
    """GitLab's environment slug (Gitlab::Slug::Environment)."""
    slug = re.sub(r"[^a-z0-9]", "-", name.lower())
    if not re.match(r"[a-z]", slug):
        slug = "env-" + slug
    slug = re.sub(r"-+", "-", slug)
    if len(slug) > 24 or slug != name:
        slug = slug[:17]
        if not slug.endswith("-"):
            slug += "-"
        return slug + _base36(int(hashlib.sha256(name.encode()).hexdigest(), 16))[-6:]
    return slug.removesuffix("-")


_TIER_GUESSES = (
    (re.compile(r"(dev|review|trunk)", re.IGNORECASE), EnvironmentTier.DEVELOPMENT),
    (
        re.compile(r"(test|tst|int|ac(ce|)pt|qa|qc|control|quality)", re.IGNORECASE),
        EnvironmentTier.TESTING,
    ),
    (re.compile(r"(st(a|)g|mod(e|)l|pre|demo|non)", re.IGNORECASE), EnvironmentTier.STAGING),
    (re.compile(r"(pr(o|)d|live)", re.IGNORECASE), EnvironmentTier.PRODUCTION),
)


def guess_tier(name: str) -> str:
    """The tier of an environment created without one, from its name, as GitLab guesses."""
    for pattern, tier in _TIER_GUESSES:
        if pattern.search(name):
            return str(tier)
    return str(EnvironmentTier.OTHER)


def url_errors(url: str) -> list[str]:
    """GitLab's `addressable_url` check of `external_url`: http(s) with a host, 255 at most."""
    if len(url) > 255:
        return ["is too long (maximum is 255 characters)"]
    try:
        parts = urlsplit(url)
    except ValueError:
        return ["is blocked: URI is invalid"]
    if parts.scheme not in ("http", "https"):
        return ["is blocked: Only allowed schemes are http, https"]
    if not parts.hostname or any(c.isspace() or ord(c) < 32 for c in url):
        return ["is blocked: URI is invalid"]
    return []


# --- creating -------------------------------------------------------------------------------


def ensure_environment(
    project: Project, name: str, *, tier: str | None = None
) -> Environment | None:
    """The project's environment named `name`, created when missing (GitLab's
    `safe_find_or_create_by`); None when the name is not a valid environment name. The caller
    authorized the job or request it serves."""
    if name_errors(name):
        return None
    found = Environment.objects.filter(project=project, name=name).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Environment.objects.create(
                project=project,
                name=name,
                slug=slug_for(name),
                tier=tier if tier in TIERS else guess_tier(name),
            )
    except IntegrityError:
        return Environment.objects.filter(project=project, name=name).first()


def create_environment(
    *,
    actor: Actor,
    project: Project,
    name: str,
    external_url: str | None = None,
    tier: str | None = None,
) -> Environment:
    """POST /projects/:id/environments."""
    _require_write(actor, project)
    if tier is not None and tier not in TIERS:
        raise InvalidParameter("tier does not have a valid value")
    errors: dict[str, list[str]] = {}
    if problems := name_errors(name):
        errors["name"] = problems
    elif Environment.objects.filter(project=project, name=name).exists():
        errors["name"] = ["has already been taken"]
    elif Environment.objects.filter(project=project, slug=slug_for(name)).exists():
        errors["slug"] = ["has already been taken"]
    if external_url and (problems := url_errors(external_url)):
        errors["external_url"] = problems
    if errors:
        raise ValidationFailed(errors)
    try:
        with transaction.atomic():
            return Environment.objects.create(
                project=project,
                name=name,
                slug=slug_for(name),
                external_url=external_url or "",
                tier=tier or guess_tier(name),
            )
    except IntegrityError:
        raise ValidationFailed({"name": ["has already been taken"]}) from None


def update_environment(
    *,
    actor: Actor,
    environment: Environment,
    external_url: str | None = None,
    tier: str | None = None,
) -> Environment:
    """PUT /projects/:id/environments/:environment_id (the name cannot change, as GitLab)."""
    _require_write(actor, environment.project)
    if tier is not None and tier not in TIERS:
        raise InvalidParameter("tier does not have a valid value")
    if external_url and (problems := url_errors(external_url)):
        raise ValidationFailed({"external_url": problems})
    fields = ["updated_at"]
    if external_url is not None:
        environment.external_url = external_url
        fields.append("external_url")
    if tier is not None:
        environment.tier = tier
        fields.append("tier")
    environment.save(update_fields=fields)
    return environment


def delete_environment(*, actor: Actor, environment: Environment) -> None:
    """DELETE: only a stopped environment (GitLab's `destroy_environment` policy); its
    deployments go with it."""
    _require_write(actor, environment.project)
    if environment.state != EnvironmentState.STOPPED:
        raise Forbidden()
    environment.delete()


# --- stopping -------------------------------------------------------------------------------


def last_deployment(environment: Environment) -> Deployment | None:
    """The last successful deployment (GitLab's `last_deployment`)."""
    return (
        Deployment.objects.filter(environment=environment, status=DeploymentStatus.SUCCESS)
        .select_related("job")
        .order_by("-finished_at", "-id")
        .first()
    )


def stop_actions(environment: Environment) -> list[Job]:
    """The `on_stop` jobs of the last successful deployment that wait to be played."""
    deployment = last_deployment(environment)
    if deployment is None or not deployment.on_stop or deployment.job is None:
        return []
    return list(
        Job.objects.filter(
            pipeline_id=deployment.job.pipeline_id,
            name=deployment.on_stop,
            retried=False,
            status=st.MANUAL,
        ).select_related("project__namespace", "pipeline")
    )


def stop_environment(*, actor: Actor, environment: Environment, force: bool = False) -> Environment:
    """POST .../stop (and the UI's Stop button): plays the stop jobs (the environment is then
    `stopping` until they finish) or stops it at once. `force` skips the stop jobs."""
    _require_write(actor, environment.project)
    return _stop(actor, environment, force=force, only_if_due=False)


def _stop(actor: Actor, environment: Environment, *, force: bool, only_if_due: bool) -> Environment:
    """The state changes in its own transaction before the jobs are played (as `actor`, who
    must be allowed to play them), so the environment row is never locked while a pipeline
    is: kiln.ci.deployments locks in the other order."""
    from kiln.ci.jobs import play_job

    actions: list[Job] = []
    with transaction.atomic():
        locked = Environment.objects.select_for_update().get(pk=environment.pk)
        due = locked.auto_stop_at is not None and locked.auto_stop_at <= timezone.now()
        if only_if_due and not due:
            pass
        elif force:
            if locked.state != EnvironmentState.STOPPED:
                locked.state = EnvironmentState.STOPPED
                locked.save(update_fields=["state", "updated_at"])
        elif locked.state == EnvironmentState.AVAILABLE:
            actions = stop_actions(locked)
            if any(not can(actor, "play_job", job) for job in actions):
                raise Forbidden()
            locked.state = EnvironmentState.STOPPING if actions else EnvironmentState.STOPPED
            locked.auto_stop_at = None
            locked.save(update_fields=["state", "auto_stop_at", "updated_at"])
    for job in actions:
        try:
            play_job(actor=actor, job=job)
        except BadRequest:
            # Played or canceled meanwhile: its end moves the environment on.
            log.info("stop job was not playable", extra={"job_id": job.pk})
    environment.refresh_from_db()
    return environment


def stop_due_environments(limit: int = 200) -> int:
    """The worker's auto-stop (GitLab's Environments::AutoStopWorker): available environments
    past their `auto_stop_at` are stopped as the user of their stop job (which is played)."""
    stopped = 0
    for environment in list(due_for_auto_stop()[:limit]):
        actions = stop_actions(environment)
        user = actions[-1].user if actions else None
        actor = Actor.for_user(user) if user is not None else Actor()
        try:
            _stop(actor, environment, force=False, only_if_due=True)
        except Forbidden:
            log.warning("cannot auto-stop an environment", extra={"id": environment.pk})
            continue
        stopped += 1
    return stopped


# --- reads ----------------------------------------------------------------------------------


def list_environments(
    project: Project,
    *,
    name: str | None = None,
    search: str | None = None,
    states: str | None = None,
) -> QuerySet[Environment]:
    """GitLab's EnvironmentsFinder for the API: by exact name, by a search in the name, by
    state; ordered by id."""
    found = Environment.objects.filter(project=project)
    if name is not None:
        found = found.filter(name=name)
    if search:
        found = found.filter(name__icontains=search)
    if states:
        found = found.filter(state=states)
    return found.order_by("id")


def get_environment(project: Project, environment_id: int | str) -> Environment:
    if not str(environment_id).isdigit():
        raise NotFound("Environment")
    found = (
        Environment.objects.select_related("project__namespace")
        .filter(project=project, pk=int(environment_id))
        .first()
    )
    if found is None:
        raise NotFound("Environment")
    return found


def last_deployments(environments: Iterable[Environment]) -> dict[int, Deployment]:
    """The newest deployment (any status) of each environment, for lists, in two queries."""
    ids = [env.pk for env in environments]
    if not ids:
        return {}
    newest = (
        Deployment.objects.filter(environment_id__in=ids)
        .values("environment_id")
        .annotate(newest=Max("id"))
        .values_list("newest", flat=True)
    )
    rows = Deployment.objects.filter(pk__in=list(newest)).select_related("job", "user")
    return {row.environment_id: row for row in rows}


def due_for_auto_stop() -> QuerySet[Environment]:
    """Available environments whose `auto_stop_in` has passed."""
    return Environment.objects.filter(
        state=EnvironmentState.AVAILABLE,
        auto_stop_at__isnull=False,
        auto_stop_at__lte=timezone.now(),
    ).select_related("project__namespace")
