"""Protected branch and tag rules: which rules match a name, and what they let an actor do.

GitLab's semantics: a rule's name is exact or has `*` wildcards (matching anything, `/`
included); when several rules match a branch, the most permissive one decides.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Protocol, TypeVar

from kiln.core.access import AccessLevel
from kiln.core.actor import Actor
from kiln.projects.access import project_access_level
from kiln.projects.models import Project
from kiln.repositories.models import ProtectedBranch, ProtectedTag, ProtectionLevel


class _Rule(Protocol):
    name: str


@functools.lru_cache(maxsize=1024)
def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(re.escape(name).replace(r"\*", ".*"), re.DOTALL)


def matches(rule_name: str, ref_name: str) -> bool:
    if "*" not in rule_name:
        return rule_name == ref_name
    return _pattern(rule_name).fullmatch(ref_name) is not None


R = TypeVar("R", bound=_Rule)


def _matching(rules: Iterable[R], name: str) -> list[R]:
    return [rule for rule in rules if matches(rule.name, name)]


def branch_rules(project: Project, branch: str) -> list[ProtectedBranch]:
    return _matching(ProtectedBranch.objects.filter(project=project), branch)


def tag_rules(project: Project, tag: str) -> list[ProtectedTag]:
    return _matching(ProtectedTag.objects.filter(project=project), tag)


def level_allows(actor: Actor, project: Project, level: int) -> bool:
    """Whether a rule's access level admits the actor."""
    if actor.user is None or level == ProtectionLevel.NO_ONE:
        return False
    if actor.is_admin:
        return True
    if level == ProtectionLevel.ADMIN:
        return False
    return project_access_level(actor, project) >= level


def can_push_to_branch(actor: Actor, project: Project, branch: str) -> bool:
    """Pushing (or creating) `branch`: Developer on unprotected branches, else the rules say."""
    developer = actor.is_admin or project_access_level(actor, project) >= AccessLevel.DEVELOPER
    rules = branch_rules(project, branch)
    if not rules:
        return developer
    # GitLab's `user_can_push_to_empty_repo?`: its default branch is protected once the first
    # push lands, so until then a Developer creates it (e.g. a project with a README).
    if project.empty_repo and developer:
        return True
    return any(level_allows(actor, project, r.push_access_level) for r in rules)


def can_merge_to_branch(actor: Actor, project: Project, branch: str) -> bool:
    rules = branch_rules(project, branch)
    if not rules:
        return actor.is_admin or project_access_level(actor, project) >= AccessLevel.DEVELOPER
    return any(level_allows(actor, project, r.merge_access_level) for r in rules)


def allows_force_push(project: Project, branch: str) -> bool:
    rules = branch_rules(project, branch)
    return not rules or any(r.allow_force_push for r in rules)


def is_protected_branch(project: Project, branch: str) -> bool:
    return bool(branch_rules(project, branch))


def can_create_tag(actor: Actor, project: Project, tag: str) -> bool:
    rules = tag_rules(project, tag)
    if not rules:
        return actor.is_admin or project_access_level(actor, project) >= AccessLevel.DEVELOPER
    return any(level_allows(actor, project, r.create_access_level) for r in rules)
