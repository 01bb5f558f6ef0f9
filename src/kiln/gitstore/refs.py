"""Validation of ref names, revisions and object ids, before git ever sees them.

These are git's own `git check-ref-format` rules, implemented in Python so a refused name
never reaches a git process, plus Kiln's stricter rules for names users create (no leading
``-`` so a name can never be read as an option, no ``HEAD``, no names that look like object
ids or like full ref names, which would make revisions ambiguous).

Every function returns the value to use (hex is lower-cased) or raises `InvalidRef`.
"""

from __future__ import annotations

import re

from kiln.gitstore.errors import InvalidRef

__all__ = [
    "MAX_REF_BYTES",
    "ZERO_OID",
    "validate_branch_name",
    "validate_oid",
    "validate_ref_name",
    "validate_revision",
    "validate_tag_name",
]

MAX_REF_BYTES = 255
ZERO_OID = "0" * 40

# Characters git refuses anywhere in a ref name (check-ref-format rules 4, 5 and 10).
_FORBIDDEN_CHARS = frozenset(" ~^:?*[\\")
_FULL_OID_RE = re.compile(r"[0-9a-f]{40}", re.ASCII)
_ABBREV_OID_RE = re.compile(r"[0-9a-f]{4,40}", re.ASCII)


def validate_ref_name(name: str, *, allow_onelevel: bool = False) -> str:
    """Check ``name`` against git's check-ref-format rules and Kiln's extra ones.

    ``allow_onelevel`` accepts names without a ``/`` (as ``--allow-onelevel`` does), which is
    what a short branch name given as a revision looks like.
    """
    if not isinstance(name, str) or not name:
        raise InvalidRef("The ref name is empty.")
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates (from os.fsdecode of bad bytes) cannot be a ref name.
        raise InvalidRef("The ref name is not valid UTF-8.") from None
    if len(encoded) > MAX_REF_BYTES:
        raise InvalidRef(f"The ref name is longer than {MAX_REF_BYTES} bytes.")
    if name.startswith("-"):
        raise InvalidRef("A ref name cannot start with '-'.")
    if name in ("HEAD", "@"):
        raise InvalidRef(f"'{name}' is not allowed as a ref name.")
    for char in name:
        if ord(char) < 0x20 or ord(char) == 0x7F:
            raise InvalidRef("A ref name cannot contain control characters.")
        if char in _FORBIDDEN_CHARS:
            raise InvalidRef(f"A ref name cannot contain {char!r}.")
    if ".." in name:
        raise InvalidRef("A ref name cannot contain '..'.")
    if "@{" in name:
        raise InvalidRef("A ref name cannot contain '@{'.")
    if name.endswith("."):
        raise InvalidRef("A ref name cannot end with '.'.")
    for component in name.split("/"):
        if not component:
            raise InvalidRef("A ref name cannot have empty components or start or end with '/'.")
        if component.startswith("."):
            raise InvalidRef("A ref name component cannot start with '.'.")
        if component.endswith(".lock"):
            raise InvalidRef("A ref name component cannot end with '.lock'.")
    if not allow_onelevel and "/" not in name:
        raise InvalidRef("A full ref name needs at least two components (refs/...).")
    return name


def _validate_short_name(name: str, *, kind: str, namespace: str) -> str:
    validate_ref_name(name, allow_onelevel=True)
    if name.startswith("refs/"):
        raise InvalidRef(f"A {kind} name cannot start with 'refs/'.")
    if _FULL_OID_RE.fullmatch(name.lower()):
        raise InvalidRef(f"A {kind} name cannot look like a commit id.")
    validate_ref_name(f"{namespace}{name}")
    return name


def validate_branch_name(name: str) -> str:
    """Validate a short branch name (``main``, ``feature/x``), without ``refs/heads/``."""
    return _validate_short_name(name, kind="branch", namespace="refs/heads/")


def validate_tag_name(name: str) -> str:
    """Validate a short tag name (``v1.0``), without ``refs/tags/``."""
    return _validate_short_name(name, kind="tag", namespace="refs/tags/")


def validate_revision(revision: str) -> str:
    """Validate a revision a user gave: an object id (4-40 hex), ``HEAD`` or a ref name.

    Revision syntax (``main~1``, ``a..b``, ``@{u}``, ``:/text``) is refused on purpose: a
    revision is resolved in-process (see `local.core`), and git only ever sees full ids.
    """
    if not isinstance(revision, str) or not revision:
        raise InvalidRef("The revision is empty.")
    if revision == "HEAD":
        return revision
    if _ABBREV_OID_RE.fullmatch(revision.lower()):
        # A hex string may also be a branch name ("cafe"); the resolver tries refs first,
        # as git does, so keep the case a ref name would have.
        return revision
    return validate_ref_name(revision, allow_onelevel=True)


def validate_oid(oid: str, *, allow_zero: bool = False) -> str:
    """Validate a full 40-hex object id; returns it lower-cased."""
    if not isinstance(oid, str) or not _FULL_OID_RE.fullmatch(oid.lower()):
        raise InvalidRef("An object id must be 40 hexadecimal characters.")
    oid = oid.lower()
    if oid == ZERO_OID and not allow_zero:
        raise InvalidRef("The null object id is not allowed here.")
    return oid


def is_abbreviated_oid(value: str) -> bool:
    """Whether ``value`` could be an (abbreviated) object id."""
    return bool(_ABBREV_OID_RE.fullmatch(value.lower()))
