"""Who may read and manage milestones: readers of the project or group read them (issues or
merge requests must be available to them); Planners, Reporters and above manage them."""

from __future__ import annotations

from kiln.core import policy
from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.milestones.models import Milestone
from kiln.namespaces.access import group_access_level
from kiln.namespaces.models import Namespace
from kiln.projects.access import project_access_level
from kiln.projects.models import Project
from kiln.projects.policies import feature_available

PLANNING_LEVEL = AccessLevel.PLANNER


def can_read_milestones(actor: Actor, parent: Project | Namespace) -> bool:
    """GitLab's `read_milestone`: readable project with issues or merge requests available."""
    if isinstance(parent, Project):
        return feature_available(actor, parent, parent.issues_access_level) or feature_available(
            actor, parent, parent.merge_requests_access_level
        )
    return policy.can(actor, "read_group", parent)


def can_admin_milestones(actor: Actor, parent: Project | Namespace) -> bool:
    """GitLab's `admin_milestone`."""
    if actor.user is None or not can_read_milestones(actor, parent):
        return False
    if actor.is_admin:
        return True
    if isinstance(parent, Project):
        if parent.archived:
            return False
        return project_access_level(actor, parent) >= PLANNING_LEVEL
    return group_access_level(actor, parent) >= PLANNING_LEVEL


def milestone_rule(actor: Actor, action: str, milestone: Milestone) -> bool:
    parent: Project | Namespace | None = (
        milestone.project if milestone.project_id else milestone.group
    )
    if parent is None:
        return False
    if action == "read_milestone":
        return can_read_milestones(actor, parent)
    if action == "admin_milestone":
        return can_admin_milestones(actor, parent)
    raise LookupError(f"unknown milestone action {action!r}")


policy.register(Milestone, milestone_rule)
