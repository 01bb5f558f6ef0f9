"""Who may see and change a user account."""

from __future__ import annotations

from kiln.accounts.models import User
from kiln.core import policy
from kiln.core.actor import Actor


def user_rule(actor: Actor, action: str, user: User) -> bool:
    if action == "read_user":
        # Profiles are public on GitLab, blocked ones included (shown as blocked).
        return True
    if action in ("update_user", "read_user_personal_access_tokens", "manage_ssh_keys"):
        return actor.is_admin or (actor.user is not None and actor.user.pk == user.pk)
    if action in ("admin_user", "destroy_user", "block_user"):
        return actor.is_admin
    raise LookupError(f"unknown user action {action!r}")


policy.register(User, user_rule)
