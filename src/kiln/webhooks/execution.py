"""One delivery of one payload to one hook: GitLab's `WebHookService#execute`.

Builds the request (custom template, URL variables, basic auth from the URL, GitLab's headers),
sends it through the SSRF-safe client, records a `WebHookLog` (token and custom header values
redacted, response capped) and answers what happened. The failure state of the hook (GitLab's
auto-disabling) is updated by `record_outcome`, which the caller invokes once per event: the
background task after its last retry, the test and resend endpoints at once.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.db import transaction
from django.utils import timezone

from kiln import GITLAB_COMPAT_VERSION
from kiln.core import appsettings
from kiln.core.urls import base_url
from kiln.webhooks import delivery
from kiln.webhooks.models import HookKind, WebHook, WebHookLog

log = logging.getLogger(__name__)

REDACTED = "[REDACTED]"
INTERNAL_ERROR = "internal error"
# How long delivery logs are kept (GitLab prunes its hook logs after about a month).
LOG_RETENTION = dt.timedelta(days=30)
# Request bodies above this are refused (GitLab: 25 MB).
REQUEST_BODY_LIMIT = 25 * 1024 * 1024

# Auto-disabling, as GitLab's WebHooks::AutoDisabling: after 4 consecutive failures a hook
# rests for 1 minute, doubling up to a day; at the 40th it stays disabled until it succeeds
# again (a test that passes, or a save). System hooks are never disabled.
TEMPORARILY_DISABLED_FAILURE_THRESHOLD = 3
PERMANENTLY_DISABLED_FAILURE_THRESHOLD = 39
INITIAL_BACKOFF = dt.timedelta(minutes=1)
MAX_BACKOFF = dt.timedelta(days=1)
BACKOFF_GROWTH_FACTOR = 2.0

FRAMING_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
VARIABLE_REFERENCE = re.compile(r"\{([A-Za-z]+[0-9]*(?:[._-][A-Za-z0-9]+)*)\}")
_TEMPLATE_PLACEHOLDER = re.compile(r"\{\{(.+?)\}\}")


# -- state of a hook --------------------------------------------------------------------------


def auto_disabling(hook: WebHook) -> bool:
    return hook.kind in (HookKind.PROJECT, HookKind.GROUP)


def temporarily_disabled(hook: WebHook, now: dt.datetime | None = None) -> bool:
    if not auto_disabling(hook) or hook.disabled_until is None:
        return False
    now = now or timezone.now()
    low, high = TEMPORARILY_DISABLED_FAILURE_THRESHOLD + 1, PERMANENTLY_DISABLED_FAILURE_THRESHOLD
    return hook.disabled_until >= now and low <= hook.recent_failures <= high


def permanently_disabled(hook: WebHook) -> bool:
    return auto_disabling(hook) and hook.recent_failures > PERMANENTLY_DISABLED_FAILURE_THRESHOLD


def executable(hook: WebHook, now: dt.datetime | None = None) -> bool:
    return not temporarily_disabled(hook, now) and not permanently_disabled(hook)


def alert_status(hook: WebHook) -> str:
    if temporarily_disabled(hook):
        return "temporarily_disabled"
    if permanently_disabled(hook):
        return "disabled"
    return "executable"


def record_outcome(hook_id: int, *, ok: bool) -> None:
    """After an event's delivery: success re-enables the hook, failure backs it off.

    Takes the row lock so concurrent deliveries count every failure once.
    """
    with transaction.atomic():
        hook = WebHook.objects.select_for_update().filter(pk=hook_id).first()
        if hook is None or not auto_disabling(hook):
            return
        if ok:
            if hook.recent_failures or hook.disabled_until is not None:
                hook.recent_failures, hook.disabled_until = 0, None
                hook.save(update_fields=["recent_failures", "disabled_until", "updated_at"])
            return
        if not executable(hook):
            return
        previous = hook.recent_failures
        hook.recent_failures = min(previous + 1, PERMANENTLY_DISABLED_FAILURE_THRESHOLD + 1)
        fields = ["recent_failures", "updated_at"]
        if hook.recent_failures > TEMPORARILY_DISABLED_FAILURE_THRESHOLD:
            exponent = previous - TEMPORARILY_DISABLED_FAILURE_THRESHOLD
            backoff = INITIAL_BACKOFF * (BACKOFF_GROWTH_FACTOR**exponent)
            backoff = min(max(backoff, INITIAL_BACKOFF), MAX_BACKOFF)
            hook.disabled_until = timezone.now() + backoff
            fields.append("disabled_until")
            log.info(
                "webhook backing off",
                extra={"hook_id": hook.pk, "recent_failures": hook.recent_failures},
            )
        hook.save(update_fields=fields)


# -- the request ----------------------------------------------------------------------------


class HookConfigurationError(Exception):
    """The hook cannot be sent as configured (template, URL variables)."""


def interpolated_url(url: str, variables: Mapping[str, str]) -> str:
    """The URL with `{name}` replaced by URL variables (GitLab's `interpolated_url`)."""
    if "{" not in url:
        return url

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise HookConfigurationError(f"Invalid URL template. Missing key {name}")
        return variables[name]

    return VARIABLE_REFERENCE.sub(value, url)


def masked_url(url: str) -> str:
    """The URL with basic-auth credentials hidden, for logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"*****:*****@{host}"))


def url_digest(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def _lookup(data: Any, path: list[str]) -> Any:
    for key in path:
        if isinstance(data, Mapping):
            data = data.get(key)
        else:
            return None
    return data


def render_template(template: str, data: Mapping[str, Any]) -> Any:
    """GitLab's custom webhook template: `{{a.b}}` becomes the JSON of `data["a"]["b"]` (a string
    without its quotes, so it can sit inside one); the result must be JSON."""

    def value(match: re.Match[str]) -> str:
        found = _lookup(data, match.group(1).split("."))
        encoded = json.dumps(found)
        return encoded[1:-1] if isinstance(found, str) else encoded

    rendered = _TEMPLATE_PLACEHOLDER.sub(value, template)
    try:
        return json.loads(rendered)
    except ValueError as error:
        raise HookConfigurationError(
            f"Error while parsing rendered custom webhook template: {error}"
        ) from None


def event_header(trigger: str, hook: WebHook) -> str:
    """X-Gitlab-Event: "System Hook" for system hooks, else "push_hooks" -> "Push Hook"."""
    if hook.kind == HookKind.SYSTEM:
        return "System Hook"
    words = trigger.removesuffix("s").split("_")
    return " ".join(word.capitalize() for word in words)


def allow_local_requests(hook: WebHook) -> bool:
    settings = appsettings.current()
    if hook.kind == HookKind.SYSTEM:
        return bool(settings.allow_local_requests_from_system_hooks)
    return bool(settings.allow_local_requests_from_web_hooks_and_services)


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to; `log` is None when nothing was attempted."""

    ok: bool
    # Worth another try later: no answer at all, or the receiver's 5xx/429.
    retryable: bool
    status: int | None
    message: str
    log: WebHookLog | None = None
    skipped: bool = False


def _decode(body: bytes) -> str:
    return body.decode("utf-8", "replace")


def execute(
    hook: WebHook,
    data: Mapping[str, Any],
    trigger: str,
    *,
    idempotency_key: str | None = None,
    event_uuid: str | None = None,
    force: bool = False,
    attempt: int = 1,
    timeouts: delivery.Timeouts | None = None,
) -> Outcome:
    """Send `data` to `hook` once and log it. `force` (tests) sends even to a disabled hook.

    The caller decided the hook should get this event (permissions, event flags, branch
    filter); this only refuses a disabled hook and what the URL policy refuses.
    """
    if not force and not executable(hook):
        return Outcome(
            ok=False, retryable=False, status=None, message="Hook disabled", skipped=True
        )
    idempotency_key = idempotency_key or str(uuid.uuid4())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"GitLab/{GITLAB_COMPAT_VERSION}",
        "Idempotency-Key": idempotency_key,
        "X-Gitlab-Event": event_header(trigger, hook),
        "X-Gitlab-Webhook-UUID": str(uuid.uuid4()),
        "X-Gitlab-Instance": base_url(),
        "X-Gitlab-Event-UUID": event_uuid or str(uuid.uuid4()),
    }
    token = re.sub(r"[\r\n]", "", hook.token or "")
    if token:
        headers["X-Gitlab-Token"] = token
    # Custom headers never replace GitLab's own or the ones that frame the request.
    reserved = {name.lower() for name in headers} | FRAMING_HEADERS
    custom = {k: v for k, v in (hook.custom_headers or {}).items() if k.lower() not in reserved}
    logged_headers = {**dict.fromkeys(custom, REDACTED), **headers}
    if token:
        logged_headers["X-Gitlab-Token"] = REDACTED
    request_data: Any = dict(data)
    started = time.monotonic()
    response: delivery.Response | None = None
    error, transport_failure = "", False
    try:
        if hook.custom_webhook_template:
            try:
                request_data = render_template(hook.custom_webhook_template, data)
            except HookConfigurationError:
                request_data = {}  # as GitLab: nothing to show of a template that failed
                raise
        body = json.dumps(request_data).encode()
        if len(body) > REQUEST_BODY_LIMIT:
            raise HookConfigurationError("Request body is too large")
        url = interpolated_url(hook.url, hook.url_variables or {})
        target = delivery.resolve_target(url, allow_local=allow_local_requests(hook))
        sent = {**custom, **headers}
        if target.url.username is not None:
            credentials = f"{target.url.username}:{target.url.password or ''}"
            sent["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
        response = delivery.post(
            target,
            body=body,
            headers=sent,
            verify_tls=hook.enable_ssl_verification,
            timeouts=timeouts,
        )
    except delivery.DeliveryError as failure:
        error, transport_failure = str(failure), True
    except (delivery.BlockedUrl, HookConfigurationError) as failure:
        error = str(failure)
    entry = _log(
        hook,
        trigger=trigger,
        headers=logged_headers,
        data=request_data,
        response=response,
        error=error,
        duration=time.monotonic() - started,
        idempotency_key=idempotency_key,
        attempt=attempt,
    )
    if response is None:
        return Outcome(ok=False, retryable=transport_failure, status=None, message=error, log=entry)
    ok = 200 <= response.status < 400
    return Outcome(
        ok=ok,
        retryable=response.status >= 500 or response.status == 429,
        status=response.status,
        message=_decode(response.body),
        log=entry,
    )


def _log(
    hook: WebHook,
    *,
    trigger: str,
    headers: dict[str, str],
    data: Any,
    response: delivery.Response | None,
    error: str,
    duration: float,
    idempotency_key: str,
    attempt: int,
) -> WebHookLog:
    response_headers: dict[str, str] = {}
    if response is not None:
        for name, value in response.headers:
            response_headers.setdefault("-".join(p.capitalize() for p in name.split("-")), value)
    entry = WebHookLog.objects.create(
        web_hook=hook,
        trigger=trigger,
        url=masked_url(hook.url),
        url_digest=url_digest(hook.url),
        request_headers=headers,
        request_data=data,
        response_headers=response_headers,
        response_body=_decode(response.body) if response is not None else "",
        response_status=str(response.status) if response is not None else INTERNAL_ERROR,
        status_code=response.status if response is not None else None,
        execution_duration=duration,
        internal_error_message=error,
        idempotency_key=idempotency_key,
        attempt=attempt,
    )
    WebHookLog.objects.filter(web_hook=hook, created_at__lt=timezone.now() - LOG_RETENTION).delete()
    return entry
