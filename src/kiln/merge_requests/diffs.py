"""Diff versions: a snapshot of a merge request's commits and files, taken after each push.

A version holds what `target...source` was at that moment (GitLab's MergeRequestDiff): the
merge base (`base_commit_sha`), the target's head (`start_commit_sha`), the source's head
(`head_commit_sha`), the commits in the source that the target lacks (newest first) and the
files changed from the merge base to the head. Versions never change once written, so
`/versions/:id`, diff notes and their positions keep meaning what they meant.

Limits as GitLab's diff limits: a file's patch above `MAX_PATCH_BYTES` is kept without text
(`too_large`); beyond `MAX_FILES` files the version is cut and marked `overflow`.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from django.db import transaction

from kiln.gitstore import Commit, DiffFile, GitStoreError, Signature
from kiln.merge_requests.models import (
    DiffState,
    MergeRequest,
    MergeRequestDiff,
    MergeRequestDiffFile,
)
from kiln.repositories.queries import MAX_PATCH_BYTES
from kiln.repositories.storage import repo_path, store

MAX_FILES = 3000
MAX_COMMITS = 1000


def _signature_to_dict(sig: Signature) -> dict[str, str]:
    return {"name": sig.name, "email": sig.email, "date": sig.date.isoformat()}


def _signature_from_dict(data: dict[str, str]) -> Signature:
    return Signature(
        name=data["name"], email=data["email"], date=datetime.fromisoformat(data["date"])
    )


def commit_to_dict(commit: Commit) -> dict[str, Any]:
    return {
        "id": commit.id,
        "tree_id": commit.tree_id,
        "parent_ids": list(commit.parent_ids),
        "author": _signature_to_dict(commit.author),
        "committer": _signature_to_dict(commit.committer),
        "message": commit.message,
    }


def commit_from_dict(data: dict[str, Any]) -> Commit:
    return Commit(
        id=data["id"],
        tree_id=data.get("tree_id", ""),
        parent_ids=tuple(data.get("parent_ids", ())),
        author=_signature_from_dict(data["author"]),
        committer=_signature_from_dict(data["committer"]),
        message=data.get("message", ""),
    )


def file_to_diff(row: MergeRequestDiffFile) -> DiffFile:
    """A stored file as gitstore's `DiffFile`, so the repository presenters show it."""
    return DiffFile(
        old_path=row.old_path,
        new_path=row.new_path,
        old_id=row.old_id,
        new_id=row.new_id,
        a_mode=row.a_mode,
        b_mode=row.b_mode,
        new_file=row.new_file,
        renamed_file=row.renamed_file,
        deleted_file=row.deleted_file,
        binary=row.binary,
        too_large=row.too_large,
        diff=row.diff,
    )


def _patch_id(files: list[DiffFile]) -> str:
    """A stable digest of the changes (GitLab shows git's patch-id; this is its analogue:
    equal changes on different bases give equal digests)."""
    digest = hashlib.sha1(usedforsecurity=False)
    for f in files:
        digest.update(f"{f.old_path}\0{f.new_path}\0{f.a_mode}\0{f.b_mode}\0".encode())
        digest.update(f.diff.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def latest_diff(mr: MergeRequest) -> MergeRequestDiff | None:
    return mr.diffs.order_by("-id").first()


def create_diff_version(
    mr: MergeRequest, *, source_head: str, target_head: str
) -> MergeRequestDiff | None:
    """Snapshot `target_head...source_head` as a new version unless the latest is the same.

    Copies the version's refs and counts onto the merge request. The caller holds no lock;
    the write is one transaction. Returns None when nothing changed.
    """
    latest = latest_diff(mr)
    if (
        latest is not None
        and latest.head_commit_sha == source_head
        and latest.start_commit_sha == target_head
    ):
        return None
    path = repo_path(mr.project)
    try:
        comparison = store().compare(
            relative_path=path,
            from_revision=target_head,
            to_revision=source_head,
            straight=False,
            max_patch_bytes=MAX_PATCH_BYTES,
        )
    except GitStoreError:
        return None
    files = list(comparison.diffs)
    state = DiffState.COLLECTED
    if len(files) > MAX_FILES:
        files = files[:MAX_FILES]
        state = DiffState.OVERFLOW
    commits = list(reversed(comparison.commits))  # newest first, as GitLab lists them
    if not commits and not files:
        state = DiffState.EMPTY
    with transaction.atomic():
        version = MergeRequestDiff.objects.create(
            merge_request=mr,
            base_commit_sha=comparison.base_id or "",
            start_commit_sha=target_head,
            head_commit_sha=source_head,
            state=state,
            files_count=len(comparison.diffs),
            commits_count=len(commits),
            commits=[commit_to_dict(c) for c in commits[:MAX_COMMITS]],
            patch_id_sha=_patch_id(files),
        )
        MergeRequestDiffFile.objects.bulk_create(
            [
                MergeRequestDiffFile(
                    merge_request_diff=version,
                    relative_order=index,
                    old_path=f.old_path,
                    new_path=f.new_path,
                    old_id=f.old_id,
                    new_id=f.new_id,
                    a_mode=f.a_mode,
                    b_mode=f.b_mode,
                    new_file=f.new_file,
                    renamed_file=f.renamed_file,
                    deleted_file=f.deleted_file,
                    binary=f.binary,
                    too_large=f.too_large,
                    diff=f.diff,
                )
                for index, f in enumerate(files)
            ],
            batch_size=500,
        )
        MergeRequest.objects.filter(pk=mr.pk).update(
            diff_head_sha=source_head,
            diff_base_sha=version.base_commit_sha,
            diff_start_sha=target_head,
            changes_count=version.files_count,
            changes_overflow=state == DiffState.OVERFLOW,
            commits_count=len(commits),
        )
    mr.diff_head_sha, mr.diff_base_sha, mr.diff_start_sha = (
        source_head,
        version.base_commit_sha,
        target_head,
    )
    mr.changes_count = version.files_count
    mr.changes_overflow = state == DiffState.OVERFLOW
    mr.commits_count = len(commits)
    return version


def version_commits(version: MergeRequestDiff) -> list[Commit]:
    return [commit_from_dict(c) for c in version.commits]


def real_size(count: int | None, overflow: bool) -> str | None:
    """GitLab's `changes_count`/`real_size`: a string, "N+" when the diff was cut."""
    if count is None:
        return None
    if overflow:
        return f"{MAX_FILES}+"
    return str(count)


# --- raw diffs ----------------------------------------------------------------------------


def _side(path: str, exists: bool, prefix: str) -> str:
    return f"{prefix}/{path}" if exists else "/dev/null"


def raw_patch(rows: list[MergeRequestDiffFile]) -> str:
    """The version as `git diff` prints it (GitLab's `/raw_diffs`)."""
    parts: list[str] = []
    for row in rows:
        header = [f"diff --git a/{row.old_path} b/{row.new_path}"]
        if row.new_file:
            header.append(f"new file mode {row.b_mode}")
        elif row.deleted_file:
            header.append(f"deleted file mode {row.a_mode}")
        elif row.a_mode != row.b_mode:
            header += [f"old mode {row.a_mode}", f"new mode {row.b_mode}"]
        if row.renamed_file:
            header += [f"rename from {row.old_path}", f"rename to {row.new_path}"]
        mode = f" {row.b_mode}" if row.a_mode == row.b_mode else ""
        header.append(f"index {row.old_id}..{row.new_id}{mode}")
        text = row.diff
        if not row.binary and text:
            header.append(f"--- {_side(row.old_path, not row.new_file, 'a')}")
            header.append(f"+++ {_side(row.new_path, not row.deleted_file, 'b')}")
        body = "\n".join(header) + "\n" + text
        if body and not body.endswith("\n"):
            body += "\n"
        parts.append(body)
    return "".join(parts)
