"""Who may do what with pipelines, jobs, runners and CI/CD variables (GitLab's permissions).

- Reading pipelines and jobs (logs, artifacts): Reporter; anyone who may see a public or
  internal project when its jobs are public (`public_jobs`), as GitLab's `public_builds`.
- Running, retrying, canceling pipelines and jobs, playing manual jobs: Developer, and on a
  protected branch or tag whoever may push or merge there (GitLab's `can_update_branch?`).
- Erasing a job: Maintainer, or the Developer who started it. Deleting a pipeline: Owner.
- CI/CD variables and project runners: Maintainer. Group runners: Owner. Instance: admin.

The job-token actor (see kiln.ci.jobtokens) carries the job's user; its project scope is
checked by `kiln.ci.queries` before any of these rules run.
"""

from __future__ import annotations

from kiln.ci.models import Job, Pipeline, Runner, RunnerType
from kiln.core import policy
from kiln.core.access import AccessLevel, Visibility
from kiln.core.actor import Actor
from kiln.namespaces.access import group_access_level
from kiln.namespaces.models import Namespace
from kiln.projects.access import project_access_level
from kiln.projects.models import Project
from kiln.repositories import protection


def _level(actor: Actor, project: Project) -> int:
    return project_access_level(actor, project) if actor.user is not None else 0


def _blocked(actor: Actor) -> bool:
    return actor.user is not None and not actor.user.is_active


def can_read_pipelines(actor: Actor, project: Project) -> bool:
    if not policy.can(actor, "read_project", project) or _blocked(actor):
        return False
    if project.builds_access_level == "disabled":
        return False
    if actor.is_admin:
        return True
    if _level(actor, project) >= AccessLevel.REPORTER:
        return True
    if project.builds_access_level == "private":
        return False
    return project.public_jobs and project.visibility_level >= Visibility.INTERNAL


def can_update_ref(actor: Actor, project: Project, ref: str, *, tag: bool) -> bool:
    """GitLab's `can_update_branch?` / `can_create_tag?` for running pipelines on `ref`."""
    if actor.user is None or _blocked(actor):
        return False
    if tag:
        return protection.can_create_tag(actor, project, ref)
    if not protection.is_protected_branch(project, ref):
        return actor.is_admin or _level(actor, project) >= AccessLevel.DEVELOPER
    return protection.can_push_to_branch(actor, project, ref) or protection.can_merge_to_branch(
        actor, project, ref
    )


def can_run_pipelines(actor: Actor, project: Project) -> bool:
    if actor.user is None or _blocked(actor) or project.archived:
        return False
    if not can_read_pipelines(actor, project):
        return False
    return actor.is_admin or _level(actor, project) >= AccessLevel.DEVELOPER


def can_admin_ci(actor: Actor, project: Project) -> bool:
    """Variables, project runners, CI settings: Maintainer."""
    if actor.user is None or _blocked(actor):
        return False
    return actor.is_admin or _level(actor, project) >= AccessLevel.MAINTAINER


def can_admin_group_ci(actor: Actor, group: Namespace) -> bool:
    if actor.user is None or _blocked(actor):
        return False
    return actor.is_admin or group_access_level(actor, group) >= AccessLevel.OWNER


def can_create_runner(
    actor: Actor, runner_type: str, *, project: Project | None, group: Namespace | None
) -> bool:
    if actor.user is None or _blocked(actor):
        return False
    if runner_type == RunnerType.INSTANCE:
        return actor.is_admin
    if runner_type == RunnerType.GROUP:
        return group is not None and can_admin_group_ci(actor, group)
    return project is not None and can_admin_ci(actor, project)


def _pipeline_rule(actor: Actor, action: str, pipeline: Pipeline) -> bool:
    project = pipeline.project
    if action == "read_pipeline":
        return can_read_pipelines(actor, project)
    if action in ("update_pipeline", "cancel_pipeline", "retry_pipeline"):
        return can_run_pipelines(actor, project) and can_update_ref(
            actor, project, pipeline.ref, tag=pipeline.tag
        )
    if action == "destroy_pipeline":
        if actor.user is None or _blocked(actor):
            return False
        return actor.is_admin or _level(actor, project) >= AccessLevel.OWNER
    raise LookupError(f"unknown pipeline action {action!r}")


def _job_rule(actor: Actor, action: str, job: Job) -> bool:
    project = job.project
    if action in ("read_build", "read_job_artifacts", "read_build_trace"):
        return can_read_pipelines(actor, project)
    if action in ("update_build", "cancel_build", "retry_build", "play_job"):
        return can_run_pipelines(actor, project) and can_update_ref(
            actor, project, job.ref, tag=job.tag
        )
    if action == "erase_build":
        if not can_run_pipelines(actor, project):
            return False
        if actor.is_admin or _level(actor, project) >= AccessLevel.MAINTAINER:
            return True
        return actor.user is not None and job.user_id == actor.user.pk
    raise LookupError(f"unknown job action {action!r}")


def can_admin_runner(actor: Actor, runner: Runner) -> bool:
    """Update, pause, delete: admins; Owners for group runners; Maintainers of the runner's
    project (the first one it was created for) for project runners."""
    if actor.user is None or _blocked(actor):
        return False
    if actor.is_admin:
        return True
    if runner.runner_type == RunnerType.GROUP:
        return any(
            can_admin_group_ci(actor, link.namespace)
            for link in runner.runner_namespaces.select_related("namespace")
        )
    if runner.runner_type == RunnerType.PROJECT:
        first = runner.runner_projects.select_related("project__namespace").order_by("id").first()
        return first is not None and can_admin_ci(actor, first.project)
    return False


def can_read_runner(actor: Actor, runner: Runner) -> bool:
    if actor.user is None or _blocked(actor):
        return False
    if actor.is_admin or can_admin_runner(actor, runner):
        return True
    if runner.runner_type == RunnerType.PROJECT:
        return any(
            can_admin_ci(actor, link.project)
            for link in runner.runner_projects.select_related("project__namespace")
        )
    return False


def _runner_rule(actor: Actor, action: str, runner: Runner) -> bool:
    if action == "read_runner":
        return can_read_runner(actor, runner)
    if action in ("update_runner", "delete_runner"):
        return can_admin_runner(actor, runner)
    raise LookupError(f"unknown runner action {action!r}")


policy.register(Pipeline, _pipeline_rule)
policy.register(Job, _job_rule)
policy.register(Runner, _runner_rule)
