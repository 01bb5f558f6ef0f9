"""Repository shapes, field for field as GitLab's entities give them: Commit, CommitDetail,
CommitStats, Diff, TreeObject, Branch, Tag, BlameRange, Compare, Contributor, BasicRef,
ProtectedBranch and ProtectedTag.

Values come from gitstore's dataclasses (and the protection rows); presenters never read the
repository themselves, so what a page costs is decided by the query that built it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from django.http import HttpRequest

from kiln.core.urls import base_url
from kiln.gitstore import (
    BlameRange,
    Commit,
    CommitStats,
    Comparison,
    Contributor,
    DiffFile,
    Tag,
    TreeEntry,
)
from kiln.projects.models import Project
from kiln.repositories.models import ProtectedBranch, ProtectedTag, ProtectionLevel
from kiln.repositories.queries import BranchView, FileAtRef

SHORT_ID_LENGTH = 8
NO_COMMIT_MESSAGE = "No commit message"


def git_time(value: datetime | None) -> str | None:
    """A commit date as GitLab shows it: milliseconds and the commit's own UTC offset."""
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds")


def project_url(project: Project, request: HttpRequest | None) -> str:
    return f"{base_url(request)}/{project.full_path}"


def _title(message: str) -> str:
    if not message.strip():
        return NO_COMMIT_MESSAGE
    return message.replace("\r", "\n").split("\n", 1)[0]


def commit_entity(commit: Commit, project: Project, request: HttpRequest | None) -> dict[str, Any]:
    """GitLab's `Commit` entity."""
    return {
        "id": commit.id,
        "short_id": commit.id[:SHORT_ID_LENGTH],
        "created_at": git_time(commit.committer.date),
        "parent_ids": list(commit.parent_ids),
        "title": _title(commit.message),
        "message": commit.message,
        "author_name": commit.author.name,
        "author_email": commit.author.email,
        "authored_date": git_time(commit.author.date),
        "committer_name": commit.committer.name,
        "committer_email": commit.committer.email,
        "committed_date": git_time(commit.committer.date),
        "trailers": {},
        "extended_trailers": {},
        "web_url": f"{project_url(project, request)}/-/commit/{commit.id}",
    }


def stats_entity(stats: CommitStats) -> dict[str, int]:
    return {"additions": stats.additions, "deletions": stats.deletions, "total": stats.total}


def commit_with_stats_entity(
    commit: Commit, stats: CommitStats, project: Project, request: HttpRequest | None
) -> dict[str, Any]:
    """GitLab's `CommitWithStats` (commit lists with `with_stats=true`)."""
    data = commit_entity(commit, project, request)
    data["stats"] = stats_entity(stats)
    return data


def commit_detail_entity(
    commit: Commit,
    project: Project,
    request: HttpRequest | None,
    *,
    stats: CommitStats | None = None,
) -> dict[str, Any]:
    """GitLab's `CommitDetail`: `stats` when asked for, and the (not yet existing) pipeline."""
    data = commit_entity(commit, project, request)
    if stats is not None:
        data["stats"] = stats_entity(stats)
    # TODO(CI issue): the commit's status and latest pipeline.
    data["status"] = None
    data["project_id"] = project.pk
    data["last_pipeline"] = None
    return data


def _side(path: str, exists: bool, prefix: str) -> str:
    return f"{prefix}/{path}" if exists else "/dev/null"


def diff_entity(diff: DiffFile, *, unidiff: bool = False) -> dict[str, Any]:
    """GitLab's `Diff` entity; `unidiff` adds the `---`/`+++` header lines."""
    text = diff.diff
    if unidiff and text and not diff.binary:
        header = (
            f"--- {_side(diff.old_path, not diff.new_file, 'a')}\n"
            f"+++ {_side(diff.new_path, not diff.deleted_file, 'b')}\n"
        )
        text = header + text
    return {
        "diff": text,
        "collapsed": False,
        "too_large": diff.too_large,
        "new_path": diff.new_path,
        "old_path": diff.old_path,
        "a_mode": diff.a_mode,
        "b_mode": diff.b_mode,
        "new_file": diff.new_file,
        "renamed_file": diff.renamed_file,
        "deleted_file": diff.deleted_file,
        "generated_file": False,
    }


def tree_entry_entity(entry: TreeEntry) -> dict[str, str]:
    """GitLab's `TreeObject`."""
    return {
        "id": entry.id,
        "name": entry.name,
        "type": entry.type,
        "path": entry.path,
        "mode": entry.mode.rjust(6, "0"),
    }


def blob_data(file: FileAtRef) -> dict[str, Any]:
    """The metadata GitLab returns for a file (and sends as `X-Gitlab-*` headers on HEAD)."""
    blob = file.blob
    path = blob.path or ""
    return {
        "file_name": path.rsplit("/", 1)[-1],
        "file_path": path,
        "size": blob.size,
        "encoding": "base64",
        "content_sha256": hashlib.sha256(blob.data).hexdigest() if not blob.truncated else None,
        "ref": file.ref,
        "blob_id": blob.id,
        "commit_id": file.commit.id,
        "last_commit_id": file.last_commit_id,
        "execute_filemode": blob.mode == "100755",
    }


def file_entity(file: FileAtRef) -> dict[str, Any]:
    """GET /repository/files/:file_path: the metadata plus the content, base64 (a symlink's
    content is its target, never what it points at)."""
    data = blob_data(file)
    data["content"] = base64.b64encode(file.blob.data).decode("ascii")
    return data


def gitlab_headers(data: dict[str, Any]) -> dict[str, str]:
    """GitLab's `set_http_headers`: `X-Gitlab-<Key-with-dashes, first letter capitalized>`."""
    headers = {}
    for key, value in data.items():
        name = "X-Gitlab-" + key.replace("_", "-").capitalize()
        if isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = "" if value is None else str(value)
        headers[name] = text
    return headers


def blame_entities(
    ranges: Sequence[BlameRange], project: Project, request: HttpRequest | None
) -> list[dict[str, Any]]:
    """GitLab's `BlameRange` list: each range's commit and its lines."""
    return [
        {"commit": commit_entity(r.commit, project, request), "lines": list(r.lines)}
        for r in ranges
    ]


def branch_entity(
    view: BranchView, project: Project, request: HttpRequest | None
) -> dict[str, Any]:
    """GitLab's `Branch` entity."""
    return {
        "name": view.name,
        "commit": commit_entity(view.branch.commit, project, request),
        "merged": view.merged,
        "protected": view.protected,
        "developers_can_push": view.developers_can_push,
        "developers_can_merge": view.developers_can_merge,
        "can_push": view.can_push,
        "default": view.default,
        "web_url": f"{project_url(project, request)}/-/tree/{quote(view.name, safe='/')}",
    }


def tag_entity(
    tag: Tag, project: Project, request: HttpRequest | None, *, protected: bool
) -> dict[str, Any]:
    """GitLab's `Tag` entity (`release` waits for the releases issue)."""
    return {
        "name": tag.name,
        "message": tag.message if tag.annotated else None,
        "target": tag.target_id,
        "commit": None if tag.commit is None else commit_entity(tag.commit, project, request),
        "release": None,
        "protected": protected,
        "created_at": git_time(tag.tagger.date) if tag.tagger is not None else None,
    }


def basic_ref_entity(kind: str, name: str) -> dict[str, str]:
    return {"type": kind, "name": name}


def compare_entity(
    comparison: Comparison,
    project: Project,
    request: HttpRequest | None,
    *,
    unidiff: bool = False,
) -> dict[str, Any]:
    """GitLab's `Compare` entity."""
    commits = [commit_entity(c, project, request) for c in comparison.commits]
    same = comparison.same_ref
    return {
        "commit": commits[-1] if commits else None,
        "commits": commits,
        "diffs": [] if same else [diff_entity(d, unidiff=unidiff) for d in comparison.diffs],
        "compare_timeout": False,
        "compare_same_ref": same,
        "web_url": (
            f"{project_url(project, request)}/-/compare/{comparison.from_id}...{comparison.to_id}"
        ),
    }


def contributor_entity(contributor: Contributor) -> dict[str, Any]:
    return {
        "name": contributor.name,
        "email": contributor.email,
        "commits": contributor.commits,
        "additions": contributor.additions,
        "deletions": contributor.deletions,
    }


def _access_levels(rule_id: int, level: int) -> list[dict[str, Any]]:
    return [
        {
            "id": rule_id,
            "access_level": level,
            "access_level_description": ProtectionLevel(level).label,
            "deploy_key_id": None,
            "user_id": None,
            "group_id": None,
        }
    ]


def protected_branch_entity(rule: ProtectedBranch) -> dict[str, Any]:
    """GitLab's `ProtectedBranch` entity. Kiln keeps one level per kind, so each list has one
    entry, identified by the rule's id."""
    return {
        "id": rule.pk,
        "name": rule.name,
        "push_access_levels": _access_levels(rule.pk, rule.push_access_level),
        "merge_access_levels": _access_levels(rule.pk, rule.merge_access_level),
        "unprotect_access_levels": _access_levels(rule.pk, rule.unprotect_access_level),
        "allow_force_push": rule.allow_force_push,
        "code_owner_approval_required": rule.code_owner_approval_required,
    }


def protected_tag_entity(rule: ProtectedTag) -> dict[str, Any]:
    return {
        "name": rule.name,
        "create_access_levels": _access_levels(rule.pk, rule.create_access_level),
    }


def protected_branch_entities(rules: Iterable[ProtectedBranch]) -> list[dict[str, Any]]:
    return [protected_branch_entity(rule) for rule in rules]


def protected_tag_entities(rules: Iterable[ProtectedTag]) -> list[dict[str, Any]]:
    return [protected_tag_entity(rule) for rule in rules]
