"""Headless Chromium for the UI tests: Debian's chromium driven by Playwright through
`executable_path` (no browser download). On CI its absence is an error, not a reason to skip.

Playwright's sync API runs its own event loop in a greenlet; the browser is shared per test
process, each test gets a fresh context (cookies, storage) and page. A failing test leaves a
screenshot and the page's HTML in `test-artifacts/` (see tests/web/conftest.py).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"


def chromium_path() -> str:
    """The Chromium executable (KILN_CHROMIUM or Debian's), or skip/fail saying why."""
    for candidate in (os.environ.get("KILN_CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    message = "chromium not found (Debian: apt-get install chromium; or set KILN_CHROMIUM)"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
    return ""


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(
        executable_path=chromium_path(),
        headless=True,
        # Root in a container has no user namespaces for Chromium's own sandbox.
        chromium_sandbox=False,
        args=["--disable-dev-shm-usage", "--disable-gpu"],
    )


def save_failure(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:150]
    from playwright.sync_api import Error

    # The page may be gone; the test's own failure is what matters, so this never raises.
    with contextlib.suppress(Error, OSError):
        page.screenshot(path=str(ARTIFACTS / f"{safe}.png"), full_page=True)
        (ARTIFACTS / f"{safe}.html").write_text(page.content())
