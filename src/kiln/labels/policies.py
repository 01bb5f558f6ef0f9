"""Who may read and manage labels: anyone who can read the project or group reads them;
Planners, Reporters and above manage them (GitLab's `admin_label`)."""

from __future__ import annotations

from typing import Any

from kiln.core import policy
from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.labels.models import Label
from kiln.namespaces.access import group_access_level
from kiln.namespaces.models import Namespace
from kiln.projects.access import project_access_level
from kiln.projects.models import Project

# GitLab gives planning rights (labels, milestones, issue metadata) to Planner and above.
PLANNING_LEVEL = AccessLevel.PLANNER


def can_admin_labels(actor: Actor, parent: Project | Namespace) -> bool:
    """GitLab's `admin_label` on a project or a group."""
    if actor.user is None or not policy.can(actor, _read_action(parent), parent):
        return False
    if actor.is_admin:
        return True
    if isinstance(parent, Project):
        if parent.archived:
            return False
        return project_access_level(actor, parent) >= PLANNING_LEVEL
    return group_access_level(actor, parent) >= PLANNING_LEVEL


def _read_action(parent: Any) -> str:
    return "read_project" if isinstance(parent, Project) else "read_group"


def label_rule(actor: Actor, action: str, label: Label) -> bool:
    parent: Project | Namespace | None = label.project if label.project_id else label.group
    if parent is None:
        return False
    if action == "read_label":
        return policy.can(actor, _read_action(parent), parent)
    if action == "admin_label":
        return can_admin_labels(actor, parent)
    raise LookupError(f"unknown label action {action!r}")


policy.register(Label, label_rule)
