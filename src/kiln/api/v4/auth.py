"""Who is calling: GitLab's ways to present a token, `sudo`, and token scope enforcement.

Accepted, as GitLab: `PRIVATE-TOKEN` header, `Authorization: Bearer`, `private_token` or
`access_token` query parameters, and a signed-in web session for reads. No credential is an
anonymous actor (public things stay readable); a bad credential is 401, never anonymous.
"""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest
from ninja.security.base import AuthBase

from kiln.accounts.access_tokens import authenticate_token
from kiln.accounts.models import User, UserState
from kiln.accounts.tokens import presented_token as presented_token  # re-exported for endpoints
from kiln.ci.jobtokens import actor_for_job_token
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


def _required_scopes(request: HttpRequest) -> list[str]:
    if request.method in _READ_METHODS:
        scopes = ["api", "read_api"]
        path = request.path
        if path.startswith(("/api/v4/user", "/api/v4/users")):
            scopes.append("read_user")
        return scopes
    if request.path == "/api/v4/user/runners":
        # A token limited to creating runners may do exactly that (GitLab's create_runner).
        return ["api", "create_runner"]
    return ["api"]


def check_user_state(user: User) -> None:
    if user.state == UserState.BLOCKED or user.state == UserState.BLOCKED_PENDING_APPROVAL:
        raise Forbidden("Your account has been blocked.")
    if user.state == UserState.DEACTIVATED:
        raise Forbidden(
            "Your account has been deactivated. You can activate it again by signing in."
        )


def apply_sudo(request: HttpRequest, actor: Actor) -> Actor:
    target = request.headers.get("Sudo") or request.GET.get("sudo")
    if not target:
        return actor
    # GitLab's order: admin first, then a token, then its scope.
    if not actor.is_admin:
        raise Forbidden("Must be admin to use sudo")
    if actor.token is None:
        raise Forbidden("Must be authenticated using an OAuth or Personal Access Token to use sudo")
    if not actor.has_scope("sudo"):
        raise InsufficientScope(["sudo"])
    qs = User.objects.all()
    user = qs.filter(pk=int(target)).first() if target.isdigit() else None
    user = user or qs.filter(username__iexact=target).first()
    if user is None:
        raise NotFound(f"User with ID or username '{target}'")
    check_user_state(user)
    return Actor(user=user, scopes=actor.scopes, token=actor.token, sudoer=actor.user)


# The endpoints GitLab lets a CI job token call (reads of job artifacts, the job itself);
# anywhere else a JOB-TOKEN is ignored, as GitLab ignores it, so it reaches nothing private.
_JOB_TOKEN_ROUTES = re.compile(
    r"/api/v4/(?:job|projects/.+/jobs/(?:\d+/artifacts(?:/.*)?|artifacts/.+/(?:download|raw/.*)))"
)


def _job_token_actor(request: HttpRequest) -> Actor | None:
    value = request.headers.get("Job-Token") or request.GET.get("job_token")
    if not value or request.method not in _READ_METHODS:
        return None
    if not _JOB_TOKEN_ROUTES.fullmatch(request.path):
        return None
    actor = actor_for_job_token(value)
    if actor is None:
        raise Unauthorized()
    return actor


def authenticate_request(request: HttpRequest) -> Actor:
    """The actor for an API request, cached on the request."""
    cached = getattr(request, "_kiln_actor", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    value = presented_token(request)
    job_actor = _job_token_actor(request) if value is None else None
    if job_actor is not None:
        actor = job_actor
    elif value is not None:
        # The rate limiter may have looked the token up already (see kiln.ops.ratelimit).
        token = authenticate_token(value, lookup=getattr(request, "_kiln_token_lookup", None))
        check_user_state(token.user)
        actor = Actor(user=token.user, scopes=frozenset(token.scopes), token=token)
        required = _required_scopes(request)
        if not actor.has_scope(*required):
            raise InsufficientScope(required)
        actor = apply_sudo(request, actor)
    else:
        session_user = getattr(request, "user", None)
        if (
            session_user is not None
            and session_user.is_authenticated
            and request.method in _READ_METHODS
            and isinstance(session_user, User)
        ):
            # The session's user is a lazy proxy; policies dispatch on the real class.
            actor = Actor(user=getattr(session_user, "_wrapped", session_user))
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


class SignedInAuth(GitLabAuth):
    """For endpoints that need a signed-in caller: 401 before parameters are even validated,
    as GitLab's `authenticate!` runs before Grape's validations."""

    def __call__(self, request: HttpRequest) -> Actor:
        return require_user(request)


SIGNED_IN = SignedInAuth()


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
