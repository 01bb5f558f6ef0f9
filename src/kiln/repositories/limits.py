"""Size limits on pushes, from the application settings."""

from __future__ import annotations

DEFAULT_MAX_PUSH_MB = 200


def max_push_bytes() -> int:
    """GitLab's `receive_max_input_size` (MB; 0 or unset means the default)."""
    try:
        from kiln.core.appsettings import current

        megabytes = int(getattr(current(), "receive_max_input_size", 0) or 0)
    except ImportError:
        megabytes = 0
    return (megabytes or DEFAULT_MAX_PUSH_MB) * 1024 * 1024


def max_file_bytes() -> int:
    """The largest file a push may bring (`max_file_size`, MB); 0: no limit."""
    from kiln.core.appsettings import current

    return int(getattr(current(), "max_file_size", 0) or 0) * 1024 * 1024
