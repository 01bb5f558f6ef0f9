"""The pipeline page's downstream links: each bridge (`trigger:` job) with its downstream
pipeline and that pipeline's status, or why it could not be created; and, on a downstream
pipeline, the pipeline and bridge that created it.

A link to a pipeline of another project shows only when the viewer may read that project's
pipelines, so a multi-project trigger never reveals a private project.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kiln.ci.downstream import downstream_of
from kiln.ci.models import Job, JobKind, Pipeline, PipelineSource
from kiln.ci.policies import can_read_pipelines
from kiln.core.actor import Actor


def _link(actor: Actor, pipeline: Pipeline, readable: dict[int, bool]) -> dict[str, Any] | None:
    if pipeline.project_id not in readable:
        readable[pipeline.project_id] = can_read_pipelines(actor, pipeline.project)
    if not readable[pipeline.project_id]:
        return None
    project = pipeline.project
    return {
        "pipeline": pipeline,
        "url": f"/{project.full_path}/-/pipelines/{pipeline.pk}",
        "project_path": project.full_path,
        "child": pipeline.source == PipelineSource.PARENT_PIPELINE,
    }


def annotate_bridges(actor: Actor, stages: Sequence[dict[str, Any]]) -> None:
    """Give each bridge row of the pipeline page its `downstream` link (or None)."""
    rows = [row for stage in stages for row in stage["rows"] if row["job"].kind == JobKind.BRIDGE]
    found = downstream_of([row["job"] for row in rows])
    readable: dict[int, bool] = {}
    for row in rows:
        pipeline = found.get(row["job"].pk)
        row["downstream"] = _link(actor, pipeline, readable) if pipeline is not None else None


def upstream_link(actor: Actor, pipeline: Pipeline) -> dict[str, Any] | None:
    """The pipeline (and bridge) that created `pipeline`, when the viewer may see it."""
    if pipeline.source_pipeline_id is None:
        return None
    upstream = (
        Pipeline.objects.select_related("project__namespace")
        .filter(pk=pipeline.source_pipeline_id)
        .first()
    )
    if upstream is None:
        return None
    link = _link(actor, upstream, {})
    if link is not None:
        names = Job.objects.filter(pk=pipeline.source_job_id or 0).values_list("name", flat=True)
        link["bridge"] = names.first() or ""
    return link
