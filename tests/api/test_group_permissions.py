"""The group permission matrix, generated from ONE table: actor x visibility x action -> answer.

Parametrized over the table's rows (actor kinds): each test builds, through the services, one
group per visibility with the actor in it at their level, performs every action on each as the
actor over HTTP, and compares all the answers with the row at once (a failure shows every
differing visibility/action pair). The actions run in an order where each leaves the next one's
ground intact (the group is deleted last).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.conftest import ROOT_TOKEN

ACTORS = (
    "anonymous",
    "non_member",
    "external",
    "blocked",
    "guest",
    "reporter",
    "developer",
    "maintainer",
    "owner",
    "admin",
)
VISIBILITIES = ("public", "internal", "private")
LEVELS = {"guest": 10, "reporter": 20, "developer": 30, "maintainer": 40, "owner": 50}

# Listed or not in a list answered 200.
L, N = "listed", "absent"
MEMBER = {"read": (200,) * 3, "list": (L,) * 3, "list_all": (L,) * 3, "read_members": (200,) * 3}
WRITES_DENIED = {
    "create_subgroup": (403,) * 3,
    "update": (403,) * 3,
    "delete": (403,) * 3,
    "add_member": (403,) * 3,
}

# THE table. Each action maps to the answers for (public, internal, private) groups.
TABLE: dict[str, dict[str, tuple[Any, ...]]] = {
    "anonymous": {
        "read": (200, 404, 404),
        "list": (L, N, N),
        "list_all": (L, N, N),
        "read_members": (401, 401, 401),
        "create_subgroup": (401, 401, 401),
        "update": (401, 401, 401),
        "delete": (401, 401, 401),
        "add_member": (401, 401, 401),
    },
    "non_member": {
        "read": (200, 200, 404),
        "list": (N, N, N),
        "list_all": (L, L, N),
        "read_members": (200, 200, 404),
        "create_subgroup": (403, 403, 404),
        "update": (403, 403, 404),
        "delete": (403, 403, 404),
        "add_member": (403, 403, 404),
    },
    "external": {
        "read": (200, 404, 404),
        "list": (N, N, N),
        "list_all": (L, N, N),
        "read_members": (200, 404, 404),
        "create_subgroup": (403, 404, 404),
        "update": (403, 404, 404),
        "delete": (403, 404, 404),
        "add_member": (403, 404, 404),
    },
    "blocked": dict.fromkeys(
        ("read", "list", "list_all", "read_members", *WRITES_DENIED), (403, 403, 403)
    ),
    "guest": {**MEMBER, **WRITES_DENIED},
    "reporter": {**MEMBER, **WRITES_DENIED},
    "developer": {**MEMBER, **WRITES_DENIED},
    # The default subgroup_creation_level lets Maintainers create subgroups.
    "maintainer": {**MEMBER, **WRITES_DENIED, "create_subgroup": (201,) * 3},
    "owner": {
        **MEMBER,
        "create_subgroup": (201,) * 3,
        "update": (200,) * 3,
        "delete": (202,) * 3,
        "add_member": (201,) * 3,
    },
    "admin": {
        **MEMBER,
        "create_subgroup": (201,) * 3,
        "update": (200,) * 3,
        "delete": (202,) * 3,
        "add_member": (201,) * 3,
    },
}
ACTIONS = (
    "read",
    "list",
    "list_all",
    "read_members",
    "update",
    "add_member",
    "create_subgroup",
    "delete",
)


def test_table_is_complete() -> None:
    assert set(TABLE) == set(ACTORS)
    for answers in TABLE.values():
        assert set(answers) == set(ACTIONS)
        assert all(len(row) == len(VISIBILITIES) for row in answers.values())


def _actor_token(actor: str, make_user: Callable[..., tuple[Any, Any]]) -> str | None:
    """The actor's token (None: anonymous), its user made a member by `_group`."""
    from kiln.accounts.models import User, UserState

    if actor == "anonymous":
        return None
    if actor == "admin":
        return ROOT_TOKEN
    user, client = make_user(f"pm-{actor}", external=actor == "external")
    if actor == "blocked":
        User.objects.filter(pk=user.pk).update(state=UserState.BLOCKED)
    return str(client.private_token)


def _group(actor: str, visibility: str) -> Any:
    from kiln.accounts.models import User
    from kiln.core.access import Visibility
    from kiln.core.actor import Actor
    from kiln.namespaces.groups import create_group
    from kiln.namespaces.models import GroupMember

    admin = User.objects.get(pk=1)
    group = create_group(
        actor=Actor.for_user(admin),
        name=f"Matrix {visibility}",
        path=f"matrix-{visibility}",
        visibility_level=Visibility.from_label(visibility),
    )
    # The creating admin is not one of the actors: only the actor's own membership counts.
    GroupMember.objects.filter(group=group).delete()
    if actor in LEVELS:
        user = User.objects.get(username=f"pm-{actor}")
        GroupMember.objects.create(group=group, user=user, access_level=LEVELS[actor])
    return group


def _answers(url: str, token: str | None, group: Any, newcomer: Any) -> dict[str, Any]:
    api = f"{url}/api/v4/groups"
    headers = {"PRIVATE-TOKEN": token} if token else {}
    answers: dict[str, Any] = {}

    def get(path: str, **params: Any) -> requests.Response:
        return requests.get(f"{api}{path}", headers=headers, params=params, timeout=10)

    answers["read"] = get(f"/{group.pk}").status_code
    for action, params in (("list", {}), ("list_all", {"all_available": "true"})):
        response = get("", per_page=100, **params)
        listed = response.ok and group.pk in {g["id"] for g in response.json()}
        answers[action] = response.status_code if not response.ok else (L if listed else N)
    answers["read_members"] = get(f"/{group.pk}/members").status_code
    answers["update"] = requests.put(
        f"{api}/{group.pk}", headers=headers, json={"description": "changed"}, timeout=10
    ).status_code
    answers["add_member"] = requests.post(
        f"{api}/{group.pk}/members",
        headers=headers,
        json={"user_id": newcomer.pk, "access_level": 30},
        timeout=10,
    ).status_code
    answers["create_subgroup"] = requests.post(
        api,
        headers=headers,
        json={"name": "Sub", "path": "sub", "parent_id": group.pk},
        timeout=10,
    ).status_code
    answers["delete"] = requests.delete(
        f"{api}/{group.pk}", headers=headers, timeout=10
    ).status_code
    return answers


@pytest.mark.parametrize("actor", ACTORS)
def test_group_permissions(
    server_url: str, make_user: Callable[..., tuple[Any, Any]], actor: str
) -> None:
    from kiln.namespaces.models import Namespace

    token = _actor_token(actor, make_user)
    newcomer, _ = make_user("pm-newcomer")
    groups = {visibility: _group(actor, visibility) for visibility in VISIBILITIES}
    expected = {
        (visibility, action): TABLE[actor][action][column]
        for column, visibility in enumerate(VISIBILITIES)
        for action in ACTIONS
    }
    answers = {
        (visibility, action): answer
        for visibility, group in groups.items()
        for action, answer in _answers(server_url, token, group, newcomer).items()
    }
    assert answers == expected
    # A denied delete leaves the group; an allowed one removes it with its subgroup.
    for visibility, group in groups.items():
        deleted = expected[(visibility, "delete")] == 202
        assert Namespace.objects.filter(pk=group.pk).exists() != deleted
