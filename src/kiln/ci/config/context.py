"""What the caller tells the configuration processor about the pipeline being created.

The processor is a pure function of the YAML text, a `ConfigContext` and an
`IncludeFetcher`: it never touches the database, git or the network itself. The caller
(Kiln's pipeline-creation service) computes GitLab's predefined variables, looks up the
project/group/instance variables the pipeline may see, and decides which projects an
`include: project:` may read. Keeping these decisions outside makes the processor easy to
test and impossible to use as a way around permissions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kiln.ci.config.types import PipelineSource, Variable

VariableValue = str | Variable


class IncludeNotFoundError(Exception):
    """Raised by a fetcher when a project or ref an include names cannot be used."""

    def __init__(self, kind: str) -> None:
        # kind is "project" (missing or access denied: GitLab does not tell them apart)
        # or "ref" (the project is readable but has no such ref).
        super().__init__(kind)
        self.kind = kind


class IncludeFetchError(Exception):
    """Raised by a fetcher with GitLab's message for a file it cannot give (an artifact too
    large, a job without artifacts, ...); the processor reports the message as is."""


class IncludeFetcher(Protocol):
    """Where included files come from. Every method returns the file's text, or None when
    the file does not exist; the processor turns None into GitLab's error message."""

    def local(self, path: str) -> str | None:
        """A file of the commit the pipeline runs for (`include: local:`)."""

    def local_paths(self) -> Sequence[str]:
        """Every file path of that commit, for wildcard local includes (`*.yml`)."""

    def project(self, project: str, ref: str | None, path: str) -> str | None:
        """A file of another project. The caller checks that the pipeline's user may read
        that project and raises IncludeNotFoundError("project") when not (or when it does
        not exist), IncludeNotFoundError("ref") when the ref does not exist. `ref` None
        means the project's default branch (GitLab's HEAD)."""

    def template(self, name: str) -> str | None:
        """One of GitLab's CI templates by name, e.g. "Jobs/Build.gitlab-ci.yml"."""

    def remote(self, url: str) -> str | None:
        """A file over HTTP(S). Only called when the context allows remote includes; the
        implementation must refuse local and private addresses (server-side request
        forgery), cap the size and time out, as GitLab's Gitlab::HTTP does."""

    def artifact(self, job: str, path: str) -> str | None:
        """A file of the artifacts archive of job `job` of the parent pipeline (`include:
        artifact:` of a child pipeline). Only called when the context's source is
        `parent_pipeline`; raises IncludeFetchError with GitLab's message when the job has no
        artifacts or the archive is too large."""


@dataclass(frozen=True)
class Limits:
    """Bounds that keep one hostile configuration from costing the server much."""

    # GitLab's defaults for the first two (`parallel:` has GitLab's fixed limit of 200).
    max_includes: int = 150
    max_yaml_bytes: int = 1024 * 1024
    # Kiln's own caps; GitLab bounds these through plan limits and timeouts.
    max_total_yaml_bytes: int = 10 * 1024 * 1024
    max_yaml_nodes: int = 200_000
    max_yaml_depth: int = 100
    max_jobs: int = 2000


@dataclass(frozen=True)
class ConfigContext:
    """The pipeline the configuration is evaluated for.

    `ref` is the branch or tag name (for merge request pipelines the caller passes the MR's
    ref, e.g. refs/merge-requests/1/head, as GitLab does). Variables are given by origin
    because their precedence differs: pipeline > project > group > instance > YAML >
    predefined. `changed_paths` is None when unknown (new branch, tag, schedule, ...), which
    makes every `changes:` clause true, as in GitLab.
    """

    source: PipelineSource = "push"
    ref: str = "main"
    is_tag: bool = False
    project_path: str = ""
    predefined_variables: Mapping[str, VariableValue] = field(default_factory=dict)
    instance_variables: Mapping[str, VariableValue] = field(default_factory=dict)
    group_variables: Mapping[str, VariableValue] = field(default_factory=dict)
    project_variables: Mapping[str, VariableValue] = field(default_factory=dict)
    # Trigger, schedule, manual (web/API) pipeline variables: the highest precedence.
    pipeline_variables: Mapping[str, VariableValue] = field(default_factory=dict)
    changed_paths: Sequence[str] | None = None
    # Paths changed between a ref and the pipeline's commit, for `rules:changes:compare_to`;
    # returns None when the ref does not exist. Without it, compare_to uses changed_paths.
    changed_paths_since: Callable[[str], Sequence[str] | None] | None = None
    # Whether any file of the commit matches a glob (for `rules:exists`), with GitLab's glob
    # rules; `kiln.ci.config.globs.exists_checker(paths)` builds one from a path list.
    # None means the commit is unknown: nothing exists.
    exists: Callable[[str], bool] | None = None
    allow_remote_includes: bool = False
    # `spec:inputs` values for the top-level file (pipeline inputs).
    inputs: Mapping[str, Any] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)

    @property
    def is_branch(self) -> bool:
        # GitLab's Pipeline#branch?: not a tag, not a merge request pipeline.
        return not self.is_tag and self.source not in (
            "merge_request_event",
            "external_pull_request_event",
        )


def variable_of(value: VariableValue) -> Variable:
    return value if isinstance(value, Variable) else Variable(value)
