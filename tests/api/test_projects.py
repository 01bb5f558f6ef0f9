"""Projects through GitLab's API v4: python-gitlab for behaviour, `requests` for exact bodies.

Fixtures are built through the services (tests/projects/builders.py); requests go to the live
server. Every refused write also asserts that nothing was written.
"""

from __future__ import annotations

from typing import Any

import gitlab
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kiln.core.access import AccessLevel, Visibility
from kiln.projects.models import Project, ProjectMember, Star
from kiln.projects.sharing import share_project
from tests.conftest import ROOT_TOKEN
from tests.projects import builders as b

PUBLIC = Visibility.PUBLIC
INTERNAL = Visibility.INTERNAL
PRIVATE = Visibility.PRIVATE

# GitLab's BasicProjectDetails, in its order (anonymous callers and `simple=true`).
BASIC_KEYS = [
    "id",
    "description",
    "name",
    "name_with_namespace",
    "path",
    "path_with_namespace",
    "created_at",
    "default_branch",
    "tag_list",
    "topics",
    "ssh_url_to_repo",
    "http_url_to_repo",
    "web_url",
    "readme_url",
    "forks_count",
    "avatar_url",
    "star_count",
    "last_activity_at",
    "namespace",
]
# A few of the fields GitLab's `Project` entity adds for signed-in callers.
FULL_KEYS = {
    "_links",
    "packages_enabled",
    "empty_repo",
    "archived",
    "visibility",
    "resolve_outdated_diff_discussions",
    "container_expiration_policy",
    "issues_enabled",
    "merge_requests_enabled",
    "wiki_enabled",
    "jobs_enabled",
    "snippets_enabled",
    "container_registry_enabled",
    "can_create_merge_request_in",
    "issues_access_level",
    "repository_access_level",
    "merge_requests_access_level",
    "forking_access_level",
    "wiki_access_level",
    "builds_access_level",
    "snippets_access_level",
    "pages_access_level",
    "analytics_access_level",
    "container_registry_access_level",
    "security_and_compliance_access_level",
    "emails_disabled",
    "emails_enabled",
    "shared_runners_enabled",
    "lfs_enabled",
    "creator_id",
    "import_status",
    "open_issues_count",
    "description_html",
    "updated_at",
    "ci_config_path",
    "public_jobs",
    "shared_with_groups",
    "only_allow_merge_if_pipeline_succeeds",
    "allow_merge_on_skipped_pipeline",
    "request_access_enabled",
    "only_allow_merge_if_all_discussions_are_resolved",
    "remove_source_branch_after_merge",
    "printing_merge_request_link_enabled",
    "merge_method",
    "squash_option",
    "suggestion_commit_message",
    "autoclose_referenced_issues",
}


@pytest.fixture
def root(server_url: str) -> Any:
    """The seeded administrator (with the live server running)."""
    return b.root_user()


@pytest.fixture
def root_api(server_url: str) -> b.Api:
    return b.Api(server_url, ROOT_TOKEN)


def _client(server_url: str, token: str) -> gitlab.Gitlab:
    return gitlab.Gitlab(server_url, private_token=token, retry_transient_errors=False, timeout=30)


def _as(server_url: str, user: Any) -> tuple[gitlab.Gitlab, b.Api]:
    token = b.token(user)
    return _client(server_url, token), b.Api(server_url, token)


# --- create and read -------------------------------------------------------------------------


def test_create_in_personal_namespace_with_gitlab_defaults(gl: gitlab.Gitlab, root: Any) -> None:
    project = gl.projects.create({"name": "My Project", "initialize_with_readme": True})
    assert project.path == "my-project"
    assert project.path_with_namespace == "root/my-project"
    assert project.name_with_namespace == "Administrator / My Project"
    assert project.visibility == "private"
    assert project.default_branch == "main"
    # initialize_with_readme commits README.md before the answer, as GitLab does.
    assert project.empty_repo is False
    assert project.archived is False
    assert project.namespace == {
        "id": root.namespace.pk,
        "name": "Administrator",
        "path": "root",
        "kind": "user",
        "full_path": "root",
        "parent_id": None,
        "avatar_url": None,
        "web_url": f"{gl.url}/root",
    }
    assert project.owner["username"] == "root"
    assert project.web_url == f"{gl.url}/root/my-project"
    assert project.http_url_to_repo == f"{gl.url}/root/my-project.git"
    assert project.ssh_url_to_repo.endswith("root/my-project.git")
    assert set(project.attributes) >= FULL_KEYS
    assert "permissions" not in project.attributes
    stored = Project.objects.get(pk=project.id)
    # Accepted and kept for the repository issue; it has no effect yet.
    assert stored.initialize_with_readme is True
    # The owner of a personal project is its Owner member, as on GitLab.
    assert ProjectMember.objects.get(project=stored).access_level == AccessLevel.OWNER


def test_path_and_name_derive_from_each_other(root_api: b.Api, root: Any) -> None:
    only_path = root_api.post("/projects", json={"path": "only-path"}).json()
    assert (only_path["name"], only_path["path"]) == ("only-path", "only-path")
    only_name = root_api.post("/projects", json={"name": "Only Name Here"}).json()
    assert (only_name["name"], only_name["path"]) == ("Only Name Here", "only-name-here")
    neither = root_api.post("/projects", json={"description": "x"})
    assert neither.status_code == 400
    assert neither.json() == {
        "error": "name, path are missing, at least one parameter must be provided"
    }


def test_get_by_id_and_by_url_encoded_full_path(gl: gitlab.Gitlab, root: Any) -> None:
    grp = b.group(root, "grp")
    sub = b.group(root, "sub", parent=grp)
    created = b.project(root, "Proj", namespace=sub)
    assert gl.projects.get(created.pk).path_with_namespace == "grp/sub/proj"
    by_path = gl.projects.get("grp/sub/proj")
    assert by_path.id == created.pk
    # Paths are case-insensitive, as on GitLab.
    assert gl.projects.get("GRP/Sub/PROJ").id == created.pk
    assert by_path.permissions == {
        "project_access": None,
        "group_access": {"access_level": 50, "notification_level": 3},
    }


def test_head_project_and_head_list(gl: gitlab.Gitlab, root_api: b.Api, root: Any) -> None:
    created = b.project(root, "Headed")
    headers = gl.projects.head("root/headed")
    assert headers["Content-Type"].startswith("application/json")
    response = root_api.head(f"/projects/{created.pk}")
    assert response.status_code == 200
    assert response.content == b""
    listing = root_api.head("/projects")
    assert listing.status_code == 200
    assert listing.content == b""
    assert listing.headers["X-Total"] == "1"
    assert root_api.head("/projects/999999").status_code == 404


def test_anonymous_sees_public_only_with_the_basic_shape(server_url: str, root: Any) -> None:
    public = b.project(root, "Pub", visibility=PUBLIC)
    b.project(root, "Int", visibility=INTERNAL)
    private = b.project(root, "Priv", visibility=PRIVATE)
    anon = b.Api(server_url)
    listing = anon.get("/projects")
    assert [p["id"] for p in listing.json()] == [public.pk]
    assert list(listing.json()[0]) == BASIC_KEYS
    one = anon.get(f"/projects/{public.pk}").json()
    assert list(one) == BASIC_KEYS
    missing = anon.get(f"/projects/{private.pk}")
    assert missing.status_code == 404
    assert missing.json() == {"message": "404 Project Not Found"}


def test_signed_in_list_has_permissions_and_simple_is_basic(server_url: str, root: Any) -> None:
    owner = b.user("owner1")
    mine = b.project(owner, "Mine", visibility=PRIVATE)
    _, api = _as(server_url, owner)
    full = api.get("/projects").json()
    assert [p["id"] for p in full] == [mine.pk]
    assert full[0]["permissions"] == {
        "project_access": {"access_level": 50, "notification_level": 3},
        "group_access": None,
    }
    simple = api.get("/projects", params={"simple": "true"}).json()
    assert list(simple[0]) == BASIC_KEYS


def test_list_filters(server_url: str, root: Any) -> None:
    alice = b.user("alice")
    bob = b.user("bob")
    grp = b.group(root, "filters", visibility=PUBLIC)
    b.add_member(grp, alice, AccessLevel.DEVELOPER, by=root)
    own = b.project(alice, "Alpha Own", visibility=PRIVATE, topics=["Python", "web"])
    dev = b.project(root, "Beta Dev", namespace=grp, visibility=PUBLIC, topics=["python"])
    other = b.project(bob, "Gamma Other", visibility=PUBLIC, description="about alpha things")
    archived = b.project(bob, "Delta Archived", visibility=INTERNAL)
    Project.objects.filter(pk=archived.pk).update(archived=True)
    Star.objects.create(user=alice, project=other)
    _, api = _as(server_url, alice)

    def ids(**params: Any) -> list[int]:
        response = api.get("/projects", params=params)
        assert response.status_code == 200, response.text
        return sorted(p["id"] for p in response.json())

    everything = sorted([own.pk, dev.pk, other.pk, archived.pk])
    assert ids() == everything
    assert ids(owned="true") == [own.pk]
    assert ids(membership="true") == sorted([own.pk, dev.pk])
    assert ids(starred="true") == [other.pk]
    assert ids(min_access_level=40) == [own.pk]
    assert ids(min_access_level=30) == sorted([own.pk, dev.pk])
    assert ids(visibility="internal") == [archived.pk]
    assert ids(archived="true") == [archived.pk]
    assert ids(archived="false") == sorted([own.pk, dev.pk, other.pk])
    assert ids(topic="python") == sorted([own.pk, dev.pk])
    assert ids(topic="python,web") == [own.pk]
    # Search matches name, path and description; with namespaces, their paths too.
    assert ids(search="alpha") == sorted([own.pk, other.pk])
    assert ids(search="filters") == []
    assert ids(search="filters", search_namespaces="true") == [dev.pk]
    assert ids(id_after=dev.pk) == sorted([other.pk, archived.pk])
    assert ids(id_before=dev.pk) == [own.pk]
    by_name = api.get("/projects", params={"order_by": "name", "sort": "asc"}).json()
    assert [p["name"] for p in by_name] == [
        "Alpha Own",
        "Beta Dev",
        "Delta Archived",
        "Gamma Other",
    ]
    newest_first = [p["id"] for p in api.get("/projects").json()]
    assert newest_first == sorted(everything, reverse=True)
    bad = api.get("/projects", params={"visibility": "secret"})
    assert bad.status_code == 400
    assert bad.json() == {"error": "visibility does not have a valid value"}
    bad_order = api.get("/projects", params={"order_by": "password"})
    assert bad_order.json() == {"error": "order_by does not have a valid value"}


def test_external_users_see_public_and_their_own_only(server_url: str, root: Any) -> None:
    external = b.user("outsider", external=True)
    public = b.project(root, "Ext Pub", visibility=PUBLIC)
    b.project(root, "Ext Int", visibility=INTERNAL)
    member_of = b.project(root, "Ext Priv", visibility=PRIVATE)
    ProjectMember.objects.create(
        project=member_of, user=external, access_level=AccessLevel.REPORTER
    )
    _, api = _as(server_url, external)
    assert sorted(p["id"] for p in api.get("/projects").json()) == sorted([public.pk, member_of.pk])


# --- update -------------------------------------------------------------------------------------


def test_update_settings_rename_and_topics(gl: gitlab.Gitlab, root: Any) -> None:
    created = b.project(root, "Before")
    project = gl.projects.get(created.pk)
    project.description = "**bold** words"
    project.topics = ["One", "two", "one"]
    project.issues_enabled = False
    project.merge_method = "ff"
    project.wiki_access_level = "private"
    project.save()
    fresh = gl.projects.get(created.pk)
    assert fresh.description == "**bold** words"
    assert "<strong>bold</strong>" in fresh.description_html
    assert fresh.topics == ["One", "two"]
    assert fresh.tag_list == ["One", "two"]
    assert fresh.issues_access_level == "disabled"
    assert fresh.issues_enabled is False
    assert "issues" not in fresh._links
    assert fresh.merge_method == "ff"
    assert fresh.wiki_access_level == "private"
    # Rename: the new path answers, the old one is gone.
    fresh.name = "After"
    fresh.path = "after"
    fresh.save()
    assert gl.projects.get("root/after").id == created.pk
    with pytest.raises(gitlab.GitlabGetError) as missing:
        gl.projects.get("root/before")
    assert missing.value.response_code == 404


def test_update_needs_at_least_one_parameter(root_api: b.Api, root: Any) -> None:
    created = b.project(root, "Nothing")
    response = root_api.put(f"/projects/{created.pk}", json={})
    assert response.status_code == 400
    message = response.json()["error"]
    assert message.startswith("allow_merge_on_skipped_pipeline, analytics_access_level, ")
    assert message.endswith(" are missing, at least one parameter must be provided")


def test_visibility_is_owner_only_and_bounded_by_the_group(server_url: str, root: Any) -> None:
    maintainer = b.user("keeper")
    grp = b.group(root, "internal-grp", visibility=INTERNAL)
    b.add_member(grp, maintainer, AccessLevel.MAINTAINER, by=root)
    created = b.project(root, "Vis", namespace=grp, visibility=PRIVATE)
    _, api = _as(server_url, maintainer)
    # Maintainers may edit settings but not visibility (even to the same value), as GitLab.
    assert api.put(f"/projects/{created.pk}", json={"description": "ok"}).status_code == 200
    refused = api.put(f"/projects/{created.pk}", json={"visibility": "private"})
    assert refused.status_code == 403
    assert refused.json() == {"message": "403 Forbidden"}
    owner_api = b.Api(server_url, ROOT_TOKEN)
    too_open = owner_api.put(f"/projects/{created.pk}", json={"visibility": "public"})
    assert too_open.status_code == 400
    assert too_open.json() == {
        "message": {"visibility_level": ["public is not allowed in a internal group."]}
    }
    assert Project.objects.get(pk=created.pk).visibility_level == PRIVATE
    ok = owner_api.put(f"/projects/{created.pk}", json={"visibility": "internal"})
    assert ok.json()["visibility"] == "internal"


def test_admin_only_settings_are_ignored_for_others(server_url: str, root: Any) -> None:
    owner = b.user("ownsit")
    maintainer = b.user("keepsit")
    created = b.project(owner, "Limits")
    ProjectMember.objects.create(project=created, user=maintainer, access_level=40)
    _, api = _as(server_url, owner)
    response = api.put(
        f"/projects/{created.pk}", json={"max_artifacts_size": 5, "description": "d"}
    )
    assert response.status_code == 200
    assert response.json()["max_artifacts_size"] is None
    # The email setting is the Owner's: a maintainer's value is dropped, as GitLab drops it.
    _, maintainer_api = _as(server_url, maintainer)
    dropped = maintainer_api.put(f"/projects/{created.pk}", json={"emails_enabled": False})
    assert dropped.json()["emails_enabled"] is True
    kept = api.put(f"/projects/{created.pk}", json={"emails_disabled": True})
    assert kept.json()["emails_enabled"] is False
    admin = b.Api(server_url, ROOT_TOKEN).put(
        f"/projects/{created.pk}", json={"max_artifacts_size": 5}
    )
    assert admin.json()["max_artifacts_size"] == 5


def test_create_in_a_group_needs_create_projects(server_url: str, root: Any) -> None:
    developer = b.user("dev1")
    reporter = b.user("rep1")
    grp = b.group(root, "makers")
    b.add_member(grp, developer, AccessLevel.DEVELOPER, by=root)
    b.add_member(grp, reporter, AccessLevel.REPORTER, by=root)
    dev_gl, _ = _as(server_url, developer)
    made = dev_gl.projects.create({"name": "By Dev", "namespace_id": "makers"})
    assert made.namespace["full_path"] == "makers"
    _, rep_api = _as(server_url, reporter)
    before = b.counts()
    refused = rep_api.post("/projects", json={"name": "By Rep", "namespace_id": grp.pk})
    assert refused.status_code == 400
    assert refused.json() == {"message": {"namespace": ["is not valid"]}}
    unknown = rep_api.post("/projects", json={"name": "Nowhere", "namespace_id": 987654})
    assert unknown.json() == {"message": {"namespace": ["is not valid"]}}
    assert b.counts() == before


def test_create_for_another_user_is_admin_only(gl: gitlab.Gitlab, server_url: str) -> None:
    someone = b.user("someone")
    made = gl.users.get(someone.pk).projects.create({"name": "For Someone"})
    assert made.path_with_namespace == "someone/for-someone"
    stored = Project.objects.get(pk=made.id)
    assert stored.creator_id == someone.pk
    _, api = _as(server_url, b.user("notadmin"))
    before = b.counts()
    refused = api.post(f"/projects/user/{someone.pk}", json={"name": "Nope"})
    assert refused.status_code == 403
    assert refused.json() == {"message": "403 Forbidden"}
    response = b.Api(server_url, ROOT_TOKEN).post(f"/projects/user/{someone.pk}", json={})
    assert response.json() == {"error": "name is missing"}
    assert b.counts() == before


# --- duplicates and collisions -----------------------------------------------------------------


def test_duplicate_name_and_path_answer_as_gitlab(root_api: b.Api, root: Any) -> None:
    b.project(root, "Twin")
    before = b.counts()
    both = root_api.post("/projects", json={"name": "Twin"})
    assert both.status_code == 400
    assert both.json() == {
        "message": {
            "project_namespace.name": ["has already been taken"],
            "name": ["has already been taken"],
            "path": ["has already been taken"],
        }
    }
    # Paths compare case-insensitively.
    path_only = root_api.post("/projects", json={"name": "Other", "path": "TWIN"})
    assert path_only.json() == {"message": {"path": ["has already been taken"]}}
    assert b.counts() == before


def test_project_and_subgroup_share_one_url_space(root_api: b.Api, root: Any) -> None:
    parent = b.group(root, "space")
    b.group(root, "Child", parent=parent)
    before = b.counts()
    clash = root_api.post("/projects", json={"name": "x", "path": "child", "namespace_id": "space"})
    assert clash.status_code == 400
    assert clash.json() == {"message": {"path": ["has already been taken"]}}
    assert b.counts() == before
    # And the other way round: a subgroup may not take a project's path.
    b.project(root, "Taken", namespace=parent)
    subgroup = root_api.post("/groups", json={"name": "t", "path": "TAKEN", "parent_id": parent.pk})
    assert subgroup.status_code == 400
    assert "has already been taken" in str(subgroup.json())


# --- archive, star, delete ------------------------------------------------------------------------


def test_archive_and_unarchive(gl: gitlab.Gitlab, root: Any) -> None:
    created = b.project(root, "Shelf")
    project = gl.projects.get(created.pk)
    project.archive()
    assert project.archived is True
    assert gl.projects.get(created.pk).archived is True
    project.unarchive()
    assert project.archived is False


def test_star_unstar_and_starrers(server_url: str, root: Any) -> None:
    fan = b.user("fan", private_profile=False)
    shy = b.user("shy", private_profile=True)
    created = b.project(root, "Starry", visibility=PUBLIC)
    fan_gl, fan_api = _as(server_url, fan)
    project = fan_gl.projects.get(created.pk)
    project.star()
    assert project.star_count == 1
    again = fan_api.post(f"/projects/{created.pk}/star")
    assert again.status_code == 304
    _, shy_api = _as(server_url, shy)
    assert shy_api.post(f"/projects/{created.pk}/star").status_code == 201
    starrers = b.Api(server_url).get(f"/projects/{created.pk}/starrers").json()
    # A private profile is listed only to its owner and admins.
    assert [s["user"]["username"] for s in starrers] == ["fan"]
    assert set(starrers[0]) == {"starred_since", "user"}
    everyone = b.Api(server_url, ROOT_TOKEN).get(f"/projects/{created.pk}/starrers").json()
    assert [s["user"]["username"] for s in everyone] == ["fan", "shy"]
    starred = b.Api(server_url).get(f"/users/{fan.pk}/starred_projects").json()
    assert [p["id"] for p in starred] == [created.pk]
    project.unstar()
    assert project.star_count == 1
    not_starred = fan_api.post(f"/projects/{created.pk}/unstar")
    assert not_starred.status_code == 304
    assert Star.objects.filter(project=created).count() == 1


def test_delete_answers_202_then_404_and_reports_the_repository(
    gl: gitlab.Gitlab, root_api: b.Api, root: Any
) -> None:
    created = b.project(root, "Doomed")
    Star.objects.create(user=root, project=created)
    with b.destroyed_projects() as destroyed:
        response = root_api.delete(f"/projects/{created.pk}")
    assert response.status_code == 202
    assert response.json() == {"message": "202 Accepted"}
    assert [(d.id, d.repository_key, d.full_path) for d in destroyed] == [
        (created.pk, created.repository_key, "root/doomed")
    ]
    assert root_api.get(f"/projects/{created.pk}").status_code == 404
    assert not Star.objects.filter(project_id=created.pk).exists()
    assert not ProjectMember.objects.filter(project_id=created.pk).exists()
    with pytest.raises(gitlab.GitlabGetError):
        gl.projects.get("root/doomed")


def test_deleting_a_group_deletes_its_projects(root_api: b.Api, root: Any) -> None:
    grp = b.group(root, "gone")
    sub = b.group(root, "deeper", parent=grp)
    first = b.project(root, "In Group", namespace=grp)
    second = b.project(root, "In Sub", namespace=sub)
    with b.destroyed_projects() as destroyed:
        response = root_api.delete(f"/groups/{grp.pk}")
    assert response.status_code in (202, 204), response.text
    assert sorted(d.id for d in destroyed) == sorted([first.pk, second.pk])
    assert not Project.objects.filter(pk__in=[first.pk, second.pk]).exists()


# --- transfer ----------------------------------------------------------------------------------


def test_transfer_between_namespaces(gl: gitlab.Gitlab, root_api: b.Api, root: Any) -> None:
    target = b.group(root, "target", visibility=INTERNAL)
    created = b.project(root, "Mover", visibility=PUBLIC)
    project = gl.projects.get(created.pk)
    project.transfer("target")
    moved = gl.projects.get(created.pk)
    assert moved.path_with_namespace == "target/mover"
    # Visibility drops to the group's when it was higher.
    assert moved.visibility == "internal"
    same = root_api.put(f"/projects/{created.pk}/transfer", json={"namespace": target.pk})
    assert same.status_code == 400
    assert same.json() == {
        "message": 'Failed to transfer project {:new_namespace=>["Project is already in this '
        'namespace."]}'
    }
    b.project(root, "Mover")  # root/mover now exists again
    clash = root_api.put(f"/projects/{created.pk}/transfer", json={"namespace": "root"})
    assert clash.json() == {
        "message": 'Failed to transfer project {:new_namespace=>["Project with same name or '
        'path in target namespace already exists"]}'
    }
    nowhere = root_api.put(f"/projects/{created.pk}/transfer", json={"namespace": "no/such"})
    assert nowhere.status_code == 404
    assert nowhere.json() == {"message": "404 Namespace Not Found"}
    missing = root_api.put(f"/projects/{created.pk}/transfer", json={})
    assert missing.json() == {"error": "namespace is missing"}


def test_transfer_needs_owner_and_maintainer_in_target(server_url: str, root: Any) -> None:
    user = b.user("mover")
    developer_in = b.group(root, "devonly")
    b.add_member(developer_in, user, AccessLevel.DEVELOPER, by=root)
    created = b.project(user, "Mine To Move")
    _, api = _as(server_url, user)
    before = b.counts()
    refused = api.put(f"/projects/{created.pk}/transfer", json={"namespace": "devonly"})
    assert refused.status_code == 400
    assert refused.json() == {
        "message": "Failed to transfer project {:new_namespace=>[\"You don't have permission to "
        'transfer projects into that namespace."]}'
    }
    assert Project.objects.get(pk=created.pk).namespace_id == user.namespace.pk
    assert b.counts() == before


# --- sharing ---------------------------------------------------------------------------------


def test_share_and_unshare_with_a_group(server_url: str, root: Any) -> None:
    home = b.group(root, "home")
    friends = b.group(root, "friends")
    reader = b.user("reader")
    b.add_member(friends, reader, AccessLevel.DEVELOPER, by=root)
    created = b.project(root, "Shared", namespace=home, visibility=PRIVATE)
    _, reader_api = _as(server_url, reader)
    assert reader_api.get(f"/projects/{created.pk}").status_code == 404
    gl = _client(server_url, ROOT_TOKEN)
    project = gl.projects.get(created.pk)
    project.share(friends.pk, AccessLevel.REPORTER, expires_at="2999-01-01")
    link = project.manager.gitlab.http_get(f"/projects/{created.pk}")["shared_with_groups"]
    assert link == [
        {
            "group_id": friends.pk,
            "group_name": "Friends",
            "group_full_path": "friends",
            "group_access_level": 20,
            "expires_at": "2999-01-01",
        }
    ]
    # The share gives its members the lower of the two levels.
    seen = reader_api.get(f"/projects/{created.pk}").json()
    assert seen["id"] == created.pk
    assert reader_api.put(f"/projects/{created.pk}", json={"description": "x"}).status_code == 403
    root_api = b.Api(server_url, ROOT_TOKEN)
    again = root_api.post(
        f"/projects/{created.pk}/share", json={"group_id": friends.pk, "group_access": 30}
    )
    assert again.status_code == 409
    assert again.json() == {"message": "Group already shared with this group"}
    own = root_api.post(
        f"/projects/{created.pk}/share", json={"group_id": home.pk, "group_access": 30}
    )
    assert own.status_code == 409
    assert own.json() == {
        "message": "Project cannot be shared with the group it is in or one of its ancestors."
    }
    project.unshare(friends.pk)
    assert reader_api.get(f"/projects/{created.pk}").status_code == 404
    gone = root_api.delete(f"/projects/{created.pk}/share/{friends.pk}")
    assert gone.status_code == 404
    assert gone.json() == {"message": "404 Group Link Not Found"}


def test_share_refusals(server_url: str, root: Any) -> None:
    maintainer = b.user("maint")
    locked = b.group(root, "locked", share_with_group_lock=True)
    open_group = b.group(root, "opengrp")
    stranger_group = b.group(root, "stranger")
    b.add_member(open_group, maintainer, AccessLevel.MAINTAINER, by=root)
    in_locked = b.project(root, "In Locked", namespace=locked)
    in_open = b.project(root, "In Open", namespace=open_group)
    other = b.group(root, "othergrp")
    b.add_member(other, maintainer, AccessLevel.GUEST, by=root)
    root_api = b.Api(server_url, ROOT_TOKEN)
    _, api = _as(server_url, maintainer)
    before = b.counts()
    lock = root_api.post(
        f"/projects/{in_locked.pk}/share", json={"group_id": other.pk, "group_access": 30}
    )
    assert lock.status_code == 400
    assert lock.json() == {"message": "The project sharing with group is disabled"}
    not_member = api.post(
        f"/projects/{in_open.pk}/share", json={"group_id": stranger_group.pk, "group_access": 30}
    )
    assert not_member.status_code == 404
    assert not_member.json() == {"message": "Not Found"}
    owner_level = api.post(
        f"/projects/{in_open.pk}/share", json={"group_id": other.pk, "group_access": 50}
    )
    assert owner_level.status_code == 403
    bad_level = api.post(
        f"/projects/{in_open.pk}/share", json={"group_id": other.pk, "group_access": 35}
    )
    assert bad_level.json() == {"error": "group_access does not have a valid value"}
    nothing = api.post(f"/projects/{in_open.pk}/share", json={})
    assert nothing.json() == {"error": "group_id is missing, group_access is missing"}
    assert b.counts() == before
    ok = api.post(f"/projects/{in_open.pk}/share", json={"group_id": other.pk, "group_access": 30})
    assert ok.status_code == 201
    assert ok.json() == {
        "id": ok.json()["id"],
        "project_id": in_open.pk,
        "group_id": other.pk,
        "group_access": 30,
        "expires_at": None,
    }


# --- lists under users and groups -----------------------------------------------------------------


def test_user_projects_and_group_projects(server_url: str, root: Any) -> None:
    carol = b.user("carol")
    public = b.project(carol, "Carol Pub", visibility=PUBLIC)
    b.project(carol, "Carol Priv", visibility=PRIVATE)
    anon = b.Api(server_url)
    assert [p["id"] for p in anon.get("/users/carol/projects").json()] == [public.pk]
    assert anon.get("/users/nobody-here/projects").json() == {"message": "404 User Not Found"}

    top = b.group(root, "top")
    child = b.group(root, "child", parent=top)
    sharer = b.group(root, "sharer")
    in_top = b.project(root, "In Top", namespace=top, visibility=PUBLIC)
    in_child = b.project(root, "In Child", namespace=child, visibility=PUBLIC)
    shared_in = b.project(root, "Shared In", namespace=sharer, visibility=PUBLIC)
    b.Api(server_url, ROOT_TOKEN).post(
        f"/projects/{shared_in.pk}/share", json={"group_id": top.pk, "group_access": 30}
    )

    def ids(**params: Any) -> list[int]:
        response = anon.get(f"/groups/{top.pk}/projects", params=params)
        assert response.status_code == 200, response.text
        return sorted(p["id"] for p in response.json())

    assert ids() == sorted([in_top.pk, shared_in.pk])
    assert ids(with_shared="false") == [in_top.pk]
    assert ids(include_subgroups="true", with_shared="false") == sorted([in_top.pk, in_child.pk])
    assert ids(search="child", include_subgroups="true") == [in_child.pk]
    group_list = anon.get(f"/groups/{top.pk}/projects").json()
    # GitLab presents group projects with the `Project` entity, without `permissions`.
    assert "visibility" in group_list[0]
    assert "permissions" not in group_list[0]
    simple = anon.get(f"/groups/{top.pk}/projects", params={"simple": "true"}).json()
    assert list(simple[0]) == BASIC_KEYS
    gl = _client(server_url, ROOT_TOKEN)
    via_client = gl.groups.get(top.pk).projects.list(get_all=True)
    assert sorted(p.id for p in via_client) == sorted([in_top.pk, shared_in.pk])


# --- query budgets -------------------------------------------------------------------------------


def _count_queries(path: str, token: str) -> int:
    client = Client()
    client.get(path, HTTP_PRIVATE_TOKEN=token)  # warm up: token last use, user activity
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, HTTP_PRIVATE_TOKEN=token)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def test_list_query_budgets(root: Any) -> None:
    """Every project list makes the same number of queries for 2 rows as for 20 (each list
    holds more than 20 rows, every row shared with a group, so both pages take every path)."""
    owner = b.user("budget")
    grp = b.group(root, "budget-grp")
    share_to = b.group(root, "budget-share")
    b.add_member(grp, owner, AccessLevel.DEVELOPER, by=root)
    b.add_member(share_to, owner, AccessLevel.GUEST, by=root)
    for i in range(44):
        namespace = grp if i % 2 == 0 else None
        project = b.project(
            owner if namespace is None else root,
            f"P{i}",
            namespace=namespace,
            visibility=PUBLIC if i % 4 else PRIVATE,
            topics=[f"t{i}", "shared"],
        )
        Star.objects.create(user=owner, project=project)
        share_project(actor=b.actor(root), project=project, group_id=share_to.pk, group_access=30)
    first = Project.objects.get(name="P0")
    for _ in range(22):
        Star.objects.create(user=b.user(), project=first)
    token = b.token(owner)
    budgets = {}
    for path in [
        "/api/v4/projects",
        "/api/v4/projects?simple=true",
        "/api/v4/projects?membership=true&statistics=true",
        f"/api/v4/users/{owner.pk}/projects",
        f"/api/v4/users/{owner.pk}/starred_projects",
        f"/api/v4/groups/{grp.pk}/projects?include_subgroups=true",
        f"/api/v4/projects/{first.pk}/starrers",
    ]:
        sep = "&" if "?" in path else "?"
        small = _count_queries(f"{path}{sep}per_page=2", token)
        large = _count_queries(f"{path}{sep}per_page=20", token)
        budgets[path] = (small, large)
    assert all(small == large <= 20 for small, large in budgets.values()), budgets


# --- hostile input -------------------------------------------------------------------------------


HOSTILE_CREATES: list[tuple[dict[str, Any], Any]] = [
    (
        {"name": "x", "path": "../etc"},
        {"message": {"path": [b.PROJECT_PATH_MESSAGE]}},
    ),
    (
        {"name": "x", "path": "%2e%2e"},
        {"message": {"path": [b.PROJECT_PATH_MESSAGE]}},
    ),
    ({"name": "x", "path": ".."}, {"message": {"path": [b.PROJECT_PATH_MESSAGE]}}),
    (
        {"name": "x", "path": "/etc/passwd"},
        {"message": {"path": [b.PROJECT_PATH_MESSAGE]}},
    ),
    (
        {"name": "x", "path": "tree"},
        {"message": {"path": ["tree is a reserved name"]}},
    ),
    (
        {"name": "x", "path": "-"},
        {"message": {"path": [b.PROJECT_PATH_MESSAGE, "- is a reserved name"]}},
    ),
    (
        {"name": "x", "path": "blob"},
        {"message": {"path": ["blob is a reserved name"]}},
    ),
    (
        {"name": "n" * 256, "path": "long-name"},
        {"message": {"name": ["is too long (maximum is 255 characters)"]}},
    ),
    (
        {"name": "x", "path": "p" * 256},
        {"message": {"path": ["is too long (maximum is 255 characters)"]}},
    ),
    (
        {"name": "evil\u202egnp.exe", "path": "bidi"},
        {"message": {"name": ["cannot contain control or invisible formatting characters"]}},
    ),
    (
        {"name": "bell\x07", "path": "bell"},
        {"message": {"name": ["cannot contain control or invisible formatting characters"]}},
    ),
    (
        {"name": "x", "visibility": "secret"},
        {"error": "visibility does not have a valid value"},
    ),
    ({"name": "x", "namespace_id": []}, {"error": "namespace_id is invalid"}),
    (
        {"name": "x", "merge_method": "yolo"},
        {"error": "merge_method does not have a valid value"},
    ),
    ({"name": "x", "issues_enabled": "maybe"}, {"error": "issues_enabled is invalid"}),
    (
        {"name": "x", "description": "d" * 2001},
        {"message": {"description": ["is too long (maximum is 2000 characters)"]}},
    ),
    (
        {"name": "x", "default_branch": "-bad..ref"},
        {"message": {"default_branch": ["is invalid"]}},
    ),
    (
        {"name": "x", "ci_config_path": "../../secret.yml"},
        {"message": {"ci_config_path": ["cannot include leading slash or directory traversal."]}},
    ),
]


def test_hostile_create_input(root_api: b.Api, subtests: Any) -> None:
    """Each hostile payload gets GitLab's 400 body and writes nothing."""
    for payload, body in HOSTILE_CREATES:
        with subtests.test(msg=repr(payload)[:80]):
            before = b.counts()
            response = root_api.post("/projects", json=payload)
            assert response.status_code == 400, response.text
            assert response.json() == body
            assert b.counts() == before


def test_malformed_json_and_wrong_body_type(root_api: b.Api, root: Any) -> None:
    before = b.counts()
    broken = root_api.post(
        "/projects", data=b'{"name": "x"', headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    assert broken.json() == {"message": "400 Bad request - the request body is not valid JSON"}
    listed = root_api.post("/projects", json=["name", "x"])
    assert listed.status_code == 400
    assert b.counts() == before


HOSTILE_IDS: list[tuple[str, int, Any]] = [
    ("..%2F..%2Fetc", 404, {"message": "404 Project Not Found"}),
    ("%2e%2e", 404, {"message": "404 Project Not Found"}),
    ("..%2Fpasswd", 404, {"message": "404 Project Not Found"}),
    ("root%2F..%2F..", 404, {"message": "404 Project Not Found"}),
    ("%2Fetc%2Fpasswd", 404, {"message": "404 Project Not Found"}),
    ("a%2F%2Fb", 404, {"message": "404 Project Not Found"}),
    ("99999999999999999999", 404, {"message": "404 Project Not Found"}),
    ("%00", 400, {"error": "id is invalid"}),
    ("%ff", 400, {"error": "id is invalid"}),
]


def test_hostile_ids(root_api: b.Api, root: Any, subtests: Any) -> None:
    """`..`, encoded slashes, NUL and bad UTF-8 in `:id`: never a project, nothing written."""
    b.project(root, "Exists")
    for raw_id, status, body in HOSTILE_IDS:
        with subtests.test(msg=raw_id):
            response = root_api.get(f"/projects/{raw_id}")
            assert response.status_code == status
            assert response.json() == body
            before = b.counts()
            put = root_api.put(f"/projects/{raw_id}", json={"description": "x"})
            assert put.status_code == status
            assert root_api.delete(f"/projects/{raw_id}").status_code == status
            assert b.counts() == before


def test_hostile_rename_writes_nothing(root_api: b.Api, root: Any) -> None:
    created = b.project(root, "Stable")
    b.project(root, "Neighbour")
    for payload, body in [
        ({"path": "../x"}, {"message": {"path": [b.PROJECT_PATH_MESSAGE]}}),
        ({"path": "neighbour"}, {"message": {"path": ["has already been taken"]}}),
        (
            {"name": "Neighbour"},
            {
                "message": {
                    "project_namespace.name": ["has already been taken"],
                    "name": ["has already been taken"],
                }
            },
        ),
        ({"visibility": "secret"}, {"error": "visibility does not have a valid value"}),
    ]:
        response = root_api.put(f"/projects/{created.pk}", json=payload)
        assert response.status_code == 400, payload
        assert response.json() == body, payload
    stored = Project.objects.get(pk=created.pk)
    assert (stored.name, stored.path, stored.visibility_level) == ("Stable", "stable", PRIVATE)


def test_read_api_token_cannot_write(server_url: str, root: Any) -> None:
    reader = b.user("readonly")
    created = b.project(reader, "Read Only")
    api = b.Api(server_url, b.token(reader, scopes=("read_api",)))
    assert api.get(f"/projects/{created.pk}").status_code == 200
    before = b.counts()
    for method, path, payload in [
        ("POST", "/projects", {"name": "new"}),
        ("PUT", f"/projects/{created.pk}", {"description": "x"}),
        ("DELETE", f"/projects/{created.pk}", None),
        ("POST", f"/projects/{created.pk}/star", None),
        ("POST", f"/projects/{created.pk}/archive", None),
    ]:
        response = api.request(method, path, json=payload)
        assert response.status_code == 403, (method, path)
        assert response.json()["error"] == "insufficient_scope"
    assert b.counts() == before
    assert Project.objects.get(pk=created.pk).description == ""


def test_anonymous_writes_are_401_before_validation(server_url: str, root: Any) -> None:
    created = b.project(root, "Anon Target", visibility=PUBLIC)
    anon = b.Api(server_url)
    before = b.counts()
    for method, path, payload in [
        ("POST", "/projects", {"name": "x", "visibility": "secret"}),
        ("PUT", f"/projects/{created.pk}", {"description": "x"}),
        ("POST", f"/projects/{created.pk}/star", None),
        ("DELETE", f"/projects/{created.pk}", None),
    ]:
        response = anon.request(method, path, json=payload)
        assert response.status_code == 401, (method, path)
        assert response.json() == {"message": "401 Unauthorized"}
    assert b.counts() == before


def test_keyset_needs_order_by_id(root_api: b.Api, root: Any) -> None:
    response = root_api.get("/projects", params={"pagination": "keyset", "order_by": "name"})
    assert response.status_code == 405
    assert response.json() == {
        "error": "Keyset pagination is not yet available for this type of request"
    }


def test_instance_defaults_and_restricted_visibility(server_url: str, root_api: b.Api) -> None:
    settings = root_api.put(
        "/application/settings",
        json={
            "default_project_visibility": "internal",
            "restricted_visibility_levels": ["public"],
            "default_branch_name": "trunk",
        },
    )
    assert settings.status_code == 200, settings.text
    _, api = _as(server_url, b.user("restricted"))
    made = api.post("/projects", json={"name": "Defaults"}).json()
    assert (made["visibility"], made["default_branch"]) == ("internal", "trunk")
    before = b.counts()
    refused = api.post("/projects", json={"name": "Loud", "visibility": "public"})
    assert refused.status_code == 400
    assert refused.json() == {
        "message": {"visibility_level": ["public has been restricted by your GitLab administrator"]}
    }
    assert b.counts() == before
    # Administrators are not bound by the restriction.
    assert root_api.post("/projects", json={"name": "Loud", "visibility": "public"}).ok
