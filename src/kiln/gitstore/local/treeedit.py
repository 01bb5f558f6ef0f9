"""Editing a git tree in memory, without an index or a work tree.

Only the directories along edited paths are loaded and rewritten (with pygit2's
TreeBuilder), so a commit touching one file of a 100,000-file repository costs a few tree
reads, not a full index. Nothing is checked out: symlinks and submodules are entries like
any other, and a path can never lead outside the tree.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygit2
from pygit2.enums import FileMode

__all__ = ["FileEntry", "TreeEditor"]


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A non-directory entry: a file, an executable, a symlink or a submodule."""

    oid: pygit2.Oid
    mode: int

    @property
    def is_regular_file(self) -> bool:
        return self.mode in (FileMode.BLOB, FileMode.BLOB_EXECUTABLE)


class _Directory:
    def __init__(self, repo: pygit2.Repository, base: pygit2.Tree | None) -> None:
        self._repo = repo
        self.base = base
        # name -> new content; None marks a deletion. Unchanged entries stay in ``base``.
        self.changes: dict[str, FileEntry | _Directory | None] = {}
        self.dirty = False

    def get(self, name: str) -> FileEntry | _Directory | None:
        if name in self.changes:
            return self.changes[name]
        if self.base is None or name not in self.base:
            return None
        entry = self.base[name]
        if int(entry.filemode) == FileMode.TREE:
            subtree = self._repo.get(entry.id)
            assert isinstance(subtree, pygit2.Tree)
            directory = _Directory(self._repo, subtree)
            self.changes[name] = directory  # cached; written back only if it gets dirty
            return directory
        return FileEntry(entry.id, int(entry.filemode))

    def write(self) -> pygit2.Oid | None:
        """Write this directory; None when it ended up empty (git has no empty dirs)."""
        if not self.dirty:
            if self.base is None or len(self.base) == 0:
                return None
            return self.base.id
        builder = (
            self._repo.TreeBuilder(self.base) if self.base is not None else self._repo.TreeBuilder()
        )
        for name, change in self.changes.items():
            if isinstance(change, _Directory):
                written = change.write()
                if written is None:
                    if builder.get(name) is not None:
                        builder.remove(name)
                else:
                    builder.insert(name, written, FileMode.TREE)
            elif change is None:
                if builder.get(name) is not None:
                    builder.remove(name)
            else:
                builder.insert(name, change.oid, change.mode)
        if len(builder) == 0:
            return None
        return builder.write()


class TreeEditor:
    """Paths are ``/``-separated and must have been validated (`validate_repo_path`)."""

    def __init__(self, repo: pygit2.Repository, base: pygit2.Tree | None) -> None:
        self._repo = repo
        self._root = _Directory(repo, base)

    def _parent(self, path: str) -> tuple[_Directory | FileEntry | None, str]:
        """The directory holding ``path`` and the last component.

        Returns the blocking `FileEntry` instead when a parent component is a file, a
        symlink or a submodule, and None when a parent directory does not exist.
        """
        *parents, name = path.split("/")
        directory = self._root
        for component in parents:
            child = directory.get(component)
            if isinstance(child, FileEntry) or child is None:
                return child, name
            directory = child
        return directory, name

    def lookup(self, path: str) -> FileEntry | str | None:
        """The entry at ``path``: a `FileEntry`, ``"tree"``, ``"blocked"`` or None."""
        parent, name = self._parent(path)
        if isinstance(parent, FileEntry):
            return "blocked"
        if parent is None:
            return None
        found = parent.get(name)
        if isinstance(found, _Directory):
            return "tree" if found.dirty or found.base is not None else None
        return found

    def blocking_parent(self, path: str) -> bool:
        """Whether a parent component of ``path`` is not a directory (a file or symlink)."""
        parent, _ = self._parent(path)
        return isinstance(parent, FileEntry)

    def put(self, path: str, entry: FileEntry) -> None:
        self._touch(path, entry)

    def remove(self, path: str) -> None:
        self._touch(path, None)

    def _touch(self, path: str, entry: FileEntry | None) -> None:
        *parents, name = path.split("/")
        directory = self._root
        directory.dirty = True
        for component in parents:
            child = directory.get(component)
            if not isinstance(child, _Directory):
                # Callers check `blocking_parent` first; replacing a file by a directory
                # here would silently delete it.
                if child is not None:
                    raise ValueError(f"{component!r} is not a directory")
                child = _Directory(self._repo, None)
                directory.changes[component] = child
            child.dirty = True
            directory = child
        directory.changes[name] = entry

    def write(self) -> pygit2.Oid:
        written = self._root.write()
        if written is None:
            return self._repo.TreeBuilder().write()  # the empty tree
        return written
