"""Fixtures for planning tests, built through the services (no HTTP)."""

from __future__ import annotations

from typing import Any

from kiln.core.access import AccessLevel, Visibility
from kiln.core.actor import Actor
from kiln.issues.models import Issue
from kiln.projects.models import Project
from tests.projects import builders as b


def add_project_member(project: Project, user: Any, level: int, *, by: Any) -> None:
    from kiln.projects.members import add_member

    add_member(actor=Actor.for_user(by), source=project, user_ref=user.pk, access_level=level)


def project(owner: Any, *, visibility: Visibility = Visibility.PUBLIC, **fields: Any) -> Project:
    return b.project(owner, visibility=visibility, **fields)


def issue(project: Project, author: Any, title: str = "An issue", **fields: Any) -> Issue:
    from kiln.issues.services import create_issue

    return create_issue(actor=Actor.for_user(author), project=project, title=title, **fields)


def label(project: Project, owner: Any, title: str, color: str = "#ff0000") -> Any:
    from kiln.labels.services import create_label

    return create_label(actor=Actor.for_user(owner), parent=project, title=title, color=color)


def milestone(parent: Any, owner: Any, title: str, **fields: Any) -> Any:
    from kiln.milestones.services import create_milestone

    return create_milestone(actor=Actor.for_user(owner), parent=parent, title=title, **fields)


def note(issue: Issue, author: Any, body: str, **fields: Any) -> Any:
    from kiln.notes.services import create_note

    return create_note(actor=Actor.for_user(author), noteable=issue, body=body, **fields).note


GUEST = AccessLevel.GUEST
REPORTER = AccessLevel.REPORTER
DEVELOPER = AccessLevel.DEVELOPER
MAINTAINER = AccessLevel.MAINTAINER
