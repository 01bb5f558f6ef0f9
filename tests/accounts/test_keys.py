"""SSH public key parsing: what is a key, its fingerprints, and GitLab's sanitizing."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import asyncssh
import pytest

from kiln.accounts import keys


def generate(algorithm: str, **kwargs: object) -> str:
    key = asyncssh.generate_private_key(algorithm, comment="someone@host", **kwargs)
    return key.export_public_key().decode().strip()


ED25519 = generate("ssh-ed25519")
ECDSA_384 = generate("ecdsa-sha2-nistp384")
RSA_2048 = generate("ssh-rsa", key_size=2048)
RSA_1024 = generate("ssh-rsa", key_size=1024)


def ssh_keygen(key: str, digest: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "key.pub"
        path.write_text(key + "\n")
        out = subprocess.run(
            ["ssh-keygen", "-l", "-E", digest, "-f", str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return out.split()[1]


@pytest.mark.parametrize("key", [ED25519, ECDSA_384, RSA_2048], ids=["ed25519", "ecdsa", "rsa"])
def test_fingerprints_match_ssh_keygen(key: str) -> None:
    parsed = keys.parse(key)
    assert parsed is not None
    assert parsed.fingerprint_sha256 == ssh_keygen(key, "sha256")
    assert "MD5:" + parsed.fingerprint_md5 == ssh_keygen(key, "md5")
    assert parsed.text == key


def test_technology_and_bits() -> None:
    rsa = keys.parse(RSA_2048)
    assert rsa is not None
    assert (rsa.technology, rsa.bits) == ("rsa", 2048)
    ec = keys.parse(ECDSA_384)
    assert ec is not None
    assert (ec.technology, ec.bits) == ("ecdsa", 384)
    ed = keys.parse(ED25519)
    assert ed is not None
    assert (ed.technology, ed.bits) == ("ed25519", 256)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ssh-ed25519",
        "ssh-ed25519 not-base64!",
        "ssh-rsa " + ED25519.split()[1],  # the blob says ed25519
        "ecdsa-sha2-nistp256 " + ECDSA_384.split()[1],  # a curve other than the name
        asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode(),
        'command="rm -rf /" ' + ED25519,  # authorized_keys options are not a key
        "x" * 10_000,
    ],
    # Ids must not depend on the generated keys: xdist workers compare their collections.
    ids=[
        "empty",
        "algorithm-only",
        "not-base64",
        "mismatched-algorithm",
        "mismatched-curve",
        "private-key",
        "with-options",
        "long-garbage",
    ],
)
def test_not_keys(text: str) -> None:
    assert keys.parse(text) is None
    parsed, errors = keys.key_errors(text)
    assert parsed is None
    assert errors["fingerprint_sha256"] == ["cannot be generated"]
    assert "is invalid" in errors["key"]


def test_short_rsa_keys_are_refused() -> None:
    parsed, errors = keys.key_errors(RSA_1024)
    assert parsed is not None
    assert errors == {"key": ["must be at least 2048 bits"]}


def test_banned_keys_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = keys.parse(ED25519)
    assert parsed is not None
    monkeypatch.setattr(keys, "BANNED_FINGERPRINTS", frozenset([parsed.fingerprint_sha256]))
    _, errors = keys.key_errors(ED25519)
    assert errors == {"key": [keys.BANNED_MESSAGE]}


def test_sanitize_rejoins_wrapped_keys() -> None:
    algorithm, encoded, comment = RSA_2048.split(" ", 2)
    wrapped = f"\n {algorithm} {encoded[:64]}\n{encoded[64:200]}\r\n{encoded[200:]} {comment}\n"
    assert keys.sanitize(wrapped) == RSA_2048
    # Text that never becomes a key comes back stripped, unchanged otherwise.
    assert keys.sanitize("  not a key  ") == "not a key"
