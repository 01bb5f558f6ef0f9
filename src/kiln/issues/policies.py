"""Who may do what to an issue (GitLab's issue_policy.rb for the abilities Kiln has).

- read_issue: the project's issues are available to the actor (feature access level) and,
  for a confidential issue, the actor is its author, an assignee, a Planner or more in the
  project, or an admin. Everyone else is told the issue does not exist.
- update_issue: Planner or more, the author, or an assignee (title and description; the
  metadata needs `admin_issue`).
- admin_issue / set_issue_metadata: Planner or more (labels, milestone, assignees, due date,
  confidentiality, locking, moves).
- create_note: can read the issue and comment in the project; a locked discussion accepts
  comments from project members only.
- destroy_issue: Owner.
"""

from __future__ import annotations

from kiln.core import policy
from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.issues.models import Issue, IssueAssignee
from kiln.projects.access import project_access_level
from kiln.projects.models import Project
from kiln.projects.policies import feature_available

PLANNING_LEVEL = AccessLevel.PLANNER


def issues_available(actor: Actor, project: Project) -> bool:
    """The project's issues feature is visible to the actor."""
    return feature_available(actor, project, project.issues_access_level)


def can_read_confidential(actor: Actor, project: Project) -> bool:
    return actor.is_admin or project_access_level(actor, project) >= PLANNING_LEVEL


def _is_assignee(actor: Actor, issue: Issue) -> bool:
    if actor.user is None or issue.pk is None:
        return False
    cache = getattr(issue, "_prefetched_objects_cache", {})
    if "assignees" in cache:
        return any(u.pk == actor.user.pk for u in cache["assignees"])
    return IssueAssignee.objects.filter(issue_id=issue.pk, user_id=actor.user.pk).exists()


def can_read_issue(actor: Actor, issue: Issue) -> bool:
    project = issue.project
    if not issues_available(actor, project):
        return False
    if not issue.confidential:
        return True
    if actor.user is None:
        return False
    if can_read_confidential(actor, project) or issue.author_id == actor.user.pk:
        return True
    return _is_assignee(actor, issue)


def can_set_metadata(actor: Actor, project: Project) -> bool:
    if actor.user is None or project.archived:
        return False
    return actor.is_admin or project_access_level(actor, project) >= PLANNING_LEVEL


def issue_rule(actor: Actor, action: str, issue: Issue) -> bool:
    if action == "read_issue":
        return can_read_issue(actor, issue)
    if actor.user is None or not can_read_issue(actor, issue):
        return False
    project = issue.project
    if action in ("admin_issue", "set_issue_metadata", "move_issue"):
        return can_set_metadata(actor, project)
    if action == "update_issue":
        if project.archived:
            return False
        if can_set_metadata(actor, project) or issue.author_id == actor.user.pk:
            return True
        return _is_assignee(actor, issue)
    if action in ("create_note", "award_emoji"):
        if not policy.can(actor, "create_note", project):
            return False
        if issue.discussion_locked and not actor.is_admin:
            return project_access_level(actor, project) >= AccessLevel.GUEST
        return True
    if action == "destroy_issue":
        return actor.is_admin or (
            not project.archived and project_access_level(actor, project) >= AccessLevel.OWNER
        )
    if action == "read_note":
        return True
    if action == "resolve_note":
        return False
    raise LookupError(f"unknown issue action {action!r}")


policy.register(Issue, issue_rule)
