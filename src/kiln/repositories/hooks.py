"""Where git finds Kiln's hooks, and where the hooks reach Kiln back."""

from __future__ import annotations

import functools
from pathlib import Path

from django.conf import settings

from kiln.hooks.install import install_hooks


@functools.cache
def hooks_dir() -> Path:
    """The shared hooks directory, (re)written once per process so it matches this install."""
    return install_hooks(settings.DATA_DIR / "hooks")


@functools.cache
def channel_hooks_dir() -> Path:
    """Hooks for a transport that answers pre-receive over the hook channel and records the
    push itself after git exits (see kiln.hooks.relay): pre-receive only."""
    return install_hooks(settings.DATA_DIR / "hooks-channel", ("pre-receive",))


def internal_hook_url() -> str:
    return f"{settings.INTERNAL_URL}/api/v4/internal"
