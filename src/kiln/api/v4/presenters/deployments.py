"""GitLab's environment, deployment and resource group entities (`lib/api/entities/
environment.rb`, `environment_basic.rb`, `deployment.rb`, `ci/resource_group.rb`), and the
`JobBasic` shape of a resource group's upcoming jobs. Lists are presented a page at a time,
with what they add loaded in a fixed number of queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.http import HttpRequest

from kiln.api.v4.presenters.ci import job_entities
from kiln.api.v4.presenters.common import iso
from kiln.api.v4.presenters.users import user_basic
from kiln.ci.models import Deployment, Environment, Job, ResourceGroup

# The keys of GitLab's Job entity that JobBasic does not have.
_JOB_ONLY = ("artifacts_file", "artifacts", "runner", "runner_manager", "artifacts_expire_at",
             "archived", "tag_list")  # fmt: skip


def environment_basic(environment: Environment) -> dict[str, Any]:
    return {
        "id": environment.pk,
        "name": environment.name,
        "slug": environment.slug,
        "external_url": environment.external_url or None,
        "created_at": iso(environment.created_at),
        "updated_at": iso(environment.updated_at),
    }


def environment_entities(
    environments: Sequence[Environment],
    request: HttpRequest | None,
    *,
    project: dict[str, Any] | None,
    last_deployment: Deployment | None = None,
    with_last_deployment: bool = False,
) -> list[dict[str, Any]]:
    """GitLab's Environment: `project` (BasicProjectDetails, the same for the whole page) and,
    for a single environment, `last_deployment`."""
    result = []
    for environment in environments:
        data = environment_basic(environment)
        data["tier"] = environment.tier
        if project is not None:
            data["project"] = project
        if with_last_deployment:
            data["last_deployment"] = (
                deployment_entities([last_deployment], request)[0]
                if last_deployment is not None
                else None
            )
        data["state"] = environment.state
        data["auto_stop_at"] = iso(environment.auto_stop_at)
        result.append(data)
    return result


def deployment_entities(
    deployments: Sequence[Deployment], request: HttpRequest | None
) -> list[dict[str, Any]]:
    """GitLab's Deployment, `deployable` as its Job entity (null for API deployments)."""
    job_ids = [d.job_id for d in deployments if d.job_id is not None]
    jobs = {
        job.pk: job
        for job in Job.objects.filter(pk__in=job_ids).select_related(
            "project__namespace", "pipeline__project__namespace", "user", "runner"
        )
    }
    ordered = [jobs[i] for i in job_ids if i in jobs]
    deployables = dict(zip([j.pk for j in ordered], job_entities(ordered, request), strict=True))
    return [
        {
            "id": deployment.pk,
            "iid": deployment.iid,
            "ref": deployment.ref,
            "sha": deployment.sha,
            "created_at": iso(deployment.created_at),
            "updated_at": iso(deployment.updated_at),
            "user": user_basic(deployment.user, request) if deployment.user is not None else None,
            "environment": environment_basic(deployment.environment),
            "deployable": deployables.get(deployment.job_id or 0),
            "status": deployment.status,
        }
        for deployment in deployments
    ]


def resource_group_entity(group: ResourceGroup) -> dict[str, Any]:
    return {
        "id": group.pk,
        "key": group.key,
        "process_mode": group.process_mode,
        "created_at": iso(group.created_at),
        "updated_at": iso(group.updated_at),
    }


def job_basic_entities(jobs: Sequence[Job], request: HttpRequest | None) -> list[dict[str, Any]]:
    entities = job_entities(jobs, request)
    for entity in entities:
        for key in _JOB_ONLY:
            entity.pop(key, None)
    return entities
