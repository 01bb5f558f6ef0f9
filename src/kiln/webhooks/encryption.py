"""Secrets of a hook (URL, token, URL variables, custom headers) encrypted at rest.

GitLab keeps these encrypted with its `db_key_base`; Kiln derives an AES-256-GCM key from the
instance's secret key (`KILN_SECRET_KEY` or the generated `secret_key` file), so a database dump
alone does not hand out the receivers' secrets. Changing the secret key makes the stored values
unreadable: they read back empty (and are logged), and the hooks must be saved again.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import os
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models

log = logging.getLogger(__name__)

_PREFIX = "kv1:"
_NONCE_BYTES = 12


@functools.cache
def _cipher(secret_key: str) -> AESGCM:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"kiln.webhooks", info=b"attr-encryption-v1"
    ).derive(secret_key.encode())
    return AESGCM(key)


def encrypt(plaintext: str) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _cipher(settings.SECRET_KEY).encrypt(nonce, plaintext.encode(), _PREFIX.encode())
    return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def decrypt(stored: str) -> str | None:
    """The plaintext, or None when it cannot be decrypted (another secret key, tampering)."""
    if not stored.startswith(_PREFIX):
        return None
    try:
        raw = base64.urlsafe_b64decode(stored[len(_PREFIX) :])
        plain = _cipher(settings.SECRET_KEY).decrypt(
            raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _PREFIX.encode()
        )
    except (InvalidTag, ValueError):
        return None
    return plain.decode()


if TYPE_CHECKING:
    _TextBase = models.TextField[str, str]
    _JSONBase = models.Field[dict[str, str], dict[str, str]]
else:
    _TextBase = models.TextField
    _JSONBase = models.TextField


class EncryptedTextField(_TextBase):
    """A text column stored encrypted; reads and writes plain `str` (empty stays empty)."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str:
        if not value:
            return ""
        plain = decrypt(str(value))
        if plain is None:
            log.error("cannot decrypt a webhook secret", extra={"column": self.name})
            return ""
        return plain

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if not value:
            return ""
        return encrypt(str(value))


class EncryptedJSONField(_JSONBase):
    """A `dict[str, str]` stored as encrypted JSON text."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> dict[str, str]:
        if not value:
            return {}
        plain = decrypt(str(value))
        if plain is None:
            log.error("cannot decrypt a webhook secret", extra={"column": self.name})
            return {}
        loaded = json.loads(plain)
        return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}

    def to_python(self, value: Any) -> dict[str, str]:
        if isinstance(value, dict):
            return value
        if not value:
            return {}
        return self.from_db_value(value, None, None)

    def get_prep_value(self, value: Any) -> Any:
        if not value:
            return ""
        return encrypt(json.dumps(value, sort_keys=True))

    def get_internal_type(self) -> str:
        return "TextField"
