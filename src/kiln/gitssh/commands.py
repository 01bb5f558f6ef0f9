"""The `kiln ssh`, `kiln shell` and `kiln authorized-keys` commands (wired in kiln.cli)."""

from __future__ import annotations

import os
import sys


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kiln.settings")
    import django

    django.setup()


def run_ssh_server() -> int:
    _setup()
    from kiln.gitssh.server import run_ssh

    return run_ssh()


def run_forced_command(key_arg: str) -> int:
    _setup()
    from kiln.gitssh.shell import run_shell

    return run_shell(key_arg)


def print_authorized_keys(key_type: str, key_base64: str) -> int:
    """For OpenSSH's AuthorizedKeysCommand: one line for a known key, nothing otherwise."""
    _setup()
    from kiln.gitssh.shell import authorized_keys_line

    line = authorized_keys_line(key_type, key_base64)
    if line is not None:
        sys.stdout.write(line + "\n")
    return 0
