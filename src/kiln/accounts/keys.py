"""SSH public keys: parsing, fingerprints and the checks GitLab's `Key` model applies.

Only the OpenSSH one-line format is accepted (`<algorithm> <base64> [comment]`), as GitLab
does: a private key, a PEM or RFC 4716 block, a certificate or any other text is refused with
GitLab's messages. The blob is decoded with asyncssh, and the algorithm named in front of it
must be the one inside it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass

import asyncssh

MAX_KEY_LENGTH = 5000

# algorithm -> GitLab's technology name (the suffix of its `*_key_restriction` settings).
ALGORITHMS: dict[str, str] = {
    "ssh-rsa": "rsa",
    "ssh-dss": "dsa",
    "ecdsa-sha2-nistp256": "ecdsa",
    "ecdsa-sha2-nistp384": "ecdsa",
    "ecdsa-sha2-nistp521": "ecdsa",
    "ssh-ed25519": "ed25519",
    "sk-ecdsa-sha2-nistp256@openssh.com": "ecdsa_sk",
    "sk-ssh-ed25519@openssh.com": "ed25519_sk",
}
TECHNOLOGIES = ("rsa", "dsa", "ecdsa", "ed25519", "ecdsa_sk", "ed25519_sk")

# Minimum key size per technology in bits, as GitLab's `*_key_restriction` settings say
# (0: any size, -1: forbidden). GitLab's own default is 0 everywhere; Kiln refuses RSA keys
# under 2048 bits, which are within reach of factoring. TODO(settings): read these from the
# application settings once they carry the `*_key_restriction` fields.
KEY_RESTRICTIONS: dict[str, int] = {
    "rsa": 2048,
    "dsa": 0,
    "ecdsa": 0,
    "ed25519": 0,
    "ecdsa_sk": 0,
    "ed25519_sk": 0,
}

# Keys whose private half is public knowledge (GitLab's BANNED_SSH_KEY_FINGERPRINTS:
# rapid7/ssh-badkeys, BenBE/kompromat, ctrlu.net 0006).
BANNED_FINGERPRINTS = frozenset(
    [
        "SHA256:Z+q4XhSwWY7q0BIDVPR1v/S306FjGBsid7tLq/8kIxM",
        "SHA256:uy5wXyEgbRCGsk23+J6f85om7G55Cu3UIPwC7oMZhNQ",
        "SHA256:9prMbqhS4QteoFQ1ZRJDqSBLWoHXPyKB0iWR05Ghro4",
        "SHA256:1M4RzhMyWuFS/86uPY/ce2prh/dVTHW7iD2RhpquOZA",
        "SHA256:/JLp6z6uGE3BPcs70RQob6QOdEWQ6nDC0xY7ejPOCc0",
        "SHA256:whDP3xjKBEettbDuecxtGsfWBST+78gb6McdB9P7jCU",
        "SHA256:MEc4HfsOlMqJ3/9QMTmrKn5Xj/yfnMITMW8EwfUfTww",
        "SHA256:aPoYT2nPIfhqv6BIlbCCpbDjirBxaDFOtPfZ2K20uWw",
        "SHA256:VtjqZ5fiaeoZ3mXOYi49Lk9aO31iT4pahKFP9JPiQPc",
        "SHA256:2ewGtK7Dc8XpnfNKShczdc8HSgoEGpoX+MiJkfH2p5I",
    ]
)
BANNED_MESSAGE = (
    "cannot be used because it belongs to a compromised private key. "
    "Stop using this key and generate a new one."
)

_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}\Z")


@dataclass(frozen=True)
class PublicKey:
    text: str  # "<algorithm> <base64>[ <comment>]", normalized
    algorithm: str
    technology: str
    bits: int
    blob: bytes

    @property
    def fingerprint_sha256(self) -> str:
        """OpenSSH's form: `SHA256:` and the unpadded base64 of the blob's SHA-256."""
        digest = base64.b64encode(hashlib.sha256(self.blob).digest()).decode().rstrip("=")
        return f"SHA256:{digest}"

    @property
    def fingerprint_md5(self) -> str:
        """The legacy colon-separated MD5 (GitLab's `fingerprint`)."""
        digest = hashlib.md5(self.blob, usedforsecurity=False).hexdigest()
        return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))

    @property
    def banned(self) -> bool:
        return self.fingerprint_sha256 in BANNED_FINGERPRINTS


def _inner_algorithm(blob: bytes) -> str | None:
    """The algorithm name an SSH public key blob starts with (an SSH `string`)."""
    if len(blob) < 4:
        return None
    (length,) = struct.unpack(">I", blob[:4])
    if length > 64 or len(blob) < 4 + length:
        return None
    try:
        return blob[4 : 4 + length].decode("ascii")
    except UnicodeDecodeError:
        return None


def _bits(key: asyncssh.SSHKey, technology: str) -> int | None:
    if technology in ("ed25519", "ed25519_sk", "ecdsa_sk"):
        return 256
    size = getattr(getattr(key, "pyca_key", None), "key_size", None)
    return size if isinstance(size, int) else None


def parse(text: str) -> PublicKey | None:
    """The key in `text` (one OpenSSH public key line), or None when it is not one."""
    parts = text.split()
    if len(parts) < 2 or parts[0] not in ALGORITHMS:
        return None
    algorithm, encoded = parts[0], parts[1]
    if not _BASE64.match(encoded):
        return None
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
    if _inner_algorithm(blob) != algorithm:
        return None
    try:
        key = asyncssh.import_public_key(f"{algorithm} {encoded}")
    except (asyncssh.KeyImportError, ValueError, TypeError):
        return None
    if key.get_algorithm() != algorithm:
        return None
    technology = ALGORITHMS[algorithm]
    bits = _bits(key, technology)
    if bits is None:
        return None
    comment = " ".join(parts[2:])
    normalized = f"{algorithm} {encoded}" + (f" {comment}" if comment else "")
    return PublicKey(
        text=normalized, algorithm=algorithm, technology=technology, bits=bits, blob=blob
    )


def sanitize(text: str) -> str:
    """Rejoin a key whose base64 was broken over several lines, as GitLab's `sanitize` does.

    Parts after the algorithm are appended one by one until they form a valid key; what
    follows the first valid prefix is kept as the comment.
    """
    stripped = text.strip()
    algorithm, *parts = stripped.split() or [""]
    if not parts or len(stripped) > MAX_KEY_LENGTH:
        return stripped
    content = ""
    for index, part in enumerate(parts):
        content += part
        if parse(f"{algorithm} {content}") is not None:
            rest = parts[index + 1 : index + 2]
            return " ".join([algorithm, content, *rest])
    return stripped


def forbidden_type_message() -> str:
    allowed = [t.upper() for t in TECHNOLOGIES if KEY_RESTRICTIONS[t] != -1]
    if len(allowed) > 2:
        listed = ", ".join(allowed[:-1]) + ", or " + allowed[-1]
    else:
        listed = " or ".join(allowed)
    return f"type is forbidden. Must be {listed}"


def key_errors(text: str) -> tuple[PublicKey | None, dict[str, list[str]]]:
    """The parsed key and GitLab's errors for it (`key`, `fingerprint_sha256`).

    The caller checks the title, the expiry and uniqueness of the fingerprint.
    """
    errors: dict[str, list[str]] = {}
    key_messages: list[str] = []
    if not text.strip():
        key_messages.append("can't be blank")
    key = parse(text)
    if key is None:
        key_messages.append(forbidden_type_message())
    else:
        restriction = KEY_RESTRICTIONS[key.technology]
        if restriction == -1:
            key_messages.append(forbidden_type_message())
        elif key.bits < restriction:
            key_messages.append(f"must be at least {restriction} bits")
    if len(text) > MAX_KEY_LENGTH:
        key_messages.append(f"is too long (maximum is {MAX_KEY_LENGTH} characters)")
    if key is None:
        key_messages.append("is invalid")
    elif key.banned:
        key_messages.append(BANNED_MESSAGE)
    if key_messages:
        errors["key"] = key_messages
    if key is None:
        errors["fingerprint_sha256"] = ["cannot be generated"]
    return key, errors
