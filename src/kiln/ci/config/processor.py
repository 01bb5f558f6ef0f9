"""`process_config`: `.gitlab-ci.yml` text in, a pipeline plan (or GitLab's errors) out.

The order of the steps is GitLab's, because it is observable (a `!reference` sees the
result of `extends:`; includes are merged before either):

 1. load the YAML safely; apply the `spec:inputs` header of the top-level file;
 2. expand `include:` (depth first, the including file merged last);
 3. apply `extends:`;
 4. resolve `!reference` tags;
 5. validate the structure against GitLab's CI JSON schema, and every keyword with
    Kiln's own checks (jobs.py) — all problems are reported together;
 6. expand `parallel:` and check the job graph (dag.py) — first problem wins;
 7. evaluate `workflow:rules`: "never" means no pipeline;
 8. for each job evaluate `rules:` (or `only:`/`except:`) with its variables;
 9. check that every non-optional need of a created job was created too.

The function never raises for a bad configuration: it returns ConfigErrors. Its only
inputs are its arguments, so it is safe to call from a web request, a worker or a test.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, cast

from kiln.ci.config import rules as rules_mod
from kiln.ci.config.context import ConfigContext, IncludeFetcher
from kiln.ci.config.dag import ExpandedJob, validate_graph
from kiln.ci.config.durations import parse_duration
from kiln.ci.config.entries import needs as parse_needs
from kiln.ci.config.entries import variables as parse_variables
from kiln.ci.config.errors import (
    EMPTY_CONFIG,
    FILTERED_BY_WORKFLOW_RULES,
    INVALID_FORMAT,
    NO_JOBS,
    ConfigError,
)
from kiln.ci.config.extends import resolve_extends
from kiln.ci.config.includes import expand_includes
from kiln.ci.config.inputs import interpolate
from kiln.ci.config.jobs import (
    POST_STAGE,
    PRE_STAGE,
    EntryErrors,
    JobSpec,
    ParsedConfig,
    parse_config,
)
from kiln.ci.config.loader import load_yaml, resolve_references
from kiln.ci.config.matrix import (
    Instance,
    expand_dependencies,
    expand_needs,
    instances,
    interpolate_needs,
)
from kiln.ci.config.schema import CiSchema, load_ci_schema
from kiln.ci.config.types import (
    ConfigErrors,
    Environment,
    JobPlan,
    Need,
    ParallelInstance,
    PipelinePlan,
    PipelineSkipped,
    ProcessResult,
    RulesResult,
    Variable,
    When,
)
from kiln.ci.config.variables import expand, expand_all, stack


def _context_layers(context: ConfigContext) -> list[Mapping[str, Any]]:
    """Variables that outrank YAML, lowest first."""
    return [
        context.instance_variables,
        context.group_variables,
        context.project_variables,
        context.pipeline_variables,
    ]


def _load_top_level(text: str, context: ConfigContext) -> dict[str, Any]:
    if not text or not text.strip():
        raise ConfigError(EMPTY_CONFIG)
    limits = context.limits
    document = load_yaml(
        text,
        max_bytes=limits.max_yaml_bytes,
        max_nodes=limits.max_yaml_nodes,
        max_depth=limits.max_yaml_depth,
    )
    content = interpolate(document.header, document.content, context.inputs, from_text=True)
    if content is None:
        raise ConfigError(EMPTY_CONFIG)
    if not isinstance(content, dict):
        raise ConfigError(INVALID_FORMAT)
    return content


def _expand_jobs(parsed: ParsedConfig) -> list[ExpandedJob]:
    parallel_of: dict[str, list[Instance]] = {
        spec.name: instances(spec.name, spec.parallel)
        for spec in parsed.jobs
        if spec.parallel is not None
    }
    expanded: list[ExpandedJob] = []
    for spec in parsed.jobs:
        for instance in parallel_of.get(spec.name, [Instance(spec.name, 0, 0, {})]):
            needs = None
            if spec.needs is not None:
                own = interpolate_needs(spec.needs, instance.matrix, spec.name)
                needs = tuple(expand_needs(own, parallel_of, spec.need_matrices))
            dependencies = (
                tuple(expand_dependencies(spec.dependencies, parallel_of))
                if spec.dependencies is not None
                else None
            )
            rule_needs: dict[int, tuple[Need, ...]] = {}
            for index, rule in enumerate(spec.rules or ()):
                if rule.get("needs") is not None:
                    parsed_needs, _ = parse_needs(rule["needs"], spec.name)
                    if parsed_needs is not None:
                        own = interpolate_needs(parsed_needs[0], instance.matrix, spec.name)
                        rule_needs[index] = tuple(expand_needs(own, parallel_of, parsed_needs[1]))
            expanded.append(
                ExpandedJob(
                    spec=spec,
                    name=instance.name,
                    instance=instance if spec.parallel is not None else None,
                    needs=needs,
                    dependencies=dependencies,
                    rule_needs=rule_needs,
                )
            )
    return expanded


def _slug(name: str) -> str:
    # GitLab's CI_JOB_NAME_SLUG: lowercase, non-alphanumerics to "-", 63 characters.
    return re.sub(r"[^a-z0-9]", "-", name.lower())[:63].strip("-")


def _global_for(job: JobSpec, global_variables: Mapping[str, Variable]) -> dict[str, Variable]:
    inherit = job.inherit_variables
    if inherit is True:
        return dict(global_variables)
    if inherit is False:
        return {}
    return {key: value for key, value in global_variables.items() if key in inherit}


class _Planner:
    """Step 8: decide each job against the pipeline (its rules, or only/except)."""

    def __init__(
        self,
        parsed: ParsedConfig,
        context: ConfigContext,
        global_variables: Mapping[str, Variable],
    ) -> None:
        self.parsed = parsed
        self.context = context
        self.global_variables = global_variables

    def plan(self, job: ExpandedJob) -> JobPlan | None:
        spec, context = job.spec, self.context
        predefined: dict[str, str] = {
            "CI_JOB_NAME": job.name,
            "CI_JOB_NAME_SLUG": _slug(job.name),
            "CI_JOB_STAGE": spec.stage,
        }
        matrix: dict[str, Variable] = {}
        if job.instance is not None:
            predefined["CI_NODE_INDEX"] = str(job.instance.index)
            predefined["CI_NODE_TOTAL"] = str(job.instance.total)
            matrix = {k: Variable(v) for k, v in job.instance.matrix.items()}
        yaml_variables = {**_global_for(spec, self.global_variables), **spec.variables, **matrix}
        all_variables = stack(
            context.predefined_variables, predefined, yaml_variables, *_context_layers(context)
        )
        rule_context = rules_mod.RuleContext(expand_all(all_variables), context)
        when: When = spec.when
        start_in = spec.start_in
        static_allow_failure = (
            spec.allow_failure if spec.allow_failure is not None else spec.when == "manual"
        )
        allow_failure, needs = static_allow_failure, job.needs
        interruptible = spec.interruptible
        rules_result: RulesResult | None = None
        if spec.rules is not None:
            outcome = rules_mod.first_matching_rule(spec.rules, rule_context)
            if outcome.rule is None or outcome.index is None:
                return None
            rule = outcome.rule
            when = cast(When, rule.get("when", spec.when))
            if when == "never":
                return None
            rule_variables, _ = parse_variables(rule.get("variables"), "", allow_description=False)
            if outcome.index in job.rule_needs:
                needs = job.rule_needs[outcome.index]
            if rule.get("allow_failure") is not None:
                allow_failure = bool(rule["allow_failure"])
            if rule.get("interruptible") is not None:
                interruptible = bool(rule["interruptible"])
            start_in = rule.get("start_in") if when == "delayed" else None
            yaml_variables = {**yaml_variables, **rule_variables}
            rules_result = RulesResult(
                matched_rule=outcome.index,
                when=when,
                allow_failure=rule.get("allow_failure"),
                start_in=rule.get("start_in"),
                interruptible=rule.get("interruptible"),
                variables=rule_variables,
                needs=job.rule_needs.get(outcome.index),
            )
            all_variables = stack(
                context.predefined_variables, predefined, yaml_variables, *_context_layers(context)
            )
        elif not rules_mod.policies_allow(spec.only, spec.except_, rule_context):
            return None
        expanded = expand_all(all_variables)
        return JobPlan(
            name=job.name,
            stage=spec.stage,
            stage_index=self.parsed.stages.index(spec.stage),
            when=when,
            start_in=start_in,
            start_in_seconds=parse_duration(start_in) if start_in else None,
            allow_failure=allow_failure,
            allow_failure_exit_codes=spec.allow_failure_exit_codes,
            script=spec.script,
            before_script=spec.before_script,
            after_script=spec.after_script,
            image=spec.image,
            services=spec.services,
            variables=yaml_variables,
            expanded_variables={key: expanded[key] for key in yaml_variables},
            needs=needs,
            dependencies=job.dependencies,
            artifacts=spec.artifacts,
            cache=spec.cache,
            retry=spec.retry,
            timeout=spec.timeout,
            parallel=(
                ParallelInstance(job.instance.index, job.instance.total, dict(job.instance.matrix))
                if job.instance is not None
                else None
            ),
            resource_group=spec.resource_group,
            expanded_resource_group=(
                expand(spec.resource_group, expanded) if spec.resource_group else None
            ),
            environment=_environment(spec.environment, expanded),
            interruptible=interruptible,
            tags=spec.tags,
            coverage=spec.coverage,
            trigger=spec.trigger,
            rules=rules_result,
            extra=spec.extra,
        )


def _environment(raw: Mapping[str, Any] | None, variables: Mapping[str, str]) -> Environment | None:
    if raw is None:
        return None
    name = str(raw["name"])
    return Environment(
        name=name,
        expanded_name=expand(name, variables),
        url=raw.get("url"),
        action=raw.get("action", "start"),
        on_stop=raw.get("on_stop"),
        auto_stop_in=raw.get("auto_stop_in"),
        deployment_tier=raw.get("deployment_tier"),
        kubernetes=raw.get("kubernetes"),
    )


def _check_created_needs(jobs: list[JobPlan]) -> list[JobPlan]:
    """GitLab fails the pipeline when a created job needs one that was not created, unless
    the need is optional (then it is dropped)."""
    created = {job.name for job in jobs}
    result = []
    for job in jobs:
        if job.needs is None:
            result.append(job)
            continue
        kept = []
        for need in job.needs:
            if not need.same_pipeline or need.job in created:
                kept.append(need)
            elif not need.optional:
                raise ConfigError(
                    f"'{job.name}' job needs '{need.job}' job, but '{need.job}' does not exist "
                    "in the pipeline. This might be because of the only, except, or rules "
                    "keywords. To need a job that sometimes does not exist in the pipeline, use "
                    "needs:optional."
                )
        result.append(_replace_needs(job, tuple(kept)))
    return result


def _replace_needs(job: JobPlan, needs: tuple[Need, ...]) -> JobPlan:
    return job if job.needs == needs else replace(job, needs=needs)


def _warnings(parsed: ParsedConfig) -> tuple[str, ...]:
    """GitLab's pipeline warning: a job whose last rule is a bare `when:` runs for branch
    and merge request pipelines alike unless `workflow:rules` choose one."""
    if parsed.workflow.rules is not None:
        return ()
    return tuple(
        f"jobs:{job.name} may allow multiple pipelines to run for a single action due to "
        "`rules:when` clause with no `workflow:rules` - read more: "
        "https://docs.gitlab.com/ee/ci/troubleshooting.html#pipeline-warnings"
        for job in parsed.jobs
        if job.rules and set(job.rules[-1]) == {"when"} and job.rules[-1]["when"] != "never"
    )


def _run(
    text: str,
    context: ConfigContext,
    fetcher: IncludeFetcher | None,
    schema: CiSchema,
    config_path: str,
) -> ProcessResult:
    config = _load_top_level(text, context)
    pipeline_variables = expand_all(stack(context.predefined_variables, *_context_layers(context)))
    config, included = expand_includes(
        config,
        context=context,
        fetcher=fetcher,
        variables=pipeline_variables,
        config_path=config_path,
    )
    config = resolve_references(resolve_extends(config))
    schema_errors = schema.keyed_errors(config)
    try:
        parsed = parse_config(config)
    except EntryErrors as exc:
        # Kiln's keyword checks word problems exactly as GitLab does; the schema adds what
        # they do not cover, for the keys they found nothing wrong with.
        extra = [message for key, message in schema_errors if key not in exc.keys]
        return ConfigErrors(tuple(dict.fromkeys((*exc.messages, *extra))))
    if schema_errors:
        return ConfigErrors(tuple(dict.fromkeys(message for _, message in schema_errors)))
    expanded_jobs = _expand_jobs(parsed)
    if len(expanded_jobs) > context.limits.max_jobs:
        raise ConfigError(
            f"Pipeline has too many jobs! Requested {len(expanded_jobs)}, but the limit is "
            f"{context.limits.max_jobs}."
        )
    validate_graph(parsed.stages, expanded_jobs)

    global_variables = dict(parsed.variables)
    workflow = parsed.workflow
    workflow_variables = stack(
        context.predefined_variables, global_variables, *_context_layers(context)
    )
    if workflow.rules is not None:
        ctx = rules_mod.RuleContext(expand_all(workflow_variables), context)
        outcome = rules_mod.first_matching_rule(workflow.rules, ctx)
        if outcome.rule is None or outcome.rule.get("when") == "never":
            return PipelineSkipped("filtered_by_workflow_rules", FILTERED_BY_WORKFLOW_RULES)
        rule_variables, _ = parse_variables(
            outcome.rule.get("variables"), "", allow_description=False
        )
        global_variables.update(rule_variables)
        workflow_variables = stack(
            context.predefined_variables, global_variables, *_context_layers(context)
        )
    workflow_name = None
    if workflow.name is not None:
        workflow_name = expand(workflow.name, expand_all(workflow_variables))

    warnings = _warnings(parsed)
    planner = _Planner(parsed, context, global_variables)
    planned = [plan for job in expanded_jobs if (plan := planner.plan(job)) is not None]
    planned = _check_created_needs(planned)
    if not any(job.stage not in (PRE_STAGE, POST_STAGE) for job in planned):
        return PipelineSkipped("no_jobs", NO_JOBS, warnings)
    return PipelinePlan(
        stages=parsed.stages,
        jobs=tuple(sorted(planned, key=lambda job: job.stage_index)),
        workflow_name=workflow_name,
        variables=global_variables,
        workflow_auto_cancel=workflow.auto_cancel,
        includes=included,
        warnings=warnings,
    )


def process_config(
    text: str,
    context: ConfigContext,
    *,
    fetcher: IncludeFetcher | None = None,
    schema: CiSchema | None = None,
    config_path: str = ".gitlab-ci.yml",
) -> ProcessResult:
    """Turn the text of a CI configuration into a PipelinePlan, ConfigErrors or
    PipelineSkipped. `schema` defaults to the copy of GitLab's schema bundled with Kiln;
    `config_path` is where the text came from (so that including it again is a cycle)."""
    try:
        return _run(text, context, fetcher, schema or load_ci_schema(), config_path)
    except ConfigError as exc:
        return ConfigErrors(exc.messages)
