"""Turning pygit2 objects into `kiln.gitstore.types` values, and identities into signatures.

Bytes from a repository are whatever someone pushed: names, emails and messages are decoded
leniently (invalid UTF-8 becomes U+FFFD) and dates outside what `datetime` can hold are
clamped, so a hostile commit can make a value ugly but never make a read fail.
"""

from __future__ import annotations

import codecs
from datetime import UTC, datetime, timedelta, timezone

import pygit2

from kiln.gitstore.errors import InvalidArgument
from kiln.gitstore.types import Commit, Identity, Signature

__all__ = [
    "as_commit",
    "decode",
    "mode_string",
    "to_commit",
    "to_pygit2_signature",
    "to_signature",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FORBIDDEN_IN_IDENTITY = frozenset("<>\n\r\0")


def as_commit(obj: object) -> pygit2.Commit | None:
    """``obj`` if it is a commit.

    pygit2's stubs declare `Commit` outside the `Object` hierarchy (at runtime it is a
    subclass), so ``isinstance(repo.get(...), Commit)`` reads as unreachable to mypy; taking
    ``object`` here keeps the check honest without a type: ignore at every call site.
    """
    return obj if isinstance(obj, pygit2.Commit) else None


def decode(data: bytes, encoding: str | None = None) -> str:
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            encoding = None
    return data.decode(encoding or "utf-8", "replace")


def mode_string(mode: int) -> str:
    """Git's octal mode as GitLab shows it: ``100644``, ``040000``, ``120000``, ``160000``."""
    return f"{int(mode):06o}"


def to_signature(signature: pygit2.Signature) -> Signature:
    try:
        tz = timezone(timedelta(minutes=signature.offset))
    except ValueError:  # an offset of a day or more: git accepts it, datetime does not
        tz = UTC
    try:
        date = datetime.fromtimestamp(signature.time, tz)
    except (OverflowError, OSError, ValueError):
        date = _EPOCH
    return Signature(
        name=decode(signature.raw_name),
        email=decode(signature.raw_email),
        date=date,
    )


def to_commit(commit: pygit2.Commit) -> Commit:
    return Commit(
        id=str(commit.id),
        tree_id=str(commit.tree_id),
        parent_ids=tuple(str(parent) for parent in commit.parent_ids),
        author=to_signature(commit.author),
        committer=to_signature(commit.committer),
        message=decode(commit.raw_message, commit.message_encoding),
    )


def to_pygit2_signature(identity: Identity, *, now: datetime | None = None) -> pygit2.Signature:
    """Validate an identity and make the signature to write into a commit or tag.

    ``<``, ``>`` and newlines would let a name forge extra header fields of the object.
    """
    for value in (identity.name, identity.email):
        if not isinstance(value, str) or _FORBIDDEN_IN_IDENTITY.intersection(value):
            raise InvalidArgument("Names and emails cannot contain '<', '>' or line breaks.")
    if not identity.name.strip():
        raise InvalidArgument("The author name is empty.")
    date = identity.date or now or datetime.now(UTC)
    if date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    offset = date.utcoffset() or timedelta(0)
    return pygit2.Signature(
        identity.name,
        identity.email,
        int(date.timestamp()),
        int(offset.total_seconds() // 60),
        "utf-8",
    )
