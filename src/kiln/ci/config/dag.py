"""GitLab's logical checks on the job graph (its YamlProcessor's validations).

They run on the jobs after `parallel:` expansion, before any rule is evaluated, and stop
at the first problem, like GitLab:

* a job's stage exists;
* `dependencies:`, `needs:` (also those in `rules:`) and `trigger:include:job` name jobs
  that exist in the same or an earlier stage — needs within one stage are allowed as in
  current GitLab; an optional need on a job that is not defined is ignored;
* no job lists the same need twice, nor more than 50 (after `parallel:` expansion);
* `environment:on_stop` names a stop job of the same environment;
* the needs graph has no cycle (possible since same-stage needs are allowed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kiln.ci.config.errors import ConfigError
from kiln.ci.config.jobs import JobSpec
from kiln.ci.config.matrix import Instance
from kiln.ci.config.types import Need

MAX_NEED_NAME = 255
MAX_NEEDS = 50  # GitLab's default ci_needs_size_limit


@dataclass(frozen=True)
class ExpandedJob:
    """A job after `parallel:` expansion: its final name and expanded needs/dependencies."""

    spec: JobSpec
    name: str
    instance: Instance | None
    needs: tuple[Need, ...] | None
    dependencies: tuple[str, ...] | None
    # Needs of each rule (by rule index), expanded the same way.
    rule_needs: Mapping[int, tuple[Need, ...]]


def _fail(message: str) -> ConfigError:
    return ConfigError(message)


class _Checker:
    def __init__(self, stages: Sequence[str], jobs: Sequence[ExpandedJob]) -> None:
        self.stages = list(stages)
        self.jobs = {job.name: job for job in jobs}

    def stage_index(self, name: str) -> int | None:
        job = self.jobs.get(name)
        if job is None or job.spec.stage not in self.stages:
            return None
        return self.stages.index(job.spec.stage)

    def dependency(self, name: str, dependency: str, kind: str, *, optional: bool = False) -> None:
        if dependency not in self.jobs:
            if optional:
                return
            raise _fail(f"{name} job: undefined {kind}: {dependency}")
        if kind == "need" and len(dependency) > MAX_NEED_NAME:
            raise _fail(
                f"{name} job: need `{dependency}` name is too long (maximum is "
                f"{MAX_NEED_NAME} characters)"
            )
        own, other = self.stage_index(name), self.stage_index(dependency)
        if other is None or own is None or other > own:
            raise _fail(
                f"{name} job: {kind} {dependency} is not defined in current or prior stages"
            )

    def needs(self, name: str, needs: Sequence[Need]) -> None:
        if len(needs) > MAX_NEEDS:
            raise _fail(
                f"{name}: one job can only need {MAX_NEEDS} others, but you have listed "
                f"{len(needs)}. See needs keyword documentation for more details"
            )
        same_pipeline = [need for need in needs if need.same_pipeline]
        for need in same_pipeline:
            self.dependency(name, need.job, "need", optional=need.optional)
        seen: dict[str, int] = {}
        for need in same_pipeline:
            seen[need.job] = seen.get(need.job, 0) + 1
        duplicated = [job for job, count in seen.items() if count > 1]
        if duplicated:
            raise _fail(f"{name} has the following needs duplicated: {', '.join(duplicated)}.")

    def environment(self, name: str, environment: Mapping[str, Any] | None) -> None:
        on_stop = (environment or {}).get("on_stop")
        if not on_stop or environment is None:
            return
        stop_job = self.jobs.get(on_stop)
        if stop_job is None:
            raise _fail(f"{name} job: on_stop job {on_stop} is not defined")
        stop_env = stop_job.spec.environment
        if not stop_env:
            raise _fail(f"{name} job: on_stop job {on_stop} does not have environment defined")
        if stop_env.get("name") != environment.get("name"):
            raise _fail(f"{name} job: on_stop job {on_stop} have different environment name")
        if stop_env.get("action") != "stop":
            raise _fail(f"{name} job: on_stop job {on_stop} needs to have action stop defined")

    def run(self) -> None:
        for name, job in self.jobs.items():
            if job.spec.stage not in self.stages:
                raise _fail(
                    f"{name} job: chosen stage {job.spec.stage} does not exist; available "
                    f"stages are {', '.join(self.stages)}"
                )
            for dependency in job.dependencies or ():
                self.dependency(name, dependency, "dependency")
            self.needs(name, job.needs or ())
            for rule_needs in job.rule_needs.values():
                self.needs(name, rule_needs)
            for include in job.spec.trigger.include if job.spec.trigger else ():
                if isinstance(include.get("job"), str):
                    self.dependency(name, include["job"], "dependency")
            self.environment(name, job.spec.environment)
        self.cycles()

    def cycles(self) -> None:
        graph = {
            name: [n.job for n in job.needs or () if n.same_pipeline and n.job in self.jobs]
            for name, job in self.jobs.items()
        }
        cycle = find_cycle(graph)
        if cycle is not None:
            raise _fail(
                "The pipeline has circular dependencies: topological sort failed: "
                + json.dumps(cycle)
            )


def find_cycle(graph: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A strongly connected component with a cycle (Tarjan, iterative), or None."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, child_index = work.pop()
            if child_index == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            children = graph.get(node, [])
            if child_index < len(children):
                work.append((node, child_index + 1))
                child = children[child_index]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, []):
                    return list(reversed(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return None


def validate_graph(stages: Sequence[str], jobs: Sequence[ExpandedJob]) -> None:
    """Raise ConfigError with GitLab's message for the first logical problem."""
    _Checker(stages, jobs).run()
