"""kiln.gitstore: the only code in Kiln that touches git repositories on disk.

Import what you need from here; the modules below are implementation detail:

    from kiln.gitstore import GitStore, LocalGitStore, hashed_relative_path, CommitAction

No Django here (an import-linter contract checks it): the store is pure Python, pygit2 for
in-process reads and the git CLI for history, diffs, merges, maintenance and transport.
"""

from __future__ import annotations

from kiln.gitstore.base import GitStore
from kiln.gitstore.errors import (
    CommitActionError,
    GitCommandError,
    GitStoreError,
    InvalidArgument,
    InvalidPath,
    InvalidRef,
    MergeConflict,
    NoChanges,
    NotFastForward,
    PathNotFound,
    RefConflict,
    RepositoryExists,
    RepositoryNotFound,
    RevisionNotFound,
)
from kiln.gitstore.local import LocalGitStore
from kiln.gitstore.local.transport import validate_git_protocol
from kiln.gitstore.paths import hashed_relative_path, validate_relative_path, validate_repo_path
from kiln.gitstore.refs import (
    ZERO_OID,
    validate_branch_name,
    validate_oid,
    validate_ref_name,
    validate_revision,
    validate_tag_name,
)
from kiln.gitstore.types import (
    ArchiveFormat,
    BlameRange,
    Blob,
    Branch,
    Commit,
    CommitAction,
    CommitActionKind,
    CommitStats,
    Comparison,
    ContainingRefs,
    Contributor,
    DiffFile,
    GitService,
    Identity,
    LanguageShare,
    MaintenanceResult,
    MergeResult,
    RebaseResult,
    Signature,
    Tag,
    TreeEntry,
)

__all__ = [
    "ZERO_OID",
    "ArchiveFormat",
    "BlameRange",
    "Blob",
    "Branch",
    "Commit",
    "CommitAction",
    "CommitActionError",
    "CommitActionKind",
    "CommitStats",
    "Comparison",
    "ContainingRefs",
    "Contributor",
    "DiffFile",
    "GitCommandError",
    "GitService",
    "GitStore",
    "GitStoreError",
    "Identity",
    "InvalidArgument",
    "InvalidPath",
    "InvalidRef",
    "LanguageShare",
    "LocalGitStore",
    "MaintenanceResult",
    "MergeConflict",
    "MergeResult",
    "NoChanges",
    "NotFastForward",
    "PathNotFound",
    "RebaseResult",
    "RefConflict",
    "RepositoryExists",
    "RepositoryNotFound",
    "RevisionNotFound",
    "Signature",
    "Tag",
    "TreeEntry",
    "hashed_relative_path",
    "validate_branch_name",
    "validate_git_protocol",
    "validate_oid",
    "validate_ref_name",
    "validate_relative_path",
    "validate_repo_path",
    "validate_revision",
    "validate_tag_name",
]
