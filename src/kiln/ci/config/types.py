"""The pipeline plan: what `.gitlab-ci.yml` asks for, after every GitLab rule was applied.

A `PipelinePlan` is plain, immutable data. It says which jobs exist, in which stage, when
they run, what they need and how they are configured; it does not know about the database.
The service that creates a pipeline turns a plan into rows; the runner coordinator reads
those rows. Field names follow GitLab's keywords so the mapping stays obvious.

`process_config` returns one of three values:

* `PipelinePlan`      — the configuration is valid and at least one job runs;
* `ConfigErrors`      — the configuration is invalid (GitLab's "yaml invalid");
* `PipelineSkipped`   — the configuration is valid but creates no pipeline, either because
                        `workflow:rules` filtered it out or because every job was excluded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

When = Literal["on_success", "on_failure", "always", "manual", "delayed", "never"]
PipelineSource = Literal[
    "push",
    "web",
    "api",
    "trigger",
    "schedule",
    "merge_request_event",
    "parent_pipeline",
    "pipeline",
    "external_pull_request_event",
    "chat",
    "webide",
]


@dataclass(frozen=True)
class Variable:
    """One CI/CD variable value; `expand=False` is GitLab's `expand: false` (a raw value)."""

    value: str
    expand: bool = True


@dataclass(frozen=True)
class Need:
    """One `needs:` entry. Cross-project (`project`/`ref`) and parent-pipeline (`pipeline`)
    needs are kept as written for the artifact downloader; only same-pipeline needs take
    part in the DAG checks."""

    job: str
    artifacts: bool = True
    optional: bool = False
    project: str | None = None
    ref: str | None = None
    pipeline: str | None = None

    @property
    def same_pipeline(self) -> bool:
        return self.project is None and self.pipeline is None


@dataclass(frozen=True)
class Artifacts:
    paths: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    expire_in: str | None = None
    # None when expire_in is absent or "never"; seconds otherwise.
    expire_in_seconds: int | None = None
    when: Literal["on_success", "on_failure", "always"] = "on_success"
    name: str | None = None
    untracked: bool = False
    expose_as: str | None = None
    public: bool | None = None
    access: str | None = None
    # Report type -> list of paths (or GitLab's richer hash, e.g. coverage_report), as written.
    reports: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CacheEntry:
    key: str = "default"
    key_files: tuple[str, ...] = ()
    key_prefix: str | None = None
    paths: tuple[str, ...] = ()
    policy: Literal["pull", "push", "pull-push"] = "pull-push"
    when: Literal["on_success", "on_failure", "always"] = "on_success"
    untracked: bool = False
    unprotect: bool = False
    fallback_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Retry:
    max: int = 0
    when: tuple[str, ...] = ("always",)
    exit_codes: tuple[int, ...] = ()


@dataclass(frozen=True)
class Environment:
    name: str
    # `name` with CI/CD variables expanded the way GitLab does when it creates the deployment.
    expanded_name: str
    url: str | None = None
    action: Literal["start", "prepare", "stop", "verify", "access"] = "start"
    on_stop: str | None = None
    auto_stop_in: str | None = None
    deployment_tier: str | None = None
    kubernetes: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Trigger:
    """A trigger job (GitLab's "bridge"): a downstream multi-project or child pipeline."""

    project: str | None = None
    branch: str | None = None
    # Child pipeline configuration sources, each one normalized to a dict such as
    # {"local": "path.yml"} or {"template": "x.gitlab-ci.yml"} or {"artifact": .., "job": ..}.
    include: tuple[Mapping[str, Any], ...] = ()
    strategy: str | None = None
    forward: Mapping[str, bool] = field(default_factory=dict)
    # `trigger:inputs`: the downstream configuration's `spec:inputs` values.
    inputs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ParallelInstance:
    """Which instance of a `parallel:` job this is (GitLab's CI_NODE_INDEX/CI_NODE_TOTAL)."""

    index: int
    total: int
    # The matrix variables of this instance; empty for `parallel: N`.
    matrix: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RulesResult:
    """What `rules:` decided for a job: the index of the matching rule (None when no rule
    matched, which means `when: never`) and the attributes that rule contributed."""

    matched_rule: int | None
    when: When
    allow_failure: bool | None = None
    start_in: str | None = None
    interruptible: bool | None = None
    variables: Mapping[str, Variable] = field(default_factory=dict)
    needs: tuple[Need, ...] | None = None


@dataclass(frozen=True)
class JobPlan:
    name: str
    stage: str
    stage_index: int
    when: When
    start_in: str | None = None
    start_in_seconds: int | None = None
    allow_failure: bool = False
    allow_failure_exit_codes: tuple[int, ...] = ()
    script: tuple[str, ...] = ()
    before_script: tuple[str, ...] = ()
    after_script: tuple[str, ...] = ()
    # `image` and each service are normalized to GitLab's hash form ({"name": ...}).
    image: Mapping[str, Any] | None = None
    services: tuple[Mapping[str, Any], ...] = ()
    # The YAML-level variables of the job: global (subject to `inherit:variables`), then the
    # job's own, then the matching rule's; as written (GitLab's "yaml_variables").
    variables: Mapping[str, Variable] = field(default_factory=dict)
    # The same keys with their effective values: higher-precedence variables from the
    # context (project, group, instance, pipeline) win, and references are expanded.
    expanded_variables: Mapping[str, str] = field(default_factory=dict)
    # None: the job waits for earlier stages. (): `needs: []`, it starts immediately.
    needs: tuple[Need, ...] | None = None
    # None: artifacts of every earlier job; (): none.
    dependencies: tuple[str, ...] | None = None
    artifacts: Artifacts | None = None
    cache: tuple[CacheEntry, ...] = ()
    retry: Retry | None = None
    timeout: int | None = None
    parallel: ParallelInstance | None = None
    resource_group: str | None = None
    # `resource_group` with the job's variables expanded, as GitLab names the group.
    expanded_resource_group: str | None = None
    environment: Environment | None = None
    interruptible: bool | None = None
    tags: tuple[str, ...] = ()
    coverage: str | None = None
    trigger: Trigger | None = None
    rules: RulesResult | None = None
    # Keywords Kiln keeps as written for later features: release, secrets, id_tokens,
    # hooks, identity, pages, manual_confirmation, inputs, run, dast_configuration, publish.
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PipelinePlan:
    stages: tuple[str, ...]
    jobs: tuple[JobPlan, ...]
    workflow_name: str | None = None
    # Global YAML variables after `workflow:rules:variables`.
    variables: Mapping[str, Variable] = field(default_factory=dict)
    workflow_auto_cancel: Mapping[str, Any] | None = None
    # Every file that was included, in order, e.g. {"type": "local", "location": "a.yml"}.
    includes: tuple[Mapping[str, str], ...] = ()
    warnings: tuple[str, ...] = ()

    def job(self, name: str) -> JobPlan:
        for job in self.jobs:
            if job.name == name:
                return job
        raise KeyError(name)

    @property
    def job_names(self) -> tuple[str, ...]:
        return tuple(job.name for job in self.jobs)


@dataclass(frozen=True)
class ConfigErrors:
    """The configuration is invalid. `errors` are GitLab-style messages, first one first."""

    errors: tuple[str, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class PipelineSkipped:
    """The configuration is valid but no pipeline is created."""

    reason: Literal["filtered_by_workflow_rules", "no_jobs"]
    message: str
    warnings: tuple[str, ...] = ()


ProcessResult = PipelinePlan | ConfigErrors | PipelineSkipped
