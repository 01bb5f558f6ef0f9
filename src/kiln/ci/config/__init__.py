"""`kiln.ci.config`: `.gitlab-ci.yml` in, a validated pipeline plan out.

A pure library (no Django, no git, no network): the caller passes the YAML text, a
`ConfigContext` describing the pipeline (source, ref, variables, changed paths, an
`exists` check) and an `IncludeFetcher`; `process_config` returns a `PipelinePlan`,
`ConfigErrors` (GitLab's messages) or `PipelineSkipped` (workflow rules said no, or no job
would run). See processor.py for the order of the steps and each module for one of them.
"""

from kiln.ci.config.context import (
    ConfigContext,
    IncludeFetcher,
    IncludeFetchError,
    IncludeNotFoundError,
    Limits,
)
from kiln.ci.config.expressions import evaluate as evaluate_expression
from kiln.ci.config.expressions import is_valid as is_valid_expression
from kiln.ci.config.globs import exists_checker, fnmatch
from kiln.ci.config.includes import BundledTemplates
from kiln.ci.config.processor import process_config
from kiln.ci.config.schema import BUNDLED_SCHEMA, CiSchema, load_ci_schema
from kiln.ci.config.types import (
    Artifacts,
    CacheEntry,
    ConfigErrors,
    Environment,
    JobPlan,
    Need,
    ParallelInstance,
    PipelinePlan,
    PipelineSkipped,
    PipelineSource,
    ProcessResult,
    Retry,
    RulesResult,
    Trigger,
    Variable,
    When,
)

__all__ = [
    "BUNDLED_SCHEMA",
    "Artifacts",
    "BundledTemplates",
    "CacheEntry",
    "CiSchema",
    "ConfigContext",
    "ConfigErrors",
    "Environment",
    "IncludeFetchError",
    "IncludeFetcher",
    "IncludeNotFoundError",
    "JobPlan",
    "Limits",
    "Need",
    "ParallelInstance",
    "PipelinePlan",
    "PipelineSkipped",
    "PipelineSource",
    "ProcessResult",
    "Retry",
    "RulesResult",
    "Trigger",
    "Variable",
    "When",
    "evaluate_expression",
    "exists_checker",
    "fnmatch",
    "is_valid_expression",
    "load_ci_schema",
    "process_config",
]
