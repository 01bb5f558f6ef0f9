"""CI job tokens (`CI_JOB_TOKEN`): minted when a runner picks a job, valid while it runs.

A job token acts as the job's user, narrowed twice: to the projects of the job's scope (its
own project; GitLab's allowlist of other projects is not there yet) and to what GitLab lets
job tokens do — clone over HTTP as `gitlab-ci-token` (read_repository) and the few API
endpoints kiln.api.v4.auth lets them reach (job artifacts, the job itself). Once the job has
finished (or was canceled) the token is refused: 401 for git and the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiln.accounts.tokens import digest, generate
from kiln.ci import statuses
from kiln.ci.models import Job
from kiln.core.actor import Actor
from kiln.repositories.access import MESSAGES, GitAccessDenied

JOB_TOKEN_PREFIX = "glcbt-"  # noqa: S105 (GitLab's public token prefix)
# The username git clients use with a job token, as on GitLab.
GIT_USERNAME = "gitlab-ci-token"
RUNNING_STATUSES = frozenset({statuses.RUNNING})


def new_job_token() -> tuple[str, str]:
    """A fresh token and its digest."""
    token = generate(JOB_TOKEN_PREFIX)
    return token, digest(token)


@dataclass(frozen=True)
class JobTokenActor(Actor):
    """The job's user, acting through the job's token."""

    job_id: int = 0
    project_ids: frozenset[int] = field(default_factory=frozenset)

    def allows_project(self, project_id: int) -> bool:
        return project_id in self.project_ids


def find_job_by_token(token: str) -> Job | None:
    """The job whose token this is, whatever its state (None for an unknown token)."""
    if not token or len(token) > 256:
        return None
    return (
        Job.objects.select_related("project__namespace", "user", "pipeline")
        .filter(token_digest=digest(token))
        .first()
    )


def running_job_for_token(token: str) -> Job | None:
    job = find_job_by_token(token)
    if job is None or job.status not in RUNNING_STATUSES:
        return None
    return job


def actor_for_job_token(token: str, *, project_path: str | None = None) -> Actor | None:
    """The actor a running job's token stands for; None when the token is unknown or its
    job no longer runs (the caller answers 401).

    With `project_path` (git over HTTP names the repository before anyone looks it up), a
    project outside the job's scope is refused here as not found, so a job token never
    reads another project's code even where the job's user could.
    """
    job = running_job_for_token(token)
    if job is None or job.user is None or not job.user.is_active:
        return None
    actor = JobTokenActor(
        user=job.user,
        scopes=frozenset({"read_repository"}),
        job_id=job.pk,
        project_ids=frozenset({job.project_id}),
    )
    if project_path is not None:
        wanted = project_path.removesuffix(".git").strip("/").lower()
        if wanted != job.project.full_path.lower() and wanted != str(job.project_id):
            raise GitAccessDenied(MESSAGES["project_not_found"], status=404)
    return actor
