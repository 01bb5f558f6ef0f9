"""Token values and digests, and how a request presents a token.

A token is shown once; the database keeps only its SHA-256 digest. Tokens carry ≥ 120 bits of
randomness, so a fast digest is enough (a slow password hash buys nothing against guessing),
and lookups by digest stay one indexed query.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.http import HttpRequest

PAT_PREFIX = "glpat-"


def generate(prefix: str = PAT_PREFIX) -> str:
    return prefix + secrets.token_urlsafe(20)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def matches(token: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(token), stored_digest)


def presented_token(request: HttpRequest) -> str | None:
    """The token a request presents, the ways GitLab accepts one, in its order: the
    `PRIVATE-TOKEN` header, `Authorization: Bearer`, the `private_token` or `access_token`
    query parameter. None when there is none; an empty Bearer value is presented (and bad).

    The one reading of credentials, shared by the API's authentication and the rate limiter.
    """
    if value := request.headers.get("Private-Token"):
        return value
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.GET.get("private_token") or request.GET.get("access_token") or None
