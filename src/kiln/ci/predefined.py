"""GitLab's predefined CI/CD variables (`CI_*`, `GITLAB_*`), as its documentation lists them.

`pipeline_variables` are known when the pipeline is created (and so usable in `rules:if`);
`job_variables` only once a runner picked the job (the job id and token, the runner).
Variables only the runner knows (`CI_PROJECT_DIR`, `CI_BUILDS_DIR`, `CI_JOB_STATUS`,
`CI_CONCURRENT_*`...) are set by the runner itself, as with GitLab.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from kiln import __version__
from kiln.ci.models import ZERO_SHA, Job, Pipeline
from kiln.core.access import Visibility
from kiln.projects.models import Project

_SLUG_RE = re.compile(r"[^a-z0-9]")


def slugify(value: str) -> str:
    """GitLab's `CI_COMMIT_REF_SLUG` rule: lowercase, non-alphanumerics to `-`, 63 chars."""
    return _SLUG_RE.sub("-", value.lower())[:63].strip("-")


def _server(base_url: str) -> list[tuple[str, str]]:
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    major, minor, patch = ([*__version__.split("."), "0", "0"])[:3]
    return [
        ("CI_SERVER", "yes"),
        ("CI_SERVER_URL", base_url),
        ("CI_SERVER_HOST", parts.hostname or ""),
        ("CI_SERVER_PORT", str(port)),
        ("CI_SERVER_PROTOCOL", parts.scheme),
        ("CI_SERVER_SHELL_SSH_HOST", parts.hostname or ""),
        ("CI_SERVER_NAME", "GitLab"),
        ("CI_SERVER_VERSION", __version__),
        ("CI_SERVER_VERSION_MAJOR", major),
        ("CI_SERVER_VERSION_MINOR", minor),
        ("CI_SERVER_VERSION_PATCH", patch),
        ("CI_SERVER_REVISION", ""),
        ("CI_API_V4_URL", f"{base_url}/api/v4"),
        ("CI_API_GRAPHQL_URL", f"{base_url}/api/graphql"),
    ]


def project_variables(project: Project, base_url: str) -> list[tuple[str, str]]:
    namespace = project.namespace
    root = namespace.full_path.split("/", 1)[0]
    return [
        ("CI_PROJECT_ID", str(project.pk)),
        ("CI_PROJECT_NAME", project.path),
        ("CI_PROJECT_TITLE", project.name),
        ("CI_PROJECT_DESCRIPTION", project.description),
        ("CI_PROJECT_PATH", project.full_path),
        ("CI_PROJECT_PATH_SLUG", slugify(project.full_path)),
        ("CI_PROJECT_NAMESPACE", namespace.full_path),
        ("CI_PROJECT_NAMESPACE_ID", str(namespace.pk)),
        ("CI_PROJECT_NAMESPACE_SLUG", slugify(namespace.full_path)),
        ("CI_PROJECT_ROOT_NAMESPACE", root),
        ("CI_PROJECT_URL", f"{base_url}/{project.full_path}"),
        ("CI_PROJECT_VISIBILITY", Visibility(project.visibility_level).label),
        ("CI_PROJECT_REPOSITORY_LANGUAGES", ""),
        ("CI_PROJECT_CLASSIFICATION_LABEL", ""),
        ("CI_DEFAULT_BRANCH", project.default_branch),
        ("CI_DEFAULT_BRANCH_SLUG", slugify(project.default_branch)),
        ("CI_CONFIG_PATH", project.ci_config_path or ".gitlab-ci.yml"),
        ("CI_PAGES_DOMAIN", ""),
    ]


def pipeline_variables(
    *,
    project: Project,
    base_url: str,
    ref: str,
    tag: bool,
    sha: str,
    before_sha: str,
    source: str,
    protected: bool,
    user: Any | None,
    commit: dict[str, Any],
    pipeline: Pipeline | None = None,
) -> list[tuple[str, str]]:
    """What every job of the pipeline (and `rules:if`) sees, lowest precedence first."""
    values: list[tuple[str, str]] = [("CI", "true"), ("GITLAB_CI", "true")]
    values += _server(base_url)
    values += project_variables(project, base_url)
    if pipeline is not None:
        values += [
            ("CI_PIPELINE_ID", str(pipeline.pk)),
            ("CI_PIPELINE_IID", str(pipeline.iid)),
            ("CI_PIPELINE_URL", f"{base_url}/{project.full_path}/-/pipelines/{pipeline.pk}"),
            ("CI_PIPELINE_CREATED_AT", pipeline.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")),
        ]
        if pipeline.name:
            values.append(("CI_PIPELINE_NAME", pipeline.name))
    values += [
        ("CI_PIPELINE_SOURCE", source),
        ("CI_COMMIT_SHA", sha),
        ("CI_COMMIT_SHORT_SHA", sha[:8]),
        ("CI_COMMIT_BEFORE_SHA", before_sha or ZERO_SHA),
        ("CI_COMMIT_REF_NAME", ref),
        ("CI_COMMIT_REF_SLUG", slugify(ref)),
        ("CI_COMMIT_REF_PROTECTED", "true" if protected else "false"),
    ]
    if tag:
        values.append(("CI_COMMIT_TAG", ref))
        if commit.get("tag_message"):
            values.append(("CI_COMMIT_TAG_MESSAGE", str(commit["tag_message"])))
    else:
        values.append(("CI_COMMIT_BRANCH", ref))
    message = str(commit.get("message", ""))
    title = message.split("\n", 1)[0].rstrip()
    description = message.split("\n", 1)[1].lstrip("\n") if "\n" in message else ""
    if commit:
        values += [
            ("CI_COMMIT_MESSAGE", message),
            ("CI_COMMIT_TITLE", title),
            ("CI_COMMIT_DESCRIPTION", description),
            (
                "CI_COMMIT_AUTHOR",
                f"{commit.get('author_name', '')} <{commit.get('author_email', '')}>",
            ),
            ("CI_COMMIT_TIMESTAMP", str(commit.get("timestamp", ""))),
        ]
    if user is not None:
        values += [
            ("GITLAB_USER_ID", str(user.pk)),
            ("GITLAB_USER_EMAIL", user.email),
            ("GITLAB_USER_LOGIN", user.username),
            ("GITLAB_USER_NAME", user.name),
        ]
    return values


def variables_of_pipeline(pipeline: Pipeline, base_url: str) -> list[tuple[str, str]]:
    return pipeline_variables(
        project=pipeline.project,
        base_url=base_url,
        ref=pipeline.ref,
        tag=pipeline.tag,
        sha=pipeline.sha,
        before_sha=pipeline.before_sha,
        source=pipeline.source,
        protected=pipeline.protected,
        user=pipeline.user,
        commit=pipeline.commit_info,
        pipeline=pipeline,
    )


def job_variables(job: Job, *, token: str, base_url: str) -> list[tuple[str, str, bool]]:
    """(key, value, public) of the job-level predefined variables."""
    project = job.project
    host = urlsplit(base_url)
    repo_url = f"{host.scheme}://gitlab-ci-token:{token}@{host.netloc}/{project.full_path}.git"
    runner = job.runner
    values: list[tuple[str, str, bool]] = [
        ("CI_JOB_ID", str(job.pk), True),
        ("CI_JOB_URL", f"{base_url}/{project.full_path}/-/jobs/{job.pk}", True),
        ("CI_JOB_TOKEN", token, False),
        ("CI_JOB_NAME", job.name, True),
        ("CI_JOB_NAME_SLUG", slugify(job.name), True),
        ("CI_JOB_STAGE", job.stage, True),
        ("CI_JOB_TIMEOUT", str(job.timeout or project.build_timeout), True),
        ("CI_REPOSITORY_URL", repo_url, False),
        ("CI_REGISTRY_USER", "gitlab-ci-token", True),
        ("CI_REGISTRY_PASSWORD", token, False),
        ("CI_DEPENDENCY_PROXY_USER", "gitlab-ci-token", True),
        ("CI_DEPENDENCY_PROXY_PASSWORD", token, False),
    ]
    if job.started_at is not None:
        values.append(("CI_JOB_STARTED_AT", job.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"), True))
    if job.when == "manual":
        values.append(("CI_JOB_MANUAL", "true", True))
    parallel = job.options.get("parallel")
    if isinstance(parallel, dict):
        values.append(("CI_NODE_INDEX", str(parallel.get("index", 1)), True))
        values.append(("CI_NODE_TOTAL", str(parallel.get("total", 1)), True))
    else:
        values.append(("CI_NODE_TOTAL", "1", True))
    image = job.options.get("image")
    if isinstance(image, dict) and image.get("name"):
        values.append(("CI_JOB_IMAGE", str(image["name"]), True))
    environment = job.options.get("environment")
    if isinstance(environment, dict) and environment.get("name"):
        # The recorded environment (kiln.ci.deployments) has GitLab's slug and tier.
        record = job.environment if job.environment_id is not None else None
        name = record.name if record is not None else str(environment["name"])
        values.append(("CI_ENVIRONMENT_NAME", name, True))
        slug = record.slug if record is not None else slugify(name)[:24]
        values.append(("CI_ENVIRONMENT_SLUG", slug, True))
        values.append(("CI_ENVIRONMENT_ACTION", str(environment.get("action", "start")), True))
        url = environment.get("url") or (record.external_url if record is not None else None)
        if url:
            values.append(("CI_ENVIRONMENT_URL", str(url), True))
        tier = record.tier if record is not None else environment.get("deployment_tier")
        if tier:
            values.append(("CI_ENVIRONMENT_TIER", str(tier), True))
    if runner is not None:
        values += [
            ("CI_RUNNER_ID", str(runner.pk), True),
            ("CI_RUNNER_DESCRIPTION", runner.description, True),
            ("CI_RUNNER_TAGS", _json_list(runner.tag_list), True),
        ]
    return values


def _json_list(items: list[str]) -> str:
    import json

    return json.dumps(list(items))
