"""Resource groups (`resource_group:`): at most one job of a project's group runs at a time.

As GitLab's Ci::ResourceGroup with its single resource, and its
AssignResourceFromResourceGroupService:

1. A job of a group that would become `pending` (processed, played, or its delay over) goes
   to `waiting_for_resource` instead, unless it already holds the group's resource
   (`request_resources`, called by kiln.ci.processing for every pipeline it processes).
2. When a job holding the resource completes, the resource is released in the same
   transaction (`request_resources` again: the job's pipeline is processed whenever a job of
   it finishes, is canceled or dropped).
3. After the transaction commits, `assign_resources` gives each free resource to the next
   job of the group's `process_mode`: `unordered` any waiting job (oldest first);
   `oldest_first` / `newest_first` the first upcoming job (created, scheduled or waiting) of
   the oldest / newest pipeline, which must wait for it if it is not waiting yet;
   `newest_ready_first` the waiting job of the newest pipeline. The job becomes `pending`
   and the runners are told.

The assignment runs in its own transaction after the releasing one (never inside a
pipeline's lock), so two pipelines handing the resource to each other cannot deadlock; each
step re-checks what it changes (a job still waiting, a holder still running).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils import timezone

from kiln.ci import statuses as st
from kiln.ci.environments import access_level, can_write, name_errors
from kiln.ci.models import Job, JobKind, Pipeline, ResourceGroup, ResourceProcessMode
from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, InvalidParameter, NotFound
from kiln.projects.models import Project

log = logging.getLogger(__name__)

PROCESS_MODES = tuple(ResourceProcessMode.values)
# A holder in one of these still uses the resource.
_IN_USE = frozenset({st.PENDING, st.RUNNING, st.PREPARING})
_UPCOMING = (st.CREATED, st.SCHEDULED, st.WAITING_FOR_RESOURCE)


def ensure_group(project: Project, key: str) -> ResourceGroup | None:
    """The project's group `key`, created when missing; None for a key GitLab would refuse
    (keys follow the environment name rule), as GitLab then runs the job without a group."""
    if name_errors(key):
        return None
    found = ResourceGroup.objects.filter(project=project, key=key).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return ResourceGroup.objects.create(project=project, key=key)
    except IntegrityError:
        return ResourceGroup.objects.filter(project=project, key=key).first()


def prepare_job(job: Job, key: str | None) -> None:
    """At pipeline creation: the job's group, named by its `resource_group` with the job's
    variables expanded (kiln.ci.config's `expanded_resource_group`)."""
    if key:
        job.resource_group = ensure_group(job.project, key)


# --- the state machine ----------------------------------------------------------------------


def request_resources(pipeline: Pipeline, jobs: list[Job], now: dt.datetime) -> None:
    """Steps 1 and 2 of the module docstring for one pipeline (its row locked by the caller,
    kiln.ci.processing.process_pipeline); step 3 is queued for after the commit."""
    grouped = [job for job in jobs if job.resource_group_id is not None]
    if not grouped:
        return
    finished = ResourceGroup.objects.filter(
        holder__pipeline_id=pipeline.pk, holder__status__in=list(st.COMPLETED)
    )
    for group_id in list(finished.values_list("pk", flat=True)):
        ResourceGroup.objects.filter(pk=group_id, holder__status__in=list(st.COMPLETED)).update(
            holder=None, updated_at=now
        )
    pending = [job for job in grouped if job.status == st.PENDING]
    if pending:
        held = set(
            ResourceGroup.objects.filter(holder_id__in=[j.pk for j in pending]).values_list(
                "holder_id", flat=True
            )
        )
        for job in pending:
            if job.pk in held:
                continue
            job.status = st.WAITING_FOR_RESOURCE
            job.waiting_for_resource_at = now
            job.queued_at = None
            Job.objects.filter(pk=job.pk, status=st.PENDING).update(
                status=st.WAITING_FOR_RESOURCE,
                waiting_for_resource_at=now,
                queued_at=None,
                updated_at=now,
            )
    group_ids = sorted({job.resource_group_id for job in grouped if job.resource_group_id})
    transaction.on_commit(lambda: assign_resources(group_ids), robust=True)


def upcoming_jobs(group: ResourceGroup) -> QuerySet[Job]:
    """The jobs that may get the resource next, first first (GitLab's `upcoming_processables`)."""
    jobs = Job.objects.filter(resource_group=group, retried=False)
    mode = group.process_mode
    if mode in (ResourceProcessMode.UNORDERED, ResourceProcessMode.NEWEST_READY_FIRST):
        jobs = jobs.filter(status=st.WAITING_FOR_RESOURCE)
        pipeline_order = "-pipeline_id" if mode == ResourceProcessMode.NEWEST_READY_FIRST else "id"
        return jobs.order_by(pipeline_order, "id")
    waiting_first = Case(
        When(status=st.WAITING_FOR_RESOURCE, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    jobs = jobs.filter(status__in=_UPCOMING).annotate(waiting_first=waiting_first)
    pipeline_order = "pipeline_id" if mode == ResourceProcessMode.OLDEST_FIRST else "-pipeline_id"
    return jobs.order_by(pipeline_order, "waiting_first", "id")


def _assign(group_id: int) -> int | None:
    """One free resource to the next job; the pipeline id of the job that got it."""
    from kiln.ci.processing import bump_queue

    with transaction.atomic():
        group = (
            ResourceGroup.objects.select_for_update()
            .select_related("project__namespace")
            .filter(pk=group_id)
            .first()
        )
        if group is None:
            return None
        stale = False
        if group.holder_id is not None:
            status = Job.objects.filter(pk=group.holder_id).values_list("status", flat=True).first()
            if status in _IN_USE:
                return None
            # The holder finished without releasing it (GitLab's stale processables).
            group.holder = None
            stale = True
        candidate = upcoming_jobs(group).only("pk", "status", "pipeline_id", "kind").first()
        if candidate is None or candidate.status != st.WAITING_FOR_RESOURCE:
            if stale:
                group.save(update_fields=["holder", "updated_at"])
            return None
        now = timezone.now()
        moved = Job.objects.filter(pk=candidate.pk, status=st.WAITING_FOR_RESOURCE).update(
            status=st.PENDING, queued_at=now, updated_at=now
        )
        if not moved:
            if stale:
                group.save(update_fields=["holder", "updated_at"])
            return None
        group.holder_id = candidate.pk
        group.save(update_fields=["holder", "updated_at"])
        if candidate.kind == JobKind.BRIDGE:
            # A trigger job holds the resource while it creates (or, with `strategy: depend`,
            # follows) its downstream pipeline.
            from kiln.ci.downstream import enqueue_triggers

            bridge_ids = [candidate.pk]
            transaction.on_commit(lambda: enqueue_triggers(bridge_ids))
        else:
            bump_queue(group.project)
        return candidate.pipeline_id


def assign_resources(group_ids: Iterable[int]) -> None:
    """Step 3 of the module docstring; the pipeline of a job that got the resource is then
    processed, so its status follows."""
    from kiln.ci.processing import process_pipeline

    for group_id in group_ids:
        pipeline_id = _assign(group_id)
        if pipeline_id is not None:
            process_pipeline(pipeline_id)


# --- the API ----------------------------------------------------------------------------------


def list_groups(*, actor: Actor, project: Project) -> QuerySet[ResourceGroup]:
    """`read_resource_group` is Developer in GitLab, as `update_resource_group`."""
    if access_level(actor, project) < AccessLevel.DEVELOPER:
        raise Forbidden()
    return ResourceGroup.objects.filter(project=project).order_by("id")


def get_group(*, actor: Actor, project: Project, key: str) -> ResourceGroup:
    groups = list_groups(actor=actor, project=project)
    found = groups.filter(key=key).first()
    if found is None:
        raise NotFound()
    return found


def current_job(group: ResourceGroup) -> Job | None:
    """The job holding the resource (GitLab's `current_processable`)."""
    if group.holder_id is None:
        return None
    return (
        Job.objects.select_related(
            "project__namespace", "pipeline__project__namespace", "user", "runner"
        )
        .filter(pk=group.holder_id)
        .first()
    )


def update_group(*, actor: Actor, group: ResourceGroup, process_mode: str | None) -> ResourceGroup:
    if not can_write(actor, group.project):
        raise Forbidden()
    if process_mode is None:
        return group
    if process_mode not in PROCESS_MODES:
        raise InvalidParameter("process_mode does not have a valid value")
    if process_mode != group.process_mode:
        group.process_mode = process_mode
        group.save(update_fields=["process_mode", "updated_at"])
        # The next job may now be another one.
        transaction.on_commit(lambda: assign_resources([group.pk]), robust=True)
    return group
