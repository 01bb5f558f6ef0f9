"""API v4: `/user`, `/users`, SSH keys and personal access tokens, as GitLab answers them.

Endpoints parse parameters (Grape's names, defaults and error words), call one query or
service from `kiln.accounts`, and present the result with `presenters.users`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from pydantic import ConfigDict

from kiln.accounts import access_tokens, queries, services
from kiln.accounts.models import PersonalAccessToken, SSHKey, TokenScope, User
from kiln.api.v4.auth import (
    InsufficientScope,
    apply_sudo,
    authenticate_request,
    check_user_state,
    presented_token,
    require_admin,
    require_user,
)
from kiln.api.v4.pagination import paginated
from kiln.api.v4.params import CommaList, Params, PathStr
from kiln.api.v4.presenters import users as present
from kiln.core.actor import Actor
from kiln.core.errors import (
    BadRequest,
    Forbidden,
    InvalidParameter,
    MethodNotAllowed,
    NotFound,
)

router = Router(tags=["users"])

_CREATED: dict[int, Any] = {201: Any}
_NO_CONTENT = 204


def _no_content() -> HttpResponse:
    return HttpResponse(status=_NO_CONTENT)


class _Params(Schema):
    # Grape coerces numbers given for string parameters; so do we.
    model_config = ConfigDict(coerce_numbers_to_str=True)


def _missing(params: Schema, *names: str) -> list[str]:
    return [f"{name} is missing" for name in names if name not in params.model_fields_set]


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _signed_in(request: HttpRequest) -> tuple[Actor, User]:
    """The actor (401 when anonymous) and its user as a `User` row.

    A web session's actor carries Django's lazy `request.user`; policies dispatch on the
    subject's type, so the row is loaded once here.
    """
    actor = require_user(request)
    user = actor.user
    assert user is not None
    if type(user) is not User:
        user = User.objects.get(pk=user.pk)
    return actor, user


# --- the current user -----------------------------------------------------------------------


@router.get("/user")
def get_current_user(request: HttpRequest) -> dict[str, Any]:
    actor, user = _signed_in(request)
    return present.current_user(user, request, actor)


# --- users ----------------------------------------------------------------------------------


class UserListQuery(_Params):
    username: str | None = None
    public_email: str | None = None
    search: str | None = None
    active: bool = False
    blocked: bool = False
    external: bool = False
    humans: bool = False
    exclude_active: bool = False
    exclude_external: bool = False
    exclude_humans: bool = False
    exclude_internal: bool = False
    without_project_bots: bool = False
    admins: bool = False
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    without_projects: bool = False
    two_factor: str | None = None
    order_by: Literal["id", "name", "username", "created_at", "updated_at"] | None = None
    sort: Literal["asc", "desc"] | None = None


@router.get("/users")
def list_users(
    request: HttpRequest, response: HttpResponse, filters: Query[UserListQuery]
) -> list[dict[str, Any]]:
    actor = authenticate_request(request)
    if actor.user is None and not filters.username:
        # GitLab never lists every account to an anonymous caller; a lookup by username only.
        raise Forbidden("Not authorized to access /api/v4/users")
    values = filters.model_dump()
    values["created_after"] = _aware(filters.created_after)
    values["created_before"] = _aware(filters.created_before)
    qs = queries.list_users_for(actor, queries.UserFilters(**values))
    return paginated(request, response, qs, lambda page: present.user_list(page, request, actor))


@router.get("/users/{int:user_id}")
def get_user(request: HttpRequest, user_id: int) -> dict[str, Any]:
    actor = authenticate_request(request)
    if actor.user is None:
        raise Forbidden("Not authorized!")
    user = queries.get_user_for(actor, user_id)
    return present.single_user(user, request, actor)


class _UserAttributes(_Params):
    """GitLab's `optional_attributes` of `POST /users` and `PUT /users/:id`."""

    skype: str | None = None
    linkedin: str | None = None
    twitter: str | None = None
    discord: str | None = None
    github: str | None = None
    website_url: str | None = None
    organization: str | None = None
    projects_limit: int | None = None
    extern_uid: str | None = None
    provider: str | None = None
    bio: str | None = None
    location: str | None = None
    pronouns: str | None = None
    public_email: str | None = None
    commit_email: str | None = None
    admin: bool | None = None
    can_create_group: bool | None = None
    external: bool | None = None
    theme_id: int | None = None
    color_scheme_id: int | None = None
    private_profile: bool | None = None
    note: str | None = None
    view_diffs_file_by_file: bool | None = None


# Accepted for compatibility, with nothing in Kiln to store them in.
_IGNORED = {"skype", "extern_uid", "provider", "view_diffs_file_by_file"}


def _attribute_changes(params: _UserAttributes, names: set[str]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in sorted(names):
        if name in _IGNORED or name not in _UserAttributes.model_fields:
            continue
        value = getattr(params, name)
        if name == "admin":
            if value is not None:
                changes["is_admin"] = value
        elif name == "external":
            if value is not None:
                changes["external"] = value
        elif value is not None:
            changes[name] = value
        elif name in ("bio", "location", "organization", "note"):
            changes[name] = ""  # Grape's nil for a text attribute clears it
    return changes


class UserCreateParams(_UserAttributes):
    email: str | None = None
    password: str | None = None
    reset_password: bool | None = None
    skip_confirmation: bool | None = None
    name: str | None = None
    username: str | None = None
    force_random_password: bool | None = None


@router.post("/users", response=_CREATED)
def create_user(
    request: HttpRequest, params: Annotated[UserCreateParams, Params(...)]
) -> dict[str, Any]:
    actor = require_user(request)
    given = params.model_fields_set
    problems = _missing(params, "email")
    if not {"password", "reset_password", "force_random_password"} & given:
        problems.append(
            "password, reset_password, force_random_password are missing, "
            "at least one parameter must be provided"
        )
    problems += _missing(params, "name", "username")
    if problems:
        raise InvalidParameter(", ".join(problems))
    changes = _attribute_changes(params, set(given))
    user = services.create_user(
        actor=actor,
        username=params.username or "",
        name=params.name or "",
        email=params.email or "",
        password=params.password,
        reset_password=bool(params.reset_password),
        force_random_password=bool(params.force_random_password),
        skip_confirmation=bool(params.skip_confirmation),
        **changes,
    )
    return present.admin_user(user, request, actor)


class UserUpdateParams(_UserAttributes):
    email: str | None = None
    password: str | None = None
    skip_reconfirmation: bool | None = None
    name: str | None = None
    username: str | None = None


def _admin_target(request: HttpRequest, user_id: int) -> tuple[Actor, User]:
    """GitLab's `authenticated_as_admin!` then `User.find_by(id:)`: 401, 403, then 404."""
    actor = require_admin(request)
    user = User.objects.select_related("created_by").filter(pk=user_id).first()
    if user is None:
        raise NotFound("User")
    return actor, user


@router.put("/users/{int:user_id}")
def update_user(
    request: HttpRequest, user_id: int, params: Annotated[UserUpdateParams, Params(...)]
) -> dict[str, Any]:
    actor, user = _admin_target(request, user_id)
    given = set(params.model_fields_set)
    changes = _attribute_changes(params, given)
    for name in ("email", "password", "name", "username"):
        if name in given:
            changes[name] = getattr(params, name)
    user = services.update_user(actor=actor, user=user, changes=changes)
    return present.admin_user(user, request, actor)


class UserDeleteParams(_Params):
    hard_delete: bool = False


@router.delete("/users/{int:user_id}")
def delete_user(
    request: HttpRequest, user_id: int, params: Annotated[UserDeleteParams, Params(...)]
) -> HttpResponse:
    actor, user = _admin_target(request, user_id)
    services.delete_user(actor=actor, user=user, hard_delete=params.hard_delete)
    return _no_content()


@router.post("/users/{int:user_id}/block", response=_CREATED)
def block_user(request: HttpRequest, user_id: int) -> bool | None:
    actor, user = _admin_target(request, user_id)
    return services.block_user(actor=actor, user=user)


@router.post("/users/{int:user_id}/unblock", response=_CREATED)
def unblock_user(request: HttpRequest, user_id: int) -> bool:
    actor, user = _admin_target(request, user_id)
    return services.unblock_user(actor=actor, user=user)


@router.post("/users/{int:user_id}/deactivate", response=_CREATED)
def deactivate_user(request: HttpRequest, user_id: int) -> bool | None:
    actor, user = _admin_target(request, user_id)
    return services.deactivate_user(actor=actor, user=user)


@router.post("/users/{int:user_id}/activate", response=_CREATED)
def activate_user(request: HttpRequest, user_id: int) -> bool:
    actor, user = _admin_target(request, user_id)
    return services.activate_user(actor=actor, user=user)


# --- SSH keys -------------------------------------------------------------------------------


class KeyCreateParams(_Params):
    key: str | None = None
    title: str | None = None
    expires_at: dt.datetime | None = None
    usage_type: Literal["auth", "signing", "auth_and_signing"] = "auth_and_signing"


def _check_key_params(params: KeyCreateParams) -> None:
    problems = _missing(params, "key", "title")
    if problems:
        raise InvalidParameter(", ".join(problems))


def _add_key(
    request: HttpRequest, actor: Actor, user: User, params: KeyCreateParams
) -> dict[str, Any]:
    _check_key_params(params)
    key = services.add_ssh_key(
        actor=actor,
        user=user,
        title=params.title or "",
        key=params.key or "",
        expires_at=_aware(params.expires_at),
        usage_type=params.usage_type,
    )
    return present.ssh_key(key, request)


def _own_key(actor: Actor, key_id: int) -> SSHKey:
    if actor.user_id is None:
        raise NotFound("Key")
    key = SSHKey.objects.select_related("user").filter(pk=key_id, user_id=actor.user_id).first()
    if key is None:
        raise NotFound("Key")
    return key


@router.get("/user/keys")
def list_current_user_keys(request: HttpRequest, response: HttpResponse) -> list[dict[str, Any]]:
    actor, user = _signed_in(request)
    qs = queries.list_ssh_keys_for(actor, user)
    return paginated(request, response, qs, lambda page: present.ssh_keys(page, request))


@router.get("/user/keys/{int:key_id}")
def get_current_user_key(request: HttpRequest, key_id: int) -> dict[str, Any]:
    actor = require_user(request)
    return present.ssh_key(_own_key(actor, key_id), request)


@router.post("/user/keys", response=_CREATED)
def add_current_user_key(
    request: HttpRequest, params: Annotated[KeyCreateParams, Params(...)]
) -> dict[str, Any]:
    actor, user = _signed_in(request)
    return _add_key(request, actor, user, params)


@router.delete("/user/keys/{int:key_id}")
def delete_current_user_key(request: HttpRequest, key_id: int) -> HttpResponse:
    actor = require_user(request)
    services.delete_ssh_key(actor=actor, key=_own_key(actor, key_id))
    return _no_content()


@router.get("/users/{user_id}/keys")
def list_user_keys(
    request: HttpRequest, response: HttpResponse, user_id: PathStr
) -> list[dict[str, Any]]:
    actor = authenticate_request(request)
    user = queries.get_user_for(actor, user_id)
    qs = queries.list_ssh_keys_for(actor, user)
    return paginated(request, response, qs, lambda page: present.ssh_keys(page, request))


@router.get("/users/{int:user_id}/keys/{int:key_id}")
def get_user_key(request: HttpRequest, user_id: int, key_id: int) -> dict[str, Any]:
    actor = authenticate_request(request)
    user = queries.get_user_for(actor, user_id)
    return present.ssh_key(queries.get_ssh_key_for(actor, user, key_id), request)


@router.post("/users/{user_id}/keys", response=_CREATED)
def add_user_key(
    request: HttpRequest, user_id: PathStr, params: Annotated[KeyCreateParams, Params(...)]
) -> dict[str, Any]:
    # One route with the GET above (which takes a username too); here the id is an Integer.
    require_user(request)
    if not user_id.isdigit():
        raise InvalidParameter("user_id is invalid")
    _check_key_params(params)  # Grape validates before `authenticated_as_admin!`
    actor, user = _admin_target(request, int(user_id))
    return _add_key(request, actor, user, params)


@router.delete("/users/{int:user_id}/keys/{int:key_id}")
def delete_user_key(request: HttpRequest, user_id: int, key_id: int) -> HttpResponse:
    actor, user = _admin_target(request, user_id)
    key = queries.get_ssh_key_for(actor, user, key_id)
    services.delete_ssh_key(actor=actor, key=key)
    return _no_content()


# --- personal access tokens -----------------------------------------------------------------


class TokenCreateParams(_Params):
    name: str | None = None
    scopes: CommaList | None = None
    description: str | None = None
    expires_at: dt.date | None = None


@router.post("/users/{int:user_id}/personal_access_tokens", response=_CREATED)
def create_user_personal_access_token(
    request: HttpRequest, user_id: int, params: Annotated[TokenCreateParams, Params(...)]
) -> dict[str, Any]:
    # GitLab checks the admin first (a `before` hook), then the parameters, then the user.
    actor = require_admin(request)
    problems = _missing(params, "name", "scopes")
    if problems:
        raise InvalidParameter(", ".join(problems))
    scopes = params.scopes or []
    if not scopes or any(s not in TokenScope.values for s in scopes):
        raise InvalidParameter("scopes does not have a valid value")
    actor, user = _admin_target(request, user_id)
    token, value = access_tokens.create_personal_access_token(
        actor=actor,
        user=user,
        name=params.name or "",
        scopes=scopes,
        expires_at=params.expires_at,
        description=params.description or "",
    )
    return present.personal_access_token(token, value=value)


class TokenListQuery(_Params):
    user_id: int | None = None
    revoked: bool | None = None
    state: Literal["active", "inactive"] | None = None
    created_before: dt.datetime | None = None
    created_after: dt.datetime | None = None
    last_used_before: dt.datetime | None = None
    last_used_after: dt.datetime | None = None
    expires_before: dt.date | None = None
    expires_after: dt.date | None = None
    search: str | None = None
    sort: str | None = None


@router.get("/personal_access_tokens")
def list_personal_access_tokens(
    request: HttpRequest, response: HttpResponse, filters: Query[TokenListQuery]
) -> list[dict[str, Any]]:
    actor = require_user(request)
    values = filters.model_dump()
    for name in ("created_before", "created_after", "last_used_before", "last_used_after"):
        values[name] = _aware(values[name])
    token_filters = queries.TokenFilters(user_id_given="user_id" in request.GET, **values)
    qs = queries.list_personal_access_tokens_for(actor, token_filters)
    return paginated(request, response, qs, present.personal_access_tokens)


def _token_auth(
    *, scopes: tuple[str, ...] | None, rotation: bool
) -> Callable[[HttpRequest], Actor]:
    """Authentication for the token endpoints, which GitLab treats apart:

    - `self` endpoints accept a token of any scope (`scopes=None`) or the named ones;
    - on a rotation request, presenting a token already revoked revokes every token rotated
      from it (GitLab's token-family rule: an old token seen again has leaked).
    """

    def authenticate(request: HttpRequest) -> Actor:
        value = presented_token(request)
        if value is None:
            return authenticate_request(request)
        try:
            token = access_tokens.authenticate_token(value)
        except access_tokens.TokenRevoked as exc:
            if rotation:
                access_tokens.revoke_token_family(token=exc.token)
            raise
        check_user_state(token.user)
        actor = Actor(user=token.user, scopes=frozenset(token.scopes), token=token)
        if scopes is not None and not actor.has_scope(*scopes):
            raise InsufficientScope(list(scopes))
        actor = apply_sudo(request, actor)
        request._kiln_actor = actor  # type: ignore[attr-defined]
        return actor

    return authenticate


def _presented_token_of(request: HttpRequest) -> tuple[Actor, PersonalAccessToken]:
    actor = require_user(request)
    if actor.token is None:
        raise BadRequest("This endpoint requires token type to be a personal access token")
    return actor, actor.token


@router.get("/personal_access_tokens/self", auth=_token_auth(scopes=None, rotation=False))
def get_own_personal_access_token(request: HttpRequest) -> dict[str, Any]:
    _, token = _presented_token_of(request)
    return present.personal_access_token(token)


@router.delete("/personal_access_tokens/self", auth=_token_auth(scopes=None, rotation=False))
def revoke_own_personal_access_token(request: HttpRequest) -> HttpResponse:
    actor, token = _presented_token_of(request)
    access_tokens.revoke_personal_access_token(actor=actor, token=token)
    return _no_content()


class RotateParams(_Params):
    expires_at: dt.date | None = None


@router.post(
    "/personal_access_tokens/self/rotate",
    auth=_token_auth(scopes=("api", "self_rotate"), rotation=True),
)
def rotate_own_personal_access_token(
    request: HttpRequest, params: Annotated[RotateParams, Params(...)]
) -> dict[str, Any]:
    actor = require_user(request)
    if actor.token is None:
        raise MethodNotAllowed()
    token, value = access_tokens.rotate_personal_access_token(
        actor=actor, token=actor.token, expires_at=params.expires_at
    )
    return present.personal_access_token(token, value=value)


@router.get("/personal_access_tokens/{int:token_id}")
def get_personal_access_token(request: HttpRequest, token_id: int) -> dict[str, Any]:
    actor = require_user(request)
    return present.personal_access_token(queries.get_personal_access_token_for(actor, token_id))


@router.delete("/personal_access_tokens/{int:token_id}")
def revoke_personal_access_token(request: HttpRequest, token_id: int) -> HttpResponse:
    actor = require_user(request)
    token = queries.find_personal_access_token(token_id)
    if token is None:
        raise NotFound()
    access_tokens.revoke_personal_access_token(actor=actor, token=token)
    return _no_content()


@router.post(
    "/personal_access_tokens/{int:token_id}/rotate",
    auth=_token_auth(scopes=("api",), rotation=True),
)
def rotate_personal_access_token(
    request: HttpRequest, token_id: int, params: Annotated[RotateParams, Params(...)]
) -> dict[str, Any]:
    actor = require_user(request)
    # Only admins learn that a token does not exist (401 for everyone else).
    token = queries.get_personal_access_token_for(actor, token_id)
    token, value = access_tokens.rotate_personal_access_token(
        actor=actor, token=token, expires_at=params.expires_at
    )
    return present.personal_access_token(token, value=value)
