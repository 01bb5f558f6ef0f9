"""Finding the Kiln SSH key behind a public key, for both SSH front ends."""

from __future__ import annotations

import base64
import hashlib

from django.utils import timezone

from kiln.accounts.models import SSHKey, UserState


def fingerprint_sha256(key_blob: bytes) -> str:
    digest = hashlib.sha256(key_blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def find_auth_key(fingerprint: str) -> SSHKey | None:
    """The usable key with this fingerprint (not expired, owner active, usable for auth)."""
    key = (
        SSHKey.objects.select_related("user")
        .filter(fingerprint_sha256=fingerprint)
        .exclude(usage_type="signing")
        .first()
    )
    if key is None or key.is_expired or key.user.state != UserState.ACTIVE:
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        SSHKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key
