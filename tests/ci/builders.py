"""Projects with a `.gitlab-ci.yml` and runners, built with the services (no HTTP), and a
runner's work done with the queue and job services."""

from __future__ import annotations

from typing import Any

from kiln.ci import jobs as job_services
from kiln.ci import statuses as st
from kiln.ci.models import Job, Pipeline, Runner
from kiln.ci.queue import Assignment, assign_next_job
from kiln.ci.runners import create_runner
from kiln.core.actor import Actor
from kiln.core.errors import KilnError
from kiln.projects.models import Project
from kiln.repositories import files
from tests.projects import builders as b


def commit(
    owner: Any,
    project: Project,
    contents: dict[str, str],
    *,
    branch: str = "main",
    message: str = "Change",
) -> str:
    """Commit files as a web write would (the push listener creates the pipeline)."""
    actions = []
    for path, content in contents.items():
        action = "create"
        try:
            from kiln.repositories.storage import repo_path, store

            store().get_blob_at(relative_path=repo_path(project), revision=branch, path=path)
            action = "update"
        except (KilnError, Exception):  # noqa: BLE001 (missing file, branch or repository)
            action = "create"
        actions.append(files.FileAction(action=action, file_path=path, content=content.encode()))
    created = files.create_commit(
        actor=Actor.for_user(owner),
        project=project,
        branch=branch,
        message=message,
        actions=actions,
    )
    return created.id


def project_with_ci(owner: Any, config: str, *, name: str | None = None, **extra: str) -> Project:
    project = b.project(owner, name)
    commit(owner, project, {".gitlab-ci.yml": config, **extra})
    return project


def latest_pipeline(project: Project) -> Pipeline | None:
    return Pipeline.objects.filter(project=project).order_by("-pk").first()


def statuses(pipeline: Pipeline) -> dict[str, str]:
    return {
        j.name: j.status
        for j in Job.objects.filter(pipeline=pipeline, retried=False).order_by("pk")
    }


def instance_runner(**attrs: Any) -> Runner:
    return create_runner(
        actor=Actor.for_user(b.root_user()), runner_type="instance_type", attrs=attrs
    ).runner


def take(runner: Runner) -> Assignment:
    assignment = assign_next_job(runner)
    assert assignment is not None, "no job for the runner"
    return assignment


def finish(job: Job, state: str = st.SUCCESS, *, exit_code: int | None = None) -> None:
    reason = "script_failure" if state == st.FAILED else None
    job_services.finish_job(job, state=state, failure_reason=reason, exit_code=exit_code)


def run_next(runner: Runner, state: str = st.SUCCESS, **kwargs: Any) -> Job:
    job = take(runner).job
    finish(job, state, **kwargs)
    return job
