"""Label shapes: GitLab's `LabelBasic`, `Label` (`ProjectLabel` adds priority and
is_project_label), and milestones' `Milestone`."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from kiln import markdown
from kiln.api.v4.presenters.common import iso, iso_date
from kiln.core.actor import Actor
from kiln.core.urls import base_url
from kiln.labels import queries
from kiln.labels.models import Label
from kiln.milestones.models import Milestone
from kiln.namespaces.models import Namespace
from kiln.projects.models import Project


def _description_html(label: Label) -> str | None:
    if not label.description:
        return None
    if label.cached_markdown_version != markdown.RENDERER_VERSION:
        return markdown.render(label.description)
    return label.description_html


def label_basic(label: Label) -> dict[str, Any]:
    return {
        "id": label.pk,
        "name": label.title,
        "description": label.description or None,
        "description_html": _description_html(label),
        "text_color": label.text_color,
        "color": label.color,
        "archived": label.archived,
    }


def label_entities(
    labels: list[Label],
    actor: Actor,
    parent: Project | Namespace,
    *,
    with_counts: bool = False,
) -> list[dict[str, Any]]:
    """`Label` / `ProjectLabel` for a page of labels, in a fixed number of queries."""
    ids = [label.pk for label in labels]
    project = parent if isinstance(parent, Project) else None
    subscribed = queries.subscribed_label_ids(actor, ids, project)
    priorities = queries.priorities_for(project, ids) if project is not None else {}
    counts = queries.label_counts(actor, ids, parent) if with_counts else {}
    out = []
    for label in labels:
        data = label_basic(label)
        if with_counts:
            data.update(counts.get(label.pk, dict.fromkeys(queries.COUNT_FIELDS, 0)))
        data["subscribed"] = label.pk in subscribed
        if project is not None:
            data["priority"] = priorities.get(label.pk)
            data["is_project_label"] = label.is_project_label
        out.append(data)
    return out


def label_entity(
    label: Label, actor: Actor, parent: Project | Namespace, *, with_counts: bool = True
) -> dict[str, Any]:
    return label_entities([label], actor, parent, with_counts=with_counts)[0]


def milestone_entity(milestone: Milestone, request: HttpRequest | None) -> dict[str, Any]:
    """GitLab's `Milestone` entity."""
    data: dict[str, Any] = {"id": milestone.pk, "iid": milestone.iid}
    if milestone.project is not None:
        data["project_id"] = milestone.project_id
        path = f"{milestone.project.full_path}/-/milestones/{milestone.iid}"
    else:
        data["group_id"] = milestone.group_id
        assert milestone.group is not None
        path = f"groups/{milestone.group.full_path}/-/milestones/{milestone.iid}"
    data.update(
        {
            "title": milestone.title,
            "description": milestone.description or None,
            "state": milestone.state,
            "created_at": iso(milestone.created_at),
            "updated_at": iso(milestone.updated_at),
            "due_date": iso_date(milestone.due_date),
            "start_date": iso_date(milestone.start_date),
            "expired": milestone.expired,
            "web_url": f"{base_url(request)}/{path}",
        }
    )
    return data


def milestone_entities(milestones: list[Milestone], request: HttpRequest) -> list[dict[str, Any]]:
    return [milestone_entity(m, request) for m in milestones]
