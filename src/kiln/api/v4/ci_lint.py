"""API v4: CI Lint, as GitLab's `lib/api/ci/lint.rb` (`POST` and `GET /projects/:id/ci/lint`)."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import ConfigDict

from kiln.api.v4.auth import actor_of, require_user
from kiln.api.v4.params import Params, PathStr
from kiln.ci import lint as service
from kiln.ci import policies
from kiln.ci.config import PipelinePlan
from kiln.core.errors import Forbidden, MissingParameter
from kiln.core.policy import can
from kiln.projects.queries import get_project_for

router = Router(tags=["ci lint"])


def _jobs(plan: PipelinePlan) -> list[dict[str, Any]]:
    return [
        {
            "name": job.name,
            "stage": job.stage,
            "before_script": list(job.before_script),
            "script": list(job.script),
            "after_script": list(job.after_script),
            "tag_list": list(job.tags),
            "only": None,
            "except": None,
            "environment": job.environment.name if job.environment else None,
            "when": job.when,
            "allow_failure": job.allow_failure,
            "needs": (
                [
                    {"name": n.job, "artifacts": n.artifacts, "optional": n.optional}
                    for n in job.needs
                ]
                if job.needs is not None
                else None
            ),
        }
        for job in plan.jobs
    ]


def _present(outcome: service.LintResult, *, include_jobs: bool) -> dict[str, Any]:
    plan = outcome.result if isinstance(outcome.result, PipelinePlan) else None
    data: dict[str, Any] = {
        "valid": outcome.valid,
        "errors": list(outcome.errors),
        "warnings": list(outcome.warnings),
        "merged_yaml": outcome.content if outcome.valid else None,
        "includes": [
            {
                "type": include.get("type"),
                "location": include.get("location"),
                "blob": None,
                "raw": None,
                "extra": {},
                "context_project": outcome.project.full_path,
                "context_sha": outcome.sha,
            }
            for include in (plan.includes if plan is not None else ())
        ],
    }
    if include_jobs:
        data["jobs"] = _jobs(plan) if plan is not None else []
    return data


class LintParams(Schema):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    content: str | None = None
    dry_run: bool = False
    include_jobs: bool = False
    ref: str | None = None
    dry_run_ref: str | None = None


@router.post("/projects/{id}/ci/lint")
def lint_content(
    request: HttpRequest, id: PathStr, payload: Annotated[LintParams, Params(...)]
) -> dict[str, Any]:
    actor = require_user(request)
    project = get_project_for(actor, id)
    if not policies.can_run_pipelines(actor, project):
        raise Forbidden()
    if payload.content is None:
        raise MissingParameter("content")
    outcome = service.lint(
        actor=actor,
        project=project,
        content=payload.content,
        ref=payload.dry_run_ref or payload.ref,
    )
    return _present(outcome, include_jobs=payload.include_jobs)


class LintQuery(Schema):
    sha: str | None = None
    content_ref: str | None = None
    dry_run: bool = False
    dry_run_ref: str | None = None
    include_jobs: bool = False
    ref: str | None = None


@router.get("/projects/{id}/ci/lint")
def lint_project(request: HttpRequest, id: PathStr, query: Query[LintQuery]) -> dict[str, Any]:
    actor = actor_of(request)
    project = get_project_for(actor, id)
    if not can(actor, "read_code", project):
        raise Forbidden()
    outcome = service.lint(
        actor=actor,
        project=project,
        content=None,
        ref=query.dry_run_ref or query.ref,
        sha=query.content_ref or query.sha,
    )
    return _present(outcome, include_jobs=query.include_jobs)
