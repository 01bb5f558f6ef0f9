"""The hooks API (project, group, system): CRUD through python-gitlab, GitLab's permissions
and error bodies through raw HTTP, hostile URLs refused at creation with nothing written, and
secrets (token, URL variables, custom headers) never shown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gitlab
import pytest
import requests
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kiln.core.access import AccessLevel, Visibility
from kiln.webhooks.models import WebHook, WebHookLog
from tests.conftest import ROOT_TOKEN, client
from tests.projects import builders as b
from tests.webhooks.conftest import Answer, FakeDns, Receiver, set_local_requests

PUBLIC_IP = "93.184.215.14"


@dataclass
class World:
    server_url: str
    project: Any
    group: Any
    tokens: dict[str, str]

    def api(self, who: str) -> b.Api:
        return b.Api(self.server_url, self.tokens.get(who))

    def gl(self, who: str) -> gitlab.Gitlab:
        return client(self.server_url, self.tokens[who])


@pytest.fixture
def world(server_url: str, dns: FakeDns) -> World:
    """A private project in a group; users at each level that matters; public-looking DNS."""
    dns.records.update({name: [PUBLIC_IP] for name in ("hooks.example.com", "new.example.com")})
    root = b.root_user()
    owner = b.user("owner")
    grp = b.group(owner, "team", visibility=Visibility.PRIVATE)
    project = b.project(owner, "app", namespace=grp, visibility=Visibility.PRIVATE)
    tokens = {"root": ROOT_TOKEN, "owner": b.token(owner)}
    for name, level in (
        ("maintainer", AccessLevel.MAINTAINER),
        ("developer", AccessLevel.DEVELOPER),
    ):
        member = b.user(name)
        b.add_member(grp, member, level, by=owner)
        tokens[name] = b.token(member)
    tokens["outsider"] = b.token(b.user("outsider"))
    del root
    return World(server_url, project, grp, tokens)


HOOK = {"url": "http://hooks.example.com/hook", "push_events": True, "token": "s3cr3t-token"}


def test_project_hook_crud_with_python_gitlab(world: World) -> None:
    project = world.gl("maintainer").projects.get(world.project.pk)
    hook = project.hooks.create(
        {
            **HOOK,
            "tag_push_events": True,
            "issues_events": "true",
            "push_events_branch_filter": "main",
            "name": "CI",
            "description": "Notify CI",
        }
    )
    attrs = hook.attributes
    assert "token" not in attrs
    assert attrs["url"] == HOOK["url"]
    assert attrs["project_id"] == world.project.pk
    assert attrs["push_events"] is attrs["tag_push_events"] is attrs["issues_events"] is True
    assert attrs["merge_requests_events"] is False
    assert attrs["enable_ssl_verification"] is True
    assert attrs["push_events_branch_filter"] == "main"
    assert attrs["branch_filter_strategy"] == "wildcard"
    assert attrs["alert_status"] == "executable"
    assert attrs["disabled_until"] is None
    assert attrs["url_variables"] == []
    assert attrs["custom_headers"] == []
    assert (attrs["name"], attrs["description"]) == ("CI", "Notify CI")
    assert attrs["created_at"].endswith("Z")

    assert [h.id for h in project.hooks.list(get_all=True)] == [hook.id]
    fetched = project.hooks.get(hook.id)
    fetched.note_events = True
    fetched.save()
    again = project.hooks.get(hook.id)
    assert again.note_events is True
    assert "token" not in again.attributes
    # The token survived the update (it is still sent), though never shown.
    assert WebHook.objects.get(pk=hook.id).token == "s3cr3t-token"

    again.delete()
    assert project.hooks.list(get_all=True) == []
    assert not WebHook.objects.filter(pk=hook.id).exists()


def test_token_is_stored_encrypted_and_never_shown(world: World) -> None:
    api = world.api("maintainer")
    created = api.post(f"/projects/{world.project.pk}/hooks", json=HOOK)
    assert created.status_code == 201, created.text
    for response in (
        created,
        api.get(f"/projects/{world.project.pk}/hooks"),
        api.get(f"/projects/{world.project.pk}/hooks/{created.json()['id']}"),
        api.put(f"/projects/{world.project.pk}/hooks/{created.json()['id']}", json={"name": "x"}),
    ):
        assert "s3cr3t-token" not in response.text
        assert "token" not in (
            response.json()[0] if isinstance(response.json(), list) else response.json()
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT url, token FROM webhooks_webhook")
        ((url, token),) = cursor.fetchall()
    assert "s3cr3t" not in token
    assert token.startswith("kv1:")
    assert "hooks.example.com" not in url


def test_permissions_as_gitlab_answers(world: World) -> None:
    pid = world.project.pk
    path = f"/projects/{pid}/hooks"
    hook_id = world.api("maintainer").post(path, json=HOOK).json()["id"]
    before = WebHook.objects.count()

    anonymous = world.api("anonymous")
    for method, url in (("GET", path), ("POST", path), ("GET", f"{path}/{hook_id}")):
        response = anonymous.request(method, url, json=HOOK)
        assert (response.status_code, response.json()) == (401, {"message": "401 Unauthorized"})

    developer = world.api("developer")
    for method, url in (
        ("GET", path),
        ("POST", path),
        ("GET", f"{path}/{hook_id}"),
        ("PUT", f"{path}/{hook_id}"),
        ("DELETE", f"{path}/{hook_id}"),
        ("POST", f"{path}/{hook_id}/test/push_events"),
        ("GET", f"{path}/{hook_id}/events"),
    ):
        response = developer.request(method, url, json=HOOK)
        assert (response.status_code, response.json()) == (403, {"message": "403 Forbidden"}), url

    outsider = world.api("outsider")
    response = outsider.get(path)
    assert (response.status_code, response.json()) == (404, {"message": "404 Project Not Found"})
    response = outsider.post(path, json=HOOK)
    assert response.status_code == 404

    # A hook id of another project is not found there, even for its maintainer.
    other = b.project(world.project.creator, "elsewhere", namespace=world.group)
    response = world.api("maintainer").get(f"/projects/{other.pk}/hooks/{hook_id}")
    assert (response.status_code, response.json()) == (404, {"message": "404 Not found"})
    assert WebHook.objects.count() == before

    # Group hooks are for Owners; system hooks for administrators.
    gpath = f"/groups/{world.group.pk}/hooks"
    response = world.api("maintainer").post(gpath, json=HOOK)
    assert (response.status_code, response.json()) == (403, {"message": "403 Forbidden"})
    response = world.api("outsider").get(gpath)
    assert (response.status_code, response.json()) == (404, {"message": "404 Group Not Found"})
    response = world.api("owner").post(gpath, json={**HOOK, "subgroup_events": True})
    assert response.status_code == 201, response.text
    assert response.json()["group_id"] == world.group.pk
    assert response.json()["subgroup_events"] is True
    for who in ("owner", "maintainer"):
        response = world.api(who).get("/hooks")
        assert (response.status_code, response.json()) == (403, {"message": "403 Forbidden"})
    response = world.api("root").post("/hooks", json={"url": HOOK["url"], "token": "t"})
    assert response.status_code == 201
    system = response.json()
    assert (system["push_events"], system["repository_update_events"]) == (False, True)
    assert "token" not in system
    assert "project_id" not in system


HOSTILE_URLS = [
    "http://127.0.0.1/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://localhost:8080/",
    "http://10.0.0.5/",
    "http://[fd00::1]/",
    "http://metadata.rebind.test/",  # resolves to 169.254.169.254 (fake DNS)
    "gopher://hooks.example.com/",
    "javascript:alert(1)",
    "http://hooks.example.com/\r\nX: y",
    "",
]


def test_hostile_urls_are_refused_at_creation(world: World, dns: FakeDns) -> None:
    dns.records["metadata.rebind.test"] = ["169.254.169.254"]
    api = world.api("maintainer")
    hook_id = api.post(f"/projects/{world.project.pk}/hooks", json=HOOK).json()["id"]
    before = (WebHook.objects.count(), WebHookLog.objects.count())
    for url in HOSTILE_URLS:
        for who, path in (
            ("maintainer", f"/projects/{world.project.pk}/hooks"),
            ("owner", f"/groups/{world.group.pk}/hooks"),
            ("root", "/hooks"),
        ):
            if who == "root":
                set_local_requests(web_hooks=False, system_hooks=False)
            response = world.api(who).post(path, json={"url": url})
            assert (response.status_code, response.json()) == (
                422,
                {"message": "Invalid url given"},
            ), (who, url)
        # ...and on update of an existing hook, which keeps its URL.
        response = api.put(f"/projects/{world.project.pk}/hooks/{hook_id}", json={"url": url})
        assert (response.status_code, response.json()) == (422, {"message": "Invalid url given"})
    assert WebHook.objects.get(pk=hook_id).url == HOOK["url"]
    assert (WebHook.objects.count(), WebHookLog.objects.count()) == before


def test_system_hooks_follow_their_own_setting(world: World) -> None:
    set_local_requests(web_hooks=False, system_hooks=False)
    response = world.api("root").post("/hooks", json={"url": "http://127.0.0.1:9/"})
    assert (response.status_code, response.json()) == (422, {"message": "Invalid url given"})
    set_local_requests(web_hooks=False, system_hooks=True)
    assert world.api("root").post("/hooks", json={"url": "http://127.0.0.1:9/"}).status_code == 201
    # The web hooks' setting is still off.
    response = world.api("maintainer").post(
        f"/projects/{world.project.pk}/hooks", json={"url": "http://127.0.0.1:9/"}
    )
    assert response.status_code == 422


def test_parameter_errors(world: World) -> None:
    api = world.api("maintainer")
    path = f"/projects/{world.project.pk}/hooks"
    cases = [
        ({"push_events": True}, 400, {"error": "url is missing"}),
        (
            {**HOOK, "branch_filter_strategy": "glob"},
            400,
            {"error": "branch_filter_strategy does not have a valid value"},
        ),
        (
            {**HOOK, "push_events_branch_filter": "bad..name"},
            422,
            {"message": "Invalid branch filter given"},
        ),
        (
            {**HOOK, "branch_filter_strategy": "regex", "push_events_branch_filter": "(unclosed"},
            422,
            {"message": "Invalid branch filter given"},
        ),
        ({**HOOK, "token": "a\nb"}, 422, {"message": {"token": ["is invalid"]}}),
        (
            {**HOOK, "name": "n" * 256},
            422,
            {"message": {"name": ["is too long (maximum is 255 characters)"]}},
        ),
        (
            {**HOOK, "custom_headers": [{"key": "Bad Header", "value": "x"}]},
            422,
            {"message": "Custom headers validation failed"},
        ),
        (
            {**HOOK, "custom_headers": [{"key": "X-Ok", "value": "a\r\nInjected: 1"}]},
            422,
            {"message": "Custom headers validation failed"},
        ),
        (
            {**HOOK, "url": "http://hooks.example.com/{missing}"},
            422,
            {"message": "Invalid url given"},
        ),
        (
            {**HOOK, "url_variables": [{"key": "bad key", "value": "x"}]},
            422,
            {"message": {"url_variables": ["must be a valid json schema"]}},
        ),
    ]
    for body, status, answer in cases:
        response = api.post(path, json=body)
        assert (response.status_code, response.json()) == (status, answer), body
    assert WebHook.objects.count() == 0
    hook_id = api.post(path, json=HOOK).json()["id"]
    response = api.put(f"{path}/{hook_id}", json={})
    assert (response.status_code, response.json()) == (400, {"message": "No parameters provided"})
    response = api.post(f"{path}/{hook_id}/test/bogus_events")
    assert (response.status_code, response.json()) == (
        400,
        {"error": "trigger does not have a valid value"},
    )
    response = api.get(f"{path}/{hook_id}/events", params={"per_page": 50})
    assert (response.status_code, response.json()) == (
        400,
        {"error": "per_page does not have a valid value"},
    )


def test_url_variables_and_custom_headers_are_masked_and_follow_the_url(world: World) -> None:
    api = world.api("maintainer")
    path = f"/projects/{world.project.pk}/hooks"
    created = api.post(
        path,
        json={
            "url": "http://hooks.example.com/{secret}/in",
            "url_variables": [{"key": "secret", "value": "hunter2"}],
            "custom_headers": [{"key": "Authorization", "value": "Bearer abc"}],
            "token": "tok",
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["url"] == "http://hooks.example.com/{secret}/in"
    assert body["url_variables"] == [{"key": "secret"}]
    assert body["custom_headers"] == [{"key": "Authorization"}]
    assert "hunter2" not in created.text
    assert "Bearer abc" not in created.text
    hook_id = body["id"]

    assert api.put(f"{path}/{hook_id}/url_variables/extra", json={"value": "v"}).status_code == 204
    assert (
        api.put(f"{path}/{hook_id}/custom_headers/X-Team", json={"value": "a"}).status_code == 204
    )
    shown = api.get(f"{path}/{hook_id}").json()
    assert shown["url_variables"] == [{"key": "extra"}, {"key": "secret"}]
    assert shown["custom_headers"] == [{"key": "Authorization"}, {"key": "X-Team"}]
    assert api.delete(f"{path}/{hook_id}/custom_headers/X-Team").status_code == 204
    assert api.delete(f"{path}/{hook_id}/custom_headers/X-Team").status_code == 404

    # A new destination drops every secret not sent again with it.
    moved = api.put(f"{path}/{hook_id}", json={"url": "http://new.example.com/in"})
    assert moved.status_code == 200, moved.text
    hook = WebHook.objects.get(pk=hook_id)
    assert (hook.token, hook.url_variables, hook.custom_headers) == ("", {}, {})


def test_events_list_filters_and_query_budget(world: World) -> None:
    api = world.api("maintainer")
    path = f"/projects/{world.project.pk}/hooks"
    hook = WebHook.objects.get(pk=api.post(path, json=HOOK).json()["id"])
    for index in range(30):
        status = (200, 404, 500)[index % 3]
        WebHookLog.objects.create(
            web_hook=hook,
            trigger="push_hooks",
            url=hook.url,
            url_digest="x",
            request_headers={"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "[REDACTED]"},
            request_data={"object_kind": "push", "n": index},
            response_status=str(status),
            status_code=status,
        )
    events = api.get(f"{path}/{hook.pk}/events")
    assert events.status_code == 200
    assert len(events.json()) == 20  # GitLab's default page for events
    assert events.headers["X-Total"] == "30"
    first = events.json()[0]
    assert set(first) == {
        "id",
        "url",
        "trigger",
        "request_headers",
        "request_data",
        "response_headers",
        "response_body",
        "execution_duration",
        "response_status",
        "created_at",
    }
    failures = api.get(f"{path}/{hook.pk}/events", params={"status": "server_failure"}).json()
    assert {e["response_status"] for e in failures} == {"500"}
    mixed = api.get(f"{path}/{hook.pk}/events", params={"status": "200,404", "per_page": 20})
    assert {e["response_status"] for e in mixed.json()} == {"200", "404"}

    # Query budgets: the page size does not change the number of queries.
    for n in range(22):
        WebHook.objects.create(
            kind="project", project=world.project, url=f"http://h{n}.example.com/"
        )
    django_client = Client()
    django_client.get(f"/api/v4{path}", HTTP_PRIVATE_TOKEN=world.tokens["maintainer"])  # warm-up
    counts = []
    for url in (path, f"{path}/{hook.pk}/events"):
        for per_page in (2, 20):
            with CaptureQueriesContext(connection) as queries:
                response = django_client.get(
                    f"/api/v4{url}",
                    {"per_page": per_page},
                    HTTP_PRIVATE_TOKEN=world.tokens["maintainer"],
                )
            assert response.status_code == 200
            assert len(response.json()) == per_page
            counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert counts[2] == counts[3], counts


def test_test_endpoint_and_resend(world: World, receiver: Receiver, allow_local: None) -> None:
    api = world.api("maintainer")
    path = f"/projects/{world.project.pk}/hooks"
    hook_id = api.post(path, json={"url": f"{receiver.url}/in", "token": "tok"}).json()["id"]

    # An empty repository has nothing to sample: GitLab's message.
    response = api.post(f"{path}/{hook_id}/test/push_events")
    assert (response.status_code, response.json()) == (
        422,
        {"message": "Ensure the project has at least one commit."},
    )
    response = api.post(f"{path}/{hook_id}/test/issues_events")
    assert (response.status_code, response.json()) == (
        422,
        {"message": "Ensure the project has issues."},
    )

    from kiln.core.actor import Actor
    from kiln.repositories.files import FileAction, create_commit

    owner = world.project.creator
    create_commit(
        actor=Actor(user=owner),
        project=world.project,
        branch="main",
        message="Add readme",
        actions=[FileAction(action="create", file_path="README.md", content=b"hi\n")],
    )
    # The commit itself was a push: the hook got it (push events are on by default).
    assert receiver.wait_for(1)[0].headers["X-Gitlab-Event"] == "Push Hook"
    receiver.requests.clear()
    response = api.post(f"{path}/{hook_id}/test/push_events")
    assert (response.status_code, response.json()) == (201, {"message": "201 Created"})
    (request,) = receiver.wait_for(1)
    assert request.headers["X-Gitlab-Event"] == "Push Hook"
    assert request.headers["X-Gitlab-Token"] == "tok"
    sample = request.json()
    assert sample["object_kind"] == "push"
    assert sample["commits"][0]["title"] == "Add readme"
    assert sample["commits"][0]["added"] == ["README.md"]

    receiver.script(Answer(status=500, body=b"receiver broke"))
    response = api.post(f"{path}/{hook_id}/test/push_events")
    assert (response.status_code, response.json()) == (422, {"message": "receiver broke"})

    events = api.get(f"{path}/{hook_id}/events").json()
    assert [e["response_status"] for e in events[:2]] == ["500", "200"]
    assert events[0]["request_headers"]["X-Gitlab-Token"] == "[REDACTED]"
    assert "tok" not in str(events)

    resent = api.post(f"{path}/{hook_id}/events/{events[1]['id']}/resend")
    assert (resent.status_code, resent.json()) == (201, {"response_status": 200})
    replay = receiver.wait_for(3)[-1]
    assert replay.json() == sample
    assert replay.headers["Idempotency-Key"] == request.headers["Idempotency-Key"]
    assert replay.headers["X-Gitlab-Webhook-UUID"] != request.headers["X-Gitlab-Webhook-UUID"]

    # A log from before a URL change is not resent to the new destination.
    api.put(f"{path}/{hook_id}", json={"url": f"{receiver.url}/moved"})
    response = api.post(f"{path}/{hook_id}/events/{events[1]['id']}/resend")
    assert (response.status_code, response.json()) == (
        422,
        {"message": "The hook URL has changed, and this log entry cannot be retried"},
    )

    # The system hook test answers the sample it sent.
    system = world.api("root").post("/hooks", json={"url": f"{receiver.url}/sys"}).json()
    response = world.api("root").post(f"/hooks/{system['id']}")
    assert response.status_code == 201
    assert response.json()["event_name"] == "project_create"
    assert receiver.wait_for(4)[-1].headers["X-Gitlab-Event"] == "System Hook"


def test_group_hook_test_needs_a_project_with_commits(
    world: World, receiver: Receiver, allow_local: None
) -> None:
    api = world.api("owner")
    hook_id = api.post(f"/groups/{world.group.pk}/hooks", json={"url": receiver.url}).json()["id"]
    response = api.post(f"/groups/{world.group.pk}/hooks/{hook_id}/test/push_events")
    assert (response.status_code, response.json()) == (
        422,
        {"message": "Ensure the group has a project with commits."},
    )


def test_unauthenticated_requests_never_reach_a_receiver(server_url: str) -> None:
    response = requests.post(
        f"{server_url}/api/v4/hooks", json={"url": "http://x.example/"}, timeout=10
    )
    assert response.status_code == 401
