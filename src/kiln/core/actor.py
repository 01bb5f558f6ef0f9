"""`Actor`: who is acting, and with which token scopes. Every service takes one.

It lives in the kernel so that every domain package can take one without importing the
accounts package (which sits above them: creating a user creates a namespace).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiln.accounts.models import PersonalAccessToken, User


@dataclass(frozen=True)
class Actor:
    user: User | None = None
    # None: all scopes (a web session or the system itself); else the token's scopes.
    scopes: frozenset[str] | None = None
    token: PersonalAccessToken | None = None
    # Set when an admin acts as `user` through `sudo`.
    sudoer: User | None = None
    # Per-request memo of computed access levels (see kiln.namespaces.access); an Actor lives
    # for one request or one task, so nothing here outlives a membership change for long.
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __bool__(self) -> bool:
        # Truthy even when anonymous: django-ninja treats a falsy auth result as a failure.
        return True

    @property
    def is_anonymous(self) -> bool:
        return self.user is None

    @property
    def is_admin(self) -> bool:
        return self.user is not None and self.user.is_admin and self.user.is_active

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user is not None else None

    @property
    def is_external(self) -> bool:
        return self.user is not None and self.user.external

    def has_scope(self, *scopes: str) -> bool:
        return self.scopes is None or any(s in self.scopes for s in scopes)

    @classmethod
    def anonymous(cls) -> Actor:
        return cls()

    @classmethod
    def for_user(cls, user: User) -> Actor:
        return cls(user=user)
