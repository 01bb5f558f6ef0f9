"""CI Lint: evaluate a configuration for a project without creating a pipeline."""

from __future__ import annotations

from dataclasses import dataclass

from kiln.ci.commit_files import ProjectIncludeFetcher, read_config_text
from kiln.ci.config import (
    ConfigErrors,
    PipelinePlan,
    PipelineSkipped,
    ProcessResult,
    process_config,
)
from kiln.ci.models import PipelineSource
from kiln.ci.pipelines import (
    DEFAULT_CONFIG_PATH,
    PipelineError,
    PipelineInput,
    _context,
    _is_protected,
    resolve_ref,
)
from kiln.core.actor import Actor
from kiln.gitstore import GitStoreError
from kiln.projects.models import Project
from kiln.repositories.storage import repo_path, store


@dataclass(frozen=True)
class LintResult:
    valid: bool
    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    content: str | None
    result: ProcessResult | None
    project: Project
    sha: str | None


def _head(project: Project, ref: str | None) -> tuple[str | None, str, bool]:
    wanted = ref or project.default_branch
    try:
        sha, tag = resolve_ref(project, wanted)
    except PipelineError:
        return None, wanted, False
    return sha, wanted, tag


def lint(
    *,
    actor: Actor,
    project: Project,
    content: str | None,
    ref: str | None = None,
    sha: str | None = None,
) -> LintResult:
    """Lint `content`, or the project's configuration at `sha` (default: the default branch),
    as a push pipeline of `ref` would see it. The caller authorized reading the project."""
    head, ref_name, tag = _head(project, ref)
    if sha:
        try:
            head = store().resolve_revision(relative_path=repo_path(project), revision=sha)
        except (GitStoreError, ValueError):
            head = None
        if head is None:
            return LintResult(False, ("Commit not found",), (), None, None, project, None)
    config_path = project.ci_config_path or DEFAULT_CONFIG_PATH
    if content is None:
        if head is None:
            return LintResult(False, ("Reference not found",), (), None, None, project, None)
        content = read_config_text(project, head, config_path)
        if content is None:
            return LintResult(
                False, ("Please provide content of .gitlab-ci.yml",), (), None, None, project, head
            )
    user = actor.user
    spec = PipelineInput(ref=ref_name, sha=head or "0" * 40, tag=tag, source=PipelineSource.PUSH)
    context = _context(project, spec, user, _is_protected(project, ref_name, tag=tag), {})
    fetcher = ProjectIncludeFetcher(project, head or "HEAD", actor)
    result = process_config(content, context, fetcher=fetcher, config_path=config_path)
    if isinstance(result, ConfigErrors):
        return LintResult(False, result.errors, result.warnings, content, result, project, head)
    warnings = result.warnings if isinstance(result, PipelinePlan | PipelineSkipped) else ()
    return LintResult(True, (), tuple(warnings), content, result, project, head)
