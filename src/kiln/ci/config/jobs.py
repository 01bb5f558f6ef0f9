"""From the merged configuration hash to validated, normalized job definitions.

This is GitLab's `Entry::Root`/`Entry::Jobs`/`Entry::Job` layer: which top-level keys are
jobs, what each job may contain, the `default:` keyword (and the legacy top-level
`image:`, `services:`, `before_script:`, `after_script:`, `cache:`) with `inherit:default`,
stages with `.pre` and `.post` added, and `workflow:`. Every problem found is collected and
reported together, in GitLab's words, lowercased as GitLab's entry validator does.

Nothing here depends on the pipeline being created: rules are validated, not evaluated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from kiln.ci.config import entries, rules
from kiln.ci.config.durations import START_IN_LIMIT, parse_duration
from kiln.ci.config.errors import ConfigError
from kiln.ci.config.matrix import validate_parallel
from kiln.ci.config.schema import flatten
from kiln.ci.config.types import Artifacts, CacheEntry, Need, Retry, Trigger, Variable, When

DEFAULT_STAGES = ("build", "test", "deploy")
PRE_STAGE, POST_STAGE = ".pre", ".post"
ROOT_KEYS = frozenset(
    {
        "default",
        "include",
        "before_script",
        "image",
        "services",
        "after_script",
        "variables",
        "stages",
        "cache",
        "workflow",
    }
)
LEGACY_DEFAULT_KEYS = ("before_script", "image", "services", "after_script", "cache")
DEFAULT_KEYS = frozenset(
    {
        "after_script",
        "artifacts",
        "before_script",
        "cache",
        "hooks",
        "id_tokens",
        "identity",
        "image",
        "interruptible",
        "retry",
        "services",
        "tags",
        "timeout",
    }
)
PROCESSABLE_KEYS = frozenset(
    {
        "extends",
        "stage",
        "only",
        "except",
        "rules",
        "variables",
        "inherit",
        "allow_failure",
        "when",
        "needs",
        "resource_group",
    }
)
EXTRA_KEYS = frozenset(
    {
        "release",
        "secrets",
        "id_tokens",
        "hooks",
        "identity",
        "pages",
        "manual_confirmation",
        "inputs",
        "run",
        "dast_configuration",
        "publish",
    }
)
JOB_KEYS = (
    PROCESSABLE_KEYS
    | EXTRA_KEYS
    | frozenset(
        {
            "tags",
            "script",
            "type",
            "image",
            "services",
            "start_in",
            "artifacts",
            "cache",
            "dependencies",
            "before_script",
            "after_script",
            "environment",
            "coverage",
            "retry",
            "parallel",
            "interruptible",
            "timeout",
        }
    )
)
BRIDGE_KEYS = PROCESSABLE_KEYS | frozenset({"trigger", "parallel", "environment", "inputs"})
JOB_WHEN = ("on_success", "on_failure", "always", "manual", "delayed")
MAX_JOB_NAME = 255
MAX_WORKFLOW_NAME = 255
WORKFLOW_KEYS = frozenset({"rules", "name", "auto_cancel"})


@dataclass(frozen=True)
class Workflow:
    name: str | None = None
    rules: tuple[Mapping[str, Any], ...] | None = None
    auto_cancel: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class JobSpec:
    """One job as written (after extends, defaults and validation), before parallel
    expansion and before rules are evaluated."""

    name: str
    stage: str
    when: When = "on_success"
    start_in: str | None = None
    allow_failure: bool | None = None
    allow_failure_exit_codes: tuple[int, ...] = ()
    script: tuple[str, ...] = ()
    before_script: tuple[str, ...] = ()
    after_script: tuple[str, ...] = ()
    image: Mapping[str, Any] | None = None
    services: tuple[Mapping[str, Any], ...] = ()
    variables: Mapping[str, Variable] = field(default_factory=dict)
    inherit_variables: bool | frozenset[str] = True
    needs: tuple[Need, ...] | None = None
    need_matrices: Mapping[int, Any] = field(default_factory=dict)
    dependencies: tuple[str, ...] | None = None
    artifacts: Artifacts | None = None
    cache: tuple[CacheEntry, ...] = ()
    retry: Retry | None = None
    timeout: int | None = None
    parallel: Any = None
    resource_group: str | None = None
    environment: Mapping[str, Any] | None = None
    interruptible: bool | None = None
    tags: tuple[str, ...] = ()
    coverage: str | None = None
    trigger: Trigger | None = None
    rules: tuple[Mapping[str, Any], ...] | None = None
    only: Mapping[str, Any] | None = None
    except_: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ParsedConfig:
    stages: tuple[str, ...]
    variables: Mapping[str, Variable]
    workflow: Workflow
    jobs: tuple[JobSpec, ...]


def _stages(value: Any) -> tuple[tuple[str, ...], list[str]]:
    if value is None:
        stages: list[str] = list(DEFAULT_STAGES)
    else:
        flat = flatten(value) if isinstance(value, list) else None
        if flat is None or not all(isinstance(stage, str) for stage in flat):
            return (), ["stages config should be an array of strings"]
        stages = list(dict.fromkeys(flat))
    # GitLab's EdgeStagesInjector: .pre always first, .post always last.
    core = [stage for stage in stages if stage not in (PRE_STAGE, POST_STAGE)]
    return (PRE_STAGE, *core, POST_STAGE), []


def _defaults(config: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Normalized `default:` values, with the legacy top-level keys folded in."""
    raw = config.get("default") or {}
    errors: list[str] = []
    if not isinstance(raw, dict):
        return {}, ["default config should be a hash"]
    unknown = [key for key in raw if key not in DEFAULT_KEYS]
    if unknown:
        errors.append(f"default config contains unknown keys: {', '.join(unknown)}")
    merged = dict(raw)
    for key in LEGACY_DEFAULT_KEYS:
        if key in config:
            if key in raw:
                errors.append(f"{key} is defined in top-level and `default:` entry")
            merged[key] = config[key]
    normalized, more = _normalize_common(merged, "default", bridge=False)
    return normalized, errors + more


def _normalize_common(
    raw: Mapping[str, Any], where: str, *, bridge: bool
) -> tuple[dict[str, Any], list[str]]:
    """Keywords shared by jobs and `default:`; returns only the keys present."""
    out: dict[str, Any] = {}
    errors: list[str] = []
    if bridge:
        return out, errors
    for key in ("before_script", "after_script"):
        if key in raw:
            out[key], more = entries.script(raw[key], f"{where}:{key}")
            errors += more
    if "image" in raw:
        out["image"], more = entries.image(raw["image"], f"{where}:image")
        errors += more
    if "services" in raw:
        out["services"], more = entries.services(raw["services"], f"{where}:services")
        errors += more
    if "cache" in raw:
        out["cache"], more = entries.cache(raw["cache"], f"{where}:cache")
        errors += more
    if "artifacts" in raw:
        out["artifacts"], more = entries.artifacts(raw["artifacts"], f"{where}:artifacts")
        errors += more
    if "retry" in raw:
        out["retry"], more = entries.retry(raw["retry"], where)
        errors += more
    if "timeout" in raw:
        out["timeout"], more = entries.timeout(raw["timeout"], where)
        errors += more
    if "tags" in raw:
        out["tags"], more = entries.tags(raw["tags"], where)
        errors += more
    if "interruptible" in raw:
        if isinstance(raw["interruptible"], bool):
            out["interruptible"] = raw["interruptible"]
        else:
            errors.append(f"{where}:interruptible config should be a boolean value")
    for key in ("hooks", "id_tokens", "identity"):
        if key in raw:
            out[key] = raw[key]
    return out, errors


def _workflow(value: Any) -> tuple[Workflow, list[str]]:
    if value is None:
        return Workflow(), []
    if not isinstance(value, dict):
        return Workflow(), ["workflow config should be a hash"]
    errors = []
    unknown = [key for key in value if key not in WORKFLOW_KEYS]
    if unknown:
        errors.append(f"workflow config contains unknown keys: {', '.join(unknown)}")
    name = value.get("name")
    if name is not None and not isinstance(name, str):
        errors.append("workflow name should be a string")
    elif name is not None and not name:
        errors.append("workflow name can't be blank")
    elif name is not None and len(name) > MAX_WORKFLOW_NAME:
        errors.append(f"workflow name is too long (maximum is {MAX_WORKFLOW_NAME} characters)")
    workflow_rules = None
    if value.get("rules") is not None:
        flat, more = rules.flatten_rules(value["rules"], "workflow:rules")
        errors += more + rules.validate_rules(
            flat,
            "workflow:rules",
            allowed_keys=rules.WORKFLOW_RULE_KEYS,
            allowed_when=rules.WORKFLOW_RULE_WHEN,
        )
        for rule in flat:
            if isinstance(rule, dict) and "variables" in rule:
                errors += entries.variables(
                    rule["variables"], "workflow:rules:rule", allow_description=False
                )[1]
        workflow_rules = tuple(flat)
    auto_cancel = value.get("auto_cancel")
    return Workflow(
        name, workflow_rules, auto_cancel if isinstance(auto_cancel, dict) else None
    ), errors


def _inherited(
    key: str,
    job: Mapping[str, Any],
    normalized: dict[str, Any],
    defaults: Mapping[str, Any],
    inherit_default: bool | frozenset[str],
) -> Any:
    if key in job:
        return normalized.get(key)
    allowed = inherit_default if isinstance(inherit_default, bool) else key in inherit_default
    return defaults.get(key) if allowed else None


def _job(
    name: str, raw: Any, defaults: Mapping[str, Any], has_workflow_rules: bool
) -> tuple[JobSpec | None, list[str]]:
    where = f"jobs:{name}"
    if not name:
        # GitLab names an entry without a key after its class: "jobs:job".
        return None, ["jobs:job name can't be blank"]
    if len(name) > MAX_JOB_NAME:
        return None, [f"{where} name is too long (maximum is {MAX_JOB_NAME} characters)"]
    if not isinstance(raw, dict) or not ({"script", "run", "trigger"} & raw.keys()):
        return None, [f"jobs {name} config should implement the script:, run:, or trigger: keyword"]
    bridge = "script" not in raw and "run" not in raw
    allowed = BRIDGE_KEYS if bridge else JOB_KEYS
    errors: list[str] = []
    unknown = [key for key in raw if key not in allowed]
    if unknown:
        errors.append(f"{where} config contains unknown keys: {', '.join(unknown)}")
    normalized, more = _normalize_common(raw, where, bridge=bridge)
    errors += more
    script: tuple[str, ...] = ()
    if "script" in raw:
        script, more = entries.script(raw["script"], f"{where}:script")
        errors += more
        if not more and not script:
            errors.append(f"{where} script can't be blank")
    stage = raw.get("stage", raw.get("type", "test"))
    if not isinstance(stage, str):
        errors.append(f"{where}:stage config should be a string")
    extends = raw.get("extends")
    if extends is not None and not (isinstance(extends, str) or entries.is_string_list(extends)):
        errors.append(f"{where} extends should be an array of strings or a string")
    when = raw.get("when", "on_success")
    if when not in JOB_WHEN:
        errors.append(f"{where} when should be one of: {', '.join(JOB_WHEN)}")
    job_rules = None
    if raw.get("rules") is not None:
        flat, more = rules.flatten_rules(raw["rules"], f"{where}:rules")
        errors += more + rules.validate_rules(
            flat,
            f"{where}:rules",
            allowed_keys=rules.JOB_RULE_KEYS,
            allowed_when=rules.JOB_RULE_WHEN,
        )
        for rule in flat:
            if isinstance(rule, dict):
                errors += entries.variables(
                    rule.get("variables"), f"{where}:rules:rule", allow_description=False
                )[1]
                errors += entries.needs(rule.get("needs"), f"{where}:rules:rule")[1]
                if "start_in" in rule and parse_duration(rule["start_in"]) is None:
                    errors.append(f"{where}:rules:rule start in should be a duration")
        job_rules = tuple(flat)
        clashing = [key for key in ("only", "except", "start_in") if raw.get(key) is not None]
        if clashing:
            errors.append(f"{where} config key may not be used with `rules`: {', '.join(clashing)}")
    start_in = raw.get("start_in")
    if when == "delayed" and job_rules is None:
        seconds = parse_duration(start_in) if isinstance(start_in, str) else None
        if seconds is None:
            errors.append(f"{where} start in should be a duration")
        elif seconds > START_IN_LIMIT:
            errors.append(f"{where} start in should not exceed the limit")
    elif start_in is not None and job_rules is None:
        errors.append(f"{where} start in must be blank")
    only, more = rules.normalize_policy(raw.get("only"), f"{where}:only")
    errors += more
    except_, more = rules.normalize_policy(raw.get("except"), f"{where}:except")
    errors += more
    if job_rules is None and not has_workflow_rules and only is None and "only" not in raw:
        only = dict(rules.DEFAULT_ONLY)
    elif only is not None and "refs" not in only:
        # GitLab deep-merges the default refs into any `only:` hash.
        only = {**rules.DEFAULT_ONLY, **only}
    inherit, more = entries.inherit(raw.get("inherit"), where)
    errors += more
    (allow_failure, exit_codes), more = entries.allow_failure(raw.get("allow_failure"), where)
    errors += more
    job_variables, more = entries.variables(raw.get("variables"), where, allow_description=False)
    errors += more
    needs_value, more = entries.needs(raw.get("needs"), where)
    errors += more
    dependencies = raw.get("dependencies")
    if dependencies is not None and not entries.is_string_list(dependencies):
        errors.append(f"{where} dependencies should be an array of strings")
        dependencies = None
    environment, more = entries.environment(raw.get("environment"), where)
    errors += more
    coverage, more = entries.coverage(raw.get("coverage"), where)
    errors += more
    trigger_value = None
    if bridge:
        trigger_value, more = entries.trigger(raw.get("trigger"), where)
        errors += more
    if raw.get("parallel") is not None:
        errors += validate_parallel(raw["parallel"], where)
    resource_group = raw.get("resource_group")
    if resource_group is not None and not isinstance(resource_group, str):
        errors.append(f"{where} resource group should be a string")
    if dependencies and needs_value is not None:
        need_names = {need.job for need in needs_value[0]}
        missing = [dep for dep in dependencies if dep not in need_names]
        if missing:
            errors.append(f"{where} dependencies the {', '.join(missing)} should be part of needs")
    if errors:
        return None, errors
    inherit_default = inherit["default"]

    def pick(key: str) -> Any:
        if bridge:
            return normalized.get(key)
        return _inherited(key, raw, normalized, defaults, inherit_default)

    return (
        JobSpec(
            name=name,
            stage=str(stage),
            when=cast(When, when),
            start_in=start_in if when == "delayed" else None,
            allow_failure=allow_failure,
            allow_failure_exit_codes=exit_codes,
            script=script,
            before_script=pick("before_script") or (),
            after_script=pick("after_script") or (),
            image=pick("image"),
            services=pick("services") or (),
            variables=job_variables,
            inherit_variables=inherit["variables"],
            needs=needs_value[0] if needs_value is not None else None,
            need_matrices=needs_value[1] if needs_value is not None else {},
            dependencies=tuple(dependencies) if dependencies is not None else None,
            artifacts=pick("artifacts"),
            cache=pick("cache") or (),
            retry=pick("retry"),
            timeout=pick("timeout"),
            parallel=raw.get("parallel"),
            resource_group=resource_group,
            environment=environment,
            interruptible=pick("interruptible"),
            tags=pick("tags") or (),
            coverage=coverage,
            trigger=trigger_value,
            rules=job_rules,
            only=only if job_rules is None else None,
            except_=except_ if job_rules is None else None,
            extra={
                key: (pick(key) if key in DEFAULT_KEYS else raw[key])
                for key in EXTRA_KEYS
                if key in raw or (key in DEFAULT_KEYS and pick(key) is not None)
            },
        ),
        [],
    )


class EntryErrors(ConfigError):
    """Keyword validation failed; `keys` names the top-level key of each message (a job
    name, a reserved keyword, or "" for the configuration as a whole)."""

    def __init__(self, keyed: list[tuple[str, str]]) -> None:
        unique = list(dict.fromkeys(keyed))
        super().__init__(*dict.fromkeys(message for _, message in unique))
        self.keys = frozenset(key for key, _ in unique)


def parse_config(config: Mapping[str, Any]) -> ParsedConfig:
    """Validate and normalize; raises EntryErrors with every problem found."""
    keyed: list[tuple[str, str]] = []

    def collect(key: str, messages: list[str]) -> None:
        # GitLab's entry validator lowercases each message ("#{location} #{error}".downcase).
        keyed.extend((key, message.lower()) for message in messages)

    stages, more = _stages(config.get("stages"))
    collect("stages", more)
    global_variables, more = entries.variables(config.get("variables"), "", allow_description=True)
    collect("variables", more)
    defaults, more = _defaults(config)
    collect("default", more)
    workflow, more = _workflow(config.get("workflow"))
    collect("workflow", more)
    job_names = [key for key in config if key not in ROOT_KEYS and not key.startswith(".")]
    jobs: list[JobSpec] = []
    for name in job_names:
        job, more = _job(name, config[name], defaults, workflow.rules is not None)
        collect(name, more)
        if job is not None:
            jobs.append(job)
    if not job_names:
        collect("", ["jobs config should contain at least one visible job"])
    if keyed:
        raise EntryErrors(keyed)
    return ParsedConfig(stages, global_variables, workflow, tuple(jobs))
