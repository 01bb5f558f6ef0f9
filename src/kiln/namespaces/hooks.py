"""Registries the packages above `kiln.namespaces` fill, so namespaces never import them.

A namespace holds things this package does not know about (projects today; packages,
registries later). Where a namespace rule needs them, the owning package registers a function
at import time (in its `apps.ready` or a module imported from there) and the namespace service
calls every registered function. Each registry tolerates being empty.

1. `register_before_namespace_destroy(fn)`: `fn(namespace_ids)` removes what lives in those
   namespaces before their rows are deleted (deleting a group subtree, or a user's personal
   namespace). It runs inside the caller's `transaction.atomic()`, must not commit, must not
   delete the namespace rows nor authorize (the caller did), and sends effects outside the
   database (repositories on disk) through `transaction.on_commit`.
2. `register_child_path_claim(fn)`: `fn(namespace_id, path)` is true when something in that
   namespace already uses `path` (case-insensitively), so a subgroup may not take it: a
   subgroup and a project in one parent share one URL space.
3. `register_content_visibility(fn)`: `fn(namespace_ids)` is the highest visibility level of
   what lives directly in those namespaces, or None when they hold nothing. A group may not be
   made less visible than its projects.
4. `register_content_visibility_cap(fn)`: `fn(namespace_ids, level)` lowers everything in those
   namespaces to at most `level` (a group moved under a less visible parent). Inside the
   caller's transaction.
5. `register_content_counter(fn)`: `fn(namespace_ids)` maps each namespace id to how many
   projects it holds directly (ids holding none may be left out). One query per call.
6. `register_member_removal(fn)`: `fn(namespace_ids, user_id)` removes the user's direct
   memberships in what lives in those namespaces (a group member removed from a group and,
   unless `skip_subresources`, from everything below it). Inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

BeforeNamespaceDestroy = Callable[[list[int]], None]
ChildPathClaim = Callable[[int, str], bool]
ContentVisibility = Callable[[list[int]], "int | None"]
ContentVisibilityCap = Callable[[list[int], int], None]
ContentCounter = Callable[[list[int]], dict[int, int]]
MemberRemoval = Callable[[list[int], int], None]

_BEFORE_DESTROY: list[BeforeNamespaceDestroy] = []
_PATH_CLAIMS: list[ChildPathClaim] = []
_VISIBILITY: list[ContentVisibility] = []
_VISIBILITY_CAPS: list[ContentVisibilityCap] = []
_COUNTERS: list[ContentCounter] = []
_MEMBER_REMOVALS: list[MemberRemoval] = []


F = TypeVar("F")


def _add(registry: list[F], fn: F) -> None:
    # Idempotent, so a module imported twice (tests, autoreload) registers once.
    if fn not in registry:
        registry.append(fn)


def register_before_namespace_destroy(fn: BeforeNamespaceDestroy) -> BeforeNamespaceDestroy:
    """Register `fn`; usable as a decorator."""
    _add(_BEFORE_DESTROY, fn)
    return fn


def run_before_namespace_destroy(namespace_ids: list[int]) -> None:
    """Call every registered function with `namespace_ids`, in registration order."""
    ids = sorted(set(namespace_ids))
    if not ids:
        return
    for fn in list(_BEFORE_DESTROY):
        fn(ids)


def register_child_path_claim(fn: ChildPathClaim) -> ChildPathClaim:
    _add(_PATH_CLAIMS, fn)
    return fn


def child_path_claimed(namespace_id: int, path: str) -> bool:
    return any(fn(namespace_id, path) for fn in list(_PATH_CLAIMS))


def register_content_visibility(fn: ContentVisibility) -> ContentVisibility:
    _add(_VISIBILITY, fn)
    return fn


def max_content_visibility(namespace_ids: list[int]) -> int | None:
    levels = [level for fn in list(_VISIBILITY) if (level := fn(namespace_ids)) is not None]
    return max(levels) if levels else None


def register_content_visibility_cap(fn: ContentVisibilityCap) -> ContentVisibilityCap:
    _add(_VISIBILITY_CAPS, fn)
    return fn


def cap_content_visibility(namespace_ids: list[int], level: int) -> None:
    for fn in list(_VISIBILITY_CAPS):
        fn(namespace_ids, level)


def register_content_counter(fn: ContentCounter) -> ContentCounter:
    _add(_COUNTERS, fn)
    return fn


def count_contents(namespace_ids: list[int]) -> dict[int, int]:
    totals: dict[int, int] = {}
    for fn in list(_COUNTERS):
        for namespace_id, count in fn(namespace_ids).items():
            totals[namespace_id] = totals.get(namespace_id, 0) + count
    return totals


def register_member_removal(fn: MemberRemoval) -> MemberRemoval:
    _add(_MEMBER_REMOVALS, fn)
    return fn


def run_member_removal(namespace_ids: list[int], user_id: int) -> None:
    for fn in list(_MEMBER_REMOVALS):
        fn(namespace_ids, user_id)
