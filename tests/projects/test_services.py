"""The projects package below the API: effective access, the visibility rule, and the hooks it
fills for namespaces and offers to the git storage."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from kiln.core.access import AccessLevel, Visibility
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden
from kiln.namespaces import hooks
from kiln.namespaces.models import GroupMember
from kiln.projects import queries, services, sharing, transfer
from kiln.projects.access import project_access_level, project_access_levels
from kiln.projects.models import Project, ProjectGroupLink, ProjectMember
from tests.projects import builders as b


@pytest.fixture
def admin(db: None) -> Any:
    return b.user("boss", is_admin=True)


def test_effective_access_from_every_source(admin: Any) -> None:
    """Direct, inherited (highest wins), shared (capped at the share), personal owner;
    expired memberships count for nothing. The batch and the single answer agree, and
    `member_projects_q` selects exactly the projects at each minimum level."""
    me = b.user("me")
    top = b.group(admin, "top")
    sub = b.group(admin, "sub", parent=top)
    partner = b.group(admin, "partner")
    partner_child = b.group(admin, "partner-child", parent=partner)
    b.add_member(top, me, AccessLevel.REPORTER, by=admin)
    b.add_member(sub, me, AccessLevel.DEVELOPER, by=admin)
    b.add_member(partner, me, AccessLevel.MAINTAINER, by=admin)
    inherited = b.project(admin, "Inherited", namespace=sub)
    direct = b.project(admin, "Direct", namespace=b.group(admin, "elsewhere"))
    ProjectMember.objects.create(project=direct, user=me, access_level=AccessLevel.MAINTAINER)
    shared = b.project(admin, "Shared", namespace=b.group(admin, "third"))
    ProjectGroupLink.objects.create(
        project=shared, group=partner_child, group_access=AccessLevel.DEVELOPER
    )
    expired = b.project(admin, "Expired", namespace=b.group(admin, "fourth"))
    ProjectMember.objects.create(
        project=expired,
        user=me,
        access_level=AccessLevel.OWNER,
        expires_at=timezone.now().date() - dt.timedelta(days=1),
    )
    personal = b.project(me, "Personal")
    stranger = b.project(admin, "Stranger")

    expected = {
        inherited.pk: AccessLevel.DEVELOPER,
        direct.pk: AccessLevel.MAINTAINER,
        shared.pk: AccessLevel.DEVELOPER,  # min(maintainer via ancestor, share at developer)
        expired.pk: 0,
        personal.pk: AccessLevel.OWNER,
        stranger.pk: 0,
    }
    projects = list(Project.objects.select_related("namespace").filter(pk__in=expected))
    assert project_access_levels(Actor.for_user(me), projects) == expected
    for project in projects:
        assert project_access_level(Actor.for_user(me), project) == expected[project.pk]
    for level in (AccessLevel.GUEST, AccessLevel.DEVELOPER, AccessLevel.MAINTAINER, 50):
        chosen = set(
            Project.objects.filter(queries.member_projects_q(Actor.for_user(me), level))
            .distinct()
            .values_list("pk", flat=True)
        )
        assert chosen == {pk for pk, got in expected.items() if got >= level}, level


def test_a_guest_of_a_shared_group_is_not_a_developer(admin: Any) -> None:
    me = b.user("guesty")
    partner = b.group(admin, "partner2")
    b.add_member(partner, me, AccessLevel.GUEST, by=admin)
    project = b.project(admin, "Shared At Dev", namespace=b.group(admin, "home2"))
    ProjectGroupLink.objects.create(
        project=project, group=partner, group_access=AccessLevel.DEVELOPER
    )
    actor = Actor.for_user(me)
    at_developer = Project.objects.filter(queries.member_projects_q(actor, AccessLevel.DEVELOPER))
    assert not at_developer.exists()
    assert project_access_level(Actor.for_user(me), project) == AccessLevel.GUEST


def test_visibility_rule(admin: Any) -> None:
    public = b.project(admin, "Pub", visibility=Visibility.PUBLIC)
    internal = b.project(admin, "Int", visibility=Visibility.INTERNAL)
    private = b.project(admin, "Priv", visibility=Visibility.PRIVATE)

    def seen(actor: Actor) -> set[int]:
        return set(queries.list_projects_for(actor).values_list("pk", flat=True))

    assert seen(Actor.anonymous()) == {public.pk}
    assert seen(Actor.for_user(b.user("plain"))) == {public.pk, internal.pk}
    assert seen(Actor.for_user(b.user("ext", external=True))) == {public.pk}
    assert seen(Actor.for_user(admin)) == {public.pk, internal.pk, private.pk}


def test_find_project_refuses_odd_references(admin: Any) -> None:
    b.project(admin, "Real")
    for ref in ["", "/", "boss/", "/real", "..", "boss/../real", "9" * 40, "-1", "١٢"]:
        assert queries.find_project(ref) is None, ref
    assert queries.find_project("BOSS/REAL") is not None


def test_services_answer_403_for_visible_projects(admin: Any) -> None:
    project = b.project(admin, "Visible", visibility=Visibility.PUBLIC)
    reader = Actor.for_user(b.user("reader"))
    for call in (
        lambda: services.update_project(actor=reader, project=project, description="x"),
        lambda: services.archive_project(actor=reader, project=project),
        lambda: services.delete_project(actor=reader, project=project),
        lambda: transfer.transfer_project(actor=reader, project=project, namespace="reader"),
        lambda: sharing.share_project(actor=reader, project=project, group_id=1, group_access=30),
    ):
        with pytest.raises(Forbidden):
            call()
    assert Project.objects.get(pk=project.pk).description == ""


def test_namespace_hooks(admin: Any) -> None:
    grp = b.group(admin, "hooked", visibility=Visibility.PUBLIC)
    b.project(admin, "Alpha", namespace=grp, visibility=Visibility.INTERNAL)
    b.project(admin, "Beta", namespace=grp, visibility=Visibility.PUBLIC)
    empty = b.group(admin, "empty")
    assert hooks.child_path_claimed(grp.pk, "ALPHA")
    assert not hooks.child_path_claimed(grp.pk, "gamma")
    assert hooks.max_content_visibility([grp.pk]) == Visibility.PUBLIC
    assert hooks.max_content_visibility([empty.pk]) is None
    assert hooks.count_contents([grp.pk, empty.pk]) == {grp.pk: 2}
    with transaction.atomic():
        hooks.cap_content_visibility([grp.pk], Visibility.PRIVATE)
    levels = set(Project.objects.filter(namespace=grp).values_list("visibility_level", flat=True))
    assert levels == {Visibility.PRIVATE}


@pytest.mark.django_db(transaction=True)
def test_destroy_hooks_run_after_commit_only() -> None:
    boss = b.user("boss2", is_admin=True)
    grp = b.group(boss, "doomed")
    inside = b.project(boss, "Inside", namespace=grp)
    kept = b.project(boss, "Kept")

    def delete_then_roll_back() -> None:
        with transaction.atomic():
            services.delete_project(actor=Actor.for_user(boss), project=kept)
            raise RuntimeError("roll back")

    with b.destroyed_projects() as destroyed:
        with pytest.raises(RuntimeError):
            delete_then_roll_back()
        assert destroyed == []
        assert Project.objects.filter(pk=kept.pk).exists()
        with transaction.atomic():
            hooks.run_before_namespace_destroy([grp.pk])
            assert destroyed == []  # not before the commit
        assert [d.id for d in destroyed] == [inside.pk]
        assert destroyed[0].full_path == "doomed/inside"
        assert destroyed[0].repository_key == inside.repository_key
    assert not Project.objects.filter(pk=inside.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_a_failing_destroy_hook_does_not_stop_the_others(caplog: Any) -> None:
    boss = b.user("boss3", is_admin=True)
    project = b.project(boss, "Gone")

    def broken(_: Any) -> None:
        raise OSError("disk on fire")

    services.after_project_destroyed.register(broken)
    try:
        with b.destroyed_projects() as destroyed:
            services.delete_project(actor=Actor.for_user(boss), project=project)
    finally:
        services.after_project_destroyed.unregister(broken)
    assert [d.id for d in destroyed] == [project.pk]
    assert "after_project_destroyed hook failed" in caplog.text


def test_group_member_removal_keeps_project_rows(admin: Any) -> None:
    """Removing a group (its projects go first) leaves no membership pointing anywhere."""
    grp = b.group(admin, "members-go")
    project = b.project(admin, "P", namespace=grp)
    ProjectMember.objects.create(project=project, user=b.user("m"), access_level=30)
    with transaction.atomic():
        hooks.run_before_namespace_destroy([grp.pk])
    assert not ProjectMember.objects.filter(project_id=project.pk).exists()
    assert GroupMember.objects.filter(group=grp).exists()  # the group's own rows stay
