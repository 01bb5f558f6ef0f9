"""Where repositories live on disk, and which paths inside a repository are acceptable.

Two different kinds of path meet here and must never be confused:

* the storage path of a repository (``@hashed/ab/cd/<sha256>.git``), derived from a key by
  `hashed_relative_path` and checked by `validate_relative_path`: user input never becomes a
  filesystem path, so a store refuses anything that does not have exactly this shape;
* a path *inside* a repository's trees (``src/app.py``), checked by `validate_repo_path`
  before it is used to look up a tree entry, written into a tree or given to git after
  ``--`` (with literal pathspecs, so ``*`` or ``:(glob)`` mean nothing special).
"""

from __future__ import annotations

import hashlib
import re

from kiln.gitstore.errors import InvalidArgument, InvalidPath

__all__ = [
    "MAX_PATH_BYTES",
    "hashed_relative_path",
    "validate_relative_path",
    "validate_repo_path",
]

MAX_PATH_BYTES = 4096

_HASHED_RE = re.compile(r"@hashed/([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})\.git", re.ASCII)

# Code points HFS+ ignores when comparing names: ".g\u200cit" is ".git" on a Mac. Git refuses
# these in checkouts (core.protectHFS); refusing them here keeps such trees from being made.
_HFS_IGNORABLE = dict.fromkeys(
    [0x200C, 0x200D, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x206A, 0x2070), 0xFEFF]
)


def hashed_relative_path(key: str) -> str:
    """The storage path of the repository identified by ``key`` (e.g. a project id).

    Like GitLab's hashed storage: ``@hashed/<h[0:2]>/<h[2:4]>/<h>.git`` with ``h`` the
    SHA-256 of the key, so names, renames and transfers never move a repository on disk.
    """
    if not isinstance(key, str) or not key:
        raise InvalidArgument("A repository key must be a non-empty string.")
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return f"@hashed/{digest[0:2]}/{digest[2:4]}/{digest}.git"


def validate_relative_path(relative_path: str) -> str:
    """Refuse any storage path that is not exactly ``@hashed/ab/cd/<64 hex>.git``."""
    match = _HASHED_RE.fullmatch(relative_path) if isinstance(relative_path, str) else None
    if match is None:
        raise InvalidArgument("Invalid repository storage path.")
    first, second, digest = match.groups()
    if digest[0:2] != first or digest[2:4] != second:
        raise InvalidArgument("Invalid repository storage path.")
    return relative_path


def _is_dotgit(component: str) -> bool:
    folded = component.translate(_HFS_IGNORABLE).casefold()
    # NTFS ignores trailing dots and spaces, and knows ".git" by its 8.3 name "git~1".
    return folded.rstrip(". ") == ".git" or folded == "git~1"


def validate_repo_path(path: str) -> str:
    """Check a path inside a repository's tree (``dir/file.txt``) and return it unchanged.

    Refused: empty, absolute, longer than 4096 bytes, NUL or other control characters,
    empty components (``a//b``, trailing ``/``), ``.`` and ``..`` components, and any
    component that is ``.git`` under case folding (or an NTFS/HFS+ alias of it).
    """
    if not isinstance(path, str) or not path:
        raise InvalidPath("The file path is empty.")
    try:
        encoded = path.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidPath("The file path is not valid UTF-8.") from None
    if len(encoded) > MAX_PATH_BYTES:
        raise InvalidPath(f"The file path is longer than {MAX_PATH_BYTES} bytes.")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in path):
        raise InvalidPath("The file path cannot contain control characters.")
    if path.startswith("/"):
        raise InvalidPath("The file path must be relative to the repository root.")
    for component in path.split("/"):
        if not component:
            raise InvalidPath("The file path cannot contain empty components.")
        if component in (".", ".."):
            raise InvalidPath("The file path cannot contain '.' or '..' components.")
        if _is_dotgit(component):
            raise InvalidPath("The file path cannot contain a '.git' component.")
    return path
