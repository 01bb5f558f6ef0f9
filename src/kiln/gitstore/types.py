"""The plain values that cross the `GitStore` seam.

Everything a store returns is one of these frozen dataclasses (or a tuple of them), so a
caller never holds a pygit2 object, a file handle or a lock, and a remote implementation can
serialize them as they are. Object ids are 40-character lower-case hex strings. File modes
are git's octal strings (``"100644"``, ``"040000"``), as GitLab shows them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "ArchiveFormat",
    "BlameRange",
    "Blob",
    "Branch",
    "Commit",
    "CommitAction",
    "CommitActionKind",
    "CommitStats",
    "Comparison",
    "ContainingRefs",
    "Contributor",
    "DiffFile",
    "GitService",
    "Identity",
    "LanguageShare",
    "MaintenanceResult",
    "MergeResult",
    "PushInspection",
    "RebaseResult",
    "Signature",
    "Tag",
    "TreeEntry",
]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is writing: the author or committer of a new commit, or the tagger of a tag.

    ``date`` defaults to now; give it to import history or to make tests reproducible.
    """

    name: str
    email: str
    date: datetime | None = None


@dataclass(frozen=True, slots=True)
class Signature:
    """An author, committer or tagger as recorded in an object; ``date`` is timezone-aware."""

    name: str
    email: str
    date: datetime


@dataclass(frozen=True, slots=True)
class Commit:
    id: str
    tree_id: str
    parent_ids: tuple[str, ...]
    author: Signature
    committer: Signature
    message: str

    @property
    def title(self) -> str:
        """The first line of the message, as GitLab's ``title``."""
        return self.message.split("\n", 1)[0].rstrip()


@dataclass(frozen=True, slots=True)
class Branch:
    name: str
    commit: Commit


@dataclass(frozen=True, slots=True)
class Tag:
    """A tag; ``target_id`` is what the ref points at (a tag object when annotated).

    ``commit`` is the commit the tag peels to, or None when it tags a tree or a blob.
    """

    name: str
    target_id: str
    annotated: bool
    message: str | None
    tagger: Signature | None
    commit: Commit | None


@dataclass(frozen=True, slots=True)
class TreeEntry:
    id: str
    name: str
    type: str  # "blob", "tree" or "commit" (a submodule)
    path: str
    mode: str


@dataclass(frozen=True, slots=True)
class Blob:
    """A file's content. A symlink is never followed: its ``data`` is the link target.

    ``size`` is the full size; ``data`` holds at most the ``max_size`` asked for, and
    ``truncated`` says whether it was cut. ``mode`` and ``path`` are None when the blob was
    looked up by id rather than at a path.
    """

    id: str
    size: int
    data: bytes
    truncated: bool
    mode: str | None
    path: str | None
    binary: bool

    @property
    def is_symlink(self) -> bool:
        return self.mode == "120000"

    @property
    def symlink_target(self) -> str | None:
        if not self.is_symlink:
            return None
        return self.data.decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class CommitStats:
    additions: int
    deletions: int
    total: int


@dataclass(frozen=True, slots=True)
class DiffFile:
    """One file of a diff, shaped like GitLab's diff entries.

    ``diff`` is the patch from the first ``@@`` hunk header on (GitLab drops the
    ``diff --git``/``index``/``---``/``+++`` lines); for a binary file it is git's
    "Binary files ... differ" line. A file whose patch exceeded the caller's limit has
    ``too_large`` set and an empty ``diff``. Modes are ``"0"`` for a side that does not exist.
    """

    old_path: str
    new_path: str
    old_id: str
    new_id: str
    a_mode: str
    b_mode: str
    new_file: bool
    renamed_file: bool
    deleted_file: bool
    binary: bool
    too_large: bool
    diff: str


@dataclass(frozen=True, slots=True)
class Comparison:
    """GitLab's compare: commits reachable from ``to`` but not ``from``, oldest first.

    ``base_id`` is the commit the diffs start from: the merge base (when not straight) or
    ``from`` itself (straight); None when the histories share no commit.
    """

    from_id: str
    to_id: str
    base_id: str | None
    commits: tuple[Commit, ...]
    diffs: tuple[DiffFile, ...]

    @property
    def same_ref(self) -> bool:
        return self.from_id == self.to_id


@dataclass(frozen=True, slots=True)
class ContainingRefs:
    branches: tuple[str, ...]
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BlameRange:
    """Consecutive lines (1-based, of the blamed file) last changed by one commit."""

    commit: Commit
    start_line: int
    lines: tuple[str, ...]

    @property
    def end_line(self) -> int:
        return self.start_line + len(self.lines) - 1


class ArchiveFormat(enum.StrEnum):
    TAR_GZ = "tar.gz"
    TAR_BZ2 = "tar.bz2"
    ZIP = "zip"
    TAR = "tar"


@dataclass(frozen=True, slots=True)
class Contributor:
    name: str
    email: str
    commits: int
    additions: int
    deletions: int


@dataclass(frozen=True, slots=True)
class LanguageShare:
    name: str
    bytes: int
    percentage: float


class CommitActionKind(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    MOVE = "move"
    CHMOD = "chmod"


@dataclass(frozen=True, slots=True)
class CommitAction:
    """One change of a commit built without a work tree (GitLab's commit ``actions``).

    ``content`` is the new file content (None on update/create means empty, on move means
    "keep the content"). ``last_commit_id``, on update, move and delete, makes the action
    fail if the file's content differs from what it was at that commit.
    """

    action: CommitActionKind
    file_path: str
    content: bytes | None = None
    previous_path: str | None = None
    execute_filemode: bool | None = None
    last_commit_id: str | None = None


@dataclass(frozen=True, slots=True)
class MergeResult:
    commit: Commit
    fast_forward: bool


@dataclass(frozen=True, slots=True)
class RebaseResult:
    """The rebased branch head, and the ids of the commits written, oldest first."""

    head: Commit
    commit_ids: tuple[str, ...]
    changed: bool


@dataclass(frozen=True, slots=True)
class MaintenanceResult:
    full_repack: bool
    packs_before: int
    packs_after: int
    loose_objects_before: int


class GitService(enum.StrEnum):
    """The git services a transport may start; nothing else is ever spawned for a client."""

    UPLOAD_PACK = "git-upload-pack"
    RECEIVE_PACK = "git-receive-pack"
    UPLOAD_ARCHIVE = "git-upload-archive"


@dataclass(frozen=True, slots=True)
class PushInspection:
    """What the pre-receive check needs to know about the pushed objects."""

    forced_refs: tuple[str, ...]
    # New files above the size limit asked for, as (path, size in bytes); empty when none.
    oversized_files: tuple[tuple[str, int], ...] = ()
