"""User shapes, field for field as GitLab's entities give them, and keys and tokens.

`UserBasic` (members, authors, owners, lists for non-admins) < `User` (a profile) <
`UserPublic` (yourself: `/user`) < `UserWithAdmin` (what admins see) < `UserDetailsWithAdmin`
(an admin's `GET /users/:id`). The list presenters fetch what they need for a whole page in a
fixed number of queries.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest

from kiln.accounts import queries
from kiln.accounts.models import PersonalAccessToken, SSHKey, User
from kiln.api.v4.presenters.common import iso, iso_date
from kiln.core.actor import Actor
from kiln.core.policy import can
from kiln.core.urls import base_url


def user_basic(
    user: User, request: HttpRequest | None, *, base: str | None = None
) -> dict[str, Any]:
    """`base`: the request's `base_url`, when the caller presenting a page has it already."""
    if base is None:
        base = base_url(request)
    return {
        "id": user.pk,
        "username": user.username,
        "public_email": user.public_email or None,
        "name": user.name,
        "state": user.state,
        "locked": user.access_locked,
        "avatar_url": None,
        "web_url": f"{base}/{user.username}",
    }


def _work_information(user: User) -> str | None:
    """GitLab's `work_information`: "Job at Organization", or whichever of them is set."""
    job, organization = user.job_title, user.organization
    if job and organization:
        text = f"{job} at {organization}"
    else:
        text = job or organization
    return html.escape(text) if text else None


def _user_profile(user: User, request: HttpRequest | None, actor: Actor) -> dict[str, Any]:
    """GitLab's `User` entity: a profile as another signed-in user sees it."""
    data = user_basic(user, request)
    readable = can(actor, "read_user_profile", user)
    if readable:
        data["created_at"] = iso(user.created_at)
    data.update(
        {
            "bio": user.bio,
            "location": user.location,
            "public_email": user.public_email or None,
            "linkedin": user.linkedin,
            "twitter": user.twitter,
            "discord": user.discord,
            "github": user.github,
            "website_url": user.website_url,
            "organization": user.organization,
            "job_title": user.job_title,
            "pronouns": user.pronouns or None,
            "bot": user.bot,
            "work_information": _work_information(user),
        }
    )
    if readable:
        # Kiln has no following yet: nobody follows anybody.
        data["followers"] = 0
        data["following"] = 0
        if actor.user is not None:
            data["is_followed"] = False
    data["local_time"] = None
    return data


def _user_public(
    user: User,
    request: HttpRequest | None,
    actor: Actor,
    *,
    personal_projects: int,
) -> dict[str, Any]:
    """GitLab's `UserPublic`: what users see of themselves (and admins of everyone)."""
    data = _user_profile(user, request, actor)
    data.update(
        {
            "last_sign_in_at": iso(user.last_sign_in_at),
            "confirmed_at": iso(user.confirmed_at),
            "last_activity_on": iso_date(user.last_activity_on),
            "email": user.email,
            "theme_id": user.theme_id,
            "color_scheme_id": user.color_scheme_id,
            "projects_limit": user.projects_limit,
            "current_sign_in_at": iso(user.current_sign_in_at),
            "identities": [],
            "can_create_group": user.can_create_group and not user.external,
            "can_create_project": user.projects_limit - personal_projects > 0,
            "two_factor_enabled": False,
            "external": user.external,
            "private_profile": user.private_profile,
            "commit_email": user.commit_email or user.email,
            "preferred_language": user.preferred_language,
        }
    )
    return data


def _with_admin(
    user: User,
    request: HttpRequest | None,
    actor: Actor,
    *,
    personal_projects: int,
    namespace_id: int | None,
) -> dict[str, Any]:
    """GitLab's `UserWithAdmin`."""
    data = _user_public(user, request, actor, personal_projects=personal_projects)
    created_by = user.created_by
    data.update(
        {
            "is_admin": user.is_admin,
            "note": user.note or None,
            "namespace_id": namespace_id,
            "created_by": user_basic(created_by, request) if created_by is not None else None,
            "email_reset_offered_at": None,
        }
    )
    return data


def current_user(user: User, request: HttpRequest, actor: Actor) -> dict[str, Any]:
    """`GET /user`: `UserWithAdmin` for admins, `UserPublic` for everyone else."""
    projects = queries.personal_project_counts([user.pk]).get(user.pk, 0)
    if user.is_admin:
        namespace_id = queries.personal_namespace_ids([user.pk]).get(user.pk)
        return _with_admin(
            user, request, actor, personal_projects=projects, namespace_id=namespace_id
        )
    return _user_public(user, request, actor, personal_projects=projects)


def single_user(user: User, request: HttpRequest, actor: Actor) -> dict[str, Any]:
    """`GET /users/:id`: `UserDetailsWithAdmin` for admins, the `User` profile otherwise."""
    if not actor.is_admin:
        return _user_profile(user, request, actor)
    return admin_user_details(user, request, actor)


def admin_user(user: User, request: HttpRequest, actor: Actor) -> dict[str, Any]:
    """`UserWithAdmin` for one user (answers of create, update)."""
    return users_with_admin([user], request, actor)[0]


def admin_user_details(user: User, request: HttpRequest, actor: Actor) -> dict[str, Any]:
    data = admin_user(user, request, actor)
    data.update(
        {
            "highest_role": queries.highest_role(user),
            "current_sign_in_ip": user.current_sign_in_ip,
            "last_sign_in_ip": user.last_sign_in_ip,
            "sign_in_count": user.sign_in_count,
        }
    )
    return data


def users_with_admin(users: list[User], request: HttpRequest, actor: Actor) -> list[dict[str, Any]]:
    """A page of `UserWithAdmin`, in two queries besides the rows (which carry `created_by`)."""
    ids = [u.pk for u in users]
    projects = queries.personal_project_counts(ids)
    namespaces = queries.personal_namespace_ids(ids)
    return [
        _with_admin(
            u,
            request,
            actor,
            personal_projects=projects.get(u.pk, 0),
            namespace_id=namespaces.get(u.pk),
        )
        for u in users
    ]


def user_list(users: list[User], request: HttpRequest, actor: Actor) -> list[dict[str, Any]]:
    """`GET /users`: `UserWithAdmin` for admins, `UserBasic` for everyone else."""
    if actor.is_admin:
        return users_with_admin(users, request, actor)
    return [user_basic(u, request) for u in users]


def _host(request: HttpRequest | None) -> str:
    return urlsplit(base_url(request)).hostname or "localhost"


def ssh_key(key: SSHKey, request: HttpRequest | None) -> dict[str, Any]:
    """GitLab's `SSHKey`: the key's comment is replaced by "<owner's name> (<host>)", so an
    email in a comment never leaks (GitLab's `publishable_key`)."""
    algorithm, _, rest = key.key.partition(" ")
    encoded = rest.split(" ", 1)[0]
    publishable = f"{algorithm} {encoded} {key.user.name} ({_host(request)})"
    return {
        "id": key.pk,
        "title": key.title,
        "created_at": iso(key.created_at),
        "expires_at": iso(key.expires_at),
        "key": publishable,
        "usage_type": key.usage_type,
    }


def ssh_keys(keys: list[SSHKey], request: HttpRequest | None) -> list[dict[str, Any]]:
    return [ssh_key(k, request) for k in keys]


def personal_access_token(
    token: PersonalAccessToken, *, value: str | None = None
) -> dict[str, Any]:
    """GitLab's `PersonalAccessToken`; `PersonalAccessTokenWithToken` when `value` is given
    (only right after creation or rotation: the value is never stored)."""
    data: dict[str, Any] = {
        "id": token.pk,
        "name": token.name,
        "revoked": token.revoked,
        "created_at": iso(token.created_at),
        "description": token.description,
        "scopes": list(token.scopes),
        "user_id": token.user_id,
        "last_used_at": iso(token.last_used_at),
        "active": token.is_active,
        "expires_at": iso_date(token.expires_at),
    }
    if value is not None:
        data["token"] = value
    return data


def personal_access_tokens(tokens: list[PersonalAccessToken]) -> list[dict[str, Any]]:
    return [personal_access_token(t) for t in tokens]
