"""Downstream pipelines: what a bridge (a `trigger:` job) creates, and how its status follows.

As GitLab's Ci::CreateDownstreamPipelineService, Ci::Bridge and PipelineBridgeStatusService:

1. Processing makes a bridge `pending` (kiln.ci.processing; playing a manual one too); once
   that is committed, the task `create_downstream_pipeline` calls `trigger_downstream`.
2. `trigger_downstream` checks GitLab's preconditions, in GitLab's order, and fails the
   bridge with GitLab's reason when one does not hold: the downstream project must exist and
   be readable by the bridge's user (`downstream_bridge_project_not_found`, so a private
   project never shows it exists), a multi-project trigger must name another project
   (`invalid_bridge_trigger`), child pipelines nest at most two levels
   (`reached_max_descendant_pipelines_depth`), a pipeline tree holds at most 1000 pipelines
   (`reached_max_pipeline_hierarchy_size`), the user must be allowed to run pipelines on the
   ref (`insufficient_bridge_permissions`), a multi-project chain must not loop
   (`pipeline_loop_detected`).
3. The bridge runs and the downstream pipeline is created, as the bridge's user, linked to
   the bridge and its pipeline. A child pipeline (`trigger:include`) runs on the parent's
   commit and ref with source `parent_pipeline`; its configuration is the bridge's include
   list (local files, templates, a file of an artifact of a parent job). A multi-project one
   (`trigger:project`) runs the other project's configuration on `trigger:branch` (its
   default branch otherwise) with source `pipeline`. Both get the bridge's variables
   (`trigger:forward`; YAML variables by default, pipeline variables when asked), expanded
   in the bridge's context.
4. A pipeline that could not be created (a configuration error, no jobs) fails the bridge
   with `downstream_pipeline_creation_failed` and the error in its `error_messages`; an
   invalid child pipeline is kept, failed, with its `yaml_errors`, as GitLab keeps it.
5. Without `strategy:` the bridge succeeds once the pipeline exists. With `strategy: depend`
   it stays running and takes the downstream pipeline's final status (`update_bridge`, run
   after any status change of a downstream pipeline); `strategy: mirror` also mirrors
   `manual` and `skipped`.

Canceling a pipeline cancels its child pipelines (not multi-project ones), as GitLab's
`cascade_to_children`; retrying a bridge creates a new downstream pipeline.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml
from django.db import transaction
from django.utils import timezone

from kiln.ci import statuses as st
from kiln.ci.commit_files import ProjectIncludeFetcher
from kiln.ci.config.variables import expand
from kiln.ci.models import Job, JobKind, Pipeline, PipelineSource, PipelineVariable
from kiln.ci.pipelines import (
    PipelineError,
    PipelineInput,
    create_pipeline_unchecked,
    resolve_ref,
)
from kiln.ci.processing import process_pipeline, reset_skipped_successors
from kiln.core.actor import Actor
from kiln.core.errors import KilnError
from kiln.core.policy import can
from kiln.core.urls import base_url
from kiln.projects.models import Project
from kiln.projects.queries import find_project

log = logging.getLogger(__name__)

# GitLab's Ci::CreateDownstreamPipelineService::MAX_NESTED_CHILDREN: a pipeline with this many
# ancestors in its project (itself included) may not create another child.
MAX_NESTED_CHILDREN = 2
# GitLab's default `pipeline_hierarchy_size` plan limit.
MAX_HIERARCHY_SIZE = 1000
# GitLab's default `max_artifacts_content_include_size` (5 MB): the archive and the file.
MAX_ARTIFACT_INCLUDE_BYTES = 5 * 1024 * 1024
FORWARD_DEFAULTS = {"yaml_variables": True, "pipeline_variables": False}
# How a `depend` (and a `mirror`) bridge follows its downstream pipeline's status.
_DEPEND = {st.SUCCESS: st.SUCCESS, st.CANCELED: st.CANCELED, st.FAILED: st.FAILED}
_DEPEND_ALSO = {st.SKIPPED: st.FAILED}
_MIRROR_ALSO = {st.MANUAL: st.MANUAL, st.SKIPPED: st.SKIPPED}


class _Drop(Exception):
    def __init__(self, reason: str, messages: Iterable[str] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.messages = list(messages)


def trigger_of(job: Job) -> dict[str, Any]:
    trigger = job.options.get("trigger") if isinstance(job.options, dict) else None
    return trigger if isinstance(trigger, dict) else {}


def is_child_trigger(job: Job) -> bool:
    return bool(trigger_of(job).get("include"))


def strategy_of(job: Job) -> str | None:
    strategy = trigger_of(job).get("strategy")
    return strategy if strategy in ("depend", "mirror") else None


# --- reading a file of a parent job's artifacts ------------------------------------------------


class ChildIncludeFetcher(ProjectIncludeFetcher):
    """Includes of a child pipeline: the parent's commit, and `artifact:` files of jobs of
    the parent pipeline (GitLab's Ci::ArtifactFileReader, with its size limit)."""

    def __init__(self, parent: Pipeline, actor: Actor) -> None:
        super().__init__(parent.project, parent.sha, actor)
        self._parent = parent

    def artifact(self, job: str, path: str) -> str | None:
        from kiln.ci import artifacts
        from kiln.ci.config import IncludeFetchError

        found = (
            Job.objects.filter(
                pipeline_id=self._parent.pk, name=job, retried=False, kind=JobKind.BUILD
            )
            .order_by("-pk")
            .first()
        )
        archive = artifacts.archive_of(found) if found is not None else None
        if found is None or archive is None:
            return None
        too_large = f"Artifacts archive for job `{job}` is too large: max 5 MB"
        if archive.size > MAX_ARTIFACT_INCLUDE_BYTES:
            raise IncludeFetchError(too_large)
        try:
            info, chunks = artifacts.open_member(archive, path)
        except KilnError:
            raise IncludeFetchError(
                f"Path `{path}` does not exist inside the `{job}` artifacts archive!"
            ) from None
        data = bytearray()
        try:
            if info.file_size > MAX_ARTIFACT_INCLUDE_BYTES:
                raise IncludeFetchError(too_large)
            for chunk in chunks:
                data += chunk
                if len(data) > MAX_ARTIFACT_INCLUDE_BYTES:
                    raise IncludeFetchError(too_large)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return bytes(data).decode("utf-8", errors="replace")


# --- variables the bridge passes on ----------------------------------------------------------


def _bridge_lookup(bridge: Job, *, cross_project: bool) -> dict[str, str]:
    """Every variable the bridge sees, expanded (GitLab's `bridge.variables`). Protected
    instance, group and project variables stay out of another project's pipeline, as with
    GitLab's `exclude_protected_variables_from_multi_project_pipeline_triggers`."""
    from kiln.ci.predefined import slugify, variables_of_pipeline
    from kiln.ci.queries import dependencies_of
    from kiln.ci.variables import (
        JobVariable,
        applicable_variables,
        as_job_variables,
        expand_for_runner,
    )

    pipeline = bridge.pipeline
    result = [JobVariable(k, v) for k, v in variables_of_pipeline(pipeline, base_url(None))]
    result += [
        JobVariable("CI_JOB_NAME", bridge.name),
        JobVariable("CI_JOB_NAME_SLUG", slugify(bridge.name)),
        JobVariable("CI_JOB_STAGE", bridge.stage),
    ]
    result += [
        JobVariable(str(v["key"]), str(v.get("value", "")), raw=bool(v.get("raw")))
        for v in bridge.yaml_variables
    ]
    for dependency in dependencies_of(bridge):
        result += [
            JobVariable(str(v["key"]), str(v.get("value", ""))) for v in dependency.dotenv_variables
        ]
    environment = bridge.options.get("environment") or {}
    result += as_job_variables(
        applicable_variables(
            bridge.project,
            protected=bridge.protected and not cross_project,
            environment=environment.get("name") if isinstance(environment, dict) else None,
        )
    )
    result += [
        JobVariable(row.key, row.value, raw=row.raw)
        for row in PipelineVariable.objects.filter(pipeline=pipeline).order_by("pk")
    ]
    return {v.key: v.value for v in expand_for_runner(result)}


def downstream_variables(bridge: Job, *, cross_project: bool) -> list[tuple[str, str, bool]]:
    """(key, value, raw) for the downstream pipeline (GitLab's Downstream::Generator): the
    bridge's YAML variables (job and global), then, with `forward:pipeline_variables`, the
    dotenv variables of its dependencies and its pipeline's variables; later ones win.
    Values are expanded with the bridge's variables; references to nothing become empty."""
    forward = {**FORWARD_DEFAULTS, **(trigger_of(bridge).get("forward") or {})}
    items: list[tuple[str, str, bool]] = []
    if forward.get("yaml_variables"):
        items += [
            (str(v["key"]), str(v.get("value", "")), bool(v.get("raw")))
            for v in bridge.yaml_variables
        ]
    if forward.get("pipeline_variables"):
        from kiln.ci.queries import dependencies_of

        for dependency in dependencies_of(bridge):
            items += [
                (str(v["key"]), str(v.get("value", "")), False) for v in dependency.dotenv_variables
            ]
        items += [
            (row.key, row.value, row.raw)
            for row in PipelineVariable.objects.filter(pipeline_id=bridge.pipeline_id).order_by(
                "pk"
            )
        ]
    if not items:
        return []
    lookup = _bridge_lookup(bridge, cross_project=cross_project)
    final: dict[str, tuple[str, str, bool]] = {}
    for key, value, raw in items:
        final.pop(key, None)
        final[key] = (key, value if raw else expand(value, lookup), raw)
    return list(final.values())


# --- the pipeline tree -------------------------------------------------------------------------


def _project_ancestors(pipeline: Pipeline) -> int:
    """How many pipelines of the project lead to `pipeline` through child links, itself
    included (GitLab's `self_and_project_ancestors`)."""
    count, current = 1, pipeline
    while current.source == PipelineSource.PARENT_PIPELINE and current.source_pipeline_id:
        parent = Pipeline.objects.filter(pk=current.source_pipeline_id).first()
        if parent is None or parent.project_id != current.project_id:
            break
        count, current = count + 1, parent
        if count > MAX_NESTED_CHILDREN + 1:
            break
    return count


def _upstreams(pipeline: Pipeline) -> list[Pipeline]:
    chain, current, seen = [pipeline], pipeline, {pipeline.pk}
    while current.source_pipeline_id and current.source_pipeline_id not in seen:
        parent = Pipeline.objects.filter(pk=current.source_pipeline_id).first()
        if parent is None:
            break
        chain.append(parent)
        seen.add(parent.pk)
        current = parent
    return chain


def _hierarchy_size(pipeline: Pipeline, limit: int) -> int:
    """Pipelines in the whole tree of `pipeline` (counting stops past `limit`)."""
    root = _upstreams(pipeline)[-1]
    frontier, count = [root.pk], 1
    while frontier and count <= limit:
        below = list(
            Pipeline.objects.filter(source_pipeline_id__in=frontier).values_list("pk", flat=True)
        )
        count += len(below)
        frontier = below
    return count


def _loops(bridge: Job, project: Project, ref: str) -> bool:
    """GitLab allows one cycle in a multi-project chain and stops at the second."""
    seen: dict[tuple[int, str, str], int] = {}
    chain = [p for p in _upstreams(bridge.pipeline) if p.source != PipelineSource.PARENT_PIPELINE]
    for pipeline in chain:
        key = (pipeline.project_id, pipeline.ref, pipeline.source)
        seen[key] = seen.get(key, 0) + 1
    key = (project.pk, ref, PipelineSource.PIPELINE)
    seen[key] = seen.get(key, 0) + 1
    return any(count > 2 for count in seen.values())


# --- creating ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    project: Project
    ref: str
    sha: str
    tag: bool
    before_sha: str
    source: str
    child: bool


def _target(bridge: Job, actor: Actor) -> _Target:
    """Where the downstream pipeline goes; raises _Drop when a precondition fails."""
    from kiln.ci import policies

    trigger = trigger_of(bridge)
    parent = bridge.pipeline
    child = is_child_trigger(bridge)
    if child:
        project: Project | None = bridge.project
        ref = parent.ref
    else:
        lookup = _bridge_lookup(bridge, cross_project=True)
        path = expand(str(trigger.get("project") or ""), lookup).strip().strip("/")
        project = find_project(path) if path else None
        ref = ""
    if project is None or actor.user is None or not can(actor, "read_project", project):
        raise _Drop("downstream_bridge_project_not_found")
    if project.pk == bridge.project_id and not child:
        raise _Drop("invalid_bridge_trigger")
    if child and _project_ancestors(parent) > MAX_NESTED_CHILDREN:
        raise _Drop("reached_max_descendant_pipelines_depth")
    if _hierarchy_size(parent, MAX_HIERARCHY_SIZE) >= MAX_HIERARCHY_SIZE:
        raise _Drop("reached_max_pipeline_hierarchy_size")
    if not child:
        branch = trigger.get("branch")
        ref = expand(str(branch), lookup) if branch else project.default_branch
    tag = parent.tag if child else False
    allowed = (
        policies.can_run_pipelines(actor, bridge.project)
        and policies.can_run_pipelines(actor, project)
        and project.builds_access_level != "disabled"
    )
    if allowed and not child:
        try:
            sha, tag = resolve_ref(project, ref)
        except PipelineError as exc:
            if not policies.can_update_ref(actor, project, ref, tag=False):
                raise _Drop("insufficient_bridge_permissions") from exc
            raise _Drop("downstream_pipeline_creation_failed", [exc.message]) from exc
    else:
        sha = parent.sha
    if not allowed or not policies.can_update_ref(actor, project, ref, tag=tag):
        raise _Drop("insufficient_bridge_permissions")
    if not child and _loops(bridge, project, ref):
        raise _Drop("pipeline_loop_detected")
    return _Target(
        project=project,
        ref=ref,
        sha=sha,
        tag=tag,
        before_sha=parent.before_sha if child else sha,
        source=PipelineSource.PARENT_PIPELINE if child else PipelineSource.PIPELINE,
        child=child,
    )


def _create(bridge: Job, actor: Actor, target: _Target) -> Pipeline:
    variables = downstream_variables(bridge, cross_project=not target.child)
    inputs = trigger_of(bridge).get("inputs") or {}
    spec = PipelineInput(
        ref=target.ref,
        sha=target.sha,
        tag=target.tag,
        source=target.source,
        before_sha=target.before_sha,
        variables=tuple((key, value, "env_var") for key, value, _ in variables),
        raw_keys=frozenset(key for key, _, raw in variables if raw),
        # `trigger:inputs` is a multi-project trigger's (GitLab's schema); a child's inputs
        # are its includes' own `inputs:`.
        inputs=dict(inputs) if isinstance(inputs, dict) and not target.child else {},
    )
    config = fetcher = None
    if target.child:
        includes = trigger_of(bridge).get("include") or []
        config = yaml.safe_dump({"include": includes}, sort_keys=False)
        fetcher = ChildIncludeFetcher(bridge.pipeline, actor)
    created = create_pipeline_unchecked(
        project=target.project,
        user=actor.user,
        spec=spec,
        config=config,
        fetcher=fetcher,
        bridge=bridge,
    )
    pipeline = created.pipeline
    if pipeline is None:
        message = getattr(created.result, "message", None) or "Missing CI config file"
        raise _Drop("downstream_pipeline_creation_failed", [message])
    if pipeline.failure_reason == "config_error":
        raise _Drop("downstream_pipeline_creation_failed", [pipeline.yaml_errors])
    return pipeline


def _finish_bridge(
    bridge: Job, status: str, reason: str = "", messages: list[str] | None = None
) -> None:
    now = timezone.now()
    bridge.status = status
    bridge.finished_at = now
    bridge.started_at = bridge.started_at or now
    bridge.failure_reason = reason if status == st.FAILED else ""
    fields = ["status", "finished_at", "started_at", "failure_reason", "updated_at"]
    if messages is not None:
        bridge.error_messages = [m for m in messages if m][:10]
        fields.append("error_messages")
    bridge.save(update_fields=fields)


def trigger_downstream(bridge_id: int) -> int | None:
    """Create the downstream pipeline of a pending bridge (see the module docstring).
    Returns its id, or None when the bridge failed (or was not pending any more)."""
    try:
        return _trigger(bridge_id)
    except Exception:
        # GitLab drops the bridge with `data_integrity_failure` on an unexpected error.
        log.exception("creating a downstream pipeline failed", extra={"job_id": bridge_id})
        with transaction.atomic():
            bridge = Job.objects.select_for_update().filter(pk=bridge_id).first()
            if bridge is not None and bridge.status in (st.PENDING, st.RUNNING):
                _finish_bridge(bridge, st.FAILED, "data_integrity_failure")
                process_pipeline(bridge.pipeline_id)
        return None


def _trigger(bridge_id: int) -> int | None:
    with transaction.atomic():
        bridge = (
            Job.objects.select_for_update(of=("self",))
            .select_related("pipeline__project__namespace", "project__namespace", "user")
            .filter(pk=bridge_id, kind=JobKind.BRIDGE)
            .first()
        )
        if bridge is None or bridge.status != st.PENDING or bridge.retried:
            return None
        if Pipeline.objects.filter(source_job=bridge).exists():
            return None
        actor = Actor.for_user(bridge.user) if bridge.user is not None else Actor()
        downstream: Pipeline | None = None
        try:
            target = _target(bridge, actor)
            bridge.status = st.RUNNING
            bridge.started_at = timezone.now()
            bridge.save(update_fields=["status", "started_at", "updated_at"])
            downstream = _create(bridge, actor, target)
        except _Drop as drop:
            _finish_bridge(bridge, st.FAILED, drop.reason, drop.messages)
        if downstream is not None:
            if strategy_of(bridge) is None:
                _finish_bridge(bridge, st.SUCCESS)
            else:
                _follow(bridge, downstream.status)
        process_pipeline(bridge.pipeline_id)
    return downstream.pk if downstream is not None else None


# --- following the downstream pipeline --------------------------------------------------------


def _follow(bridge: Job, downstream_status: str) -> bool:
    """Give a `depend`/`mirror` bridge its downstream pipeline's status; True if it moved."""
    strategy = strategy_of(bridge)
    mapping = {**_DEPEND, **(_MIRROR_ALSO if strategy == "mirror" else _DEPEND_ALSO)}
    status = mapping.get(downstream_status)
    if status is None or status == bridge.status:
        return False
    if status in st.COMPLETED:
        _finish_bridge(bridge, status)
    else:
        bridge.status = status
        bridge.save(update_fields=["status", "updated_at"])
    return True


def update_bridge(pipeline_id: int) -> None:
    """A downstream pipeline changed status: its `depend` bridge follows, and the bridge's
    pipeline is processed (GitLab's PipelineBridgeStatusService)."""
    source_job_id = (
        Pipeline.objects.filter(pk=pipeline_id).values_list("source_job_id", flat=True).first()
    )
    if source_job_id is None:
        return
    with transaction.atomic():
        bridge = Job.objects.select_for_update().filter(pk=source_job_id).first()
        if bridge is None or bridge.retried or strategy_of(bridge) is None:
            return
        downstream = (
            Pipeline.objects.filter(source_job_id=bridge.pk).order_by("-pk").only("status").first()
        )
        if downstream is None or downstream.pk != pipeline_id:
            return
        if _follow(bridge, downstream.status):
            process_pipeline(bridge.pipeline_id)


def bridge_follows_retry(*, actor: Actor, pipeline: Pipeline) -> None:
    """A downstream pipeline was retried: its finished `depend` bridge runs again and what it
    skipped in the upstream pipeline is reset (GitLab's `reset_source_bridge!`), when the
    person retrying may update that pipeline. Runs inside the caller's transaction."""
    if pipeline.source_job_id is None:
        return
    bridge = Job.objects.select_for_update().filter(pk=pipeline.source_job_id).first()
    if bridge is None or bridge.retried or strategy_of(bridge) is None:
        return
    if bridge.status not in st.COMPLETED or pipeline.status in st.COMPLETED:
        return
    upstream = Pipeline.objects.select_related("project__namespace").get(pk=bridge.pipeline_id)
    if not can(actor, "update_pipeline", upstream):
        return
    bridge.status = st.RUNNING
    bridge.finished_at = None
    bridge.failure_reason = ""
    bridge.save(update_fields=["status", "finished_at", "failure_reason", "updated_at"])
    reset_skipped_successors(upstream, {bridge.name})
    process_pipeline(upstream.pk)


def cancel_children(pipeline_id: int) -> None:
    """Cancel the unfinished child pipelines of a canceled pipeline (and theirs, as each
    cancellation commits). Multi-project downstream pipelines keep running, as in GitLab."""
    children = Pipeline.objects.filter(
        source_pipeline_id=pipeline_id,
        source=PipelineSource.PARENT_PIPELINE,
        status__in=list(st.CANCELABLE),
    ).values_list("pk", flat=True)
    for child_id in list(children):
        with transaction.atomic():
            now = timezone.now()
            Job.objects.filter(
                pipeline_id=child_id, retried=False, status__in=st.CANCELABLE
            ).update(status=st.CANCELED, finished_at=now, updated_at=now)
            process_pipeline(child_id)
        cancel_children(child_id)


# --- tasks' entry points (called after commit) ------------------------------------------------


def enqueue_triggers(bridge_ids: list[int]) -> None:
    from kiln.ci.tasks import create_downstream_pipeline

    for bridge_id in bridge_ids:
        try:
            create_downstream_pipeline.enqueue(bridge_id)
        except Exception:
            log.exception("could not enqueue a downstream pipeline", extra={"job_id": bridge_id})


def enqueue_bridge_update(pipeline_id: int) -> None:
    from kiln.ci.tasks import update_bridge_status

    try:
        update_bridge_status.enqueue(pipeline_id)
    except Exception:
        log.exception("could not enqueue a bridge status update", extra={"id": pipeline_id})


def downstream_of(bridges: Iterable[Job]) -> dict[int, Pipeline]:
    """The newest downstream pipeline of each bridge, in one query."""
    ids = [bridge.pk for bridge in bridges]
    found: dict[int, Pipeline] = {}
    rows = (
        Pipeline.objects.filter(source_job_id__in=ids)
        .select_related("project__namespace")
        .order_by("pk")
    )
    for pipeline in rows:
        if pipeline.source_job_id is not None:
            found[pipeline.source_job_id] = pipeline
    return found
