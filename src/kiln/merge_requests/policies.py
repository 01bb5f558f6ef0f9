"""Who may do what to a merge request, as GitLab's MergeRequestPolicy and ProjectPolicy say.

Reading follows the code: whoever may read the project's code may read its merge requests,
unless the merge request feature is disabled, or "private" (members with Reporter or more).
Writing needs a signed-in user on a project that is not archived: Developers (and the author)
update, Reporters manage metadata, Developers approve, Owners delete. Merging is not a policy
action here: it depends on the target branch's protection (`can_merge`).
"""

from __future__ import annotations

from django.db.models import Q

from kiln.core import policy
from kiln.core.access import AccessLevel, Visibility
from kiln.core.actor import Actor
from kiln.merge_requests.models import MergeRequest
from kiln.projects.access import project_access_level
from kiln.projects.models import Project
from kiln.projects.queries import member_projects_q

_OPEN_FEATURE = ("enabled", "public")


def can_read_merge_requests(actor: Actor, project: Project) -> bool:
    """GitLab's `read_merge_request` on the project."""
    if project.merge_requests_access_level == "disabled":
        return False
    if actor.is_admin:
        return True
    if not policy.can(actor, "read_code", project):
        return False
    if project.merge_requests_access_level in _OPEN_FEATURE:
        return True
    return project_access_level(actor, project) >= AccessLevel.REPORTER


def readable_projects_q(actor: Actor, *, prefix: str = "project__") -> Q:
    """Projects whose merge requests the actor may read, as a filter on `prefix` fields.

    The same rule as `can_read_merge_requests`, as one `Q`, so lists, counts and lookups by
    id all filter alike (a private project's merge requests never show to a non-member).
    """
    if actor.is_admin:
        return ~Q(**{f"{prefix}merge_requests_access_level": "disabled"})
    feature_open = Q(**{f"{prefix}merge_requests_access_level__in": _OPEN_FEATURE}) & Q(
        **{f"{prefix}repository_access_level__in": _OPEN_FEATURE}
    )
    visible = Q(**{f"{prefix}visibility_level": Visibility.PUBLIC})
    if actor.user is not None and not actor.user.external:
        visible |= Q(**{f"{prefix}visibility_level__gte": Visibility.INTERNAL})
    q = feature_open & visible
    if actor.user is not None:
        members = Project.objects.filter(member_projects_q(actor, AccessLevel.REPORTER))
        member_q = Q(**{f"{prefix}pk__in": members.values("pk")}) & ~Q(
            **{f"{prefix}merge_requests_access_level": "disabled"}
        )
        member_q &= ~Q(**{f"{prefix}repository_access_level": "disabled"})
        q |= member_q
    return q


def _level(actor: Actor, project: Project) -> int:
    if actor.is_admin:
        return AccessLevel.OWNER
    return project_access_level(actor, project)


def _writable(actor: Actor, mr: MergeRequest) -> bool:
    return actor.user is not None and not mr.project.archived


def merge_request_rule(actor: Actor, action: str, mr: MergeRequest) -> bool:
    project = mr.project
    if not can_read_merge_requests(actor, project):
        return False
    if action == "read_merge_request":
        return True
    if action in ("read_merge_request_approval_state", "read_note"):
        return True
    if not _writable(actor, mr):
        return False
    level = _level(actor, project)
    is_author = actor.user is not None and mr.author_id == actor.user.pk
    if action == "update_merge_request":
        return level >= AccessLevel.DEVELOPER or is_author
    if action == "admin_merge_request":
        return level >= AccessLevel.REPORTER
    if action in ("approve_merge_request", "rebase_merge_request"):
        return level >= AccessLevel.DEVELOPER
    if action == "destroy_merge_request":
        return level >= AccessLevel.OWNER
    if action in ("create_note", "award_emoji"):
        # A locked discussion takes comments from members with Reporter or more only.
        if mr.discussion_locked:
            return level >= AccessLevel.REPORTER
        return True
    if action in ("resolve_note", "admin_note"):
        return level >= AccessLevel.DEVELOPER or is_author
    raise LookupError(f"unknown merge request action {action!r}")


policy.register(MergeRequest, merge_request_rule)
