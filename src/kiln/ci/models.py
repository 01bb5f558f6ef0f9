"""CI/CD tables: pipelines, jobs (GitLab's builds and bridges), runners, artifacts, variables.

Names follow GitLab's (`ci_pipelines`, `ci_builds`, `ci_runners`, ...) so the API presenters
and the runner protocol map one field to one column. Secrets (runner tokens, job tokens,
registration tokens) are stored only as SHA-256 digests; the value is shown once.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from kiln.ci import statuses
from kiln.namespaces.models import Namespace
from kiln.projects.models import Project

ZERO_SHA = "0" * 40


class PipelineSource(models.TextChoices):
    PUSH = "push"
    WEB = "web"
    TRIGGER = "trigger"
    SCHEDULE = "schedule"
    API = "api"
    EXTERNAL = "external"
    PIPELINE = "pipeline"
    CHAT = "chat"
    WEBIDE = "webide"
    MERGE_REQUEST_EVENT = "merge_request_event"
    EXTERNAL_PULL_REQUEST_EVENT = "external_pull_request_event"
    PARENT_PIPELINE = "parent_pipeline"


class Pipeline(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="ci_pipelines")
    # Per-project number, as GitLab's `iid`.
    iid = models.PositiveIntegerField()
    ref = models.CharField(max_length=1024)
    tag = models.BooleanField(default=False)
    sha = models.CharField(max_length=64)
    before_sha = models.CharField(max_length=64, default=ZERO_SHA)
    source = models.CharField(max_length=32, choices=PipelineSource.choices)
    status = models.CharField(max_length=32, choices=statuses.CHOICES, default=statuses.CREATED)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Whether `ref` was a protected branch or tag when the pipeline was created: protected
    # variables and `ref_protected` runners only serve such pipelines.
    protected = models.BooleanField(default=False)
    config_path = models.CharField(max_length=255, default=".gitlab-ci.yml")
    # GitLab's `yaml_errors` (messages joined by ", ") and `failure_reason` for config errors.
    yaml_errors = models.TextField(blank=True, default="")
    failure_reason = models.CharField(max_length=64, blank=True, default="")
    # `workflow:name`, expanded.
    name = models.CharField(max_length=255, blank=True, default="")
    stages = models.JSONField(default=list)
    warnings = models.JSONField(default=list)
    # The commit's title, message, author and timestamp, read once at creation for the
    # CI_COMMIT_* variables (so handing out a job never reads git).
    commit_info = models.JSONField(default=dict)
    coverage = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    committed_at = models.DateTimeField(null=True, blank=True)
    duration = models.PositiveIntegerField(null=True, blank=True)
    queued_duration = models.PositiveIntegerField(null=True, blank=True)
    # The schedule or trigger token that created it (sources `schedule`, `trigger`).
    pipeline_schedule = models.ForeignKey(
        "PipelineSchedule",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="pipelines",
    )
    trigger = models.ForeignKey(
        "PipelineTrigger", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A downstream pipeline (GitLab's ci_sources_pipelines): the bridge (`trigger:` job) that
    # created it and that job's pipeline. A child pipeline (source `parent_pipeline`) is in
    # the same project; a multi-project one (source `pipeline`) in another.
    source_job = models.ForeignKey(
        "Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="downstream_pipelines"
    )
    source_pipeline = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="downstream_pipelines",
    )

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["project", "iid"], name="ci_pipeline_project_iid"),
        ]
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["project", "ref", "status"], name="ci_pipeline_ref_status"),
            models.Index(fields=["project", "sha"], name="ci_pipeline_sha"),
        ]

    def __str__(self) -> str:
        return f"pipeline {self.pk} ({self.status})"


class PipelineVariable(models.Model):
    """Variables given to one pipeline (API, web, trigger, schedule): the highest precedence."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="variables")
    key = models.CharField(max_length=255)
    value = models.TextField(blank=True, default="")
    variable_type = models.CharField(max_length=16, default="env_var")
    raw = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.key


class RunnerType(models.TextChoices):
    INSTANCE = "instance_type"
    GROUP = "group_type"
    PROJECT = "project_type"


class RunnerAccessLevel(models.TextChoices):
    NOT_PROTECTED = "not_protected"
    REF_PROTECTED = "ref_protected"


class Runner(models.Model):
    token_digest = models.CharField(max_length=64, unique=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    # "authenticated_user" (created with POST /user/runners, `glrt-` token) or
    # "registration_token" (the legacy POST /runners).
    registration_type = models.CharField(max_length=32, default="authenticated_user")
    runner_type = models.CharField(max_length=16, choices=RunnerType.choices)
    description = models.CharField(max_length=1024, blank=True, default="")
    maintenance_note = models.TextField(blank=True, default="")
    active = models.BooleanField(default=True)
    locked = models.BooleanField(default=False)
    run_untagged = models.BooleanField(default=True)
    tag_list = models.JSONField(default=list)
    access_level = models.CharField(
        max_length=16, choices=RunnerAccessLevel.choices, default=RunnerAccessLevel.NOT_PROTECTED
    )
    maximum_timeout = models.PositiveIntegerField(null=True, blank=True)
    # What the runner last told about itself (`info` of its requests).
    name = models.CharField(max_length=255, blank=True, default="")
    version = models.CharField(max_length=255, blank=True, default="")
    revision = models.CharField(max_length=255, blank=True, default="")
    platform = models.CharField(max_length=255, blank=True, default="")
    architecture = models.CharField(max_length=255, blank=True, default="")
    executor = models.CharField(max_length=255, blank=True, default="")
    ip_address = models.CharField(max_length=64, blank=True, default="")
    system_id = models.CharField(max_length=64, blank=True, default="")
    contacted_at = models.DateTimeField(null=True, blank=True)
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The queue keys this runner listens to ("instance", "project:7", "group:3"), kept with
    # the runner so an idle poll needs no join; and a number moved by every change of its
    # settings, part of the X-GitLab-Last-Update value it is given.
    queue_keys = models.JSONField(default=list)
    config_version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"runner {self.pk}"

    @property
    def paused(self) -> bool:
        return not self.active


class RunnerProject(models.Model):
    runner = models.ForeignKey(Runner, on_delete=models.CASCADE, related_name="runner_projects")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["runner", "project"], name="ci_runner_project_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.runner_id}:{self.project_id}"


class RunnerNamespace(models.Model):
    runner = models.ForeignKey(Runner, on_delete=models.CASCADE, related_name="runner_namespaces")
    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(
                fields=["runner", "namespace"], name="ci_runner_namespace_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.runner_id}:{self.namespace_id}"


class RunnerQueueVersion(models.Model):
    """A number moved whenever a job may have become available to the runners of a scope.

    An idle runner compares it (through X-GitLab-Last-Update) before anything is queried.
    """

    key = models.CharField(max_length=64, unique=True)
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}={self.version}"


class RegistrationToken(models.Model):
    """A (legacy) runner registration token of the instance, a group or a project."""

    project = models.OneToOneField(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    namespace = models.OneToOneField(
        Namespace, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    token_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"registration token {self.pk}"


class JobKind(models.TextChoices):
    BUILD = "build"
    BRIDGE = "bridge"


class Job(models.Model):
    """A job of a pipeline: a build run by a runner, or a bridge (a `trigger:` job)."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="jobs")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="ci_jobs")
    kind = models.CharField(max_length=8, choices=JobKind.choices, default=JobKind.BUILD)
    name = models.CharField(max_length=255)
    stage = models.CharField(max_length=255)
    stage_idx = models.IntegerField(default=0)
    status = models.CharField(max_length=32, choices=statuses.CHOICES, default=statuses.CREATED)
    when = models.CharField(max_length=16, default="on_success")
    allow_failure = models.BooleanField(default=False)
    allow_failure_exit_codes = models.JSONField(default=list)
    # None: the job waits for the earlier stages; a list (maybe empty): GitLab's DAG
    # scheduling on these needs, each {"name", "artifacts", "optional"}.
    needs = models.JSONField(null=True, blank=True)
    # Everything the runner payload needs from the configuration: script, before_script,
    # after_script, image, services, artifacts, cache, retry, timeout, dependencies, ...
    options = models.JSONField(default=dict)
    # The job's YAML variables as written: [{"key", "value", "raw"}].
    yaml_variables = models.JSONField(default=list)
    # Variables from dotenv reports this job uploaded, passed to the jobs that depend on it.
    dotenv_variables = models.JSONField(default=list)
    tag_list = models.JSONField(default=list)
    # Copied from the pipeline so the runner queue filters without a join.
    ref = models.CharField(max_length=1024)
    tag = models.BooleanField(default=False)
    protected = models.BooleanField(default=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    runner = models.ForeignKey(
        Runner, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    # The job token's digest; the token works only while the job runs.
    token_digest = models.CharField(max_length=64, null=True, blank=True, unique=True)
    timeout = models.PositiveIntegerField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    failure_reason = models.CharField(max_length=64, blank=True, default="")
    # Why a bridge could not create its downstream pipeline (GitLab's job messages), e.g. the
    # child pipeline's configuration error.
    error_messages = models.JSONField(default=list)
    # True once a newer attempt (a retry) replaced this job in its pipeline.
    retried = models.BooleanField(default=False)
    coverage = models.FloatField(null=True, blank=True)
    trace_validation_failures = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    artifacts_expire_at = models.DateTimeField(null=True, blank=True)
    # The environment of an `environment:` job (GitLab's job_environments link) and the
    # resource group of a `resource_group:` job, both set when the pipeline is created.
    environment = models.ForeignKey(
        "Environment", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    resource_group = models.ForeignKey(
        "ResourceGroup", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    waiting_for_resource_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["status", "id"], name="ci_job_queue"),
            models.Index(fields=["pipeline", "retried", "stage_idx"], name="ci_job_pipeline"),
            models.Index(fields=["project", "status"], name="ci_job_project_status"),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} {self.name} ({self.status})"

    @property
    def scheduling_type(self) -> str:
        return "dag" if self.needs is not None else "stage"

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()

    @property
    def queued_duration(self) -> float | None:
        if self.queued_at is None:
            return None
        end = self.started_at or timezone.now()
        return (end - self.queued_at).total_seconds()


class JobTag(models.Model):
    """One tag a job needs its runner to have (`tags:`), for matching in SQL."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=255)

    class Meta:
        indexes: ClassVar[list[Any]] = [models.Index(fields=["job", "name"], name="ci_job_tag")]

    def __str__(self) -> str:
        return self.name


class ArtifactType(models.TextChoices):
    ARCHIVE = "archive"
    METADATA = "metadata"
    TRACE = "trace"
    JUNIT = "junit"
    DOTENV = "dotenv"
    COBERTURA = "cobertura"
    CODEQUALITY = "codequality"
    SAST = "sast"
    DEPENDENCY_SCANNING = "dependency_scanning"
    CONTAINER_SCANNING = "container_scanning"
    SECRET_DETECTION = "secret_detection"  # noqa: S105 (a report type, not a secret)
    TERRAFORM = "terraform"
    ACCESSIBILITY = "accessibility"
    METRICS = "metrics"
    COVERAGE_FUZZING = "coverage_fuzzing"
    API_FUZZING = "api_fuzzing"
    DAST = "dast"
    LOAD_PERFORMANCE = "load_performance"
    BROWSER_PERFORMANCE = "browser_performance"
    CYCLONEDX = "cyclonedx"
    REQUIREMENTS = "requirements"
    REQUIREMENTS_V2 = "requirements_v2"
    ANNOTATIONS = "annotations"
    REPOSITORY_XRAY = "repository_xray"
    NETWORK_REFERENCED = "network_referenced"
    LSIF = "lsif"
    CLUSTER_IMAGE_SCANNING = "cluster_image_scanning"


class JobArtifact(models.Model):
    """A file a job uploaded, stored under KILN_DATA_DIR/artifacts (see kiln.ci.storage)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="artifacts")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    file_type = models.CharField(max_length=32, choices=ArtifactType.choices)
    file_format = models.CharField(max_length=16, default="zip")
    filename = models.CharField(max_length=255)
    size = models.BigIntegerField(default=0)
    file_sha256 = models.CharField(max_length=64, default="")
    # Relative to the artifacts root; never built from user input.
    storage_path = models.CharField(max_length=512)
    expire_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["job", "file_type"], name="ci_artifact_job_type"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.file_type}"


class VariableType(models.TextChoices):
    ENV_VAR = "env_var"
    FILE = "file"


class Variable(models.Model):
    """A CI/CD variable of a project, a group, or the instance (neither set)."""

    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    namespace = models.ForeignKey(
        Namespace, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(max_length=255)
    value = models.TextField(blank=True, default="")
    variable_type = models.CharField(
        max_length=16, choices=VariableType.choices, default=VariableType.ENV_VAR
    )
    protected = models.BooleanField(default=False)
    masked = models.BooleanField(default=False)
    hidden = models.BooleanField(default=False)
    raw = models.BooleanField(default=False)
    environment_scope = models.CharField(max_length=255, default="*")
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(
                fields=["project", "key", "environment_scope"],
                condition=models.Q(project__isnull=False),
                name="ci_variable_project_key",
            ),
            models.UniqueConstraint(
                fields=["namespace", "key", "environment_scope"],
                condition=models.Q(namespace__isnull=False),
                name="ci_variable_group_key",
            ),
            models.UniqueConstraint(
                fields=["key"],
                condition=models.Q(project__isnull=True, namespace__isnull=True),
                name="ci_variable_instance_key",
            ),
        ]

    def __str__(self) -> str:
        return self.key


class PipelineSchedule(models.Model):
    """A cron schedule creating pipelines (source `schedule`) as its owner."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    description = models.CharField(max_length=255)
    # A full ref (`refs/heads/main`, `refs/tags/v1`) once expanded, as GitLab keeps it.
    ref = models.CharField(max_length=1024)
    cron = models.CharField(max_length=255)
    cron_timezone = models.CharField(max_length=255, default="UTC")
    next_run_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    # `spec:inputs` values for its pipelines: [{"name": ..., "value": ...}] in GitLab's order.
    inputs = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["active", "next_run_at"], name="ci_schedule_due"),
        ]

    def __str__(self) -> str:
        return f"schedule {self.pk}"


class PipelineScheduleVariable(models.Model):
    schedule = models.ForeignKey(
        PipelineSchedule, on_delete=models.CASCADE, related_name="variables"
    )
    key = models.CharField(max_length=255)
    value = models.TextField(blank=True, default="")
    variable_type = models.CharField(
        max_length=16, choices=VariableType.choices, default=VariableType.ENV_VAR
    )
    raw = models.BooleanField(default=False)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["schedule", "key"], name="ci_schedule_variable_key"),
        ]

    def __str__(self) -> str:
        return self.key


class PipelineTrigger(models.Model):
    """A pipeline trigger token (`glptt-`): runs pipelines as its owner. Only the digest is
    kept; `token_start` is what lists show."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    description = models.CharField(max_length=255, blank=True, default="")
    token_digest = models.CharField(max_length=64, unique=True)
    token_start = models.CharField(max_length=16, default="")
    last_used = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"trigger {self.pk}"


class PeriodicRun(models.Model):
    """When a periodic task of the worker (kiln.ci.periodic) is next due. Workers claim a run
    by moving `next_run_at` with a compare-and-swap, so several workers run each once."""

    name = models.CharField(max_length=100, unique=True)
    next_run_at = models.DateTimeField()
    last_run_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


# --- environments, deployments, resource groups ----------------------------------------------


class EnvironmentState(models.TextChoices):
    AVAILABLE = "available"
    STOPPING = "stopping"
    STOPPED = "stopped"


class EnvironmentTier(models.TextChoices):
    PRODUCTION = "production"
    STAGING = "staging"
    TESTING = "testing"
    DEVELOPMENT = "development"
    OTHER = "other"


class Environment(models.Model):
    """Where a project is deployed (GitLab's `environments`): created by the first job that
    names it, or through the API. `slug` is GitLab's, computed once from the name."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=255)
    slug = models.CharField(max_length=24)
    external_url = models.CharField(max_length=255, blank=True, default="")
    state = models.CharField(
        max_length=16, choices=EnvironmentState.choices, default=EnvironmentState.AVAILABLE
    )
    tier = models.CharField(
        max_length=16, choices=EnvironmentTier.choices, default=EnvironmentTier.OTHER
    )
    auto_stop_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["project", "name"], name="ci_environment_name"),
            models.UniqueConstraint(fields=["project", "slug"], name="ci_environment_slug"),
        ]
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["state", "auto_stop_at"], name="ci_environment_auto_stop"),
        ]

    def __str__(self) -> str:
        return self.name


class DeploymentStatus(models.TextChoices):
    CREATED = "created"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELED = "canceled"
    SKIPPED = "skipped"
    BLOCKED = "blocked"


class Deployment(models.Model):
    """One deployment to an environment: made by a job (`deployable`, its status follows the
    job's) or recorded through the API (no job)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="deployments"
    )
    # Per-project number, as GitLab's `iid`.
    iid = models.PositiveIntegerField()
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="deployments"
    )
    ref = models.CharField(max_length=1024)
    tag = models.BooleanField(default=False)
    sha = models.CharField(max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=DeploymentStatus.choices, default=DeploymentStatus.CREATED
    )
    # The job's `environment:on_stop`: the job of the same pipeline that stops the environment.
    on_stop = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["project", "iid"], name="ci_deployment_project_iid"),
        ]
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["environment", "status", "id"], name="ci_deployment_env_status"),
        ]

    def __str__(self) -> str:
        return f"deployment {self.pk} ({self.status})"


class ResourceProcessMode(models.TextChoices):
    UNORDERED = "unordered"
    OLDEST_FIRST = "oldest_first"
    NEWEST_FIRST = "newest_first"
    NEWEST_READY_FIRST = "newest_ready_first"


class ResourceGroup(models.Model):
    """GitLab's `ci_resource_groups` with its single resource: at most one job of the group
    (`holder`) is pending or running at a time; the others wait for it."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    process_mode = models.CharField(
        max_length=24, choices=ResourceProcessMode.choices, default=ResourceProcessMode.UNORDERED
    )
    holder = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["project", "key"], name="ci_resource_group_key"),
        ]

    def __str__(self) -> str:
        return self.key
