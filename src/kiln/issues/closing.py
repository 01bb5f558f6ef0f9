"""Closing issues by reference, as GitLab does: a commit pushed to the default branch or a
merged merge request that says "Closes #12" (GitLab's default `issue_closing_pattern`) closes
the issues it names, and a pushed commit that mentions an issue leaves a "mentioned in commit"
note on it. The writes of the issues themselves are `kiln.issues.services`'.
"""

from __future__ import annotations

import re

from django.db import transaction
from django.utils import timezone

from kiln.core.actor import Actor
from kiln.core.policy import can
from kiln.issues.models import Issue, IssueState
from kiln.issues.services import create_cross_reference_note, mark_closed, notify_issue_hooks
from kiln.projects.models import Project

# GitLab's default `issue_closing_pattern`, with `%{issue_ref}` for a reference or an URL.
_ISSUE_REF = r"(?:(?:[A-Za-z0-9_.\-]+/)*[A-Za-z0-9_.\-]+)?#\d+|https?://[^\s]+/-/issues/\d+"
_CLOSING_VERB = (
    r"\b(?:[Cc]los(?:e[sd]?|ing)|[Ff]ix(?:e[sd]|ing)?|[Rr]esolv(?:e[sd]?|ing)"
    r"|[Ii]mplement(?:s|ed|ing)?)"
)
CLOSING_PATTERN = re.compile(
    rf"{_CLOSING_VERB}(:?) +(?:(?:issues? +)?(?:{_ISSUE_REF})(?:(?: *,? +and +| *,? *)?)"
    rf"|(?:[A-Z][A-Z0-9_]+-\d+))+"
)
_REF_IN_MATCH = re.compile(
    r"(?P<url>https?://[^\s,]+/-/issues/\d+)"
    r"|(?:(?P<path>(?:[A-Za-z0-9_.\-]+/)*[A-Za-z0-9_.\-]+)?#(?P<iid>\d+))"
)
_URL_PATH = re.compile(r"/(?P<path>[^\s]+?)/-/issues/(?P<iid>\d+)\Z")


def closing_references(text: str, project: Project) -> list[tuple[Project, int]]:
    """(project, iid) of every issue a text says it closes ("Closes #3, fixes grp/p#4")."""
    from urllib.parse import urlsplit

    from kiln.markdown.references import absolute_project
    from kiln.projects.queries import find_project

    found: list[tuple[Project, int]] = []
    for match in CLOSING_PATTERN.finditer(text or ""):
        for ref in _REF_IN_MATCH.finditer(match.group(0)):
            if ref.group("url"):
                url = _URL_PATH.search(urlsplit(ref.group("url")).path)
                if url is None:
                    continue
                path, iid = url.group("path"), url.group("iid")
            else:
                path = absolute_project(ref.group("path"), project.full_path)
                iid = ref.group("iid")
            if len(iid) > 9:
                continue
            target = project if path in (None, project.full_path) else find_project(path or "")
            if target is not None:
                found.append((target, int(iid)))
    return list(dict.fromkeys(found))


def close_issues_mentioned(
    *,
    actor: Actor,
    project: Project,
    text: str,
    commit_sha: str = "",
    merge_request_id: int | None = None,
    merge_request_reference: str = "",
) -> list[Issue]:
    """Close the issues `text` says it closes ("Closes #12"), as GitLab does on a push to the
    default branch (a commit message) or on merging a merge request (its description).

    Only issues the actor may update are closed, and only when the issues' project allows
    autoclosing (`autoclose_referenced_issues`). The system note says how: "closed via commit
    abc12345" or "closed via merge request !4" (`merge_request_reference`). Runs in its own
    transaction (or the caller's).
    """
    closed: list[Issue] = []
    if actor.user is None:
        return closed
    for target_project, iid in closing_references(text, project):
        if not target_project.autoclose_referenced_issues:
            continue
        issue = (
            Issue.objects.select_related("project", "project__namespace", "milestone")
            .filter(project=target_project, iid=iid)
            .first()
        )
        if issue is None or issue.state != IssueState.OPENED:
            continue
        if not can(actor, "update_issue", issue):
            continue
        if commit_sha:
            ref = (
                commit_sha
                if target_project.pk == project.pk
                else f"{project.full_path}@{commit_sha}"
            )
            body = f"closed via commit {ref}"
        elif merge_request_reference:
            body = f"closed via merge request {merge_request_reference}"
        else:
            body = "closed"
        with transaction.atomic():
            locked = Issue.objects.select_for_update().get(pk=issue.pk)
            if locked.state != IssueState.OPENED:
                continue
            issue.state = locked.state
            now = timezone.now()
            mark_closed(
                actor,
                issue,
                now,
                body=body,
                source_commit=commit_sha,
                source_merge_request_id=merge_request_id,
            )
            issue.updated_at = now
            issue.save()
            notify_issue_hooks(actor, issue, "close")
        closed.append(issue)
    return closed


def cross_reference_from_commit(
    *, actor: Actor, project: Project, commit_sha: str, message: str
) -> None:
    """ "mentioned in commit abc12345" on the issues a pushed commit's message references."""
    from kiln.issues.references import referenced_issues

    for target in referenced_issues(actor, message, project=project):
        ref = commit_sha if target.project_id == project.pk else f"{project.full_path}@{commit_sha}"
        create_cross_reference_note(
            actor=actor,
            target=target,
            body=f"mentioned in commit {ref}",
            metadata={"type": "Commit", "project_id": project.pk, "sha": commit_sha},
        )
