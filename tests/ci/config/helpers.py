"""Shared helpers for the kiln.ci.config tests: a push-to-main context and an in-memory
include fetcher."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from kiln.ci.config import (
    BundledTemplates,
    ConfigContext,
    ConfigErrors,
    IncludeNotFoundError,
    PipelinePlan,
    PipelineSkipped,
    ProcessResult,
    exists_checker,
    load_ci_schema,
    process_config,
)
from tests.support.shared import DATA_DIR

SHARED_SCHEMA = DATA_DIR / "gitlab-ci-schema" / "ci.json"
SHARED_TEMPLATES = DATA_DIR / "gitlab-ci-templates"


def predefined(
    *, branch: str | None = "main", tag: str | None = None, source: str = "push"
) -> dict[str, str]:
    """The predefined variables Kiln's pipeline service computes for a push."""
    ref = tag or branch or "main"
    variables = {
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_SERVER_HOST": "kiln.example.com",
        "CI_SERVER_URL": "https://kiln.example.com",
        "CI_TEMPLATE_REGISTRY_HOST": "registry.gitlab.com",
        "CI_PROJECT_PATH": "grp/proj",
        "CI_PROJECT_NAME": "proj",
        "CI_PROJECT_NAMESPACE": "grp",
        "CI_PROJECT_DIR": "/builds/grp/proj",
        "CI_DEFAULT_BRANCH": "main",
        "CI_COMMIT_REF_NAME": ref,
        "CI_COMMIT_REF_SLUG": ref.lower().replace("/", "-"),
        "CI_COMMIT_SHA": "0" * 39 + "1",
        "CI_COMMIT_MESSAGE": "Add feature",
        "CI_PIPELINE_SOURCE": source,
        "CI_REGISTRY_IMAGE": "registry.kiln.example.com/grp/proj",
    }
    if tag:
        variables["CI_COMMIT_TAG"] = tag
    elif branch and source != "merge_request_event":
        variables["CI_COMMIT_BRANCH"] = branch
    return variables


def context(
    *,
    branch: str | None = "main",
    tag: str | None = None,
    source: str = "push",
    files: Sequence[str] = (),
    **overrides: Any,
) -> ConfigContext:
    ref = tag or branch or "main"
    base = ConfigContext(
        source=source,  # type: ignore[arg-type]
        ref=ref,
        is_tag=tag is not None,
        project_path="grp/proj",
        predefined_variables=predefined(branch=branch, tag=tag, source=source),
        exists=exists_checker(files),
    )
    return replace(base, **overrides)


@dataclass
class FakeFetcher:
    """Files of this commit, other projects' files and the real GitLab templates."""

    files: dict[str, str] = field(default_factory=dict)
    projects: dict[tuple[str, str | None], dict[str, str]] = field(default_factory=dict)
    remotes: dict[str, str] = field(default_factory=dict)
    artifacts: dict[tuple[str, str], str] = field(default_factory=dict)
    forbidden: set[str] = field(default_factory=set)
    templates: BundledTemplates = field(default_factory=BundledTemplates)
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def local(self, path: str) -> str | None:
        self.calls.append(("local", path))
        return self.files.get(path)

    def local_paths(self) -> Sequence[str]:
        return list(self.files)

    def project(self, project: str, ref: str | None, path: str) -> str | None:
        self.calls.append(("project", project, ref or "", path))
        if project in self.forbidden or not any(p == project for p, _ in self.projects):
            raise IncludeNotFoundError("project")
        if (project, ref) not in self.projects:
            raise IncludeNotFoundError("ref")
        return self.projects[(project, ref)].get(path)

    def template(self, name: str) -> str | None:
        self.calls.append(("template", name))
        return self.templates(name)

    def remote(self, url: str) -> str | None:
        self.calls.append(("remote", url))
        return self.remotes.get(url)

    def artifact(self, job: str, path: str) -> str | None:
        self.calls.append(("artifact", job, path))
        return self.artifacts.get((job, path))


def run(
    yaml_text: str,
    ctx: ConfigContext | None = None,
    *,
    fetcher: FakeFetcher | None = None,
    **kwargs: Any,
) -> ProcessResult:
    return process_config(
        textwrap.dedent(yaml_text),
        ctx or context(),
        fetcher=fetcher or FakeFetcher(),
        schema=load_ci_schema(SHARED_SCHEMA),
        **kwargs,
    )


def plan(yaml_text: str, ctx: ConfigContext | None = None, **kwargs: Any) -> PipelinePlan:
    result = run(yaml_text, ctx, **kwargs)
    assert isinstance(result, PipelinePlan), result
    return result


def errors(yaml_text: str, ctx: ConfigContext | None = None, **kwargs: Any) -> tuple[str, ...]:
    result = run(yaml_text, ctx, **kwargs)
    assert isinstance(result, ConfigErrors), result
    return result.errors


def skipped(yaml_text: str, ctx: ConfigContext | None = None, **kwargs: Any) -> PipelineSkipped:
    result = run(yaml_text, ctx, **kwargs)
    assert isinstance(result, PipelineSkipped), result
    return result


def jobs_of(result: PipelinePlan) -> dict[str, Mapping[str, Any]]:
    """name -> (stage, when, allow_failure, needs) for compact assertions."""
    return {
        job.name: {
            "stage": job.stage,
            "when": job.when,
            "allow_failure": job.allow_failure,
            "needs": [need.job for need in job.needs] if job.needs is not None else None,
        }
        for job in result.jobs
    }
