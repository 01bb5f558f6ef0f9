"""The API's hot path (`GET /projects/:id`, `GET /projects`): query budgets, and what the
per-request memo must never do — outlive the request (a revoked token or a removed membership
takes effect on the very next request)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from kiln.accounts.tokens import presented_token
from kiln.core.access import AccessLevel, Visibility
from kiln.core.actor import Actor
from kiln.projects import queries
from kiln.projects.access import project_access_levels
from kiln.projects.models import Project, ProjectMember
from kiln.projects.sharing import share_project
from tests.projects import builders as b

PUBLIC, PRIVATE = Visibility.PUBLIC, Visibility.PRIVATE

# What one request may cost (SQLite and PostgreSQL alike). A signed-in `GET /projects/:id`:
# the token and its user, the project and its namespace, its topics, the caller's group
# memberships, direct membership and the project's shares.
ONE_PROJECT_BUDGET = 8
# A signed-in `GET /projects`: the token and its user; the caller's project memberships, group
# memberships, the namespaces and shares they reach; the page's ids, the total, the rows and
# their namespaces; topics, shares and the owners of personal projects on the page.
PROJECT_LIST_BUDGET = 13


@pytest.fixture
def world(seeded: None) -> dict[str, Any]:
    """A member of a group (and of a subgroup below it) with private projects reached every
    way a project can be reached: inherited, directly, through a share, as its owner."""
    root = b.root_user()
    member = b.user("member")
    grp = b.group(root, "hot", visibility=PUBLIC)
    sub = b.group(root, "deep", parent=grp, visibility=PUBLIC)
    other = b.group(root, "other", visibility=PUBLIC)
    b.add_member(grp, member, AccessLevel.DEVELOPER, by=root)
    b.add_member(other, member, AccessLevel.REPORTER, by=root)
    projects = [
        b.project(root, f"Hot {i}", namespace=sub if i % 2 else grp, topics=[f"t{i}", "hot"])
        for i in range(24)
    ]
    outside = b.group(root, "outside", visibility=PRIVATE)
    shared = b.project(root, "Shared", namespace=outside)
    share_project(
        actor=b.actor(root), project=shared, group_id=other.pk, group_access=AccessLevel.GUEST
    )
    direct = b.project(root, "Direct", namespace=outside)
    ProjectMember.objects.create(project=direct, user=member, access_level=AccessLevel.MAINTAINER)
    own = b.project(member, "Own", visibility=PRIVATE)
    return {
        "root": root,
        "member": member,
        "token": b.token(member),
        "projects": projects,
        "shared": shared,
        "direct": direct,
        "own": own,
        "group": grp,
    }


def _get(path: str, token: str | None) -> tuple[Any, list[str]]:
    """One request through the whole stack in this thread, with the SQL it ran."""
    # RAW_URI: the raw request target, as gunicorn passes it (so `%2F` stays encoded).
    headers = {"RAW_URI": path, **({"HTTP_PRIVATE_TOKEN": token} if token else {})}
    client = Client()
    client.get(path, **headers)  # once before: the token's last use is recorded once a minute
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, **headers)
    return response, [q["sql"] for q in ctx.captured_queries]


def _no_repeats(sql: list[str]) -> None:
    """Each statement once per request: what one part loaded, the others reuse."""
    repeated = {s: n for s, n in Counter(sql).items() if n > 1}
    assert not repeated, repeated


@pytest.mark.parametrize("which", ["projects", "shared", "direct", "own"])
def test_get_project_query_budget(world: dict[str, Any], which: str) -> None:
    target = world[which][0] if which == "projects" else world[which]
    response, sql = _get(f"/api/v4/projects/{target.pk}", world["token"])
    assert response.status_code == 200, response.content
    assert response.json()["permissions"] is not None
    assert len(sql) <= ONE_PROJECT_BUDGET + (1 if which == "own" else 0), "\n".join(sql)
    _no_repeats(sql)


def test_get_project_by_path_and_anonymous(world: dict[str, Any]) -> None:
    target = world["projects"][1]
    response, sql = _get(f"/api/v4/projects/hot%2Fdeep%2F{target.path}", world["token"])
    assert response.status_code == 200, response.content
    assert response.json()["id"] == target.pk
    _no_repeats(sql)
    Project.objects.filter(pk=target.pk).update(visibility_level=PUBLIC)
    response, sql = _get(f"/api/v4/projects/{target.pk}", None)
    assert response.status_code == 200
    assert len(sql) <= 3, sql  # the project, its namespace, its topics


def test_list_query_budget(world: dict[str, Any]) -> None:
    counts = {}
    for per_page in (2, 20):
        response, sql = _get(f"/api/v4/projects?per_page={per_page}", world["token"])
        assert response.status_code == 200, response.content
        assert len(response.json()) == per_page
        assert response["X-Total"] == str(Project.objects.count())
        _no_repeats(sql)
        counts[per_page] = len(sql)
    assert counts[2] == counts[20] <= PROJECT_LIST_BUDGET, counts


def test_list_with_filters_stays_bounded(world: dict[str, Any]) -> None:
    """Filters by membership may read the reached namespaces once more, at their level."""
    for params in ("membership=true", "min_access_level=30", "owned=true", "topic=hot"):
        counts = {}
        for per_page in (2, 20):
            response, sql = _get(f"/api/v4/projects?{params}&per_page={per_page}", world["token"])
            assert response.status_code == 200, response.content
            counts[per_page] = len(sql)
        assert counts[2] == counts[20] <= PROJECT_LIST_BUDGET + 1, (params, counts)


def test_access_levels_for_a_page_take_fixed_queries(world: dict[str, Any]) -> None:
    projects = queries.projects_by_ids([p.pk for p in world["projects"]])
    everything = [*projects, world["shared"], world["direct"], world["own"]]
    actor = Actor.for_user(world["member"])
    with CaptureQueriesContext(connection) as ctx:
        levels = project_access_levels(actor, everything)
        again = project_access_levels(actor, everything)  # memoized for the request
    assert levels == again
    assert len(ctx.captured_queries) <= 3
    assert levels[world["shared"].pk] == AccessLevel.GUEST
    assert levels[world["direct"].pk] == AccessLevel.MAINTAINER
    assert levels[world["own"].pk] == AccessLevel.OWNER
    assert {levels[p.pk] for p in projects} == {AccessLevel.DEVELOPER}


def test_many_member_namespaces_are_matched_by_the_database(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAX_LISTED_NAMESPACES the same rule runs as a subquery: same projects."""
    member = world["member"]
    listed = set(Project.objects.filter(queries.member_projects_q(Actor.for_user(member))))
    monkeypatch.setattr(queries, "MAX_LISTED_NAMESPACES", 0)
    matched = set(Project.objects.filter(queries.member_projects_q(Actor.for_user(member))))
    assert listed == matched
    assert {world["shared"], world["direct"], world["own"], *world["projects"]} <= listed


def test_projects_by_ids_keeps_order_and_skips_missing(world: dict[str, Any]) -> None:
    wanted = [world["own"].pk, 10**12, world["projects"][0].pk, world["own"].pk]
    found = queries.projects_by_ids(wanted)
    assert [p.pk for p in found] == [world["own"].pk, world["projects"][0].pk]
    assert found[0].namespace.owner_id == world["member"].pk
    assert found[1].namespace.full_path == "hot"
    assert queries.projects_by_ids([]) == []
    assert queries.projects_by_ids([10**12]) == []


def test_forked_from_project_has_its_topics(world: dict[str, Any]) -> None:
    source, fork = world["projects"][0], world["projects"][1]
    Project.objects.filter(pk=fork.pk).update(forked_from=source)
    response, _ = _get(f"/api/v4/projects/{fork.pk}", world["token"])
    assert response.json()["forked_from_project"]["topics"] == ["hot", "t0"]


# --- nothing outlives the request --------------------------------------------------------------


def test_a_revoked_token_fails_on_the_next_request(server_url: str, world: dict[str, Any]) -> None:
    from kiln.accounts.models import PersonalAccessToken

    url = f"{server_url}/api/v4/projects/{world['direct'].pk}"
    headers = {"PRIVATE-TOKEN": world["token"]}
    assert requests.get(url, headers=headers, timeout=10).status_code == 200
    PersonalAccessToken.objects.filter(user=world["member"]).update(revoked=True)
    answer = requests.get(url, headers=headers, timeout=10)
    assert answer.status_code == 401


def test_a_removed_membership_hides_the_project_on_the_next_request(
    server_url: str, world: dict[str, Any]
) -> None:
    url = f"{server_url}/api/v4/projects/{world['direct'].pk}"
    headers = {"PRIVATE-TOKEN": world["token"]}
    seen = requests.get(url, headers=headers, timeout=10).json()
    assert seen["permissions"]["project_access"]["access_level"] == AccessLevel.MAINTAINER
    ProjectMember.objects.filter(project=world["direct"], user=world["member"]).delete()
    answer = requests.get(url, headers=headers, timeout=10)
    assert answer.status_code == 404
    assert answer.json() == {"message": "404 Project Not Found"}


# --- one reading of credentials ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        ({"HTTP_PRIVATE_TOKEN": "a"}, "private_token=b", "a"),
        ({"HTTP_AUTHORIZATION": "Bearer  b "}, "private_token=c", "b"),
        ({"HTTP_AUTHORIZATION": "bearer c"}, "", "c"),
        ({"HTTP_AUTHORIZATION": "Bearer "}, "private_token=c", ""),  # presented, and bad
        ({"HTTP_AUTHORIZATION": "Basic xyz"}, "access_token=d", "d"),
        ({}, "private_token=e&access_token=f", "e"),
        ({}, "", None),
    ],
)
def test_presented_token(headers: dict[str, str], query: str, expected: str | None) -> None:
    request = RequestFactory().get(f"/api/v4/projects?{query}", **headers)
    assert presented_token(request) == expected


@pytest.fixture
def authenticated_throttle(seeded: None) -> Iterator[None]:
    from kiln.accounts.models import User
    from kiln.core import appsettings
    from kiln.ops.ratelimit import reset_counters

    reset_counters()
    root = Actor.for_user(User.objects.get(pk=1))
    appsettings.update_application_settings(
        actor=root, changes={"throttle_authenticated_api_enabled": True}
    )
    yield
    appsettings.update_application_settings(
        actor=root, changes={"throttle_authenticated_api_enabled": False}
    )
    reset_counters()


def test_the_rate_limiters_token_lookup_is_reused(
    world: dict[str, Any], authenticated_throttle: None
) -> None:
    from kiln.accounts.models import PersonalAccessToken

    response, sql = _get(f"/api/v4/projects/{world['direct'].pk}", world["token"])
    assert response.status_code == 200
    assert "RateLimit-Limit" in response
    token_table = PersonalAccessToken._meta.db_table
    assert sum(f"FROM {token_table}" in s for s in sql) == 1, sql
