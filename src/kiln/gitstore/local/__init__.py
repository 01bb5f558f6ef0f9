"""`LocalGitStore`: the `GitStore` for bare repositories on a local filesystem.

The class is assembled from one part per responsibility (each a module of this package);
all parts share `LocalCore` for locating repositories, resolving revisions, spawning git
and moving refs.
"""

from __future__ import annotations

from kiln.gitstore.base import GitStore
from kiln.gitstore.local.archive import ArchiveOps
from kiln.gitstore.local.diff import DiffOps
from kiln.gitstore.local.history import HistoryOps
from kiln.gitstore.local.merge import MergeOps
from kiln.gitstore.local.push import PushOps
from kiln.gitstore.local.reads import ReadOps
from kiln.gitstore.local.refs import RefOps
from kiln.gitstore.local.repos import RepositoryOps
from kiln.gitstore.local.transport import TransportOps
from kiln.gitstore.local.writes import WriteOps

__all__ = ["LocalGitStore"]


class LocalGitStore(
    RepositoryOps,
    RefOps,
    ReadOps,
    HistoryOps,
    DiffOps,
    ArchiveOps,
    WriteOps,
    MergeOps,
    PushOps,
    TransportOps,
    GitStore,
):
    """Bare repositories under ``root/@hashed/``; see `GitStore` for the contract.

    Beyond the contract it can start git's transport services (`start_service`), which
    only a store on the same machine as the transport can do.
    """
