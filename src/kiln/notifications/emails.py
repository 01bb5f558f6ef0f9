"""The notification emails: subject, plain-text body and GitLab's headers.

Threading as GitLab's `Notify`: the email about a new issue or merge request carries the
thread's root id (`<issue_12@host>`, `<merge_request_5@host>`) as its `Message-ID`; every later
email about it gets a fresh `Message-ID`, `In-Reply-To` and `References` pointing at the root,
and a subject starting `Re: `. A comment's email is `<note_ID@host>`, in reply to the previous
note of its thread (or the root), with the whole chain in `References`. A commit's thread
root is `<commit_SHA@host>` (its subject: `title (short sha)`). Pipeline emails start no
thread (`kiln.notifications.pipelines`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.message import sanitize_address

from kiln.accounts.models import User
from kiln.core.actor import Actor
from kiln.core.policy import can
from kiln.core.urls import base_url
from kiln.issues.models import Issue
from kiln.notes.models import Note
from kiln.notifications.recipients import Context, Recipient, thread_notes
from kiln.projects.models import Project

# GitLab's `model_name.singular_route_key` of each noteable, for Message-IDs.
ROUTE_KEYS = {"Issue": "issue", "MergeRequest": "merge_request", "Commit": "commit"}
SIGILS = {"Issue": "#", "MergeRequest": "!"}
LIST_ID_MAX = 255
# GitLab's mailers for these pass no reason: no `X-GitLab-NotificationReason`.
NO_REASON_ACTIONS = frozenset({"approve", "unapprove", "merge_when_pipeline_succeeds"})

REASON_TEXT = {
    "assigned": "you have been assigned an item",
    "review_requested": "you have been requested to review a merge request",
    "mentioned": "you have been mentioned",
    "subscribed": "you are subscribed to this thread",
}


def host() -> str:
    return urlsplit(base_url()).hostname or "localhost"


def message_id(kind: str, row_id: int | str) -> str:
    return f"<{kind}_{row_id}@{host()}>"


def list_id(project: Project) -> str:
    """GitLab's `List-Id`: `full/path <id.path.reversed.host>`, cut to 255 characters."""
    domain = "/".join(reversed(project.full_path.lower().split("/")))
    domain = re.sub(r"[^a-z0-9/]", "-", domain)
    domain = re.sub(r"/+", ".", domain).strip(".")
    room = LIST_ID_MAX - len(host()) - len(str(project.pk)) - 2
    if room < 3:
        return f"{project.full_path} <{project.pk}...{host()}>"
    if len(domain) > room:
        cut = domain[:room]
        last_dot = cut[:-1].rfind(".")
        cut = cut[: last_dot if last_dot >= 0 else room - 2]
        domain = cut + ".."
    return f"{project.full_path} <{project.pk}.{domain}.{host()}>"


def sender(actor: User | None) -> str:
    address = settings.DEFAULT_FROM_EMAIL
    if actor is None:
        return str(address)
    # Display name only: the address is always Kiln's own.
    name = f"{actor.name or actor.username} (@{actor.username})".replace('"', "'")
    return sanitize_address((name, str(address)), "utf-8")


def project_headers(project: Project) -> dict[str, str]:
    """GitLab's project headers, and the automatic-reply suppression every email carries."""
    return {
        "X-GitLab-Project": project.name,
        "X-GitLab-Project-Id": str(project.pk),
        "X-GitLab-Project-Path": project.full_path,
        "List-Id": list_id(project),
        "Auto-Submitted": "auto-generated",
        "X-Auto-Response-Suppress": "All",
    }


def one_line(text: str) -> str:
    return " ".join(text.split())


def _names(users: Sequence[User]) -> str:
    return ", ".join(u.name or u.username for u in users) or "nobody"


def target_url(ctx: Context) -> str:
    if ctx.is_commit:
        return f"{base_url()}/{ctx.project.full_path}/-/commit/{ctx.target.sha}"
    route = "issues" if ctx.nt.name == "Issue" else "merge_requests"
    return f"{base_url()}/{ctx.project.full_path}/-/{route}/{ctx.nt.iid_of(ctx.target)}"


def _reference(ctx: Context) -> str:
    """`#12`, `!5`, or a commit's short sha."""
    if ctx.is_commit:
        return str(ctx.target.sha)[:8]
    return f"{SIGILS.get(ctx.nt.name, '')}{ctx.nt.iid_of(ctx.target)}"


def _moved_lines(ctx: Context, recipient: Recipient) -> list[str]:
    """Where the issue went, for those who may see it there (GitLab's issue moved email)."""
    new_id = int(ctx.event.extra.get("new_issue_id") or 0)
    copy = Issue.objects.select_related("project").filter(pk=new_id).first()
    if copy is not None and can(Actor(user=recipient.user), "read_issue", copy):
        return [f"New issue location: {base_url()}/{copy.project.full_path}/-/issues/{copy.iid}"]
    return ["You don't have access to the project it was moved to."]


def _body(ctx: Context, recipient: Recipient, actor: User | None) -> str:
    event, target = ctx.event, ctx.target
    who = (actor.name or actor.username) if actor is not None else "Someone"
    noun = {"Issue": "issue", "MergeRequest": "merge request"}.get(ctx.nt.name, "commit")
    ref = _reference(ctx)
    url = target_url(ctx)
    description = getattr(target, "description", "") or ""
    users = {u.pk: u for u in User.objects.filter(pk__in=[*event.previous_ids, *event.current_ids])}

    def named(ids: Sequence[int]) -> str:
        return _names([users[i] for i in ids if i in users])

    lines: list[str] = []
    if event.action == "open":
        lines.append(f"{who} created {'an' if noun == 'issue' else 'a'} {noun}: {url}")
        assignees = list(target.assignees.all())
        if assignees:
            lines.append(f"Assignee: {_names(assignees)}")
        if ctx.nt.name == "MergeRequest":
            lines.append(f"Branches: {target.source_branch} to {target.target_branch}")
            reviewers = list(target.reviewers.all())
            if reviewers:
                lines.append(f"Reviewers: {_names(reviewers)}")
        if description:
            lines += ["", description]
    elif event.action == "note" and ctx.note is not None:
        lines.append(f"{who} commented:")
        position = ctx.note.position or {}
        if position:
            line = position.get("new_line") or position.get("old_line")
            path = position.get("new_path") or position.get("old_path")
            lines.append(f"On {path}, line {line}:")
        lines += ["", ctx.note.body]
        url = f"{url}#note_{ctx.note.pk}"
    elif event.action == "close":
        lines.append(f"{noun.capitalize()} {ref} was closed by {who}")
    elif event.action == "reopen":
        lines.append(f"{noun.capitalize()} {ref} was reopened by {who}")
    elif event.action == "merge":
        lines.append(f"Merge request {ref} was merged")
    elif event.action == "reassign":
        if event.previous_ids:
            lines.append(
                f"Assignee changed from {named(event.previous_ids)} to {named(event.current_ids)}"
            )
        else:
            lines.append(f"Assignee changed to {named(event.current_ids)}")
    elif event.action == "review_request":
        added = [i for i in event.current_ids if i not in event.previous_ids]
        removed = [i for i in event.previous_ids if i not in event.current_ids]
        if not event.current_ids:
            lines.append("All reviewers were removed.")
        if added:
            verb = "was added as a reviewer." if len(added) == 1 else "were added as reviewers."
            lines.append(f"{named(added)} {verb}")
        if removed:
            verb = (
                "was removed from reviewers."
                if len(removed) == 1
                else "were removed from reviewers."
            )
            lines.append(f"{named(removed)} {verb}")
    elif event.action == "mention":
        lines.append(f"You have been mentioned in {noun} {ref}.")
        if description:
            lines += ["", description]
    elif event.action == "approve":
        lines.append(f"Merge request {ref} was approved by {who}")
    elif event.action == "unapprove":
        lines.append(f"Merge request {ref} was unapproved by {who}")
    elif event.action == "merge_when_pipeline_succeeds":
        lines.append(
            f"{who} set merge request {ref} to merge into {target.target_branch}"
            " when its pipeline succeeds"
        )
    elif event.action == "due":
        lines.append(f"Issue {ref} is due on {target.due_date}")
    elif event.action == "move":
        lines.append(f"Issue {ref} was moved to another project by {who}")
        lines += _moved_lines(ctx, recipient)
    elif event.action == "push":
        commits = list(event.extra.get("commits") or [])
        lines.append(f"{who} pushed new commits to merge request {ref}")
        lines += [
            f"* {c.get('short_id', '')} - {one_line(str(c.get('title', '')))}" for c in commits
        ]
    lines += ["", "-- ", f"View it on Kiln: {url}"]
    return "\n".join(lines) + "\n"


def _reason_line(reason: str | None) -> str:
    why = REASON_TEXT.get(reason or "", "of your account")
    return f"You're receiving this email because {why} on {host()}."


def _thread_notes(ctx: Context, note: Note) -> list[Note]:
    """Earlier notes of the note's thread (GitLab's `Note#references` after the noteable)."""
    if note.note_type is None:
        return []
    return list(
        thread_notes(ctx).filter(discussion_id=note.discussion_id, pk__lt=note.pk).order_by("pk")
    )


def _model_headers(ctx: Context) -> dict[str, str]:
    """GitLab's `X-GitLab-<Model>-ID/IID` (commits: the sha, no iid) and the state."""
    if ctx.is_commit:
        return {"X-GitLab-Commit-ID": str(ctx.target.sha)}
    prefix = f"X-GitLab-{ctx.nt.name}"
    return {
        f"{prefix}-ID": str(ctx.nt.id_of(ctx.target)),
        f"{prefix}-IID": str(ctx.nt.iid_of(ctx.target)),
        f"{prefix}-State": str(getattr(ctx.target, "state", "")),
    }


def build_message(ctx: Context, recipient: Recipient, actor: User | None) -> EmailMessage:
    """One recipient's email about the event."""
    target, project = ctx.target, ctx.project
    title = ctx.nt.title_of(target)
    subject = f"{project.name} | {one_line(title)} ({_reference(ctx)})"
    root_key = target.sha if ctx.is_commit else int(ctx.nt.id_of(target) or 0)
    root = message_id(ROUTE_KEYS.get(ctx.nt.name, "noteable"), root_key)
    headers: dict[str, Any] = {}
    if ctx.event.action == "open":
        headers["Message-ID"] = root
    elif ctx.note is not None:
        chain = [root] + [message_id("note", n.pk) for n in _thread_notes(ctx, ctx.note)]
        headers["Message-ID"] = message_id("note", ctx.note.pk)
        headers["In-Reply-To"] = chain[-1]
        headers["References"] = " ".join(chain)
        if ctx.note.note_type is not None:
            headers["X-GitLab-Discussion-ID"] = ctx.note.discussion_id
        subject = f"Re: {subject}"
    else:
        headers["Message-ID"] = f"<{secrets.token_hex(16)}@{host()}>"
        headers["In-Reply-To"] = root
        headers["References"] = root
        subject = f"Re: {subject}"
    headers.update(project_headers(project))
    headers.update(_model_headers(ctx))
    if recipient.reason and ctx.event.action not in NO_REASON_ACTIONS:
        headers["X-GitLab-NotificationReason"] = recipient.reason
    body = _body(ctx, recipient, actor) + _reason_line(recipient.reason) + "\n"
    to = recipient.setting.notification_email or recipient.user.email
    return EmailMessage(
        subject=subject.replace("\r", " ").replace("\n", " "),
        body=body,
        from_email=sender(actor),
        to=[to],
        headers=headers,
    )
