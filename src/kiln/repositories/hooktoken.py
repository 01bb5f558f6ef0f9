"""Short-lived tokens binding a push to its actor and project, for the git hooks' callbacks.

A transport that starts `git receive-pack` mints one and hands it to the hooks through the
environment; the hooks present it to `/api/v4/internal/*`. Nothing else can mint one (it is
an HMAC under the secret key), and it names the push's user, project and protocol, so the
hook callbacks never trust anything else the hook says about who is pushing where.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from django.conf import settings

TTL_SECONDS = 6 * 3600  # long pushes of big repositories must still be able to finish


@dataclass(frozen=True)
class HookClaims:
    user_id: int
    project_id: int
    protocol: str


def _mac(payload: str) -> str:
    key = hashlib.sha256(b"kiln-hook-token:" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def mint(*, user_id: int, project_id: int, protocol: str) -> str:
    expires = int(time.time()) + TTL_SECONDS
    payload = f"v1.{user_id}.{project_id}.{protocol}.{expires}"
    return f"{payload}.{_mac(payload)}"


def verify(token: str) -> HookClaims | None:
    parts = token.split(".")
    if len(parts) != 6 or parts[0] != "v1":
        return None
    payload, mac = ".".join(parts[:5]), parts[5]
    if not hmac.compare_digest(_mac(payload), mac):
        return None
    _, user_id, project_id, protocol, expires = parts[:5]
    if not (user_id.isdigit() and project_id.isdigit() and expires.isdigit()):
        return None
    if int(expires) < time.time():
        return None
    return HookClaims(user_id=int(user_id), project_id=int(project_id), protocol=protocol)
