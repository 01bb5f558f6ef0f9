"""API v4: project hooks, group hooks and system hooks, as GitLab's `lib/api/project_hooks.rb`,
`lib/api/group_hooks.rb`, `lib/api/system_hooks.rb` and `lib/api/hooks/*.rb`.

Every endpoint needs a signed-in caller (401), finds the project or group the caller can see
(404), then asks `kiln.webhooks` (403 for a caller who may not manage its hooks). The token is
accepted and never returned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict

from kiln.api.v4.auth import GitLabAuth, require_user
from kiln.api.v4.naming import endpoint_names
from kiln.api.v4.pagination import paginated
from kiln.api.v4.params import CommaList, Params, PathStr
from kiln.api.v4.presenters.hooks import hook_entities, hook_entity, hook_event_entities
from kiln.core.actor import Actor
from kiln.core.errors import InvalidParameter, Unprocessable
from kiln.namespaces.queries import get_group_for
from kiln.projects.queries import get_project_for
from kiln.webhooks import queries, services
from kiln.webhooks.models import HookKind, WebHook

router = Router(tags=["hooks"])


class _SignedIn(GitLabAuth):
    """GitLab's `authenticate!` before anything else: 401 for an anonymous caller."""

    def __call__(self, request: HttpRequest) -> Actor:
        return require_user(request)


SIGNED_IN = _SignedIn()

TestTrigger = Literal[
    "push_events",
    "tag_push_events",
    "issues_events",
    "confidential_issues_events",
    "note_events",
    "merge_requests_events",
    "job_events",
    "pipeline_events",
    "wiki_page_events",
    "releases_events",
    "emoji_events",
    "resource_access_token_events",
]


class KeyValue(Schema):
    model_config = ConfigDict(coerce_numbers_to_str=True)
    key: str
    value: str


class HookParams(Schema):
    """Every attribute any kind of hook takes; each kind keeps the ones it has."""

    model_config = ConfigDict(coerce_numbers_to_str=True)

    url: str | None = None
    token: str | None = None
    name: str | None = None
    description: str | None = None
    push_events_branch_filter: str | None = None
    branch_filter_strategy: Literal["wildcard", "regex", "all_branches"] | None = None
    custom_webhook_template: str | None = None
    enable_ssl_verification: bool | None = None
    url_variables: list[KeyValue] | None = None
    custom_headers: list[KeyValue] | None = None
    push_events: bool | None = None
    tag_push_events: bool | None = None
    issues_events: bool | None = None
    confidential_issues_events: bool | None = None
    note_events: bool | None = None
    confidential_note_events: bool | None = None
    merge_requests_events: bool | None = None
    job_events: bool | None = None
    pipeline_events: bool | None = None
    wiki_page_events: bool | None = None
    deployment_events: bool | None = None
    feature_flag_events: bool | None = None
    releases_events: bool | None = None
    milestone_events: bool | None = None
    emoji_events: bool | None = None
    resource_access_token_events: bool | None = None
    resource_deploy_token_events: bool | None = None
    vulnerability_events: bool | None = None
    subgroup_events: bool | None = None
    member_events: bool | None = None
    project_events: bool | None = None
    repository_update_events: bool | None = None


def _attrs(payload: HookParams, kind: HookKind, *, create: bool) -> dict[str, Any]:
    """The attributes the caller sent that this kind of hook has (Grape's declared_params)."""
    allowed = set(services.EVENTS_BY_KIND[kind]) | set(services.TEXT_ATTRIBUTES)
    allowed |= {"enable_ssl_verification", "url_variables", "custom_headers"}
    attrs: dict[str, Any] = {}
    for name in payload.model_fields_set & allowed:
        value = getattr(payload, name)
        if name in ("url_variables", "custom_headers"):
            value = {item.key: item.value for item in value or []}
        elif value is None and name in services.EVENTS_BY_KIND[kind]:
            continue
        attrs[name] = value
    if create and attrs.get("url") is None:
        raise InvalidParameter("url is missing")
    return attrs


class EventsQuery(Schema):
    status: CommaList | None = None
    per_page: int | None = None


def _statuses(query: EventsQuery) -> list[str]:
    # Grape: `values: 1..20` for per_page; status codes or the three categories.
    if query.per_page is not None and not 1 <= query.per_page <= 20:
        raise InvalidParameter("per_page does not have a valid value")
    statuses = list(query.status or [])
    for status in statuses:
        valid = status in queries.STATUS_CATEGORIES or (
            status.isdigit() and len(status) == 3 and 100 <= int(status) <= 599
        )
        if not valid:
            raise InvalidParameter("status does not have a valid value")
    return statuses


def _test_answer(outcome_status: int | None, message: str) -> Status[dict[str, str]]:
    if outcome_status is not None and 200 <= outcome_status <= 299:
        return Status(201, {"message": "201 Created"})
    raise Unprocessable(message)


def _resend_answer(hook: WebHook, actor: Actor, event_id: int) -> Status[dict[str, Any]]:
    entry = queries.get_hook_event(actor, hook, event_id)
    outcome = services.resend_event(actor=actor, hook=hook, entry=entry)
    return Status(201, {"response_status": outcome.status})


class ValueParams(Schema):
    model_config = ConfigDict(coerce_numbers_to_str=True)
    value: str


# -- project hooks and group hooks ----------------------------------------------------------


@dataclass(frozen=True)
class _Owner:
    """What differs between project hooks and group hooks: what they hang on and who manages
    them. Everything else (the endpoints, their parameters and answers) is the same."""

    kind: Literal["project", "group"]
    hook_kind: HookKind
    find: Callable[[Actor, str], Any]
    list_hooks: Callable[[Actor, Any], QuerySet[WebHook]]
    get_hook: Callable[[Actor, Any, int], WebHook]
    authorize: Callable[[Actor, Any], None]
    create: Callable[[Actor, Any, dict[str, Any]], WebHook]


def _names(name: str) -> dict[str, Any]:
    return endpoint_names(__name__, name)


def _register(owner: _Owner) -> None:
    """Register the hooks endpoints of one owner kind under `/{kind}s/{id}/hooks`."""
    kind = owner.kind
    base = f"/{kind}s/{{id}}/hooks"
    hook_path = f"{base}/{{hook_id}}"

    def owner_hook(request: HttpRequest, id: str, hook_id: int) -> tuple[Actor, WebHook]:
        actor = require_user(request)
        return actor, owner.get_hook(actor, owner.find(actor, id), hook_id)

    @router.get(base, auth=SIGNED_IN, **_names(f"list_{kind}_hooks"))
    def list_hooks(
        request: HttpRequest, response: HttpResponse, id: PathStr
    ) -> list[dict[str, Any]]:
        actor = require_user(request)
        hooks = owner.list_hooks(actor, owner.find(actor, id))
        return paginated(request, response, hooks, hook_entities)

    @router.get(hook_path, auth=SIGNED_IN, **_names(f"get_{kind}_hook"))
    def get_hook(request: HttpRequest, id: PathStr, hook_id: int) -> dict[str, Any]:
        return hook_entity(owner_hook(request, id, hook_id)[1])

    @router.post(
        base, auth=SIGNED_IN, response={201: dict[str, Any]}, **_names(f"create_{kind}_hook")
    )
    def create_hook(
        request: HttpRequest, id: PathStr, payload: Annotated[HookParams, Params(...)]
    ) -> Status[dict[str, Any]]:
        actor = require_user(request)
        found = owner.find(actor, id)
        owner.authorize(actor, found)
        attrs = _attrs(payload, owner.hook_kind, create=True)
        return Status(201, hook_entity(owner.create(actor, found, attrs)))

    @router.put(hook_path, auth=SIGNED_IN, **_names(f"update_{kind}_hook"))
    def update_hook(
        request: HttpRequest, id: PathStr, hook_id: int, payload: Annotated[HookParams, Params(...)]
    ) -> dict[str, Any]:
        actor, hook = owner_hook(request, id, hook_id)
        attrs = _attrs(payload, owner.hook_kind, create=False)
        return hook_entity(services.update_hook(actor=actor, hook=hook, attrs=attrs))

    @router.delete(hook_path, auth=SIGNED_IN, **_names(f"delete_{kind}_hook"))
    def delete_hook(request: HttpRequest, id: PathStr, hook_id: int) -> HttpResponse:
        actor, hook = owner_hook(request, id, hook_id)
        services.delete_hook(actor=actor, hook=hook)
        return HttpResponse(status=204)

    @router.post(
        f"{hook_path}/test/{{trigger}}",
        auth=SIGNED_IN,
        response={201: dict[str, str]},
        **_names(f"test_{kind}_hook"),
    )
    def test_hook(
        request: HttpRequest, id: PathStr, hook_id: int, trigger: TestTrigger
    ) -> Status[dict[str, str]]:
        actor, hook = owner_hook(request, id, hook_id)
        outcome = services.test_hook(actor=actor, hook=hook, trigger=trigger)
        return _test_answer(outcome.status, outcome.message)

    @router.get(f"{hook_path}/events", auth=SIGNED_IN, **_names(f"list_{kind}_hook_events"))
    def list_hook_events(
        request: HttpRequest,
        response: HttpResponse,
        id: PathStr,
        hook_id: int,
        query: Query[EventsQuery],
    ) -> list[dict[str, Any]]:
        statuses = _statuses(query)
        actor, hook = owner_hook(request, id, hook_id)
        events = queries.list_hook_events(actor, hook, statuses=statuses)
        return paginated(request, response, events, hook_event_entities)

    @router.post(
        f"{hook_path}/events/{{hook_log_id}}/resend",
        auth=SIGNED_IN,
        response={201: dict[str, Any]},
        **_names(f"resend_{kind}_hook_event"),
    )
    def resend_hook_event(
        request: HttpRequest, id: PathStr, hook_id: int, hook_log_id: int
    ) -> Status[dict[str, Any]]:
        actor, hook = owner_hook(request, id, hook_id)
        return _resend_answer(hook, actor, hook_log_id)

    # URL variables and custom headers: a key and a value each, set and removed alike.
    for segment, noun, set_value, delete_value in (
        ("url_variables", "url_variable", services.set_url_variable, services.delete_url_variable),
        (
            "custom_headers",
            "custom_header",
            services.set_custom_header,
            services.delete_custom_header,
        ),
    ):
        _register_keyed(kind, hook_path, segment, noun, owner_hook, set_value, delete_value)


def _register_keyed(
    kind: str,
    hook_path: str,
    segment: str,
    noun: str,
    owner_hook: Callable[[HttpRequest, str, int], tuple[Actor, WebHook]],
    set_value: Callable[..., object],
    delete_value: Callable[..., object],
) -> None:
    path = f"{hook_path}/{segment}/{{key}}"

    @router.put(path, auth=SIGNED_IN, **_names(f"set_{kind}_hook_{noun}"))
    def set_keyed(
        request: HttpRequest,
        id: PathStr,
        hook_id: int,
        key: PathStr,
        payload: Annotated[ValueParams, Params(...)],
    ) -> HttpResponse:
        actor, hook = owner_hook(request, id, hook_id)
        set_value(actor=actor, hook=hook, key=key, value=payload.value)
        return HttpResponse(status=204)

    @router.delete(path, auth=SIGNED_IN, **_names(f"delete_{kind}_hook_{noun}"))
    def delete_keyed(request: HttpRequest, id: PathStr, hook_id: int, key: PathStr) -> HttpResponse:
        actor, hook = owner_hook(request, id, hook_id)
        delete_value(actor=actor, hook=hook, key=key)
        return HttpResponse(status=204)


_register(
    _Owner(
        kind="project",
        hook_kind=HookKind.PROJECT,
        find=get_project_for,
        list_hooks=queries.list_project_hooks,
        get_hook=queries.get_project_hook,
        authorize=services.authorize_project,
        create=lambda actor, project, attrs: services.create_project_hook(
            actor=actor, project=project, attrs=attrs
        ),
    )
)
_register(
    _Owner(
        kind="group",
        hook_kind=HookKind.GROUP,
        find=get_group_for,
        list_hooks=queries.list_group_hooks,
        get_hook=queries.get_group_hook,
        authorize=services.authorize_group,
        create=lambda actor, group, attrs: services.create_group_hook(
            actor=actor, group=group, attrs=attrs
        ),
    )
)


# -- system hooks -----------------------------------------------------------------------------


def _system_hook(request: HttpRequest, hook_id: int) -> tuple[Actor, WebHook]:
    actor = require_user(request)
    return actor, queries.get_system_hook(actor, hook_id)


@router.get("/hooks", auth=SIGNED_IN)
def list_system_hooks(request: HttpRequest, response: HttpResponse) -> list[dict[str, Any]]:
    actor = require_user(request)
    return paginated(request, response, queries.list_system_hooks(actor), hook_entities)


@router.get("/hooks/{hook_id}", auth=SIGNED_IN)
def get_system_hook(request: HttpRequest, hook_id: int) -> dict[str, Any]:
    return hook_entity(_system_hook(request, hook_id)[1])


@router.post("/hooks", auth=SIGNED_IN, response={201: dict[str, Any]})
def create_system_hook(
    request: HttpRequest, payload: Annotated[HookParams, Params(...)]
) -> Status[dict[str, Any]]:
    actor = require_user(request)
    services.authorize_system(actor)
    attrs = _attrs(payload, HookKind.SYSTEM, create=True)
    return Status(201, hook_entity(services.create_system_hook(actor=actor, attrs=attrs)))


@router.put("/hooks/{hook_id}", auth=SIGNED_IN)
def update_system_hook(
    request: HttpRequest, hook_id: int, payload: Annotated[HookParams, Params(...)]
) -> dict[str, Any]:
    actor, hook = _system_hook(request, hook_id)
    attrs = _attrs(payload, HookKind.SYSTEM, create=False)
    return hook_entity(services.update_hook(actor=actor, hook=hook, attrs=attrs))


@router.post("/hooks/{hook_id}", auth=SIGNED_IN, response={201: dict[str, Any]})
def test_system_hook(request: HttpRequest, hook_id: int) -> Status[dict[str, Any]]:
    actor, hook = _system_hook(request, hook_id)
    return Status(201, services.test_system_hook(actor=actor, hook=hook))


@router.delete("/hooks/{hook_id}", auth=SIGNED_IN)
def delete_system_hook(request: HttpRequest, hook_id: int) -> HttpResponse:
    actor, hook = _system_hook(request, hook_id)
    services.delete_hook(actor=actor, hook=hook)
    return HttpResponse(status=204)


@router.put("/hooks/{hook_id}/url_variables/{key}", auth=SIGNED_IN)
def set_system_hook_url_variable(
    request: HttpRequest, hook_id: int, key: PathStr, payload: Annotated[ValueParams, Params(...)]
) -> HttpResponse:
    actor, hook = _system_hook(request, hook_id)
    services.set_url_variable(actor=actor, hook=hook, key=key, value=payload.value)
    return HttpResponse(status=204)


@router.delete("/hooks/{hook_id}/url_variables/{key}", auth=SIGNED_IN)
def delete_system_hook_url_variable(
    request: HttpRequest, hook_id: int, key: PathStr
) -> HttpResponse:
    actor, hook = _system_hook(request, hook_id)
    services.delete_url_variable(actor=actor, hook=hook, key=key)
    return HttpResponse(status=204)
