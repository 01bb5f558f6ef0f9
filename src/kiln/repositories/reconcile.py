"""Reconciling the database with git, which is the source of truth (`kiln check --repair`).

A server killed between git updating a ref and the post-receive callback leaves the database
behind: `empty_repo` or `default_branch` stale, a repository missing for a project created
just before the crash. `check_repositories` reports each difference; with `repair` it fixes
them (never the other way round: git's refs are never changed to match the database).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from kiln.gitstore import GitStoreError
from kiln.projects.models import Project
from kiln.repositories.services import ensure_repository, sync_project_state
from kiln.repositories.storage import repo_path, store


@dataclass(frozen=True)
class Finding:
    project: str
    problem: str
    repaired: bool


def _expected(project: Project) -> tuple[bool, str | None]:
    path = repo_path(project)
    empty = store().is_empty(relative_path=path)
    head = store().get_default_branch(relative_path=path)
    return empty, head


def check_repositories(*, repair: bool = False, fsck: bool = False) -> list[Finding]:
    findings: list[Finding] = []
    for project in Project.objects.select_related("namespace").order_by("pk").iterator():
        name = project.full_path
        path = repo_path(project)
        if not store().repository_exists(relative_path=path):
            if repair:
                ensure_repository(project)
            findings.append(Finding(name, "repository missing on disk", repair))
            continue
        try:
            empty, head = _expected(project)
        except GitStoreError as exc:
            findings.append(Finding(name, f"repository unreadable: {exc}", False))
            continue
        stale = project.empty_repo != empty or (
            not empty and head is not None and project.default_branch != head
        )
        if stale:
            if repair:
                with transaction.atomic():
                    sync_project_state(project)
            findings.append(
                Finding(name, "database disagrees with git (empty_repo/default_branch)", repair)
            )
        if fsck:
            findings.extend(
                Finding(name, f"fsck: {problem}", False)
                for problem in store().fsck(relative_path=path)
            )
    return findings
