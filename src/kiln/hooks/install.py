"""Write the hook scripts git runs (a shared hooks directory, pointed at by core.hooksPath)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import kiln.hooks.relay as relay

HOOKS = ("pre-receive", "post-receive")


def install_hooks(directory: Path, hooks: tuple[str, ...] = HOOKS) -> Path:
    """Write `hooks` into `directory` (each atomically), and return it."""
    directory.mkdir(parents=True, exist_ok=True)
    # The relay runs with -IS (isolated, no site): fast, and nothing from the pusher's
    # environment can change what Python loads. Only Kiln's own source directory is added.
    source_root = Path(relay.__file__).resolve().parents[2]
    script = (
        f"#!{sys.executable} -IS\n"
        "import sys\n"
        f"sys.path.insert(0, {str(source_root)!r})\n"
        "from kiln.hooks.relay import main\n"
        "sys.exit(main({hook!r}))\n"
    )
    for hook in hooks:
        target = directory / hook
        tmp = directory / f".{hook}.tmp"
        tmp.write_text(script.format(hook=hook))
        tmp.chmod(0o755)
        os.replace(tmp, target)
    return directory
