"""User and IP rate limits, as GitLab's application settings name them.

Four throttles, each off by default (as on GitLab self-managed) and each a fixed window of
`*_period_in_seconds` allowing `*_requests_per_period` requests:

- `throttle_authenticated_api`: API requests per user (a token, or a signed-in session);
- `throttle_unauthenticated_api`: API requests without a valid credential, per client address;
- `throttle_authenticated_web`, `throttle_unauthenticated_web`: the same for everything else.

Health and metrics endpoints and the internal API are never throttled. A throttled request
gets GitLab's answer: 429, `text/plain`, the body `Retry later` (or the configured
`rate_limiting_response_text`), `Retry-After` and GitLab's `RateLimit-*` headers. Counted
requests that pass carry the `RateLimit-*` headers too.

Who the user is must be known before the API's authentication runs (it runs inside the view),
so a presented token is looked up here (one indexed query, only while a throttle that needs it
is on) and the result is left on the request for the API's authentication to reuse.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from importlib import import_module

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from kiln.accounts.tokens import presented_token
from kiln.core import appsettings
from kiln.core.models import ApplicationSetting
from kiln.ops import shared
from kiln.ops.network import client_ip

DEFAULT_RESPONSE_TEXT = "Retry later"
_EXEMPT = re.compile(r"/-/(health|liveness|readiness|metrics)(/|\Z)|/api/v\d+/internal/")

Handler = Callable[[HttpRequest], HttpResponseBase]


@dataclass(frozen=True)
class Throttle:
    name: str
    limit: int
    period: int


def _throttle(setting: ApplicationSetting, name: str) -> Throttle | None:
    if not getattr(setting, f"{name}_enabled"):
        return None
    return Throttle(
        name=name,
        limit=int(getattr(setting, f"{name}_requests_per_period")),
        period=max(int(getattr(setting, f"{name}_period_in_seconds")), 1),
    )


def _token_user_id(request: HttpRequest) -> int | None:
    value = presented_token(request)
    if value is None:
        return None
    from kiln.accounts.access_tokens import find_token

    token = find_token(value)
    # Left for the API's authentication, so the token is looked up once per request.
    request._kiln_token_lookup = (value, token)  # type: ignore[attr-defined]
    if token is None or not token.is_active or not token.user.is_active:
        return None
    return int(token.user_id)


def _session_user_id(request: HttpRequest) -> int | None:
    user = getattr(request, "user", None)
    if user is not None:  # AuthenticationMiddleware already ran
        return int(user.pk) if user.is_authenticated else None
    key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if not key:
        return None
    from django.contrib.auth import SESSION_KEY

    store = import_module(settings.SESSION_ENGINE).SessionStore(key)
    user_id = store.get(SESSION_KEY)
    try:
        return int(user_id) if user_id is not None else None
    except (TypeError, ValueError):
        return None


def _user_id(request: HttpRequest, *, api: bool) -> int | None:
    if api:
        # As GitLab: a bad token is no identity at all (the request counts per address).
        if presented_token(request) is not None:
            return _token_user_id(request)
        return _session_user_id(request)
    return _session_user_id(request) or _token_user_id(request)


def _counters() -> shared.Counters:
    if "redis" in settings.CACHES["default"]["BACKEND"].lower():
        return shared.CacheCounters()
    return shared.host_store()


def _headers(throttle: Throttle, count: int, ends: int) -> dict[str, str]:
    # GitLab scales the limit to a 60-second window for RateLimit-Limit.
    per_minute = -(-throttle.limit * 60 // throttle.period)
    return {
        "RateLimit-Name": throttle.name,
        "RateLimit-Limit": str(per_minute),
        "RateLimit-Observed": str(count),
        "RateLimit-Remaining": str(max(throttle.limit - count, 0)),
        "RateLimit-Reset": str(ends),
    }


def throttled_response(
    setting: ApplicationSetting, throttle: Throttle, count: int, ends: int, now: float
) -> HttpResponse:
    text = (setting.rate_limiting_response_text or "").strip() or DEFAULT_RESPONSE_TEXT
    response = HttpResponse(text + "\n", status=429, content_type="text/plain")
    for name, value in _headers(throttle, count, ends).items():
        response[name] = value
    response["RateLimit-ResetTime"] = formatdate(ends, usegmt=True)
    response["Retry-After"] = str(max(ends - int(now), 1))
    return response


class RateLimitMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        # Settings changes reach every process of this host through the shared file.
        store = shared.host_store()
        appsettings.use_change_signal(store)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        setting = appsettings.current()
        if not (
            setting.throttle_authenticated_api_enabled
            or setting.throttle_unauthenticated_api_enabled
            or setting.throttle_authenticated_web_enabled
            or setting.throttle_unauthenticated_web_enabled
        ):
            return self.get_response(request)
        return self._limited(request, setting)

    def _limited(self, request: HttpRequest, setting: ApplicationSetting) -> HttpResponseBase:
        path = request.path_info
        if _EXEMPT.match(path):
            return self.get_response(request)
        api = path.startswith("/api/")
        kind = "api" if api else "web"
        authenticated = _throttle(setting, f"throttle_authenticated_{kind}")
        unauthenticated = _throttle(setting, f"throttle_unauthenticated_{kind}")
        if authenticated is None and unauthenticated is None:
            return self.get_response(request)
        user_id = _user_id(request, api=api)
        if user_id is not None:
            throttle, discriminator = authenticated, f"user:{user_id}"
        else:
            throttle, discriminator = unauthenticated, f"ip:{client_ip(request)}"
        if throttle is None:
            return self.get_response(request)
        now = shared.now()
        count, ends = _counters().hit(f"{throttle.name}:{discriminator}", throttle.period, now)
        if count > throttle.limit:
            return throttled_response(setting, throttle, count, ends, now)
        response = self.get_response(request)
        for name, value in _headers(throttle, count, ends).items():
            response[name] = value
        return response


def reset_counters() -> None:
    """Forget every count (tests; an operator lifting a lockout by hand)."""
    _counters().clear()
