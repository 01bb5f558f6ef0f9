"""Where the shared reference data lives: `../shared` beside the checkout (as on CI), or
KILN_SHARED_DIR. On CI its absence is an error, not a reason to skip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DIR = Path(os.environ.get("KILN_SHARED_DIR", REPO_ROOT.parent / "shared")).resolve()
DATA_DIR = SHARED_DIR / "data"


def require(path: Path) -> Path:
    """`path` if it exists; else fail on CI and skip elsewhere, saying why."""
    if path.exists():
        return path
    message = f"shared reference data not found at {path} (set KILN_SHARED_DIR)"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message, allow_module_level=True)
    return path
