"""GitLab's webhook payloads, field for field, and the samples the test endpoint sends.

Built here: Push Hook and Tag Push Hook (GitLab's `Gitlab::DataBuilder::Push`), the system
hooks' `repository_update`, and the pieces every payload repeats (`project`, `repository`,
the user fields). Packages that raise other events (issues, notes, merge requests, pipelines)
build their payloads with `project_hook_attrs` / `user_hook_attrs` and hand them to
`kiln.webhooks.triggers.execute_project_hooks`; to make the test endpoint work for their
trigger they register a sample builder with `register_sample` (until then it answers
GitLab's "Ensure the project has ..." message).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from kiln.accounts.models import User
from kiln.core.actor import Actor
from kiln.core.urls import base_url
from kiln.gitstore import GitStoreError
from kiln.gitstore.types import Commit
from kiln.projects.models import Project
from kiln.repositories import protection
from kiln.repositories.models import Push
from kiln.repositories.storage import repo_path, store

log = logging.getLogger(__name__)

BLANK_SHA = "0" * 40
# GitLab sends at most the newest 20 commits of a push.
PUSH_COMMITS_LIMIT = 20


# -- shared pieces ----------------------------------------------------------------------------


def _ssh_base(base: str) -> str:
    host = urlsplit(base).hostname or "localhost"
    listen = str(getattr(settings, "SSH_LISTEN", "") or "")
    port = listen.rpartition(":")[2] if ":" in listen else "22"
    if port in ("", "22"):
        return f"git@{host}:"
    return f"ssh://git@{host}:{port}/"


def project_web_url(project: Project) -> str:
    return f"{base_url()}/{project.full_path}"


def project_hook_attrs(project: Project) -> dict[str, Any]:
    """GitLab's `Project#hook_attrs`, with the deprecated keys it still sends."""
    base = base_url()
    web_url = f"{base}/{project.full_path}"
    ssh_url = f"{_ssh_base(base)}{project.full_path}.git"
    http_url = f"{web_url}.git"
    return {
        "id": project.pk,
        "name": project.name,
        "description": project.description or None,
        "web_url": web_url,
        "avatar_url": None,
        "git_ssh_url": ssh_url,
        "git_http_url": http_url,
        "namespace": project.namespace.name,
        "visibility_level": project.visibility_level,
        "path_with_namespace": project.full_path,
        "default_branch": project.default_branch,
        "ci_config_path": project.ci_config_path or None,
        "homepage": web_url,
        "url": ssh_url,
        "ssh_url": ssh_url,
        "http_url": http_url,
    }


def repository_hook_attrs(project: Project) -> dict[str, Any]:
    """The deprecated `repository` key of push payloads."""
    attrs = project_hook_attrs(project)
    keys = ("name", "url", "description", "homepage", "git_http_url", "git_ssh_url")
    return {**{k: attrs[k] for k in keys}, "visibility_level": attrs["visibility_level"]}


def user_hook_attrs(user: User | None) -> dict[str, Any]:
    """The `user` object of issue, note and merge request payloads."""
    if user is None:
        return {"id": None, "name": None, "username": None, "avatar_url": None, "email": None}
    return {
        "id": user.pk,
        "name": user.name,
        "username": user.username,
        "avatar_url": None,
        "email": user.public_email or "[REDACTED]",
    }


def _push_user_fields(user: User | None) -> dict[str, Any]:
    if user is None:
        return dict.fromkeys(("user_id", "user_name", "user_username", "user_email", "user_avatar"))
    return {
        "user_id": user.pk,
        "user_name": user.name,
        "user_username": user.username,
        "user_email": user.public_email or None,
        "user_avatar": None,
    }


def commit_title(message: str) -> str:
    """GitLab's `Commit#title`: the first line, cut at a word to 81 characters past 99."""
    if not message.strip():
        return "No commit message"
    full = re.split(r"[\r\n]", message, maxsplit=1)[0]
    if len(full) < 100:
        return full
    room = 81 - len("...")
    stop = full.rfind(" ", 0, room + 1)
    return full[: stop if stop >= 0 else room] + "..."


def _changed_paths(project: Project, commit_id: str) -> dict[str, list[str]]:
    """GitLab's `Commit#repo_changes`: a rename is an addition of the new path."""
    changes: dict[str, list[str]] = {"added": [], "modified": [], "removed": []}
    diffs = store().commit_diff(
        relative_path=repo_path(project), revision=commit_id, max_patch_bytes=0
    )
    for diff in diffs:
        if diff.deleted_file:
            changes["removed"].append(diff.old_path)
        elif diff.renamed_file or diff.new_file:
            changes["added"].append(diff.new_path)
        else:
            changes["modified"].append(diff.new_path)
    return changes


def commit_hook_attrs(
    project: Project, commit: Commit, *, with_changed_files: bool = True
) -> dict[str, Any]:
    """GitLab's `Commit#hook_attrs`."""
    data: dict[str, Any] = {
        "id": commit.id,
        "message": commit.message,
        "title": commit_title(commit.message),
        "timestamp": commit.committer.date.isoformat(timespec="seconds"),
        "url": f"{project_web_url(project)}/-/commit/{commit.id}",
        "author": {"name": commit.author.name, "email": commit.author.email},
    }
    if with_changed_files:
        data.update(_changed_paths(project, commit.id))
    return data


def _stored_commit_attrs(project: Project, stored: dict[str, Any]) -> dict[str, Any]:
    """A commit as the push recorded it, when the repository no longer has it."""
    message = str(stored.get("message", ""))
    author = stored.get("author") or {}
    return {
        "id": stored.get("id"),
        "message": message,
        "title": commit_title(message),
        "timestamp": stored.get("timestamp"),
        "url": f"{project_web_url(project)}/-/commit/{stored.get('id')}",
        "author": {"name": author.get("name"), "email": author.get("email")},
        "added": [],
        "modified": [],
        "removed": [],
    }


# -- push and tag push ---------------------------------------------------------------------


def _ref_protected(project: Project, ref: str) -> bool:
    if ref.startswith("refs/heads/"):
        return protection.is_protected_branch(project, ref.removeprefix("refs/heads/"))
    if ref.startswith("refs/tags/"):
        return bool(protection.tag_rules(project, ref.removeprefix("refs/tags/")))
    return False


def build_push(
    *,
    project: Project,
    user: User | None,
    ref: str,
    before: str,
    after: str,
    commits: Sequence[dict[str, Any]],
    total_commits_count: int,
    message: str | None = None,
    checkout_sha: str | None = None,
) -> dict[str, Any]:
    """GitLab's `Gitlab::DataBuilder::Push.build` from already-built commit attributes."""
    kind = "tag_push" if ref.startswith("refs/tags/") else "push"
    return {
        "object_kind": kind,
        "event_name": kind,
        "before": before,
        "after": after,
        "ref": ref,
        "ref_protected": _ref_protected(project, ref),
        "checkout_sha": checkout_sha,
        "message": message,
        **_push_user_fields(user),
        "project_id": project.pk,
        "project": project_hook_attrs(project),
        "commits": list(commits)[-PUSH_COMMITS_LIMIT:],
        "total_commits_count": total_commits_count,
        "push_options": {},
        "repository": repository_hook_attrs(project),
    }


def _read_commit(project: Project, commit_id: str) -> Commit | None:
    try:
        return store().get_commit(relative_path=repo_path(project), revision=commit_id)
    except GitStoreError:
        return None


def push_data(push: Push) -> dict[str, Any]:
    """The Push Hook or Tag Push Hook payload of one recorded ref update."""
    project = push.project
    deleted = push.after == BLANK_SHA
    if push.is_tag:
        commits: list[dict[str, Any]] = []
        message, checkout = None, None
        if not deleted:
            tag = store().find_tag(relative_path=repo_path(project), name=push.ref_name)
            if tag is not None and tag.target_id == push.after and tag.commit is not None:
                message, checkout = tag.message, tag.commit.id
                commits = [commit_hook_attrs(project, tag.commit)]
        return build_push(
            project=project,
            user=push.author,
            ref=push.ref,
            before=push.before,
            after=push.after,
            commits=commits,
            total_commits_count=len(commits),
            message=message,
            checkout_sha=checkout,
        )
    # Push.commits holds the newest commits, newest first; the payload lists them oldest first.
    commits = []
    for stored in reversed(push.commits[:PUSH_COMMITS_LIMIT]):
        commit = _read_commit(project, str(stored.get("id", "")))
        if commit is None:
            commits.append(_stored_commit_attrs(project, stored))
            continue
        try:
            commits.append(commit_hook_attrs(project, commit))
        except GitStoreError:
            commits.append(commit_hook_attrs(project, commit, with_changed_files=False))
    return build_push(
        project=project,
        user=push.author,
        ref=push.ref,
        before=push.before,
        after=push.after,
        commits=commits,
        total_commits_count=push.commit_count,
        checkout_sha=None if deleted else push.after,
    )


def repository_update_data(
    project: Project, user: User | None, pushes: Sequence[Push]
) -> dict[str, Any]:
    """The system hooks' `repository_update` event of one push (all its refs)."""
    return {
        "event_name": "repository_update",
        "user_id": user.pk if user else None,
        "user_name": user.name if user else None,
        "user_email": user.email if user else None,
        "user_avatar": None,
        "project_id": project.pk,
        "project": project_hook_attrs(project),
        "changes": [{"before": p.before, "after": p.after, "ref": p.ref} for p in pushes],
        "refs": [p.ref for p in pushes],
    }


# GitLab's fixed samples (Gitlab::DataBuilder::Push::SAMPLE_DATA and the system hook test).
SAMPLE_PUSH_DATA: dict[str, Any] = {
    "object_kind": "push",
    "event_name": "push",
    "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
    "after": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
    "ref": "refs/heads/master",
    "checkout_sha": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
    "message": "Hello World",
    "user_id": 4,
    "user_name": "John Smith",
    "user_email": "john@example.com",
    "user_avatar": None,
    "project_id": 15,
    "project": {
        "id": 15,
        "name": "gitlab",
        "description": "",
        "web_url": "http://test.example.com/gitlab/gitlab",
        "avatar_url": None,
        "git_ssh_url": "git@test.example.com:gitlab/gitlab.git",
        "git_http_url": "http://test.example.com/gitlab/gitlab.git",
        "namespace": "gitlab",
        "visibility_level": 0,
        "path_with_namespace": "gitlab/gitlab",
        "default_branch": "master",
    },
    "commits": [
        {
            "id": "c5feabde2d8cd023215af4d2ceeb7a64839fc428",
            "message": "Add simple search to projects in public area\n\ncommit message body",
            "title": "Add simple search to projects in public area",
            "timestamp": "2013-05-13T18:18:08+00:00",
            "url": "https://test.example.com/gitlab/gitlab/-/commit/c5feabde2d8cd023215af4d2ceeb7a64839fc428",
            "author": {"name": "Test User", "email": "test@example.com"},
        }
    ],
    "total_commits_count": 1,
    "push_options": {"ci": {"skip": True}},
}

SYSTEM_HOOK_TEST_DATA: dict[str, Any] = {
    "event_name": "project_create",
    "name": "Ruby",
    "path": "ruby",
    "project_id": 1,
    "owner_name": "Someone",
    "owner_email": "example@gitlabhq.com",
}


# -- samples for the test endpoint ----------------------------------------------------------


class TestDataUnavailable(Exception):
    """The project has nothing to build a sample of this event from; `str()` says what."""

    __test__ = False  # not a pytest class


SampleBuilder = Callable[[Project, Actor], dict[str, Any]]

# GitLab's TestHooks::ProjectService messages for events Kiln has no sample builder for yet.
_MISSING_SAMPLE = {
    "issues_events": "Ensure the project has issues.",
    "confidential_issues_events": "Ensure the project has issues.",
    "note_events": "Ensure the project has notes.",
    "confidential_note_events": "Ensure the project has notes.",
    "merge_requests_events": "Ensure the project has merge requests.",
    "job_events": "Ensure the project has CI jobs.",
    "pipeline_events": "Ensure the project has CI pipelines.",
    "wiki_page_events": "Ensure the wiki is enabled and has pages.",
    "releases_events": "Ensure the project has releases.",
    "emoji_events": "Ensure the project has notes.",
}


def sample_push(project: Project, actor: Actor) -> dict[str, Any]:
    """GitLab's `Push.build_sample`: the last three commits of the default branch."""
    if project.empty_repo:
        raise TestDataUnavailable("Ensure the project has at least one commit.")
    try:
        commits = store().log(
            relative_path=repo_path(project), revision=project.default_branch, limit=3
        )
    except GitStoreError:
        raise TestDataUnavailable("Ensure the project has at least one commit.") from None
    if not commits:
        raise TestDataUnavailable("Ensure the project has at least one commit.")
    return build_push(
        project=project,
        user=actor.user,
        ref=f"refs/heads/{project.default_branch}",
        before=commits[-1].id,
        after=commits[0].id,
        commits=[commit_hook_attrs(project, c) for c in commits],
        total_commits_count=len(commits),
        checkout_sha=commits[0].id,
    )


_SAMPLES: dict[str, SampleBuilder] = {
    "push_events": sample_push,
    "tag_push_events": sample_push,
}


def register_sample(trigger: str, builder: SampleBuilder) -> None:
    """Let the test endpoint send `trigger` (e.g. "issues_events"); the builder raises
    TestDataUnavailable with GitLab's message when the project has nothing to show."""
    _SAMPLES[trigger] = builder


def sample_for(trigger: str, project: Project, actor: Actor) -> dict[str, Any]:
    builder = _SAMPLES.get(trigger)
    if builder is None:
        raise TestDataUnavailable(
            _MISSING_SAMPLE.get(trigger, "Testing not available for this hook")
        )
    return builder(project, actor)
