"""Writes of milestones. Each authorizes `admin_milestone` on the parent (403 otherwise) and
validates as GitLab does; failures answer "Failed to create milestone {...}" (400)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction

from kiln import markdown
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, PlainBadRequest
from kiln.milestones.models import Milestone, MilestoneCounter, MilestoneState
from kiln.milestones.policies import can_admin_milestones
from kiln.namespaces.models import Namespace
from kiln.projects.models import Project

TITLE_MAX_LENGTH = 255
DESCRIPTION_MAX_LENGTH = 1_048_576

Parent = Project | Namespace


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


def ruby_errors(errors: dict[str, list[str]]) -> str:
    """Rails' `errors.messages` as Ruby prints a hash (`{:title=>["can't be blank"]}`)."""
    parts = []
    for key, messages in errors.items():
        quoted = ", ".join('"' + m.replace('"', '\\"') + '"' for m in messages)
        parts.append(f":{key}=>[{quoted}]")
    return "{" + ", ".join(parts) + "}"


def _parse_date(value: Any, name: str, errors: dict[str, list[str]]) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        parsed = dt.date.fromisoformat(str(value))
    except ValueError:
        errors.setdefault(name, []).append("is not a valid date")
        return None
    if parsed.year > 9999:
        errors.setdefault(name, []).append("date must not be after 9999-12-31")
    return parsed


def _check(milestone: Milestone, errors: dict[str, list[str]]) -> None:
    title = milestone.title.strip()
    if not title:
        errors.setdefault("title", []).append("can't be blank")
    elif len(title) > TITLE_MAX_LENGTH:
        errors.setdefault("title", []).append(
            f"is too long (maximum is {TITLE_MAX_LENGTH} characters)"
        )
    if len(milestone.description) > DESCRIPTION_MAX_LENGTH:
        errors.setdefault("description", []).append(
            f"is too long (maximum is {DESCRIPTION_MAX_LENGTH} characters)"
        )
    if milestone.start_date and milestone.due_date and milestone.due_date < milestone.start_date:
        errors.setdefault("due_date", []).append("must be greater than start date")
    if not errors.get("title"):
        qs = Milestone.objects.filter(title=title).exclude(pk=milestone.pk)
        qs = (
            qs.filter(project_id=milestone.project_id)
            if milestone.project_id
            else qs.filter(group_id=milestone.group_id)
        )
        if qs.exists():
            errors.setdefault("title", []).append("has already been taken")


def _render(milestone: Milestone) -> None:
    milestone.description_html = (
        markdown.render(milestone.description) if milestone.description else ""
    )
    milestone.cached_markdown_version = markdown.RENDERER_VERSION


def _next_iid(parent: Parent) -> int:
    """Allocate the next iid under a row lock (call inside a transaction)."""
    key = {"project": parent} if isinstance(parent, Project) else {"group": parent}
    MilestoneCounter.objects.bulk_create([MilestoneCounter(**key)], ignore_conflicts=True)
    counter = MilestoneCounter.objects.select_for_update().get(**key)
    if counter.last_iid == 0:
        existing = Milestone.objects.filter(**key).order_by("-iid").values_list("iid", flat=True)
        counter.last_iid = existing.first() or 0
    counter.last_iid += 1
    counter.save(update_fields=["last_iid"])
    return counter.last_iid


def create_milestone(
    *,
    actor: Actor,
    parent: Parent,
    title: str,
    description: str | None = None,
    start_date: Any = None,
    due_date: Any = None,
) -> Milestone:
    if not can_admin_milestones(actor, parent):
        raise Forbidden()
    errors: dict[str, list[str]] = {}
    milestone = Milestone(
        project=parent if isinstance(parent, Project) else None,
        group=parent if isinstance(parent, Namespace) else None,
        title=(title or "").strip(),
        description=description or "",
        start_date=_parse_date(start_date, "start_date", errors),
        due_date=_parse_date(due_date, "due_date", errors),
    )
    _check(milestone, errors)
    if errors:
        raise PlainBadRequest(f"Failed to create milestone {ruby_errors(errors)}")
    _render(milestone)
    try:
        with transaction.atomic():
            milestone.iid = _next_iid(parent)
            milestone.save()
    except IntegrityError:
        message = ruby_errors({"title": ["has already been taken"]})
        raise PlainBadRequest(f"Failed to create milestone {message}") from None
    return milestone


def update_milestone(
    *,
    actor: Actor,
    milestone: Milestone,
    title: Any = UNSET,
    description: Any = UNSET,
    start_date: Any = UNSET,
    due_date: Any = UNSET,
    state_event: str | None = None,
) -> Milestone:
    parent: Parent = milestone.project if milestone.project_id else milestone.group  # type: ignore[assignment]
    if not can_admin_milestones(actor, parent):
        raise Forbidden()
    errors: dict[str, list[str]] = {}
    if title is not UNSET and title is not None:
        milestone.title = str(title).strip()
    if description is not UNSET:
        milestone.description = description or ""
        _render(milestone)
    if start_date is not UNSET:
        milestone.start_date = _parse_date(start_date, "start_date", errors)
    if due_date is not UNSET:
        milestone.due_date = _parse_date(due_date, "due_date", errors)
    if state_event == "close":
        milestone.state = MilestoneState.CLOSED
    elif state_event == "activate":
        milestone.state = MilestoneState.ACTIVE
    _check(milestone, errors)
    if errors:
        raise PlainBadRequest(f"Failed to update milestone {ruby_errors(errors)}")
    milestone.save()
    return milestone


def delete_milestone(*, actor: Actor, milestone: Milestone) -> None:
    """Issues and merge requests lose the milestone (the foreign keys are SET_NULL)."""
    parent: Parent = milestone.project if milestone.project_id else milestone.group  # type: ignore[assignment]
    if not can_admin_milestones(actor, parent):
        raise Forbidden()
    milestone.delete()


def promote_milestone(*, actor: Actor, project: Project, milestone: Milestone) -> Milestone:
    """Turn a project milestone into a milestone of the project's group; milestones of the
    same title in the group's other projects merge into it (GitLab's PromoteService)."""
    group = project.namespace
    if not group.is_group:
        raise PlainBadRequest("Project does not belong to a group.")
    if not can_admin_milestones(actor, project) or not can_admin_milestones(actor, group):
        raise Forbidden()
    with transaction.atomic():
        group_milestone = Milestone(
            group=group,
            title=milestone.title,
            description=milestone.description,
            description_html=milestone.description_html,
            cached_markdown_version=milestone.cached_markdown_version,
            start_date=milestone.start_date,
            due_date=milestone.due_date,
            state=milestone.state,
        )
        if Milestone.objects.filter(group=group, title=milestone.title).exists():
            raise PlainBadRequest(
                "Promotion failed - Please remove milestones with the same title in the group."
            )
        group_milestone.iid = _next_iid(group)
        group_milestone.save()
        same = Milestone.objects.filter(
            project__namespace_id=group.pk, title=milestone.title
        ).exclude(pk=group_milestone.pk)
        for old in same:
            for relation in old._meta.related_objects:
                if relation.one_to_many and relation.related_model is not None:
                    relation.related_model._default_manager.filter(
                        **{relation.field.name: old}
                    ).update(**{relation.field.name: group_milestone})
            old.delete()
    return group_milestone
