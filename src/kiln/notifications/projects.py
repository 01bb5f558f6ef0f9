"""The email about a moved project (GitLab's `project_was_moved`): a transfer to another
namespace or a new path.

Who: the project's Maintainers and Owners through a membership of the project or of its
group and the group's ancestors (the owner of a personal namespace too), at the level they
have in the project (GitLab's `MembersFinder` with `owners_and_maintainers`, whose level is
the project authorization's); members of groups the project is shared with only through the
share are not asked. Each is then checked at send time as any other candidate: active, may
still read the project, the project's emails on, and a level that takes the custom action
`moved_project` (`participating` and `watch` do, `custom` when its flag is on, `mention` and
`disabled` do not). Nobody is left out for having moved it: GitLab passes no acting user.
"""

from __future__ import annotations

from django.core.mail import EmailMessage

from kiln.accounts.models import User
from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.core.policy import can
from kiln.core.urls import base_url, ssh_clone_base
from kiln.namespaces.access import active_membership_q
from kiln.namespaces.models import GroupMember
from kiln.notifications import emails
from kiln.notifications.events import Event, custom_action_of
from kiln.notifications.recipients import CUSTOM, Settings, emails_enabled, level_takes
from kiln.projects.members import effective_members
from kiln.projects.models import Project, ProjectMember


def _member_ids(project: Project) -> set[int]:
    """Users with a membership of the project or of its group hierarchy (not shares)."""
    ids = set(
        ProjectMember.objects.filter(active_membership_q(), project=project).values_list(
            "user_id", flat=True
        )
    )
    namespace = project.namespace
    if namespace.is_group:
        ids |= set(
            GroupMember.objects.filter(
                active_membership_q(), group_id__in=namespace.ancestor_ids
            ).values_list("user_id", flat=True)
        )
    elif namespace.owner_id is not None:
        ids.add(namespace.owner_id)
    return ids


def candidate_ids(project: Project) -> list[int]:
    """The project's Maintainers and Owners (GitLab's `project_moved_recipients`)."""
    members = _member_ids(project)
    return sorted(
        uid
        for uid, member in effective_members(project).items()
        if uid in members and member.access_level >= AccessLevel.MAINTAINER
    )


def build_moved_message(project: Project, old_path: str, to: str) -> EmailMessage:
    base = base_url()
    lines = [
        f"Project {old_path} was moved to another location.",
        "",
        f"The project is now at {base}/{project.full_path}",
        "",
        "To point your local repository at it, run (for SSH):",
        f"  git remote set-url origin {ssh_clone_base(base)}{project.full_path}.git",
        "or (for HTTP(S)):",
        f"  git remote set-url origin {base}/{project.full_path}.git",
        "",
        "-- ",
        f"View it on Kiln: {base}/{project.full_path}",
    ]
    return EmailMessage(
        subject=f"{project.name} | Project was moved".replace("\r", " ").replace("\n", " "),
        body="\n".join(lines) + "\n",
        from_email=emails.sender(None),
        to=[to],
        headers=emails.project_headers(project),
    )


def moved_project_messages(event: Event) -> list[EmailMessage]:
    """One email per recipient of a `moved` event (checked now, at the project's new place)."""
    project = Project.objects.select_related("namespace").filter(pk=event.target_id).first()
    old_path = str(event.extra.get("old_path") or "")
    if project is None or not old_path or not emails_enabled(project):
        return []
    ids = candidate_ids(project)
    users = [u for u in User.objects.filter(pk__in=ids).order_by("pk") if u.is_active]
    settings = Settings(project, [u.pk for u in users])
    action = custom_action_of(event)
    messages = []
    for user in users:
        if not user.email.strip():
            continue
        if not level_takes(settings.effective(user.pk), CUSTOM, action):
            continue
        if not can(Actor(user=user), "read_project", project):
            continue
        to = settings.global_row(user.pk).notification_email or user.email
        messages.append(build_moved_message(project, old_path, to))
    return messages
