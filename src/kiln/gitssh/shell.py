"""OpenSSH integration: `kiln authorized-keys` and the forced command `kiln shell key-<id>`.

sshd_config for production (see docs/admin.md):

    Match User git
        AuthorizedKeysCommand /srv/kiln/.venv/bin/kiln authorized-keys %t %k
        AuthorizedKeysCommandUser git
        AcceptEnv GIT_PROTOCOL

The command prints one authorized_keys line forcing `kiln shell key-<id>`, so OpenSSH runs
the same dispatcher as `kiln ssh`, with the key's id as the only identity.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import sys
import threading
from typing import IO

from kiln.gitssh.dispatch import Refused, open_session
from kiln.gitssh.keys import find_auth_key, fingerprint_sha256

_KEY_ARG = re.compile(r"key-(\d{1,18})\Z")


def authorized_keys_line(key_type: str, key_base64: str) -> str | None:
    try:
        blob = base64.b64decode(key_base64, validate=True)
    except (binascii.Error, ValueError):
        return None
    key = find_auth_key(fingerprint_sha256(blob))
    if key is None:
        return None
    exe = os.path.join(os.path.dirname(sys.executable), "kiln")
    options = "no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty"
    return f'command="{exe} shell key-{key.pk}",{options} {key_type} {key_base64}'


def _pump(source: IO[bytes], sink: IO[bytes], close: bool = True) -> None:
    try:
        while chunk := os.read(source.fileno(), 65536):
            sink.write(chunk)
            sink.flush()
    except OSError:
        pass
    finally:
        if close:
            with contextlib.suppress(OSError):
                sink.close()


def run_shell(key_arg: str) -> int:
    match = _KEY_ARG.match(key_arg)
    if match is None:
        print("Kiln: invalid key argument.", file=sys.stderr)
        return 1
    try:
        session = open_session(
            key_id=int(match.group(1)),
            command=os.environ.get("SSH_ORIGINAL_COMMAND"),
            git_protocol=os.environ.get("GIT_PROTOCOL"),
        )
    except Refused as refused:
        print(refused.message, file=sys.stderr)
        return 1
    if session.greeting is not None:
        print(session.greeting)
        return 0
    git = session.process
    assert git is not None
    assert git.stdin
    assert git.stdout
    assert git.stderr
    feeder = threading.Thread(target=_pump, args=(sys.stdin.buffer, git.stdin), daemon=True)
    feeder.start()
    errors = threading.Thread(
        target=_pump, args=(git.stderr, sys.stderr.buffer, False), daemon=True
    )
    errors.start()
    _pump(git.stdout, sys.stdout.buffer, close=False)
    errors.join()
    return git.wait()
