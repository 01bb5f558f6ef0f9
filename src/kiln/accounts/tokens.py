"""Token values and digests.

A token is shown once; the database keeps only its SHA-256 digest. Tokens carry ≥ 120 bits of
randomness, so a fast digest is enough (a slow password hash buys nothing against guessing),
and lookups by digest stay one indexed query.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

PAT_PREFIX = "glpat-"


def generate(prefix: str = PAT_PREFIX) -> str:
    return prefix + secrets.token_urlsafe(20)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def matches(token: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(token), stored_digest)
