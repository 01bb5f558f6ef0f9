"""Writes around repositories: creating them, protecting the default branch, and what the
pre-receive and post-receive callbacks do."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence

from django.db import transaction
from django.utils import timezone

from kiln.accounts.models import User
from kiln.core.actor import Actor
from kiln.gitstore import InvalidArgument, InvalidRef, RepositoryExists
from kiln.gitstore.types import Commit
from kiln.projects.models import Project
from kiln.repositories import access
from kiln.repositories.access import GitAccessDenied, Protocol, PushFacts, RefChange
from kiln.repositories.hooktoken import HookClaims
from kiln.repositories.limits import max_file_bytes
from kiln.repositories.models import ProtectedBranch, ProtectionLevel, Push
from kiln.repositories.storage import repo_path, store

log = logging.getLogger(__name__)

PUSH_COMMITS_KEPT = 20
MAX_PUSH_CHANGES = 10_000  # ref updates in one push

# Packages above this one (CI pipelines, webhooks, merge requests) react to pushes. They
# register here at import time; each listener gets the saved Push rows after the transaction
# commits, so a rolled-back push triggers nothing. A failing listener is logged, never raised
# into the push.
PushListener = Callable[[list[Push]], None]
_PUSH_LISTENERS: list[PushListener] = []


def register_push_listener(listener: PushListener) -> PushListener:
    if listener not in _PUSH_LISTENERS:
        _PUSH_LISTENERS.append(listener)
    return listener


def notify_push_listeners(pushes: list[Push]) -> None:
    """Run every push listener on saved pushes (the `process_pushes` task calls this)."""
    for listener in list(_PUSH_LISTENERS):
        try:
            listener(pushes)
        except Exception:
            log.exception("push listener failed", extra={"listener": repr(listener)})


def ensure_repository(project: Project) -> str:
    """The project's repository path, creating the bare repository if it is missing."""
    path = repo_path(project)
    if not store().repository_exists(relative_path=path):
        # A concurrent request may create it first; either way it exists afterwards.
        with contextlib.suppress(RepositoryExists):
            store().create_repository(relative_path=path, default_branch=project.default_branch)
    return path


def protect_default_branch(project: Project) -> None:
    """GitLab's default protection: Maintainers push and merge, no force push."""
    ProtectedBranch.objects.get_or_create(
        project=project,
        name=project.default_branch,
        defaults={
            "push_access_level": ProtectionLevel.MAINTAINER,
            "merge_access_level": ProtectionLevel.MAINTAINER,
            "allow_force_push": False,
        },
    )


def _actor_for(claims: HookClaims) -> tuple[Actor, Project]:
    user = User.objects.filter(pk=claims.user_id).first()
    project = Project.objects.select_related("namespace").filter(pk=claims.project_id).first()
    if user is None or project is None:
        raise GitAccessDenied(access.MESSAGES["project_not_found"], status=404)
    return Actor(user=user), project


def _changes(raw: Sequence[Mapping[str, str]]) -> list[RefChange]:
    changes = []
    for item in raw:
        old, new, ref = str(item.get("old", "")), str(item.get("new", "")), str(item.get("ref", ""))
        if len(old) != 40 or len(new) != 40 or not ref:
            raise GitAccessDenied("Malformed ref update.", status=400)
        changes.append(RefChange(old=old.lower(), new=new.lower(), ref=ref))
    return changes


def pre_receive(
    *, claims: HookClaims, raw_changes: Sequence[Mapping[str, str]], git_env: Mapping[str, str]
) -> None:
    """Decide a push from inside git's pre-receive hook. Raises GitAccessDenied to refuse."""
    actor, project = _actor_for(claims)
    check_push(
        actor=actor,
        project=project,
        raw_changes=raw_changes,
        git_env=git_env,
        protocol=Protocol(claims.protocol),
    )


def check_push(
    *,
    actor: Actor,
    project: Project,
    raw_changes: Sequence[Mapping[str, str]],
    git_env: Mapping[str, str],
    protocol: Protocol,
) -> None:
    """The pre-receive decision for an actor and project already loaded (the transport that
    started git asks it directly). Raises GitAccessDenied to refuse.

    `git_env` carries the quarantine directories of the pushed objects; gitstore checks they
    belong to this repository before reading from them.
    """
    if len(raw_changes) > MAX_PUSH_CHANGES:
        raise GitAccessDenied(f"A push may update at most {MAX_PUSH_CHANGES} refs.")
    access.check_access(actor, project, access.Action.PUSH)
    changes = _changes(raw_changes)
    try:
        inspection = store().inspect_push(
            relative_path=repo_path(project),
            changes=[(c.old, c.new, c.ref) for c in changes],
            git_env=dict(git_env),
            max_blob_bytes=max_file_bytes(),
        )
    except (InvalidArgument, InvalidRef) as exc:
        log.warning("push refused: %s", exc, extra={"project_id": project.pk})
        raise GitAccessDenied(
            "The push could not be checked and was refused.", status=400
        ) from None
    if inspection.oversized_files:
        path = json.dumps(inspection.oversized_files[0][0], ensure_ascii=False)
        megabytes = max_file_bytes() // (1024 * 1024)
        raise GitAccessDenied(
            f"File {path} is larger than the allowed size of {megabytes} MB. "
            "Use Git LFS to manage this file."
        )
    facts = PushFacts(forced_refs=frozenset(inspection.forced_refs))
    access.check_changes(actor, project, changes, facts, protocol=protocol)


def _commit_payload(commit: Commit) -> dict[str, object]:
    return {
        "id": commit.id,
        "message": commit.message,
        "title": commit.title,
        "timestamp": commit.author.date.isoformat(),
        "author": {"name": commit.author.name, "email": commit.author.email},
    }


def post_receive(*, claims: HookClaims, raw_changes: Sequence[Mapping[str, str]]) -> list[str]:
    """Record what a git push changed (git already updated the refs). Returns client messages."""
    actor, project = _actor_for(claims)
    return record_push(
        actor=actor, project=project, changes=_changes(raw_changes), protocol=claims.protocol
    )


def record_applied_push(
    *, actor: Actor, project: Project, accepted: Sequence[Mapping[str, str]], protocol: str
) -> list[RefChange]:
    """After `git receive-pack` exited: record the changes pre-receive accepted that git then
    applied — what post-receive would have been told, for a transport that runs none.

    A change counts as applied when its ref now holds the pushed id (is gone, for a deletion).
    A ref another push moved again in between is left to that push's record. Returns what was
    recorded."""
    if not accepted:
        return []
    changes = _changes(accepted)
    now = store().ref_targets(relative_path=repo_path(project), refs=[c.ref for c in changes])
    applied = [c for c in changes if now.get(c.ref) == (None if c.is_delete else c.new)]
    if applied:
        record_push(actor=actor, project=project, changes=applied, protocol=protocol)
    return applied


def record_push(
    *, actor: Actor, project: Project, changes: list[RefChange], protocol: str = "web"
) -> list[str]:
    """After refs moved (by git or by a web write): push records, project state, maintenance.

    Git is the source of truth: the database only follows it here, and `kiln check --repair`
    reconciles it should this step have been missed (a server killed mid-push). The caller
    authorized the change; this only records it.
    """
    path = repo_path(project)
    gitstore = store()
    pushes = []
    for change in changes:
        count, commits = 0, tuple[Commit, ...]()
        if not change.is_delete:
            count, commits = gitstore.new_commits(
                relative_path=path,
                new=change.new,
                old=None if change.is_create else change.old,
                limit=PUSH_COMMITS_KEPT,
            )
        pushes.append(
            Push(
                project=project,
                author=actor.user,
                ref=change.ref,
                before=change.old,
                after=change.new,
                commit_count=count,
                commits=[_commit_payload(c) for c in commits],
                protocol=protocol,
            )
        )
    with transaction.atomic():
        saved = Push.objects.bulk_create(pushes)
        sync_project_state(project, changes=changes)
        transaction.on_commit(lambda: _after_push(project.pk))
        transaction.on_commit(lambda: _process_pushes_later(saved))
    return []


def sync_project_state(project: Project, *, changes: list[RefChange] | None = None) -> Project:
    """Make the project's `empty_repo`, `default_branch` and activity follow the repository.

    When HEAD names a branch that does not exist, the first pushed branch becomes the default,
    as on GitLab. Must run inside a transaction (it locks the project row).
    """
    path = repo_path(project)
    gitstore = store()
    locked = Project.objects.select_for_update().get(pk=project.pk)
    fields = ["last_activity_at"]
    locked.last_activity_at = timezone.now()
    has_branches = not gitstore.is_empty(relative_path=path)
    if locked.empty_repo == has_branches:
        locked.empty_repo = not has_branches
        fields.append("empty_repo")
    head = gitstore.get_default_branch(relative_path=path)
    head_exists = head is not None and gitstore.find_branch(relative_path=path, name=head)
    if has_branches and not head_exists:
        pushed = [ch.branch for ch in changes or [] if ch.branch and not ch.is_delete]
        first = pushed[0] if pushed else gitstore.list_branches(relative_path=path)[0].name
        gitstore.set_head(relative_path=path, branch=first)
        head = first
    if has_branches and head is not None and head != locked.default_branch:
        locked.default_branch = head
        fields.append("default_branch")
    locked.save(update_fields=fields)
    project.empty_repo, project.default_branch = locked.empty_repo, locked.default_branch
    return locked


def _process_pushes_later(pushes: list[Push]) -> None:
    """Hand the listeners' work (pipelines, merge request refreshes, events, webhooks) to the
    background worker, as GitLab's PostReceive job does: `git push` returns as soon as the
    refs moved and the push is recorded, not after every reaction to it."""
    from kiln.repositories.tasks import process_pushes

    try:
        process_pushes.enqueue([push.pk for push in pushes])
    except Exception:  # noqa: BLE001  (no queue: react now rather than never)
        log.warning("could not queue push processing; running it inline")
        notify_push_listeners(pushes)


def _after_push(project_id: int) -> None:
    from kiln.repositories.tasks import repository_maintenance

    try:
        repository_maintenance.enqueue(project_id)
    except Exception:  # noqa: BLE001  (maintenance is an optimisation; a push must not fail on it)
        log.warning("could not schedule maintenance", extra={"project_id": project_id})
