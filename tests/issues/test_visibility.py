"""`visible_in_project_q` (one project's issues, decided in Python) against the general rule
`visible_issues_q` (subqueries over every project): the same issues for every kind of reader."""

from __future__ import annotations

from typing import Any

import pytest

from kiln.core.access import AccessLevel, Visibility
from kiln.core.actor import Actor
from kiln.issues.models import Issue
from kiln.issues.queries import visible_in_project_q, visible_issues_q
from kiln.projects.services import update_project
from tests.issues import builders as ib
from tests.projects import builders as b


@pytest.mark.django_db
def test_project_rule_matches_the_general_rule() -> None:
    owner = b.user("visowner")
    admin = b.user("visadmin", is_admin=True)
    group = b.group(owner, visibility=Visibility.PUBLIC)
    inherited = b.user("visinherit")
    b.add_member(group, inherited, AccessLevel.REPORTER, by=owner)
    readers: dict[str, Any] = {
        name: b.user(f"vis{name}") for name in ("guest", "planner", "author", "assignee", "none")
    }
    projects = []
    for visibility in (Visibility.PUBLIC, Visibility.INTERNAL, Visibility.PRIVATE):
        for feature in ("enabled", "private", "disabled"):
            project = b.project(owner, namespace=group, visibility=visibility)
            ib.add_project_member(project, readers["guest"], ib.GUEST, by=owner)
            ib.add_project_member(project, readers["planner"], AccessLevel.PLANNER, by=owner)
            ib.add_project_member(project, readers["author"], ib.GUEST, by=owner)
            ib.add_project_member(project, readers["assignee"], ib.GUEST, by=owner)
            ib.issue(project, owner, "open")
            ib.issue(project, owner, "secret", confidential=True)
            ib.issue(project, readers["author"], "own secret", confidential=True)
            ib.issue(
                project,
                owner,
                "assigned secret",
                confidential=True,
                assignee_ids=[readers["assignee"].pk],
            )
            update_project(
                actor=Actor.for_user(owner),
                project=project,
                settings={"issues_access_level": feature},
            )
            projects.append(project)
    actors = [Actor.anonymous(), Actor.for_user(admin), Actor.for_user(inherited)]
    actors += [Actor.for_user(user) for user in readers.values()]
    compared = 0
    for actor in actors:
        for project in projects:
            project.refresh_from_db()
            general = set(
                Issue.objects.filter(visible_issues_q(actor), project_id=project.pk).values_list(
                    "title", flat=True
                )
            )
            scoped = set(
                Issue.objects.filter(visible_in_project_q(actor, project)).values_list(
                    "title", flat=True
                )
            )
            assert scoped == general, (actor, project.visibility_level, project.issues_access_level)
            compared += len(general)
    # The matrix is not vacuous: some readers see some issues, including confidential ones.
    assert compared > 20
