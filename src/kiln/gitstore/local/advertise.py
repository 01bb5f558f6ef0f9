"""The protocol v0/v1 ref advertisement of upload-pack and receive-pack, written in process.

`git ls-remote` and the first request of every fetch and push ask for it; starting git for it
costs milliseconds, reading the refs here costs tens of microseconds. What must hold:

1. The bytes are exactly what `git upload-pack|receive-pack --stateless-rpc --advertise-refs`
   prints for the same repository and configuration (tests/gitstore/test_advertise.py compares
   them on many repository shapes; `TransportOps` also compares once per configuration at run
   time, see there).
2. Anything this module does not model gives None, and the caller starts git: a configuration
   key that could change the advertisement (hidden refs, session ids, includes, extensions),
   alternates, a shallow repository, a symlinked or unparsable ref, a ref name git would refuse,
   a ref whose object is missing, a dangling or nested symbolic ref, an empty repository.
3. Refs are read as git's files backend reads them: loose refs first, then packed-refs (so a
   concurrent `pack-refs` cannot hide a ref), loose winning over packed, sorted by name bytes;
   a loose file that disappears between listing and reading gives None.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pygit2
from pygit2.enums import ObjectType

from kiln.gitstore.types import GitService

__all__ = ["Capabilities", "capabilities_for", "render_advertisement"]

_ZERO = b"0" * 40
_HEX40 = re.compile(rb"[0-9a-f]{40}")
# What git's check_refname_format refuses (conservatively: a match means "let git answer").
_BAD_NAME = re.compile(
    rb"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|/\.|\.lock(?:/|\Z)|/\Z|\.\Z|\A\.|\A/"
)
_MAX_PKT_PAYLOAD = 65516
_SYMREF_DEPTH = 5

_UPLOAD_CAPS = (
    b"multi_ack thin-pack side-band side-band-64k ofs-delta shallow deepen-since deepen-not"
    b" deepen-relative no-progress include-tag multi_ack_detailed"
)
_RECEIVE_CAPS = b"report-status report-status-v2 delete-refs side-band-64k quiet"

# Keys (lower case) known not to change the v0 advertisement of the given service.
_HARMLESS = {
    "uploadpack.keepalive",
    "uploadpack.allowrefinwant",
    "uploadpack.allowsidebandall",
    "uploadpack.packobjectshook",
    "uploadpack.blobpackfileuri",
    "transfer.fsckobjects",
    "transfer.unpacklimit",
    "receive.autogc",
    "receive.fsckobjects",
    "receive.denydeletes",
    "receive.denynonfastforwards",
    "receive.denycurrentbranch",
    "receive.denydeletecurrent",
    "receive.updateserverinfo",
    "receive.unpacklimit",
    "receive.maxinputsize",
    "receive.keepalive",
    "receive.shallowupdate",
    "receive.procreceiverefs",
    "receive.certnonceslop",
}
_ALLOW_TIP, _ALLOW_REACHABLE, _ALLOW_ANY = 1, 2, 7


class Unsupported(Exception):
    """Something git would answer that this module does not model: let git answer."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """The configuration-dependent part of one service's capability list."""

    service: GitService
    allow_uor: int = 0  # upload-pack: allow-tip/reachable-sha1-in-want bits
    allow_filter: bool = False
    atomic: bool = True  # receive-pack
    ofs_delta: bool = True
    push_options: bool = False


def _bool(name: str, value: str | None) -> bool:
    if value is None:  # `[section] key` with no `=` is true
        return True
    try:
        return bool(pygit2.Config.parse_bool(value))
    except (pygit2.GitError, ValueError, TypeError):
        raise Unsupported(f"{name} is not a boolean") from None


_UOR_BITS = {
    "uploadpack.allowtipsha1inwant": _ALLOW_TIP,
    "uploadpack.allowreachablesha1inwant": _ALLOW_REACHABLE,
    "uploadpack.allowanysha1inwant": _ALLOW_ANY,
}
_FLAGS = {
    "uploadpack.allowfilter": "allow_filter",
    "receive.advertiseatomic": "atomic",
    "receive.advertisepushoptions": "push_options",
    "repack.usedeltabaseoffset": "ofs_delta",
}


def _apply(caps: dict[str, int], name: str, value: str | None) -> None:
    """One configuration entry, in the order git reads them (later entries win)."""
    if name in _UOR_BITS:
        bits = _UOR_BITS[name]
        caps["allow_uor"] = (
            caps["allow_uor"] | bits if _bool(name, value) else caps["allow_uor"] & ~bits
        )
    elif name in _FLAGS:
        caps[_FLAGS[name]] = int(_bool(name, value))
    elif name.startswith(("include.", "includeif.", "extensions.")):
        raise Unsupported(name)
    elif name == "core.repositoryformatversion":
        if (value or "").strip() not in ("0", "1"):
            raise Unsupported(name)
    elif name in ("core.precomposeunicode", "transfer.advertisesid"):
        if _bool(name, value):
            raise Unsupported(name)  # a session id is new in every process
    elif (
        name.startswith(("uploadpack.", "transfer.", "receive."))
        and name not in _HARMLESS
        and not name.startswith("receive.fsck.")
    ):
        raise Unsupported(name)  # hideRefs, certNonceSeed, anything newer than this model


def _parse(service: GitService, config_path: Path, overrides: Mapping[str, str]) -> Capabilities:
    try:
        entries = [(entry.name.lower(), entry.value) for entry in pygit2.Config(str(config_path))]
    except pygit2.GitError:
        raise Unsupported("unreadable config") from None
    caps = {"allow_uor": 0, "allow_filter": 0, "atomic": 1, "ofs_delta": 1, "push_options": 0}
    for name, value in [*entries, *((k.lower(), v) for k, v in overrides.items())]:
        _apply(caps, name, value)
    return Capabilities(
        service=service,
        allow_uor=caps["allow_uor"],
        allow_filter=bool(caps["allow_filter"]),
        atomic=bool(caps["atomic"]),
        ofs_delta=bool(caps["ofs_delta"]),
        push_options=bool(caps["push_options"]),
    )


_CAPABILITIES: dict[tuple[GitService, bytes, tuple[tuple[str, str], ...]], Capabilities | None] = {}
_CAPABILITIES_MAX = 64
_CAPABILITIES_LOCK = threading.Lock()


def capabilities_for(
    service: GitService, git_dir: Path, config: bytes, overrides: Mapping[str, str]
) -> Capabilities | None:
    """What the repository's config (`config`: the bytes of its file) and Kiln's `-c`
    `overrides` make git advertise; None when they hold something not modelled.

    Cached by the config's bytes: most repositories share one configuration."""
    key = (service, config, tuple(overrides.items()))
    if key in _CAPABILITIES:
        return _CAPABILITIES[key]
    config_path = git_dir / "config"
    try:
        found: Capabilities | None = _parse(service, config_path, overrides)
    except Unsupported:
        found = None
    try:
        unchanged = config_path.read_bytes() == config
    except OSError:
        unchanged = False
    if unchanged:  # the file parsed is the one the key names
        with _CAPABILITIES_LOCK:
            if len(_CAPABILITIES) >= _CAPABILITIES_MAX:
                _CAPABILITIES.clear()
            _CAPABILITIES[key] = found
    return found


# -- refs -------------------------------------------------------------------------------------


def _parse_value(content: bytes) -> tuple[bytes | None, bytes | None]:
    """(oid, None) or (None, symref target) for a loose ref file, as git writes them."""
    if content.startswith(b"ref: ") and content.endswith(b"\n"):
        target = content[5:-1]
        if target.startswith(b"refs/") and not _BAD_NAME.search(target):
            return None, target
        raise Unsupported("odd symbolic ref")
    oid = content[:-1] if content.endswith(b"\n") else content
    if _HEX40.fullmatch(oid):
        return oid, None
    raise Unsupported("odd loose ref")


def _loose_refs(git_dir: bytes) -> dict[bytes, bytes]:
    """name -> file content for every loose ref under refs/ (git skips `.*` and `*.lock`)."""
    found: dict[bytes, bytes] = {}
    pending = [b"refs/"]
    while pending:
        prefix = pending.pop()
        try:
            entries = list(os.scandir(os.path.join(git_dir, prefix)))
        except FileNotFoundError:
            if prefix == b"refs/":
                raise Unsupported("no refs directory") from None
            continue  # removed since its parent was listed (a ref deleted meanwhile)
        for entry in entries:
            name = entry.name
            if name.startswith(b".") or name.endswith(b".lock"):
                continue
            if entry.is_dir(follow_symlinks=False):
                pending.append(prefix + name + b"/")
            elif entry.is_file(follow_symlinks=False):
                try:
                    with open(entry.path, "rb") as handle:
                        found[prefix + name] = handle.read(4097)
                except FileNotFoundError:
                    raise Unsupported("a loose ref went away while reading") from None
            else:
                raise Unsupported("not a regular file under refs/")
    return found


def _packed_refs(git_dir: bytes) -> dict[bytes, tuple[bytes, bytes | None]]:
    """name -> (oid, peeled oid or None) from packed-refs, which must be fully peeled."""
    try:
        with open(os.path.join(git_dir, b"packed-refs"), "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return {}
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        raise Unsupported("packed-refs does not end with a newline")
    if not lines:
        return {}
    header = lines[0]
    if not header.startswith(b"# pack-refs with: ") or b" fully-peeled " not in header + b" ":
        raise Unsupported("packed-refs is not fully peeled")
    packed: dict[bytes, tuple[bytes, bytes | None]] = {}
    last: bytes | None = None
    for line in lines[1:]:
        if line.startswith(b"^"):
            if last is None or not _HEX40.fullmatch(line[1:]):
                raise Unsupported("odd peeled line in packed-refs")
            packed[last] = (packed[last][0], line[1:])
            last = None
            continue
        oid, _, name = line.partition(b" ")
        if not _HEX40.fullmatch(oid) or not name.startswith(b"refs/") or name in packed:
            raise Unsupported("odd line in packed-refs")
        packed[name] = (oid, None)
        last = name
    return packed


@dataclass(frozen=True, slots=True)
class _Ref:
    name: bytes
    oid: bytes
    peeled: bytes | None


class _Objects:
    """Existence and peeling, as git checks them while advertising."""

    def __init__(self, git_dir: bytes) -> None:
        self.odb = pygit2.Odb(os.fsdecode(os.path.join(git_dir, b"objects")))

    def require(self, oid: bytes) -> None:
        if not self.odb.exists(oid.decode()):
            raise Unsupported("a ref names a missing object")

    def peel(self, oid: bytes) -> bytes | None:
        """git's peel_object: the object a tag (chain) points at; None for a non-tag."""
        kind, _ = self.odb.read_header(oid.decode())
        if kind != ObjectType.TAG:
            return None
        for _ in range(32):
            _, data = self.odb.read(oid.decode())[:2]
            head = bytes(data).split(b"\n", 2)
            if (
                len(head) < 3
                or not head[0].startswith(b"object ")
                or not head[1].startswith(b"type ")
            ):
                raise Unsupported("unparsable tag")
            oid = head[0][7:]
            if not _HEX40.fullmatch(oid):
                raise Unsupported("unparsable tag")
            if head[1][5:] != b"tag":
                return oid  # git does not check that the tagged object exists
            if not self.odb.exists(oid.decode()):
                raise Unsupported("a tag names a missing tag")
        raise Unsupported("tag chain too long")


def _resolve(
    name: bytes, loose: Mapping[bytes, bytes], packed: Mapping[bytes, tuple[bytes, bytes | None]]
) -> tuple[bytes, bytes, bool]:
    """(final ref name, oid, whether that oid came from packed-refs) for a ref that exists."""
    for _ in range(_SYMREF_DEPTH):
        if name in loose:
            oid, target = _parse_value(loose[name])
            if oid is not None:
                return name, oid, False
            assert target is not None
            name = target
            continue
        if name in packed:
            return name, packed[name][0], True
        raise KeyError(name)
    raise Unsupported("symbolic refs nested too deep")


def _read_refs(git_dir: bytes, objects: _Objects, peel: bool) -> list[_Ref]:
    loose = _loose_refs(git_dir)  # before packed-refs: see the module docstring
    packed = _packed_refs(git_dir)
    refs: list[_Ref] = []
    for name in sorted({*loose, *packed}):
        if _BAD_NAME.search(name):
            raise Unsupported("a ref name git would refuse")
        try:
            final, oid, from_packed = _resolve(name, loose, packed)
        except KeyError:
            raise Unsupported("a dangling symbolic ref") from None
        objects.require(oid)
        peeled = None
        if peel:
            if from_packed and final == name:
                peeled = packed[name][1]  # git trusts packed-refs' peeled lines
            else:
                peeled = objects.peel(oid)
        refs.append(_Ref(name, oid, peeled))
    return refs


def _head(
    git_dir: bytes, objects: _Objects, refs: Iterable[_Ref]
) -> tuple[_Ref | None, bytes | None]:
    """(the HEAD line, the symref target) — HEAD is a symbolic ref to a plain ref, or detached."""
    if os.path.islink(os.path.join(git_dir, b"HEAD")):
        raise Unsupported("HEAD is a symlink")
    with open(os.path.join(git_dir, b"HEAD"), "rb") as handle:
        oid, target = _parse_value(handle.read(4097))
    if oid is None:
        assert target is not None
        found = next((ref for ref in refs if ref.name == target), None)
        if found is None:
            return None, None  # unborn: no HEAD line, no symref capability
        # A symbolic ref under refs/ would make git name its target instead.
        loose = os.path.join(git_dir, target)
        if os.path.isfile(loose):
            with open(loose, "rb") as handle:
                if handle.read(5) == b"ref: ":
                    raise Unsupported("HEAD points at a symbolic ref")
        oid = found.oid
    objects.require(oid)
    return _Ref(b"HEAD", oid, objects.peel(oid)), target


def _pkt(payload: bytes) -> bytes:
    if len(payload) > _MAX_PKT_PAYLOAD:
        raise Unsupported("line too long for a pkt-line")
    return b"%04x" % (len(payload) + 4) + payload


def _lines(refs: list[_Ref], capabilities: bytes) -> list[bytes]:
    out = []
    for i, ref in enumerate(refs):
        caps = b"\0" + capabilities if i == 0 else b""
        out.append(_pkt(ref.oid + b" " + ref.name + caps + b"\n"))
        if ref.peeled is not None:
            out.append(_pkt(ref.peeled + b" " + ref.name + b"^{}\n"))
    return out


def render_advertisement(
    git_dir: Path, caps: Capabilities, *, agent: bytes, version: int
) -> bytes | None:
    """The advertisement git would print (`version` 0 or 1), or None to let git answer."""
    directory = os.fsencode(git_dir)
    for odd in (b"shallow", b"info/grafts", b"objects/info/alternates"):
        if os.path.lexists(os.path.join(directory, odd)):
            return None
    upload = caps.service is GitService.UPLOAD_PACK
    try:
        objects = _Objects(directory)
        refs = _read_refs(directory, objects, peel=upload)
        if upload:
            head, target = _head(directory, objects, refs)
            if head is None and not refs:
                return None  # empty: newer git versions print `capabilities^{}` here
            listed = [head, *refs] if head is not None else refs
            text = _UPLOAD_CAPS
            text += b" allow-tip-sha1-in-want" if caps.allow_uor & _ALLOW_TIP else b""
            text += b" allow-reachable-sha1-in-want" if caps.allow_uor & _ALLOW_REACHABLE else b""
            text += b" no-done"
            text += b" symref=HEAD:" + target if head is not None and target else b""
            text += b" filter" if caps.allow_filter else b""
        else:
            listed = refs or [_Ref(b"capabilities^{}", _ZERO, None)]
            text = _RECEIVE_CAPS
            text += b" atomic" if caps.atomic else b""
            text += b" ofs-delta" if caps.ofs_delta else b""
            text += b" push-options" if caps.push_options else b""
        text += b" object-format=sha1 agent=" + agent
        body = b"".join(_lines(listed, text))
    except (Unsupported, OSError, pygit2.GitError, KeyError, ValueError):
        return None
    head_line = _pkt(b"version 1\n") if version == 1 else b""
    return head_line + body + b"0000"
