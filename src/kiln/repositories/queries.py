"""Reads of a project's repository for the API and the UI, with GitLab's answers.

Every read starts from `get_code_project_for`: a project the actor cannot see is 404 (as if it
did not exist), a project the actor sees but whose code it may not read is 403, as GitLab's
`authorize_read_code!` answers. A ref, sha or path from a request goes through gitstore's
validators before the store sees it; one that cannot name anything reads as "not found", so a
hostile value (`--output=x`, `a..b`, `../etc`) gets the same clear 4xx as a missing one and
never reaches git.

Lists that could explode stay bounded: protection rules are loaded once per list, and a tree
listing reads tree entries only, never the blobs behind them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import re2
from django.db.models import QuerySet

from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, InvalidParameter, NotFound, PlainBadRequest
from kiln.core.policy import can
from kiln.gitstore import (
    ArchiveFormat,
    BlameRange,
    Blob,
    Branch,
    Commit,
    CommitStats,
    Comparison,
    ContainingRefs,
    Contributor,
    DiffFile,
    GitStoreError,
    InvalidArgument,
    LanguageShare,
    PathNotFound,
    RevisionNotFound,
    Tag,
    TreeEntry,
    validate_branch_name,
    validate_repo_path,
    validate_revision,
    validate_tag_name,
)
from kiln.projects.models import Project
from kiln.projects.queries import get_project_for
from kiln.repositories import protection
from kiln.repositories.models import ProtectedBranch, ProtectedTag, ProtectionLevel
from kiln.repositories.services import ensure_repository
from kiln.repositories.storage import store

# GitLab's per-file patch limit (Gitlab::Git::Diff's max patch bytes): larger patches are
# listed with `too_large` and no text.
MAX_PATCH_BYTES = 200 * 1024
_HEX_RE = re.compile(r"[0-9a-fA-F]{4,64}")


class NothingFound(NotFound):
    """GitLab's bare `not_found!`: `{"message": "404 Not Found"}`."""

    def __init__(self) -> None:
        super().__init__()
        self.message = "404 Not Found"


# --- the project and its repository --------------------------------------------------------


def get_code_project_for(actor: Actor, ref: str | int) -> Project:
    """The project if the actor may read its code: 404 if unseen, 403 if seen but not code."""
    project = get_project_for(actor, ref)
    if not can(actor, "read_code", project):
        raise Forbidden()
    return project


def repository(project: Project) -> str:
    """The project's repository path in the store (created if it went missing)."""
    return ensure_repository(project)


def is_empty(project: Project) -> bool:
    return store().is_empty(relative_path=repository(project))


def _valid_revision(revision: str) -> bool:
    try:
        validate_revision(revision)
    except InvalidArgument:
        return False
    return True


def find_commit(project: Project, revision: str | None = None) -> Commit | None:
    """The commit `revision` names (default: the default branch), or None.

    An invalid revision names nothing: it is never handed to the store.
    """
    path = repository(project)
    candidates = [revision] if revision else [project.default_branch, "HEAD"]
    for candidate in candidates:
        if not _valid_revision(candidate):
            continue
        try:
            return store().get_commit(relative_path=path, revision=candidate)
        except (RevisionNotFound, InvalidArgument):
            continue
    return None


def get_commit(project: Project, revision: str | None, *, what: str = "Commit") -> Commit:
    commit = find_commit(project, revision)
    if commit is None:
        raise NotFound(what)
    return commit


def commit_stats(project: Project, commit: Commit) -> CommitStats:
    return store().get_commit_stats(relative_path=repository(project), revision=commit.id)


def stats_for(project: Project, commits: Sequence[Commit]) -> dict[str, CommitStats]:
    """Stats for a page of commits (one `git diff --numstat` each; a page is at most 100)."""
    return {commit.id: commit_stats(project, commit) for commit in commits}


# --- paths --------------------------------------------------------------------------------


def file_path_param(
    path: str, *, name: str = "file_path", allow_leading_slash: bool = False
) -> str:
    """A file path parameter, as GitLab's `file_path` validator checks it (`../`, absolute).

    Raises `{"error": "<name> should be a valid file path"}` for anything gitstore would refuse.
    """
    if allow_leading_slash:
        path = path.lstrip("/")
    try:
        return validate_repo_path(path)
    except InvalidArgument:
        raise InvalidParameter(f"{name} should be a valid file path") from None


# --- tree, blobs, files -------------------------------------------------------------------


def list_tree(
    project: Project, *, ref: str | None, path: str | None, recursive: bool
) -> tuple[TreeEntry, ...]:
    """Entries of a directory (GitLab's `/repository/tree`): names and ids, no blob reads."""
    commit = find_commit(project, ref)
    if commit is None:
        raise NotFound("Tree")
    tree_path = (path or "").strip("/")
    try:
        return store().list_tree(
            relative_path=repository(project),
            revision=commit.id,
            path=tree_path,
            recursive=recursive,
        )
    except (PathNotFound, InvalidArgument):
        raise NotFound("invalid revision or path") from None


@dataclass(frozen=True)
class FileAtRef:
    """A file as `/repository/files/:file_path` presents it."""

    blob: Blob
    commit: Commit
    ref: str
    last_commit_id: str | None


def get_file(project: Project, *, file_path: str, ref: str | None) -> FileAtRef:
    """The file at `ref`: 404 Commit Not Found, then 404 File Not Found, as GitLab checks.

    The content is read whole: GitLab's metadata carries its SHA-256 even on HEAD.
    """
    commit = find_commit(project, ref)
    if commit is None:
        raise NotFound("Commit")
    path = repository(project)
    try:
        blob = store().get_blob_at(
            relative_path=path,
            revision=commit.id,
            path=file_path,
        )
    except (PathNotFound, InvalidArgument):
        raise NotFound("File") from None
    return FileAtRef(
        blob=blob,
        commit=commit,
        ref=ref or project.default_branch,
        last_commit_id=last_commit_for_path(project, commit.id, file_path),
    )


def last_commit_for_path(project: Project, revision: str, path: str) -> str | None:
    """The newest commit reachable from `revision` that touched `path` (GitLab's last_for_path)."""
    if not _valid_revision(revision):
        return None
    try:
        found = store().log(
            relative_path=repository(project), revision=revision, path=path, limit=1
        )
    except (RevisionNotFound, InvalidArgument):
        return None
    return found[0].id if found else None


def blame(
    project: Project,
    *,
    file_path: str,
    ref: str,
    range_start: int | None = None,
    range_end: int | None = None,
) -> tuple[FileAtRef, tuple[BlameRange, ...]]:
    file = get_file(project, file_path=file_path, ref=ref)
    try:
        ranges = store().blame(
            relative_path=repository(project),
            revision=file.commit.id,
            path=file_path,
            range_start=range_start,
            range_end=range_end,
        )
    except InvalidArgument as exc:
        raise PlainBadRequest(exc.message) from None
    except (PathNotFound, RevisionNotFound):
        raise NotFound("File") from None
    return file, ranges


def get_blob(project: Project, sha: str) -> Blob:
    """A blob by id (GitLab's `/repository/blobs/:sha`); anything else is 404 Blob Not Found."""
    if not _HEX_RE.fullmatch(sha):
        raise NotFound("Blob")
    try:
        return store().get_blob(relative_path=repository(project), oid=sha)
    except (RevisionNotFound, InvalidArgument):
        raise NotFound("Blob") from None


# --- history ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogFilter:
    ref_name: str | None = None
    path: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    all: bool = False
    first_parent: bool = False


def _log_revision(project: Project, log_filter: LogFilter) -> str | None:
    if log_filter.ref_name and not _valid_revision(log_filter.ref_name):
        raise PlainBadRequest("ref_name is invalid")
    if log_filter.path is not None:
        file_path_param(log_filter.path, name="path")
    return log_filter.ref_name or project.default_branch


def list_commits(project: Project, log_filter: LogFilter, *, skip: int, limit: int) -> list[Commit]:
    """A page of history, newest first; an unknown ref has no history (GitLab answers [])."""
    revision = _log_revision(project, log_filter)
    try:
        return list(
            store().log(
                relative_path=repository(project),
                revision=None if log_filter.all else revision,
                all_refs=log_filter.all,
                path=log_filter.path,
                since=log_filter.since,
                until=log_filter.until,
                skip=skip,
                limit=limit,
                first_parent=log_filter.first_parent,
            )
        )
    except RevisionNotFound:
        return []


def count_commits(project: Project, commit: Commit, *, first_parent: bool = False) -> int:
    return store().count_commits(
        relative_path=repository(project), revision=commit.id, first_parent=first_parent
    )


def commit_diff(
    project: Project, commit: Commit, *, paths: Sequence[str] = ()
) -> tuple[DiffFile, ...]:
    """The commit's changes; `paths` (already validated) narrows them to those files."""
    return store().commit_diff(
        relative_path=repository(project),
        revision=commit.id,
        paths=paths,
        max_patch_bytes=MAX_PATCH_BYTES,
    )


def last_commits_for_tree(project: Project, commit: Commit, path: str) -> dict[str, Commit]:
    """The last commit of each entry of the directory `path` at `commit`, keyed by name
    (one history walk; the UI caches the answer by commit id and path)."""
    try:
        return store().last_commits_for_tree(
            relative_path=repository(project), revision=commit.id, path=path.strip("/")
        )
    except (PathNotFound, InvalidArgument):
        raise NotFound("Tree") from None


def divergence(project: Project, *, base: Commit, head: Commit) -> tuple[int, int]:
    """`(behind, ahead)` of `head` against `base`, as the branches page shows them."""
    return store().count_divergence(
        relative_path=repository(project), from_revision=base.id, to_revision=head.id
    )


def refs_containing(project: Project, commit: Commit, *, limit: int) -> ContainingRefs:
    return store().refs_containing(relative_path=repository(project), commit=commit.id, limit=limit)


def compare(project: Project, *, from_ref: str, to_ref: str, straight: bool) -> Comparison:
    """GitLab's compare: 404 Ref Not Found when either side names no commit."""
    from_commit = find_commit(project, from_ref)
    to_commit = find_commit(project, to_ref)
    if from_commit is None or to_commit is None:
        raise NotFound("Ref")
    return store().compare(
        relative_path=repository(project),
        from_revision=from_commit.id,
        to_revision=to_commit.id,
        straight=straight,
        max_patch_bytes=MAX_PATCH_BYTES,
    )


def merge_base(project: Project, refs: Sequence[str]) -> Commit:
    """GitLab's `/repository/merge_base`, with its 400 and 404 answers."""
    if len(refs) < 2:
        raise PlainBadRequest("Provide at least 2 refs")
    commits: list[Commit] = []
    unknown: list[str] = []
    for ref in refs:
        found = find_commit(project, ref) if ref else None
        if found is None:
            unknown.append(ref)
        else:
            commits.append(found)
    if unknown:
        noun = "ref" if len(unknown) == 1 else "refs"
        raise PlainBadRequest(f"Could not find {noun}: {', '.join(unknown)}")
    base = store().merge_base(relative_path=repository(project), revisions=[c.id for c in commits])
    if base is None:
        raise NotFound("Merge Base")
    return get_commit(project, base, what="Merge Base")


def contributors(
    project: Project, *, ref: str | None, order_by: str, sort: str
) -> list[Contributor]:
    commit = find_commit(project, ref)
    if commit is None:
        if ref:
            raise NothingFound()
        return []
    found = list(store().contributors(relative_path=repository(project), revision=commit.id))
    keys = {
        "name": lambda c: c.name.casefold(),
        "email": lambda c: c.email.casefold(),
        "commits": lambda c: c.commits,
    }
    found.sort(key=keys[order_by], reverse=sort == "desc")
    return found


def languages(project: Project) -> tuple[LanguageShare, ...]:
    commit = find_commit(project, None)
    if commit is None:
        return ()
    return store().languages(relative_path=repository(project), revision=commit.id)


# --- archives -----------------------------------------------------------------------------

# GitLab's archive formats (Gitlab::PathRegex.archive_formats_regex) and what they mean.
ARCHIVE_FORMATS = {
    "zip": ArchiveFormat.ZIP,
    "tar": ArchiveFormat.TAR,
    "tar.gz": ArchiveFormat.TAR_GZ,
    "tgz": ArchiveFormat.TAR_GZ,
    "gz": ArchiveFormat.TAR_GZ,
    "tar.bz2": ArchiveFormat.TAR_BZ2,
    "tbz": ArchiveFormat.TAR_BZ2,
    "tbz2": ArchiveFormat.TAR_BZ2,
    "tb2": ArchiveFormat.TAR_BZ2,
    "bz2": ArchiveFormat.TAR_BZ2,
}


@dataclass(frozen=True)
class Archive:
    filename: str
    format: ArchiveFormat
    chunks: Iterator[bytes]  # closing it stops git


def archive(project: Project, *, sha: str | None, format: str | None, path: str | None) -> Archive:
    """A streamed archive, named as GitLab names it: `<project>-<ref>-<sha>[-<path>].<format>`.

    Any failure to find what was asked for is 404 File Not Found, as GitLab answers.
    """
    archive_format = ARCHIVE_FORMATS.get(format or "tar.gz")
    if archive_format is None:
        raise NotFound()
    commit = find_commit(project, sha)
    if commit is None:
        raise NotFound("File")
    sub_path = (path or "").strip("/") or None
    ref = sha or project.default_branch
    segments = [project.path, ref.replace("/", "-"), commit.id]
    if sub_path:
        segments.append(sub_path.replace("/", "-"))
    prefix = "-".join(segments)
    try:
        chunks = store().archive(
            relative_path=repository(project),
            revision=commit.id,
            format=archive_format,
            prefix=prefix,
            path=sub_path,
        )
    except (GitStoreError, ValueError):
        raise NotFound("File") from None
    return Archive(
        filename=f"{prefix}.{archive_format.value}", format=archive_format, chunks=chunks
    )


# --- branches -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BranchView:
    """A branch with what GitLab's Branch entity says about it for one actor."""

    branch: Branch
    merged: bool
    protected: bool
    developers_can_push: bool
    developers_can_merge: bool
    can_push: bool
    default: bool

    @property
    def name(self) -> str:
        return self.branch.name


def protected_branch_rules(project: Project) -> list[ProtectedBranch]:
    return list(ProtectedBranch.objects.filter(project=project).order_by("id"))


class BranchAccess:
    """Protection answers for many branches from one load of the project's rules."""

    def __init__(self, actor: Actor, project: Project) -> None:
        self.actor = actor
        self.project = project
        self.rules = protected_branch_rules(project)
        self.may_push = can(actor, "push_code", project)

    def matching(self, name: str) -> list[ProtectedBranch]:
        return [rule for rule in self.rules if protection.matches(rule.name, name)]

    def can_push(self, name: str) -> bool:
        """GitLab's UserAccess#can_push_to_branch? (push_code, then the matching rules)."""
        if not self.may_push:
            return False
        rules = self.matching(name)
        if not rules:
            return True
        return any(protection.level_allows(self.actor, self.project, r.push_access_level)
                   for r in rules)  # fmt: skip

    def view(self, branch: Branch, *, merged: bool) -> BranchView:
        rules = self.matching(branch.name)
        return BranchView(
            branch=branch,
            merged=merged,
            protected=bool(rules),
            developers_can_push=any(
                r.push_access_level == ProtectionLevel.DEVELOPER for r in rules
            ),
            developers_can_merge=any(
                r.merge_access_level == ProtectionLevel.DEVELOPER for r in rules
            ),
            can_push=self.can_push(branch.name),
            default=branch.name == self.project.default_branch,
        )


def branch_name_param(name: str) -> str:
    """GitLab's `find_branch!` check: 400 `The branch refname is invalid`."""
    try:
        return validate_branch_name(name)
    except InvalidArgument:
        raise PlainBadRequest("The branch refname is invalid") from None


def find_branch(project: Project, name: str) -> Branch:
    """A branch by name: 400 for an invalid name, 404 Branch Not Found for a missing one."""
    branch_name_param(name)
    found = store().find_branch(relative_path=repository(project), name=name)
    if found is None:
        raise NotFound("Branch")
    return found


def branch_exists(project: Project, name: str) -> bool:
    try:
        validate_branch_name(name)
    except InvalidArgument:
        return False
    return store().find_branch(relative_path=repository(project), name=name) is not None


def _name_search(names: Sequence[str], search: str) -> set[str]:
    """GitLab's ref search: case-insensitive substring; `^term` and `term$` anchor it."""
    term = search.casefold()
    if term.startswith("^") and term.endswith("$") and len(term) > 1:
        return {n for n in names if n.casefold() == term[1:-1]}
    if term.startswith("^"):
        return {n for n in names if n.casefold().startswith(term[1:])}
    if term.endswith("$"):
        return {n for n in names if n.casefold().endswith(term[:-1])}
    return {n for n in names if term in n.casefold()}


def list_branches(
    project: Project,
    *,
    search: str | None = None,
    regex: str | None = None,
    sort: str | None = None,
) -> list[Branch]:
    """Branches sorted by name (or by last commit date), filtered as GitLab's BranchesFinder."""
    branches = list(store().list_branches(relative_path=repository(project)))
    if search:
        keep = _name_search([b.name for b in branches], search)
        branches = [b for b in branches if b.name in keep]
    if regex:
        try:
            pattern = re2.compile(regex)
        except re2.error:
            raise InvalidParameter("regex is invalid") from None
        branches = [b for b in branches if pattern.search(b.name)]
    if sort in ("updated_asc", "updated_desc"):
        branches.sort(key=lambda b: b.commit.committer.date, reverse=sort == "updated_desc")
    elif sort == "name_desc":
        branches.sort(key=lambda b: b.name, reverse=True)
    return branches


def branch_views(actor: Actor, project: Project, branches: Sequence[Branch]) -> list[BranchView]:
    """A page of branches with protection (one query) and `merged` (one ancestry check each)."""
    access = BranchAccess(actor, project)
    path = repository(project)
    default = None if project.empty_repo else find_commit(project, project.default_branch)
    views = []
    for branch in branches:
        merged = False
        if default is not None and branch.name != project.default_branch:
            merged = store().is_ancestor(
                relative_path=path, ancestor=branch.commit.id, descendant=default.id
            )
        views.append(access.view(branch, merged=merged))
    return views


# --- tags ---------------------------------------------------------------------------------


def tag_name_param(name: str) -> str:
    try:
        return validate_tag_name(name)
    except InvalidArgument:
        raise PlainBadRequest("The tag refname is invalid") from None


def find_tag(project: Project, name: str) -> Tag:
    tag_name_param(name)
    found = store().find_tag(relative_path=repository(project), name=name)
    if found is None:
        raise NotFound("Tag")
    return found


def _version_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """git's `version:refname` order, roughly: digit runs compare as numbers."""
    parts = re.split(r"(\d+)", name)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)


def _tag_date(tag: Tag) -> datetime | None:
    if tag.tagger is not None:
        return tag.tagger.date
    return tag.commit.committer.date if tag.commit is not None else None


def list_tags(project: Project, *, search: str | None, order_by: str, sort: str) -> list[Tag]:
    """Tags as GitLab's TagsFinder: ordered by `updated` (newest first) unless asked otherwise."""
    tags = list(store().list_tags(relative_path=repository(project)))
    if search:
        keep = _name_search([t.name for t in tags], search)
        tags = [t for t in tags if t.name in keep]
    reverse = sort == "desc"
    if order_by == "name":
        tags.sort(key=lambda t: t.name, reverse=reverse)
    elif order_by == "version":
        tags.sort(key=lambda t: _version_key(t.name), reverse=reverse)
    else:

        def updated(tag: Tag) -> tuple[float, str]:
            date = _tag_date(tag)
            return (date.timestamp() if date is not None else 0.0, tag.name)

        tags.sort(key=updated, reverse=reverse)
    return tags


def protected_tag_names(project: Project, names: Sequence[str]) -> set[str]:
    """Which of `names` a protected tag rule matches (one query for the whole page)."""
    rules = list(ProtectedTag.objects.filter(project=project))
    return {n for n in names if any(protection.matches(r.name, n) for r in rules)}


# --- protected branches and tags ----------------------------------------------------------


def list_protected_branches(
    project: Project, *, search: str | None = None
) -> QuerySet[ProtectedBranch]:
    qs = ProtectedBranch.objects.filter(project=project).order_by("id")
    if search:
        qs = qs.filter(name__icontains=search)
    return qs


def get_protected_branch(project: Project, name: str) -> ProtectedBranch:
    found = ProtectedBranch.objects.filter(project=project, name=name).first()
    if found is None:
        raise NotFound()
    return found


def list_protected_tags(project: Project) -> QuerySet[ProtectedTag]:
    return ProtectedTag.objects.filter(project=project).order_by("id")


def get_protected_tag(project: Project, name: str) -> ProtectedTag:
    found = ProtectedTag.objects.filter(project=project, name=name).first()
    if found is None:
        raise NotFound()
    return found
