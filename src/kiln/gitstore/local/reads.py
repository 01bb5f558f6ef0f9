"""In-process reads with pygit2: commits, trees and blobs (the hot path of every page).

Paths are looked up entry by entry in git trees, never on a filesystem, so a symlink in a
tree is data (its target), and a path "through" a symlink simply does not exist.
"""

from __future__ import annotations

import pygit2
from pygit2.enums import FileMode

from kiln.gitstore.errors import InvalidArgument, PathNotFound, RevisionNotFound
from kiln.gitstore.local.convert import decode, mode_string, to_commit
from kiln.gitstore.local.core import LocalCore
from kiln.gitstore.paths import validate_repo_path
from kiln.gitstore.refs import is_abbreviated_oid
from kiln.gitstore.types import Blob, Commit, TreeEntry

__all__ = ["ReadOps"]

# Like git and libgit2: a NUL in the first 8000 bytes makes a file binary.
_BINARY_SNIFF_BYTES = 8000


def _type_of(entry: pygit2.Object, mode: int | None = None) -> str:
    if mode is None:
        mode = int(entry.filemode)
    if mode == FileMode.TREE:
        return "tree"
    if mode == FileMode.COMMIT:
        return "commit"
    return "blob"


def looks_binary(data: bytes) -> bool:
    return b"\0" in data[:_BINARY_SNIFF_BYTES]


class ReadOps(LocalCore):
    def get_commit(self, *, relative_path: str, revision: str) -> Commit:
        with self._open(relative_path) as repo:
            return to_commit(self._commit(repo, revision))

    def list_tree(
        self, *, relative_path: str, revision: str, path: str = "", recursive: bool = False
    ) -> tuple[TreeEntry, ...]:
        if path:
            validate_repo_path(path)
        with self._open(relative_path) as repo:
            tree = self._commit(repo, revision).tree
            if path:
                try:
                    entry = tree[path]
                except KeyError:
                    raise PathNotFound("Tree not found.") from None
                if not isinstance(entry, pygit2.Tree):
                    raise PathNotFound("Tree not found.")
                tree = entry
            entries: list[TreeEntry] = []
            self._walk(repo, tree, path, recursive, entries)
            return tuple(entries)

    def _walk(
        self,
        repo: pygit2.Repository,
        tree: pygit2.Tree,
        prefix: str,
        recursive: bool,
        out: list[TreeEntry],
    ) -> None:
        for entry in tree:
            name = decode(entry.raw_name or b"")
            entry_path = f"{prefix}/{name}" if prefix else name
            # One read of the mode: pygit2 builds an enum member on every access, which is
            # most of the cost of listing a 10k-entry directory.
            mode = int(entry.filemode)
            kind = _type_of(entry, mode)
            out.append(
                TreeEntry(
                    id=str(entry.id),
                    name=name,
                    type=kind,
                    path=entry_path,
                    mode=mode_string(mode),
                )
            )
            if recursive and kind == "tree":
                subtree = repo.get(entry.id)
                if isinstance(subtree, pygit2.Tree):
                    self._walk(repo, subtree, entry_path, recursive, out)

    def get_blob(self, *, relative_path: str, oid: str, max_size: int | None = None) -> Blob:
        if not isinstance(oid, str) or not is_abbreviated_oid(oid):
            raise InvalidArgument("A blob id must be 4 to 40 hexadecimal characters.")
        with self._open(relative_path) as repo:
            try:
                obj = repo[oid.lower()]
            except (KeyError, ValueError):
                raise RevisionNotFound("Blob not found.") from None
            if not isinstance(obj, pygit2.Blob):
                raise RevisionNotFound("Blob not found.")
            return self._blob(repo, relative_path, obj.id, mode=None, path=None, max_size=max_size)

    def get_blob_at(
        self, *, relative_path: str, revision: str, path: str, max_size: int | None = None
    ) -> Blob:
        validate_repo_path(path)
        with self._open(relative_path) as repo:
            tree = self._commit(repo, revision).tree
            try:
                entry = tree[path]
            except KeyError:
                raise PathNotFound("File not found.") from None
            if _type_of(entry) != "blob":
                raise PathNotFound("File not found.")
            return self._blob(
                repo,
                relative_path,
                entry.id,
                mode=mode_string(entry.filemode),
                path=path,
                max_size=max_size,
            )

    def _blob(
        self,
        repo: pygit2.Repository,
        relative_path: str,
        oid: pygit2.Oid,
        *,
        mode: str | None,
        path: str | None,
        max_size: int | None,
    ) -> Blob:
        if max_size is not None and max_size < 0:
            raise InvalidArgument("max_size cannot be negative.")
        # The header gives the size without inflating the object: a 2 GB blob asked for
        # with a 1 MB limit is never loaded whole.
        _, size = repo.odb.read_header(oid)
        if max_size is not None and size > max_size:
            data = self.git.read_prefix(
                self._git_dir(relative_path),
                ["cat-file", "blob", "--end-of-options", str(oid)],
                max_size,
            )
            truncated = True
        else:
            blob = repo[oid]
            assert isinstance(blob, pygit2.Blob)
            data = blob.data
            truncated = False
        return Blob(
            id=str(oid),
            size=size,
            data=data,
            truncated=truncated,
            mode=mode,
            path=path,
            binary=looks_binary(data),
        )
