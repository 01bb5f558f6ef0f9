"""Writes of labels: create, update, delete, promote, subscribe, and the lookups merge
requests and issues use to attach labels (`find_or_create_labels`).

Each service authorizes (`admin_label` on the parent; 403 when the actor can see the parent
but not manage its labels) and validates with GitLab's messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q

from kiln import markdown
from kiln.core.actor import Actor
from kiln.core.errors import Conflict, Forbidden, PlainBadRequest, ValidationFailed
from kiln.labels import queries
from kiln.labels.colors import DEFAULT_COLOR, normalize_color
from kiln.labels.models import Label, LabelPriority, LabelSubscription
from kiln.labels.policies import can_admin_labels
from kiln.namespaces.models import Namespace
from kiln.projects.models import Project

TITLE_MAX_LENGTH = 255
DESCRIPTION_MAX_LENGTH = 1_048_576


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()

Parent = Project | Namespace


def render_description(label: Label) -> None:
    """Cache the description's HTML (no references: a label is shown to anyone who sees it)."""
    label.description_html = markdown.render(label.description) if label.description else ""
    label.cached_markdown_version = markdown.RENDERER_VERSION


def _validate(title: str | None, color: str | None, description: str | None) -> dict[str, str]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, str] = {}
    if title is not None:
        stripped = title.strip()
        if not stripped:
            errors["title"] = ["can't be blank"]
        elif len(stripped) > TITLE_MAX_LENGTH:
            errors["title"] = [f"is too long (maximum is {TITLE_MAX_LENGTH} characters)"]
        elif "," in stripped or any(ord(c) < 32 for c in stripped):
            errors["title"] = ["is invalid"]
        cleaned["title"] = stripped
    if color is not None:
        normalized = normalize_color(color)
        if normalized is None:
            errors["color"] = ["must be a valid color code"]
        else:
            cleaned["color"] = normalized
    if description is not None:
        if len(description) > DESCRIPTION_MAX_LENGTH:
            errors["description"] = [
                f"is too long (maximum is {DESCRIPTION_MAX_LENGTH} characters)"
            ]
        cleaned["description"] = description
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def _require_admin(actor: Actor, parent: Parent) -> None:
    if not can_admin_labels(actor, parent):
        raise Forbidden()


def _title_taken(parent: Parent, title: str, exclude: int | None = None) -> bool:
    qs = Label.objects.filter(queries.available_labels_q(parent), title=title)
    if isinstance(parent, Namespace):
        qs = Label.objects.filter(group_id=parent.pk, title=title)
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return qs.exists()


def _set_priority(project: Project, label: Label, priority: int | None) -> None:
    if priority is None:
        LabelPriority.objects.filter(project_id=project.pk, label_id=label.pk).delete()
        return
    if priority < 0:
        raise ValidationFailed({"priority": ["must be greater than or equal to 0"]})
    LabelPriority.objects.update_or_create(
        project=project, label=label, defaults={"priority": priority}
    )


def create_label(
    *,
    actor: Actor,
    parent: Parent,
    title: str,
    color: str,
    description: str | None = None,
    priority: int | None = None,
    archived: bool = False,
) -> Label:
    """POST /projects/:id/labels and /groups/:id/labels. 409 "Label already exists" when the
    parent can already use a label of that title."""
    _require_admin(actor, parent)
    cleaned = _validate(title, color, description)
    if _title_taken(parent, cleaned["title"]):
        raise Conflict("Label already exists")
    label = Label(
        project=parent if isinstance(parent, Project) else None,
        group=parent if isinstance(parent, Namespace) else None,
        title=cleaned["title"],
        color=cleaned["color"],
        description=cleaned.get("description", ""),
        archived=archived,
    )
    render_description(label)
    try:
        with transaction.atomic():
            label.save()
            if isinstance(parent, Project) and priority is not None:
                _set_priority(parent, label, priority)
    except IntegrityError:
        raise Conflict("Label already exists") from None
    return label


def update_label(
    *,
    actor: Actor,
    label: Label,
    project: Project | None = None,
    new_title: Any = UNSET,
    color: Any = UNSET,
    description: Any = UNSET,
    priority: Any = UNSET,
    archived: Any = UNSET,
) -> Label:
    """PUT .../labels/:label_id. `priority` (a project's, None removes it) needs `project`."""
    parent: Parent = label.project if label.project_id else label.group  # type: ignore[assignment]
    _require_admin(actor, project if project is not None else parent)
    cleaned = _validate(
        None if new_title is UNSET else new_title,
        None if color is UNSET else color,
        None if description is UNSET or description is None else description,
    )
    with transaction.atomic():
        if "title" in cleaned and cleaned["title"] != label.title:
            if _title_taken(parent, cleaned["title"], exclude=label.pk):
                raise ValidationFailed({"title": ["has already been taken"]})
            label.title = cleaned["title"]
        if "color" in cleaned:
            label.color = cleaned["color"]
        if description is not UNSET:
            label.description = description or ""
            render_description(label)
        if archived is not UNSET and archived is not None:
            label.archived = bool(archived)
        label.save()
        if project is not None and priority is not UNSET:
            _set_priority(project, label, priority)
    return label


def delete_label(*, actor: Actor, label: Label) -> None:
    parent: Parent = label.project if label.project_id else label.group  # type: ignore[assignment]
    _require_admin(actor, parent)
    if label.lock_on_merge:
        raise PlainBadRequest("Label is locked and was not removed")
    label.delete()


def promote_label(*, actor: Actor, project: Project, label: Label) -> Label:
    """Make a project label a label of the project's group: the group's other projects'
    labels of the same title merge into it, as GitLab's Labels::PromoteService does."""
    group = project.namespace
    if not group.is_group:
        raise PlainBadRequest("Failed to promote project label to group label")
    if not can_admin_labels(actor, group):
        raise Forbidden()
    if label.project_id != project.pk:
        raise PlainBadRequest("Failed to promote project label to group label")
    from kiln.projects.models import Project as ProjectModel

    with transaction.atomic():
        group_label = Label.objects.filter(group_id=group.pk, title=label.title).first()
        if group_label is None:
            group_label = Label.objects.create(
                group=group,
                title=label.title,
                color=label.color,
                description=label.description,
                description_html=label.description_html,
                cached_markdown_version=label.cached_markdown_version,
            )
        projects_below = ProjectModel.objects.filter(
            Q(namespace_id=group.pk)
            | Q(namespace__traversal_ids__startswith=f"{group.traversal_ids}/")
        ).values("pk")
        merged = Label.objects.filter(project_id__in=projects_below, title=label.title)
        for old in merged:
            _move_label_links(old, group_label)
            LabelPriority.objects.filter(label=old).update(label=group_label)
            old.delete()
    return group_label


def _move_label_links(old: Label, new: Label) -> None:
    """Point everything labelled `old` at `new` (issues and merge requests alike)."""
    for relation in old._meta.related_objects:
        if not relation.many_to_many:
            continue
        field: Any = relation.field
        through = field.remote_field.through
        source = field.m2m_reverse_field_name()
        target = field.m2m_field_name()
        existing = set(
            through.objects.filter(**{source: new.pk}).values_list(f"{target}_id", flat=True)
        )
        rows = through.objects.filter(**{source: old.pk})
        rows.exclude(**{f"{target}_id__in": existing}).update(**{source: new.pk})
        rows.delete()


def subscribe_label(*, actor: Actor, label: Label, project: Project | None = None) -> bool:
    """Subscribe; False when already subscribed (the API answers 304)."""
    assert actor.user is not None
    if label.pk in queries.subscribed_label_ids(actor, [label.pk], project):
        return False
    LabelSubscription.objects.get_or_create(label=label, user=actor.user, project=project)
    return True


def unsubscribe_label(*, actor: Actor, label: Label, project: Project | None = None) -> bool:
    assert actor.user is not None
    q = Q(project__isnull=True)
    if project is not None:
        q |= Q(project_id=project.pk)
    deleted, _ = LabelSubscription.objects.filter(q, label=label, user_id=actor.user.pk).delete()
    return deleted > 0


def find_or_create_labels(
    *, actor: Actor, project: Project, names: Sequence[str], create: bool = True
) -> list[Label]:
    """Labels by title for an issuable; missing titles become project labels (default
    colour) when `create` and the actor may manage labels, else they are skipped — as
    GitLab's Labels::FindOrCreateService. Call inside the caller's transaction."""
    wanted = [n.strip() for n in dict.fromkeys(names) if n and n.strip()]
    found = queries.find_labels_by_title(project, wanted)
    missing = [n for n in wanted if n not in found]
    if missing and create and can_admin_labels(actor, project):
        for name in missing:
            cleaned = _validate(name, DEFAULT_COLOR, None)
            label, _ = Label.objects.get_or_create(
                project=project, title=cleaned["title"], defaults={"color": DEFAULT_COLOR}
            )
            found[name] = label
    return [found[n] for n in wanted if n in found]


def labels_by_ids(project: Project, ids: Iterable[int]) -> list[Label]:
    return queries.labels_by_ids(project, ids)
