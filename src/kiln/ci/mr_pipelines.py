"""CI seen from merge requests: the head pipeline of a merge request, and merging when it
succeeds.

Merge requests sit below CI, so CI plugs in through their registries (kiln.merge_requests.hooks):
`head_pipeline_info` is the pipeline status provider (GitLab's `head_pipeline`: the newest
pipeline of the merge request's source branch at its head commit), and a pipeline that
succeeds on a branch calls `kiln.merge_requests.merging.pipeline_succeeded` from a background
task (GitLab's PipelineSuccessWorker), so `merge_when_pipeline_succeeds` merges.
"""

from __future__ import annotations

from kiln.ci.models import Pipeline, PipelineSource
from kiln.core.urls import base_url
from kiln.merge_requests.hooks import PipelineInfo, register_pipeline_status_provider
from kiln.projects.models import Project


def pipeline_info(pipeline: Pipeline) -> PipelineInfo:
    project = pipeline.project
    url = f"{base_url(None)}/{project.full_path}/-/pipelines/{pipeline.pk}"
    user = pipeline.user
    return PipelineInfo(
        id=pipeline.pk,
        iid=pipeline.iid,
        sha=pipeline.sha,
        ref=pipeline.ref,
        status=pipeline.status,
        source=pipeline.source,
        web_url=url,
        created_at=pipeline.created_at,
        updated_at=pipeline.updated_at,
        extra={
            "project_id": pipeline.project_id,
            "name": pipeline.name or None,
            # GitLab's full Pipeline entity (the merge request's `head_pipeline`).
            "detail": {
                "before_sha": pipeline.before_sha,
                "tag": pipeline.tag,
                "yaml_errors": pipeline.yaml_errors or None,
                "user": (
                    {
                        "id": user.pk,
                        "username": user.username,
                        "public_email": user.public_email or None,
                        "name": user.name,
                        "state": user.state,
                        "locked": user.access_locked,
                        "avatar_url": None,
                        "web_url": f"{base_url(None)}/{user.username}",
                    }
                    if user is not None
                    else None
                ),
                "started_at": pipeline.started_at,
                "finished_at": pipeline.finished_at,
                "committed_at": pipeline.committed_at,
                "duration": pipeline.duration,
                "queued_duration": pipeline.queued_duration,
                "coverage": f"{pipeline.coverage:.2f}" if pipeline.coverage is not None else None,
            },
        },
    )


def head_pipeline_info(project: Project, sha: str, ref: str) -> PipelineInfo | None:
    """The newest branch pipeline of `project` for `sha` on `ref` (the provider)."""
    found = (
        Pipeline.objects.select_related("project__namespace", "user")
        .filter(project=project, sha=sha, ref=ref, tag=False)
        # A child pipeline runs on its parent's commit; the parent is the head pipeline.
        .exclude(source=PipelineSource.PARENT_PIPELINE)
        .order_by("-pk")
        .first()
    )
    return pipeline_info(found) if found is not None else None


def register() -> None:
    register_pipeline_status_provider(head_pipeline_info)


def merge_after_success(pipeline_id: int) -> list[int]:
    """A branch pipeline succeeded: merge what was set to merge when it succeeds."""
    from kiln.merge_requests.merging import pipeline_succeeded

    pipeline = Pipeline.objects.filter(pk=pipeline_id).first()
    if pipeline is None or pipeline.tag or pipeline.status != "success":
        return []
    if pipeline.source == PipelineSource.PARENT_PIPELINE:
        return []
    return pipeline_succeeded(project_id=pipeline.project_id, sha=pipeline.sha, ref=pipeline.ref)
