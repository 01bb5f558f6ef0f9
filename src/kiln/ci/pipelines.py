"""Creating pipelines (from pushes, the API, the web); acting on whole pipelines is in
`kiln.ci.pipeline_actions`, reading their files in `kiln.ci.commit_files`.

Creating one, as GitLab's CreatePipelineService:

1. the ref and its commit are resolved; whether the ref is protected is decided now;
2. the configuration (`ci_config_path` or `.gitlab-ci.yml`) is read at that commit through
   gitstore; includes are read through `ProjectIncludeFetcher`, which reads other projects only
   when the pipeline's user may read their code;
3. `kiln.ci.config.process_config` evaluates it with GitLab's predefined variables and the
   instance, group and project variables the pipeline may see;
4. a valid plan becomes a pipeline with its jobs, processed at once (the first jobs become
   pending); an invalid one becomes a failed pipeline carrying GitLab's error in
   `yaml_errors`; when `workflow:rules` (or every job's rules) say no, nothing is created.

Pushes arrive through `create_pipelines_for_pushes`, a push listener called after the push
was committed. It runs in the post-receive path: a small configuration takes a few tens of
milliseconds (see bench/ci_idle.py and the README), so jobs are pending before the push ends.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from kiln.accounts.models import User
from kiln.ci import statuses as st
from kiln.ci.commit_files import (
    LazyPaths,
    ProjectIncludeFetcher,
    paths_changed,
    read_config_text,
    tree_paths,
)
from kiln.ci.config import (
    ConfigContext,
    ConfigErrors,
    JobPlan,
    PipelinePlan,
    PipelineSkipped,
    ProcessResult,
    exists_checker,
    process_config,
)
from kiln.ci.config import Variable as ConfigVariable
from kiln.ci.config.variables import expand
from kiln.ci.deployments import prepare_jobs
from kiln.ci.models import (
    ZERO_SHA,
    Job,
    JobKind,
    JobTag,
    Pipeline,
    PipelineSource,
    PipelineVariable,
)
from kiln.ci.pipeline_actions import cancel_children_on_commit
from kiln.ci.predefined import pipeline_variables
from kiln.ci.processing import process_pipeline
from kiln.ci.variables import config_layers
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, KilnError
from kiln.core.urls import base_url
from kiln.gitstore import GitStoreError, validate_branch_name, validate_tag_name
from kiln.projects.models import Project
from kiln.repositories import protection
from kiln.repositories.models import Push
from kiln.repositories.storage import repo_path, store

log = logging.getLogger(__name__)

DEFAULT_CONFIG_PATH = ".gitlab-ci.yml"
_SKIP_CI = re.compile(r"\[(ci[ _-]skip|skip[ _-]ci)\]", re.IGNORECASE)


class PipelineError(KilnError):
    """GitLab's `{"message": {"base": ["Reference not found"]}}` for a pipeline not created."""

    status = 400
    reason = "pipeline_error"

    def __init__(self, message: str, pipeline: Pipeline | None = None) -> None:
        super().__init__(message)
        self.pipeline = pipeline

    def body(self) -> dict[str, Any]:
        return {"message": {"base": [self.message]}}


# --- creating -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineInput:
    """What a pipeline is created for."""

    ref: str
    sha: str
    tag: bool
    source: str
    before_sha: str = ZERO_SHA
    # (key, value, variable_type) given with the request (API, web, trigger, schedule).
    variables: tuple[tuple[str, str, str], ...] = ()
    # None: unknown (every `changes:` is true); else the paths the push changed.
    changed_paths: Sequence[str] | None = None
    # The schedule or trigger token creating it (sources `schedule`, `trigger`).
    schedule_id: int | None = None
    trigger_id: int | None = None
    # Keys of `variables` that are raw (`expand: false`), as a bridge forwards them.
    raw_keys: frozenset[str] = frozenset()
    # `spec:inputs` values for the configuration's header (kiln.ci.inputs checked the shape).
    inputs: Mapping[str, Any] = field(default_factory=dict)


def _is_protected(project: Project, ref: str, *, tag: bool) -> bool:
    if tag:
        return bool(protection.tag_rules(project, ref))
    return protection.is_protected_branch(project, ref)


def _commit_info(project: Project, sha: str) -> dict[str, Any]:
    try:
        commit = store().get_commit(relative_path=repo_path(project), revision=sha)
    except GitStoreError:
        return {}
    return {
        "title": commit.title,
        "message": commit.message,
        "author_name": commit.author.name,
        "author_email": commit.author.email,
        "timestamp": commit.author.date.isoformat(),
    }


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _artifacts(job: JobPlan) -> dict[str, Any] | None:
    artifacts = job.artifacts
    if artifacts is None:
        return None
    return {
        "name": artifacts.name,
        "paths": list(artifacts.paths),
        "exclude": list(artifacts.exclude),
        "expire_in": artifacts.expire_in,
        "expire_in_seconds": artifacts.expire_in_seconds,
        "when": artifacts.when,
        "untracked": artifacts.untracked,
        "reports": _json_safe(dict(artifacts.reports)),
    }


def _cache_key(project: Project, sha: str, files: Sequence[str], prefix: str | None) -> str:
    """GitLab's `cache:key:files`: a digest of the last commits that changed those files."""
    commits: list[str] = []
    for path in files:
        try:
            found = store().log(relative_path=repo_path(project), revision=sha, path=path, limit=1)
        except (GitStoreError, ValueError):
            continue
        if found:
            commits.append(found[0].id)
    key = (
        hashlib.sha1("".join(commits).encode(), usedforsecurity=False).hexdigest()
        if commits
        else "default"
    )
    return f"{prefix}-{key}" if prefix else key


def _options(job: JobPlan, project: Project, sha: str) -> dict[str, Any]:
    options: dict[str, Any] = {
        "script": list(job.script),
        "before_script": list(job.before_script),
        "after_script": list(job.after_script),
        "image": _json_safe(dict(job.image)) if job.image else None,
        "services": [_json_safe(dict(s)) for s in job.services],
        "artifacts": _artifacts(job),
        "cache": [
            {
                "key": (
                    _cache_key(project, sha, c.key_files, c.key_prefix) if c.key_files else c.key
                ),
                "paths": list(c.paths),
                "policy": c.policy,
                "when": c.when,
                "untracked": c.untracked,
                "unprotect": c.unprotect,
                "fallback_keys": list(c.fallback_keys),
            }
            for c in job.cache
        ],
        "retry": (
            {
                "max": job.retry.max,
                "when": list(job.retry.when),
                "exit_codes": list(job.retry.exit_codes),
            }
            if job.retry
            else None
        ),
        "timeout": job.timeout,
        "allow_failure": job.allow_failure,
        "dependencies": list(job.dependencies) if job.dependencies is not None else None,
        "start_in": job.start_in,
        "start_in_seconds": job.start_in_seconds,
        "coverage": job.coverage,
        "interruptible": job.interruptible,
        "resource_group": job.resource_group,
        "parallel": (
            {
                "index": job.parallel.index,
                "total": job.parallel.total,
                "matrix": dict(job.parallel.matrix),
            }
            if job.parallel
            else None
        ),
        "environment": (
            {
                "name": job.environment.expanded_name,
                "url": job.environment.url,
                "action": job.environment.action,
                "on_stop": job.environment.on_stop,
                "deployment_tier": job.environment.deployment_tier,
                "auto_stop_in": job.environment.auto_stop_in,
            }
            if job.environment
            else None
        ),
        "cross_needs": [
            {
                "job": n.job,
                "project": n.project,
                "ref": n.ref,
                "pipeline": n.pipeline,
                "artifacts": n.artifacts,
            }
            for n in job.needs or ()
            if not n.same_pipeline
        ],
        "trigger": _json_safe(
            {
                "project": job.trigger.project,
                "branch": job.trigger.branch,
                "include": [dict(i) for i in job.trigger.include],
                "strategy": job.trigger.strategy,
                "forward": dict(job.trigger.forward),
                "inputs": dict(job.trigger.inputs),
            }
        )
        if job.trigger
        else None,
        "extra": _json_safe(dict(job.extra)),
    }
    return options


def _job_rows(
    plan: PipelinePlan, pipeline: Pipeline, user: User | None
) -> list[tuple[Job, list[str]]]:
    rows = []
    for plan_job in plan.jobs:
        lookup = dict(plan_job.expanded_variables)
        tags = [expand(tag, lookup) for tag in plan_job.tags]
        tags = list(dict.fromkeys(t for t in tags if t))
        needs = None
        if plan_job.needs is not None:
            needs = [
                {"name": n.job, "artifacts": n.artifacts, "optional": n.optional}
                for n in plan_job.needs
                if n.same_pipeline
            ]
        job = Job(
            pipeline=pipeline,
            project=pipeline.project,
            kind=JobKind.BRIDGE if plan_job.trigger is not None else JobKind.BUILD,
            name=plan_job.name,
            stage=plan_job.stage,
            stage_idx=plan_job.stage_index,
            status=st.CREATED,
            when=plan_job.when,
            allow_failure=plan_job.allow_failure,
            allow_failure_exit_codes=list(plan_job.allow_failure_exit_codes),
            needs=needs,
            options=_options(plan_job, pipeline.project, pipeline.sha),
            yaml_variables=[
                {"key": key, "value": var.value, "raw": not var.expand}
                for key, var in plan_job.variables.items()
            ],
            tag_list=tags,
            ref=pipeline.ref,
            tag=pipeline.tag,
            protected=pipeline.protected,
            user=user,
            created_at=pipeline.created_at,
        )
        rows.append((job, tags))
    return rows


def _next_iid(project: Project) -> int:
    current = Pipeline.objects.filter(project=project).aggregate(m=Max("iid"))["m"] or 0
    return int(current) + 1


def _context(
    project: Project,
    spec: PipelineInput,
    user: User | None,
    protected: bool,
    commit: dict[str, Any],
) -> ConfigContext:
    predefined = dict(
        pipeline_variables(
            project=project,
            base_url=base_url(None),
            ref=spec.ref,
            tag=spec.tag,
            sha=spec.sha,
            before_sha=spec.before_sha,
            source=spec.source,
            protected=protected,
            user=user,
            commit=commit,
        )
    )
    layers = config_layers(project, protected=protected)
    paths = LazyPaths(lambda: tree_paths(project, spec.sha))
    return ConfigContext(
        source=spec.source,  # type: ignore[arg-type]
        ref=spec.ref,
        is_tag=spec.tag,
        project_path=project.full_path,
        predefined_variables=predefined,
        instance_variables=layers["instance"],
        group_variables=layers["group"],
        project_variables=layers["project"],
        pipeline_variables={
            k: ConfigVariable(v, expand=k not in spec.raw_keys) for k, v, _ in spec.variables
        },
        changed_paths=spec.changed_paths,
        exists=_lazy_exists(paths),
        inputs=dict(spec.inputs),
    )


def _lazy_exists(paths: LazyPaths) -> Callable[[str], bool]:
    checker: list[Callable[[str], bool]] = []

    def exists(pattern: str) -> bool:
        if not checker:
            checker.append(exists_checker(list(paths)))
        return checker[0](pattern)

    return exists


@dataclass(frozen=True)
class Created:
    """What creating a pipeline gave: the pipeline (maybe failed), or why there is none."""

    pipeline: Pipeline | None
    result: ProcessResult | None


def create_pipeline_unchecked(
    *,
    project: Project,
    user: User | None,
    spec: PipelineInput,
    config: str | None = None,
    fetcher: ProjectIncludeFetcher | None = None,
    bridge: Job | None = None,
) -> Created:
    """Create a pipeline for `spec` as `user`. The caller authorized it (a push was allowed,
    or `create_pipeline` checked the API caller). Returns `Created(None, ...)` when there is
    no configuration or the rules create nothing.

    A downstream pipeline (kiln.ci.downstream) passes the `bridge` creating it, and for a
    child pipeline its configuration (`config`, the bridge's `include:`) and `fetcher`."""
    config_path = project.ci_config_path or DEFAULT_CONFIG_PATH
    text = config if config is not None else read_config_text(project, spec.sha, config_path)
    if text is None:
        return Created(None, None)
    protected = _is_protected(project, spec.ref, tag=spec.tag)
    commit = _commit_info(project, spec.sha)
    actor = Actor(user=user) if user is not None else Actor()
    skip = spec.source == PipelineSource.PUSH and bool(_SKIP_CI.search(commit.get("message", "")))
    result: ProcessResult | None = None
    if not skip:
        context = _context(project, spec, user, protected, commit)
        result = process_config(
            text,
            context,
            fetcher=fetcher or ProjectIncludeFetcher(project, spec.sha, actor),
            # A child's configuration is the bridge's include list, not a file of its own.
            config_path=config_path if config is None else "",
        )
        if isinstance(result, PipelineSkipped):
            return Created(None, result)
    now = timezone.now()
    with transaction.atomic():
        # Serialize iids per project: the row lock makes concurrent creations wait.
        Project.objects.select_for_update().filter(pk=project.pk).first()
        pipeline = Pipeline.objects.create(
            project=project,
            iid=_next_iid(project),
            ref=spec.ref,
            tag=spec.tag,
            sha=spec.sha,
            before_sha=spec.before_sha or ZERO_SHA,
            source=spec.source,
            user=user,
            protected=protected,
            config_path=config_path,
            commit_info=commit,
            created_at=now,
            committed_at=now,
            pipeline_schedule_id=spec.schedule_id,
            trigger_id=spec.trigger_id,
            source_job=bridge,
            source_pipeline_id=bridge.pipeline_id if bridge is not None else None,
        )
        PipelineVariable.objects.bulk_create(
            PipelineVariable(
                pipeline=pipeline, key=k, value=v, variable_type=t, raw=k in spec.raw_keys
            )
            for k, v, t in spec.variables
        )
        if skip:
            pipeline.status = st.SKIPPED
            pipeline.finished_at = now
            pipeline.save(update_fields=["status", "finished_at"])
        elif isinstance(result, ConfigErrors):
            pipeline.status = st.FAILED
            pipeline.yaml_errors = result.errors[0] if result.errors else "Invalid configuration"
            pipeline.failure_reason = "config_error"
            pipeline.warnings = list(result.warnings)
            pipeline.finished_at = now
            pipeline.save(
                update_fields=["status", "yaml_errors", "failure_reason", "warnings", "finished_at"]
            )
        elif isinstance(result, PipelinePlan):
            pipeline.stages = list(result.stages)
            pipeline.name = (result.workflow_name or "")[:255]
            pipeline.warnings = list(result.warnings)
            pipeline.save(update_fields=["stages", "name", "warnings"])
            rows = _job_rows(result, pipeline, user)
            prepare_jobs(project, [job for job, _ in rows], result.jobs)
            jobs = Job.objects.bulk_create([job for job, _ in rows])
            JobTag.objects.bulk_create(
                JobTag(job=job, name=tag)
                for job, (_, tags) in zip(jobs, rows, strict=True)
                for tag in tags
            )
            process_pipeline(pipeline.pk)
            pipeline.refresh_from_db()
    if isinstance(result, PipelinePlan) and not spec.tag:
        try:
            auto_cancel_redundant(pipeline)
        except Exception:
            log.exception("auto-canceling older pipelines failed", extra={"id": pipeline.pk})
    return Created(pipeline, result)


_AUTO_CANCEL_SOURCES = frozenset(
    {PipelineSource.PUSH, PipelineSource.WEB, PipelineSource.API, PipelineSource.TRIGGER}
)


def auto_cancel_redundant(pipeline: Pipeline) -> list[int]:
    """GitLab's auto-cancel of redundant pipelines (`auto_cancel_pending_pipelines`, the
    `conservative` strategy): an older, unfinished pipeline of the same branch is canceled
    when none of its jobs that started is non-`interruptible`; its unfinished jobs are
    canceled. Returns the ids of the canceled pipelines."""
    project = pipeline.project
    if project.auto_cancel_pending_pipelines != "enabled":
        return []
    if pipeline.source not in _AUTO_CANCEL_SOURCES:
        return []
    older = Pipeline.objects.filter(
        project=project,
        ref=pipeline.ref,
        tag=False,
        pk__lt=pipeline.pk,
        status__in=list(st.CANCELABLE),
        source__in=list(_AUTO_CANCEL_SOURCES),
    ).exclude(sha=pipeline.sha)
    canceled = []
    for candidate in older.order_by("pk")[:50]:
        with transaction.atomic():
            locked = Pipeline.objects.select_for_update().filter(pk=candidate.pk).first()
            if locked is None or locked.status not in st.CANCELABLE:
                continue
            jobs = list(Job.objects.filter(pipeline_id=candidate.pk, retried=False))
            started = [j for j in jobs if j.started_at is not None or j.status == st.RUNNING]
            if any(not (j.options or {}).get("interruptible") for j in started):
                continue
            now = timezone.now()
            Job.objects.filter(
                pipeline_id=candidate.pk, retried=False, status__in=st.CANCELABLE
            ).update(status=st.CANCELED, finished_at=now, updated_at=now)
            process_pipeline(candidate.pk)
            cancel_children_on_commit(candidate.pk)
            canceled.append(candidate.pk)
    if canceled:
        log.info("auto-canceled redundant pipelines", extra={"ids": canceled, "by": pipeline.pk})
    return canceled


def resolve_ref(project: Project, ref: str) -> tuple[str, bool]:
    """(sha, is_tag) of a branch (tried first, as GitLab) or tag; 400 when neither exists."""
    path = repo_path(project)
    gitstore = store()
    try:
        validate_branch_name(ref)
        branch = gitstore.find_branch(relative_path=path, name=ref)
    except (GitStoreError, ValueError):
        branch = None
    if branch is not None:
        return branch.commit.id, False
    try:
        validate_tag_name(ref)
        found = gitstore.find_tag(relative_path=path, name=ref)
    except (GitStoreError, ValueError):
        found = None
    if found is not None:
        sha = gitstore.resolve_revision(relative_path=path, revision=f"refs/tags/{ref}")
        if sha is not None:
            return sha, True
    raise PipelineError("Reference not found")


def create_pipeline(
    *,
    actor: Actor,
    project: Project,
    ref: str,
    source: str = PipelineSource.API,
    variables: Sequence[Mapping[str, Any]] = (),
    inputs: Mapping[str, Any] | None = None,
) -> Pipeline:
    """`POST /projects/:id/pipeline` and the web's "Run pipeline": checks the caller may run
    pipelines on `ref`, then creates one. Raises PipelineError with GitLab's message when no
    pipeline was created, or when the one created failed on its configuration (unknown or
    mistyped `inputs` among those failures). `inputs` is a hash of name to value whose
    shape the caller checked (`kiln.ci.inputs.pipeline_inputs`)."""
    from kiln.ci import policies

    if not policies.can_run_pipelines(actor, project):
        raise Forbidden()
    sha, tag = resolve_ref(project, ref)
    if not policies.can_update_ref(actor, project, ref, tag=tag):
        raise Forbidden()
    parsed = tuple(parse_pipeline_variable(item) for item in variables)
    if parsed and not may_set_variables(actor, project):
        raise PipelineError("Insufficient permissions to set pipeline variables")
    assert actor.user is not None
    created = create_pipeline_unchecked(
        project=project,
        user=actor.user,
        spec=PipelineInput(
            ref=ref, sha=sha, tag=tag, source=source, variables=parsed, inputs=dict(inputs or {})
        ),
    )
    if created.pipeline is None:
        if isinstance(created.result, PipelineSkipped):
            raise PipelineError(created.result.message)
        raise PipelineError("Missing CI config file")
    if created.pipeline.failure_reason == "config_error":
        raise PipelineError(
            created.pipeline.yaml_errors or "Invalid configuration", created.pipeline
        )
    return created.pipeline


def parse_pipeline_variable(item: Mapping[str, Any]) -> tuple[str, str, str]:
    from kiln.core.errors import InvalidParameter

    key = str(item.get("key", "")).strip()
    if not key or not re.fullmatch(r"[a-zA-Z0-9_]+", key):
        raise PipelineError(f"Variable key '{key}' is invalid")
    kind = str(item.get("variable_type") or "env_var")
    if kind not in ("env_var", "file"):
        raise InvalidParameter("variables[variable_type] does not have a valid value")
    return key, str(item.get("value", "")), kind


def may_set_variables(actor: Actor, project: Project) -> bool:
    if not project.restrict_user_defined_variables:
        return True
    from kiln.core.access import AccessLevel
    from kiln.projects.access import project_access_level

    role = project.ci_pipeline_variables_minimum_override_role
    needed = {
        "no_one_allowed": AccessLevel.OWNER + 1,
        "owner": AccessLevel.OWNER,
        "maintainer": AccessLevel.MAINTAINER,
        "developer": AccessLevel.DEVELOPER,
    }.get(role, AccessLevel.DEVELOPER)
    return actor.is_admin or project_access_level(actor, project) >= needed


def create_pipelines_for_pushes(pushes: list[Push]) -> None:
    """The push listener: one pipeline per pushed branch or tag (deletions create none).

    A failure here must never fail the push: it is logged, and the pipeline is missing."""
    for push in pushes:
        if push.after == ZERO_SHA or not (push.is_branch or push.is_tag):
            continue
        try:
            project = Project.objects.select_related("namespace").get(pk=push.project_id)
            if project.builds_access_level == "disabled" or project.archived:
                continue
            before = push.before if push.before != ZERO_SHA else None
            spec = PipelineInput(
                ref=push.ref_name,
                sha=push.after,
                tag=push.is_tag,
                source=PipelineSource.PUSH,
                before_sha=push.before,
                changed_paths=(
                    LazyPaths(lambda p=project, b=before, a=push.after: paths_changed(p, b, a))  # type: ignore[misc]
                    if before is not None and push.is_branch
                    else None
                ),
            )
            create_pipeline_unchecked(project=project, user=push.author, spec=spec)
        except Exception:
            log.exception("could not create a pipeline for a push", extra={"push_id": push.pk})
