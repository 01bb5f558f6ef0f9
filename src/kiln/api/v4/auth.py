"""Who is calling: GitLab's ways to present a token, `sudo`, and token scope enforcement.

Accepted, as GitLab: `PRIVATE-TOKEN` header, `Authorization: Bearer`, `private_token` or
`access_token` query parameters, and a signed-in web session for reads. No credential is an
anonymous actor (public things stay readable); a bad credential is 401, never anonymous.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security.base import AuthBase

from kiln.accounts.models import User, UserState
from kiln.accounts.services import authenticate_token
from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, KilnError, NotFound, Unauthorized

_READ_METHODS = {"GET", "HEAD", "OPTIONS"}


class InsufficientScope(KilnError):
    status = 403
    reason = "insufficient_scope"

    def __init__(self, scopes: list[str]) -> None:
        super().__init__(
            "The request requires higher privileges than provided by the access token."
        )
        self.scopes = scopes

    def body(self) -> dict[str, Any]:
        return {
            "error": "insufficient_scope",
            "error_description": self.message,
            "scope": " ".join(self.scopes),
        }


def presented_token(request: HttpRequest) -> str | None:
    if value := request.headers.get("Private-Token"):
        return value
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.GET.get("private_token") or request.GET.get("access_token") or None


def _required_scopes(request: HttpRequest) -> list[str]:
    if request.method in _READ_METHODS:
        scopes = ["api", "read_api"]
        path = request.path
        if path.startswith(("/api/v4/user", "/api/v4/users")):
            scopes.append("read_user")
        return scopes
    return ["api"]


def _check_user_state(user: User) -> None:
    if user.state == UserState.BLOCKED or user.state == UserState.BLOCKED_PENDING_APPROVAL:
        raise Forbidden("Your account has been blocked.")
    if user.state == UserState.DEACTIVATED:
        raise Forbidden(
            "Your account has been deactivated. You can activate it again by signing in."
        )


def _sudo(request: HttpRequest, actor: Actor) -> Actor:
    target = request.headers.get("Sudo") or request.GET.get("sudo")
    if not target:
        return actor
    if not actor.has_scope("sudo") or actor.scopes is None:
        raise Forbidden("Must be authenticated using an OAuth or Personal Access Token to use sudo")
    if not actor.is_admin:
        raise Forbidden("Must be admin to use sudo")
    qs = User.objects.all()
    user = qs.filter(pk=int(target)).first() if target.isdigit() else None
    user = user or qs.filter(username__iexact=target).first()
    if user is None:
        raise NotFound(f"User with ID or username '{target}'")
    _check_user_state(user)
    return Actor(user=user, scopes=actor.scopes, token=actor.token, sudoer=actor.user)


def authenticate_request(request: HttpRequest) -> Actor:
    """The actor for an API request, cached on the request."""
    cached = getattr(request, "_kiln_actor", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    value = presented_token(request)
    if value is not None:
        token = authenticate_token(value)
        _check_user_state(token.user)
        actor = Actor(user=token.user, scopes=frozenset(token.scopes), token=token)
        required = _required_scopes(request)
        if not actor.has_scope(*required):
            raise InsufficientScope(required)
        actor = _sudo(request, actor)
    else:
        session_user = getattr(request, "user", None)
        if (
            session_user is not None
            and session_user.is_authenticated
            and request.method in _READ_METHODS
            and isinstance(session_user, User)
        ):
            actor = Actor(user=session_user)
        else:
            actor = Actor()
    request._kiln_actor = actor  # type: ignore[attr-defined]
    return actor


class GitLabAuth(AuthBase):
    """django-ninja auth: always returns an Actor (anonymous when nothing was presented)."""

    openapi_type = "apiKey"

    def __init__(self) -> None:
        self.openapi_in = "header"
        self.openapi_name = "PRIVATE-TOKEN"
        super().__init__()

    def __call__(self, request: HttpRequest) -> Actor:
        return authenticate_request(request)


def actor_of(request: HttpRequest) -> Actor:
    return authenticate_request(request)


def require_user(request: HttpRequest) -> Actor:
    """The actor, which must be signed in (401 otherwise, as GitLab's `authenticate!`)."""
    actor = authenticate_request(request)
    if actor.user is None:
        raise Unauthorized()
    return actor


def require_admin(request: HttpRequest) -> Actor:
    actor = require_user(request)
    if not actor.is_admin:
        raise Forbidden()
    return actor
