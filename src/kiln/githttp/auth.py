"""Who is talking git over HTTP: Basic credentials (a password, or any token as the password)."""

from __future__ import annotations

import base64
import binascii

from django.http import HttpRequest

from kiln.accounts.access_tokens import find_token
from kiln.accounts.services import authenticate_password
from kiln.ci.jobtokens import GIT_USERNAME, actor_for_job_token
from kiln.core.actor import Actor
from kiln.core.errors import Unauthorized


def basic_credentials(request: HttpRequest) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    if header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("HTTP Basic: Access denied") from None
    username, sep, password = decoded.partition(":")
    if not sep:
        raise Unauthorized("HTTP Basic: Access denied")
    return username, password


def actor_for_git(request: HttpRequest) -> Actor:
    """Anonymous without credentials; 401 for wrong ones (never a silent downgrade)."""
    credentials = basic_credentials(request)
    if credentials is None:
        return Actor()
    username, secret = credentials
    if username == GIT_USERNAME:
        # A CI job token: read-only, for the job's own project, while the job runs.
        match = request.resolver_match
        repo = match.kwargs.get("repo") if match is not None else None
        job_actor = actor_for_job_token(secret, project_path=repo or "")
        if job_actor is None:
            raise Unauthorized("HTTP Basic: Access denied")
        return job_actor
    token = find_token(secret)
    if token is not None:
        # Any username goes with a token (`oauth2`, the owner's name...), as on GitLab.
        if not token.is_active:
            raise Unauthorized("HTTP Basic: Access denied")
        return Actor(user=token.user, scopes=frozenset(token.scopes), token=token)
    user = authenticate_password(username, secret)
    if user is None:
        raise Unauthorized("HTTP Basic: Access denied")
    return Actor(user=user)
