"""Delivering events: GitLab's headers and push payloads as a receiver sees them, retries with
backoff, auto-disabling, what is refused at delivery time (DNS rebinding, redirects, a setting
switched off), and what the log keeps. Runs in-process (the immediate task backend), with a
real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from django.utils import timezone

from kiln import GITLAB_COMPAT_VERSION
from kiln.core.actor import Actor
from kiln.core.urls import base_url
from kiln.repositories.files import FileAction, create_commit
from kiln.webhooks import execution, triggers
from kiln.webhooks.models import HookKind, WebHook, WebHookLog
from kiln.webhooks.tasks import RetryPolicy, deliver_web_hook
from tests.projects import builders as b
from tests.webhooks.conftest import Answer, FakeDns, Receiver, set_local_requests


@pytest.fixture
def owner(seeded: None) -> Any:
    user = b.user("owner")
    type(user).objects.filter(pk=user.pk).update(public_email="owner@example.com")
    user.refresh_from_db()
    return user


@pytest.fixture
def project(owner: Any) -> Any:
    grp = b.group(owner, "team")
    return b.project(owner, "app", namespace=grp)


def _hook(project: Any, url: str, **attrs: Any) -> WebHook:
    return WebHook.objects.create(kind=HookKind.PROJECT, project=project, url=url, **attrs)


def _commit(owner: Any, project: Any, path: str, message: str, branch: str = "main") -> str:
    commit = create_commit(
        actor=Actor(user=owner),
        project=project,
        branch=branch,
        message=message,
        actions=[FileAction(action="create", file_path=path, content=b"x\n")],
    )
    return commit.id


def _deliver(hook: WebHook, data: dict[str, Any] | None = None) -> str:
    return str(
        deliver_web_hook.call(
            hook.pk, "push_hooks", data or {"object_kind": "push"}, "key-1", "uuid-1"
        )
    )


def test_push_payload_and_headers_as_gitlab_sends_them(
    receiver: Receiver, allow_local: None, owner: Any, project: Any
) -> None:
    hook = _hook(project, f"{receiver.url}/gitlab?x=1", token="s3cret", tag_push_events=True)
    first = _commit(owner, project, "README.md", "Initial commit\n\nWith a body.")
    (request,) = receiver.wait_for(1)
    assert request.path == "/gitlab?x=1"
    headers = request.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == f"GitLab/{GITLAB_COMPAT_VERSION}"
    assert headers["X-Gitlab-Event"] == "Push Hook"
    assert headers["X-Gitlab-Token"] == "s3cret"
    assert headers["X-Gitlab-Instance"] == base_url()
    for name in ("X-Gitlab-Event-UUID", "X-Gitlab-Webhook-UUID", "Idempotency-Key"):
        assert len(headers[name]) == 36, name
    data = request.json()
    assert data["object_kind"] == data["event_name"] == "push"
    assert data["before"] == "0" * 40
    assert data["after"] == data["checkout_sha"] == first
    assert data["ref"] == "refs/heads/main"
    assert data["ref_protected"] is True  # the default branch is protected
    assert data["message"] is None
    assert data["user_id"] == owner.pk
    assert data["user_username"] == "owner"
    assert data["user_email"] == "owner@example.com"
    assert data["project_id"] == project.pk
    assert data["project"]["path_with_namespace"] == "team/app"
    assert data["project"]["web_url"] == f"{base_url()}/team/app"
    assert data["project"]["git_http_url"] == f"{base_url()}/team/app.git"
    assert data["project"]["default_branch"] == "main"
    assert data["repository"]["name"] == "app"
    assert data["repository"]["homepage"] == f"{base_url()}/team/app"
    assert data["total_commits_count"] == 1
    assert data["push_options"] == {}
    (commit,) = data["commits"]
    assert commit["id"] == first
    assert commit["message"] == "Initial commit\n\nWith a body.\n"
    assert commit["title"] == "Initial commit"
    assert commit["url"] == f"{base_url()}/team/app/-/commit/{first}"
    assert (commit["added"], commit["modified"], commit["removed"]) == (["README.md"], [], [])
    assert set(commit["author"]) == {"name", "email"}

    second = _commit(owner, project, "docs/guide.md", "Add guide")
    update = receiver.wait_for(2)[1].json()
    assert (update["before"], update["after"]) == (first, second)
    assert [c["id"] for c in update["commits"]] == [second]
    assert update["commits"][0]["added"] == ["docs/guide.md"]

    log = WebHookLog.objects.filter(web_hook=hook).order_by("pk").first()
    assert log is not None
    assert log.trigger == "push_hooks"
    assert log.response_status == "200"
    assert log.request_headers["X-Gitlab-Token"] == "[REDACTED]"
    assert log.request_data["after"] == first


def test_events_the_hook_did_not_subscribe_to_are_not_sent(
    receiver: Receiver, allow_local: None, owner: Any, project: Any
) -> None:
    _hook(project, receiver.url, push_events=False, issues_events=True)
    _commit(owner, project, "README.md", "Initial")
    triggers.deliver_now(trigger="note_hooks", data={"object_kind": "note"}, project=project)
    triggers.deliver_now(trigger="issue_hooks", data={"object_kind": "issue"}, project=project)
    (request,) = receiver.wait_for(1)
    assert request.headers["X-Gitlab-Event"] == "Issue Hook"


def test_group_hooks_of_ancestors_and_system_hooks_get_project_events(
    make_receiver: Any, allow_local: None, owner: Any
) -> None:
    top = b.group(owner, "top")
    sub = b.group(owner, "sub", parent=top)
    project = b.project(owner, "deep", namespace=sub)
    group_receiver, system_receiver = make_receiver(), make_receiver()
    WebHook.objects.create(kind=HookKind.GROUP, group=top, url=group_receiver.url)
    WebHook.objects.create(
        kind=HookKind.SYSTEM,
        url=system_receiver.url,
        push_events=True,
        repository_update_events=True,
    )
    _commit(owner, project, "README.md", "Initial")
    assert group_receiver.wait_for(1)[0].json()["project"]["path_with_namespace"] == "top/sub/deep"
    events = {r.json().get("event_name") for r in system_receiver.wait_for(2)}
    assert events == {"push", "repository_update"}
    assert {r.headers["X-Gitlab-Event"] for r in system_receiver.requests} == {"System Hook"}


def test_retries_with_backoff_keep_the_idempotency_key(
    receiver: Receiver, allow_local: None, project: Any, fast_retries: RetryPolicy
) -> None:
    hook = _hook(project, receiver.url)
    receiver.script(Answer(status=503), Answer(status=502))
    assert _deliver(hook) == "retrying"
    requests = receiver.wait_for(3)
    assert len({r.headers["Idempotency-Key"] for r in requests}) == 1
    assert len({r.headers["X-Gitlab-Webhook-UUID"] for r in requests}) == 3
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(requests)]
    assert gaps[0] >= fast_retries.delay_before(2) * 0.9
    assert gaps[1] >= fast_retries.delay_before(3) * 0.9
    assert gaps[1] > gaps[0]
    logs = list(WebHookLog.objects.filter(web_hook=hook).order_by("pk"))
    assert [(log.attempt, log.response_status) for log in logs] == [
        (1, "503"),
        (2, "502"),
        (3, "200"),
    ]
    hook.refresh_from_db()
    assert hook.recent_failures == 0  # the event succeeded in the end


def test_exhausted_retries_count_one_failure_and_4xx_is_final(
    receiver: Receiver, allow_local: None, project: Any, fast_retries: RetryPolicy
) -> None:
    hook = _hook(project, receiver.url)
    receiver.default = Answer(status=500, body=b"down")
    _deliver(hook)
    assert len(receiver.wait_for(3)) == 3
    hook.refresh_from_db()
    assert hook.recent_failures == 1
    receiver.requests.clear()
    receiver.default = Answer(status=422)
    assert _deliver(hook) == "failed"
    assert len(receiver.requests) == 1
    hook.refresh_from_db()
    assert hook.recent_failures == 2


def test_timeouts_are_retried_and_logged(
    receiver: Receiver,
    allow_local: None,
    project: Any,
    fast_retries: RetryPolicy,
    short_timeouts: Any,
) -> None:
    hook = _hook(project, receiver.url)
    receiver.script(Answer(delay=3.0))
    assert _deliver(hook) == "retrying"
    first, second = WebHookLog.objects.filter(web_hook=hook).order_by("pk")
    assert first.response_status == "internal error"
    assert first.internal_error_message == "execution expired"
    assert first.execution_duration < 2.5  # the read timeout, not the 3 s answer
    assert second.response_status == "200"


def test_auto_disabling_after_repeated_failures(
    receiver: Receiver, allow_local: None, project: Any
) -> None:
    hook = _hook(project, receiver.url)
    receiver.default = Answer(status=400)
    for _ in range(3):
        _deliver(hook)
    hook.refresh_from_db()
    assert (hook.recent_failures, hook.disabled_until) == (3, None)
    assert execution.alert_status(hook) == "executable"
    before = timezone.now()
    _deliver(hook)  # the 4th consecutive failure: disabled for a minute
    hook.refresh_from_db()
    assert hook.recent_failures == 4
    assert hook.disabled_until is not None
    backoff = hook.disabled_until - before
    assert dt.timedelta(seconds=55) <= backoff <= dt.timedelta(seconds=65)
    assert execution.alert_status(hook) == "temporarily_disabled"
    # Events are not delivered while it rests, nor enqueued.
    assert _deliver(hook) == "disabled"
    assert len(receiver.requests) == 4
    assert not triggers.subscribed_hooks(trigger="push_hooks", project=project).exists()
    # Once the rest is over it is tried again; another failure doubles the rest.
    WebHook.objects.filter(pk=hook.pk).update(
        disabled_until=timezone.now() - dt.timedelta(seconds=1)
    )
    assert triggers.subscribed_hooks(trigger="push_hooks", project=project).exists()
    before = timezone.now()
    _deliver(hook)
    hook.refresh_from_db()
    assert hook.recent_failures == 5
    assert hook.disabled_until is not None
    assert dt.timedelta(seconds=115) <= hook.disabled_until - before <= dt.timedelta(seconds=125)
    # The 40th failure disables it for good; a success (here: a test) re-enables it.
    WebHook.objects.filter(pk=hook.pk).update(recent_failures=39, disabled_until=None)
    hook.refresh_from_db()
    _deliver(hook)
    hook.refresh_from_db()
    assert hook.recent_failures == 40
    assert execution.alert_status(hook) == "disabled"
    WebHook.objects.filter(pk=hook.pk).update(disabled_until=timezone.now() - dt.timedelta(days=2))
    hook.refresh_from_db()
    assert not execution.executable(hook)
    receiver.default = Answer(status=200)
    outcome = execution.execute(hook, {"object_kind": "push"}, "push_hooks", force=True)
    execution.record_outcome(hook.pk, ok=outcome.ok)
    hook.refresh_from_db()
    assert (hook.recent_failures, hook.disabled_until) == (0, None)


def test_system_hooks_are_never_disabled(receiver: Receiver, allow_local: None) -> None:
    hook = WebHook.objects.create(kind=HookKind.SYSTEM, url=receiver.url)
    receiver.default = Answer(status=400)
    for _ in range(6):
        assert _deliver(hook) == "failed"
    hook.refresh_from_db()
    assert hook.recent_failures == 0
    assert len(receiver.requests) == 6


def test_dns_rebinding_is_refused_at_delivery(
    receiver: Receiver, dns: FakeDns, seeded: None, project: Any
) -> None:
    answers = iter([["93.184.215.14"], ["127.0.0.1"], ["127.0.0.1"]])
    dns.records["rebind.example.com"] = lambda: next(answers)
    from kiln.webhooks.services import create_project_hook

    hook = create_project_hook(
        actor=Actor(user=b.root_user()),
        project=project,
        attrs={"url": f"http://rebind.example.com:{receiver.port}/hook"},
    )
    assert _deliver(hook) == "failed"
    (log,) = WebHookLog.objects.filter(web_hook=hook)
    assert log.response_status == "internal error"
    assert log.internal_error_message == "Requests to localhost are not allowed"
    assert receiver.requests == []


LOCAL_SPELLINGS = [
    "http://127.0.0.1:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",
    "http://0x7f000001:{port}/",
    "http://2130706433:{port}/",
    "http://0177.0.0.1:{port}/",
    "http://127.1:{port}/",
    "http://localhost:{port}/",
]


def test_local_targets_are_refused_at_delivery_once_the_setting_is_off(
    receiver: Receiver, allow_local: None, project: Any
) -> None:
    hooks = [_hook(project, url.format(port=receiver.port)) for url in LOCAL_SPELLINGS]
    for hook in hooks:
        assert _deliver(hook) == "ok", hook.url
    assert len(receiver.requests) == len(hooks)
    set_local_requests(web_hooks=False)
    for hook in hooks:
        assert _deliver(hook) == "failed", hook.url
        log = WebHookLog.objects.filter(web_hook=hook).order_by("-pk").first()
        assert log is not None
        assert log.response_status == "internal error"
        assert log.internal_error_message == "Requests to localhost are not allowed", hook.url
    assert len(receiver.requests) == len(hooks)


def test_a_redirect_to_a_local_address_is_not_followed(
    make_receiver: Any, dns: FakeDns, allow_local: None, project: Any
) -> None:
    public, internal = make_receiver(), make_receiver()
    public.default = Answer(status=307, headers={"Location": f"{internal.url}/admin"}, body=b"")
    hook = _hook(project, public.url)
    assert _deliver(hook) == "ok"  # GitLab counts a 3xx as delivered
    public.wait_for(1)
    assert internal.requests == []
    (log,) = WebHookLog.objects.filter(web_hook=hook)
    assert log.response_status == "307"
    assert log.response_headers["Location"] == f"{internal.url}/admin"


def test_the_log_keeps_a_capped_response(
    receiver: Receiver, allow_local: None, project: Any
) -> None:
    receiver.default = Answer(body=b"\xff" + b"b" * 100_000, headers={"X-Answer": "yes"})
    hook = _hook(project, receiver.url)
    _deliver(hook)
    (log,) = WebHookLog.objects.filter(web_hook=hook)
    assert len(log.response_body.encode()) <= 8 * 1024 + 3
    assert log.response_headers["X-Answer"] == "yes"


def test_custom_headers_url_variables_basic_auth_and_template(
    receiver: Receiver, allow_local: None, project: Any
) -> None:
    hook = _hook(
        project,
        f"http://user:p%40ss@127.0.0.1:{receiver.port}/{{area}}/in",
        url_variables={"area": "builds"},
        custom_headers={"X-Team": "core", "Host": "evil.example"},
        custom_webhook_template='{"kind":"{{object_kind}}","ref":"{{ref}}","n":{{commits}}}',
    )
    _deliver(hook, {"object_kind": "push", "ref": 'refs/heads/a"b', "commits": [1]})
    (request,) = receiver.wait_for(1)
    assert request.path == "/builds/in"
    assert request.headers["X-Team"] == "core"
    assert request.headers["Host"] == f"127.0.0.1:{receiver.port}"
    assert request.headers["Authorization"] == "Basic dXNlcjpwQHNz"
    assert request.json() == {"kind": "push", "ref": 'refs/heads/a"b', "n": [1]}
    (log,) = WebHookLog.objects.filter(web_hook=hook)
    assert log.url == f"http://*****:*****@127.0.0.1:{receiver.port}/{{area}}/in"
    assert log.request_headers["X-Team"] == "[REDACTED]"
    assert "p%40ss" not in str(log.request_headers)


def test_a_broken_template_is_an_internal_error(
    receiver: Receiver, allow_local: None, project: Any
) -> None:
    hook = _hook(project, receiver.url, custom_webhook_template='{"a": {{missing}')
    assert _deliver(hook) == "failed"
    (log,) = WebHookLog.objects.filter(web_hook=hook)
    assert log.internal_error_message.startswith(
        "Error while parsing rendered custom webhook template"
    )
    assert log.request_data == {}
    assert receiver.requests == []


def test_branch_filters(receiver: Receiver, allow_local: None, project: Any) -> None:
    wildcard = _hook(project, receiver.url, push_events_branch_filter="release/*")
    regex = _hook(
        project,
        receiver.url,
        push_events_branch_filter=r"^(main|hotfix-\d+)$",
        branch_filter_strategy="regex",
    )
    every = _hook(
        project, receiver.url, push_events_branch_filter="x", branch_filter_strategy="all_branches"
    )
    cases = {
        "refs/heads/release/1.0": {wildcard.pk, every.pk},
        "refs/heads/release": {every.pk},
        "refs/heads/main": {regex.pk, every.pk},
        "refs/heads/hotfix-12": {regex.pk, every.pk},
        "refs/heads/hotfix-x": {every.pk},
    }
    for ref, expected in cases.items():
        hooks = triggers.subscribed_hooks(trigger="push_hooks", project=project)
        matched = {h.pk for h in hooks if triggers.branch_filter_matches(h, ref)}
        assert matched == expected, ref
    # Tag pushes ignore the branch filter.
    WebHook.objects.update(tag_push_events=True)
    tags = triggers.subscribed_hooks(trigger="tag_push_hooks", project=project)
    assert {h.pk for h in tags} == {wildcard.pk, regex.pk, every.pk}
