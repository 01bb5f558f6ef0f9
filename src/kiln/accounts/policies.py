"""Who may see and change a user account, its keys and its tokens (GitLab's `UserPolicy`)."""

from __future__ import annotations

from kiln.accounts.models import PersonalAccessToken, User
from kiln.core import policy
from kiln.core.actor import Actor


def _is_self(actor: Actor, user: User) -> bool:
    return actor.user is not None and actor.user.pk == user.pk


def user_rule(actor: Actor, action: str, user: User) -> bool:
    if action == "read_user":
        # Profiles are public on GitLab, blocked ones included (shown as blocked).
        return True
    if action == "read_user_profile":
        # Private and blocked profiles hide their details from everyone but the user and admins.
        if actor.is_admin or _is_self(actor, user):
            return True
        return not user.private_profile and not user.is_blocked
    if action in (
        "update_user",
        "read_user_personal_access_tokens",
        "rotate_personal_access_token",
        "manage_ssh_keys",
    ):
        return actor.is_admin or _is_self(actor, user)
    if action in ("admin_user", "destroy_user", "block_user"):
        return actor.is_admin
    raise LookupError(f"unknown user action {action!r}")


def token_rule(actor: Actor, action: str, token: PersonalAccessToken) -> bool:
    if action in ("read_token", "revoke_token", "rotate_token"):
        return actor.is_admin or (actor.user is not None and actor.user.pk == token.user_id)
    raise LookupError(f"unknown token action {action!r}")


policy.register(User, user_rule)
policy.register(PersonalAccessToken, token_rule)
