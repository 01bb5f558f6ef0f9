"""The one-project check (`can_read_merge_requests`, used by project lists) and the filter for
many projects (`readable_projects_q`, used by lists across projects) agree for every reader."""

from __future__ import annotations

import pytest

from kiln.core.access import AccessLevel, Visibility
from kiln.core.actor import Actor
from kiln.merge_requests.policies import can_read_merge_requests, readable_projects_q
from kiln.projects.models import Project
from kiln.projects.services import update_project
from tests.issues import builders as ib
from tests.projects import builders as b


@pytest.mark.django_db
def test_project_check_matches_the_filter() -> None:
    owner = b.user("mrrowner")
    group = b.group(owner, visibility=Visibility.PUBLIC)
    inherited = b.user("mrrinherit")
    b.add_member(group, inherited, AccessLevel.REPORTER, by=owner)
    guest, reporter = b.user("mrrguest"), b.user("mrrreporter")
    external = b.user("mrrexternal", external=True)
    projects = []
    for visibility in (Visibility.PUBLIC, Visibility.INTERNAL, Visibility.PRIVATE):
        for repository in ("enabled", "private", "disabled"):
            for feature in ("enabled", "private", "disabled"):
                if repository == "disabled" and feature != "disabled":
                    continue  # GitLab refuses merge requests without a repository
                project = b.project(owner, namespace=group, visibility=visibility)
                ib.add_project_member(project, guest, ib.GUEST, by=owner)
                ib.add_project_member(project, reporter, ib.REPORTER, by=owner)
                settings = {
                    "merge_requests_access_level": feature,
                    "repository_access_level": repository,
                }
                update_project(actor=Actor.for_user(owner), project=project, settings=settings)
                projects.append(project.pk)
    actors = [Actor.anonymous(), Actor.for_user(b.user("mrradmin", is_admin=True))]
    actors += [Actor.for_user(u) for u in (inherited, guest, reporter, external, owner)]
    readable = 0
    for actor in actors:
        allowed = set(
            Project.objects.filter(
                readable_projects_q(actor, prefix=""), pk__in=projects
            ).values_list("pk", flat=True)
        )
        for project in Project.objects.filter(pk__in=projects).select_related("namespace"):
            expected = project.pk in allowed
            assert can_read_merge_requests(actor, project) == expected, (
                actor,
                project.visibility_level,
                project.repository_access_level,
                project.merge_requests_access_level,
            )
            readable += expected
    assert 0 < readable < len(actors) * len(projects)
