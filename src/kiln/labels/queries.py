"""Reads of labels: what a project or group may use, and the facts list presenters need.

A project may use its own labels and those of every ancestor group; a group its own and its
ancestors'. Labels are as visible as their project or group: callers pass a project or group
the actor may already read (the API looks it up with `get_project_for` / `get_group_for`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from django.db.models import Q, QuerySet

from kiln.core.actor import Actor
from kiln.core.errors import NotFound
from kiln.labels.models import Label, LabelPriority, LabelSubscription
from kiln.namespaces.models import Namespace
from kiln.projects.models import Project

Parent = Project | Namespace


def ancestor_group_ids(namespace: Namespace) -> list[int]:
    """The group and its ancestors (empty for a personal namespace)."""
    if not namespace.is_group:
        return []
    return [int(i) for i in namespace.traversal_ids.split("/") if i] or [namespace.pk]


def available_labels_q(parent: Parent, *, include_ancestor_groups: bool = True) -> Q:
    """Labels `parent` may use (its own, and its ancestor groups' when asked)."""
    if isinstance(parent, Project):
        q = Q(project_id=parent.pk)
        if include_ancestor_groups:
            groups = ancestor_group_ids(parent.namespace)
            if groups:
                q |= Q(group_id__in=groups)
        return q
    if include_ancestor_groups:
        return Q(group_id__in=ancestor_group_ids(parent))
    return Q(group_id=parent.pk)


def group_labels_q(
    group: Namespace,
    *,
    include_ancestor_groups: bool = True,
    include_descendant_groups: bool = False,
) -> Q:
    q = available_labels_q(group, include_ancestor_groups=include_ancestor_groups)
    if include_descendant_groups:
        below = Namespace.objects.filter(
            traversal_ids__startswith=f"{group.traversal_ids}/"
        ).values("pk")
        q |= Q(group_id__in=below)
    return q


def list_labels(
    parent: Parent,
    *,
    include_ancestor_groups: bool = True,
    include_descendant_groups: bool = False,
    search: str | None = None,
    only_group_labels: bool = False,
    archived: bool | None = None,
) -> QuerySet[Label]:
    """Labels of `parent` ordered by title (the caller checked the actor may read it)."""
    if isinstance(parent, Namespace):
        q = group_labels_q(
            parent,
            include_ancestor_groups=include_ancestor_groups,
            include_descendant_groups=include_descendant_groups,
        )
    else:
        q = available_labels_q(parent, include_ancestor_groups=include_ancestor_groups)
        if only_group_labels:
            q &= Q(project__isnull=True)
    qs = Label.objects.filter(q)
    if search:
        qs = qs.filter(Q(title__icontains=search) | Q(description__icontains=search))
    if archived is not None:
        qs = qs.filter(archived=archived)
    return qs.order_by("title", "id")


def find_label(
    parent: Parent, id_or_title: str | int, *, include_ancestor_groups: bool = True
) -> Label:
    """A label of `parent` by id, else by title (404 "Label Not Found")."""
    qs = Label.objects.filter(
        available_labels_q(parent, include_ancestor_groups=include_ancestor_groups)
    )
    text = str(id_or_title)
    label = None
    if text.isdigit() and len(text) < 19:
        label = qs.filter(pk=int(text)).first()
    if label is None:
        # A project label wins over a group label of the same title.
        label = qs.filter(title=text).order_by("group_id", "id").first()
    if label is None:
        raise NotFound("Label")
    return label


def find_labels_by_title(project: Project, titles: Sequence[str]) -> dict[str, Label]:
    """The labels `project` may use with these titles (its own win over its groups')."""
    if not titles:
        return {}
    rows = Label.objects.filter(available_labels_q(project), title__in=list(titles))
    found: dict[str, Label] = {}
    for label in rows.order_by("id"):
        # The project's own label wins over an ancestor group's label of the same title.
        current = found.get(label.title)
        if current is None or (current.project_id is None and label.project_id is not None):
            found[label.title] = label
    return found


def find_labels_for(project: Project, names: Iterable[str]) -> list[Label]:
    """Labels by title, in the order given, skipping unknown titles (for merge requests)."""
    wanted = [n for n in dict.fromkeys(names) if n]
    found = find_labels_by_title(project, wanted)
    return [found[n] for n in wanted if n in found]


def labels_by_ids(project: Project, ids: Iterable[int]) -> list[Label]:
    return list(Label.objects.filter(available_labels_q(project), pk__in=list(ids)))


def priorities_for(project: Project, label_ids: list[int]) -> dict[int, int]:
    if not label_ids:
        return {}
    rows = LabelPriority.objects.filter(project_id=project.pk, label_id__in=label_ids)
    return dict(rows.values_list("label_id", "priority"))


def subscribed_label_ids(actor: Actor, label_ids: list[int], project: Project | None) -> set[int]:
    """Labels the actor is subscribed to, everywhere or in `project`."""
    if actor.user is None or not label_ids:
        return set()
    q = Q(project__isnull=True)
    if project is not None:
        q |= Q(project_id=project.pk)
    rows = LabelSubscription.objects.filter(q, user_id=actor.user.pk, label_id__in=label_ids)
    return set(rows.values_list("label_id", flat=True))


# -- counts ------------------------------------------------------------------------------------

# Packages with labelled things (issues, merge requests) register a counter:
# `fn(actor, label_ids, parent) -> {label_id: {"open_issues_count": n, ...}}`, counting only
# what the actor may see, in a bounded number of queries.
LabelCounter = Callable[[Actor, list[int], Parent], dict[int, dict[str, int]]]
_COUNTERS: list[LabelCounter] = []

COUNT_FIELDS = ("open_issues_count", "closed_issues_count", "open_merge_requests_count")


def register_label_counter(fn: LabelCounter) -> LabelCounter:
    if fn not in _COUNTERS:
        _COUNTERS.append(fn)
    return fn


def label_counts(actor: Actor, label_ids: list[int], parent: Parent) -> dict[int, dict[str, int]]:
    counts = {label_id: dict.fromkeys(COUNT_FIELDS, 0) for label_id in label_ids}
    if not label_ids:
        return counts
    for fn in list(_COUNTERS):
        for label_id, values in fn(actor, label_ids, parent).items():
            counts.setdefault(label_id, dict.fromkeys(COUNT_FIELDS, 0)).update(values)
    return counts
