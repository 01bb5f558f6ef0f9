"""Fixtures for the UI: a headless browser page, and signing in through the real form."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support import browser as support

ROOT_PASSWORD = "root-password-1"  # tests/conftest.py seeds root with it


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    support.chromium_path()
    # Playwright's sync API keeps an event loop on this thread for the rest of the session;
    # Django would then refuse every database call of the tests (and of later tests in this
    # worker) as if made from async code. The tests' own calls are synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = support.launch(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context and page; a screenshot and the HTML are saved on failure."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if msg.type == "error" else None,
    )
    page.console_errors = errors
    try:
        yield page
    finally:
        if request.node.stash.get(_FAILED, False):
            support.save_failure(page, request.node.nodeid)
        context.close()


@pytest.fixture
def sign_in(page: Any) -> Callable[..., Any]:
    """Sign in through the real form: `sign_in(base_url, username, password)`."""

    def do(base_url: str, username: str = "root", password: str = ROOT_PASSWORD) -> Any:
        page.goto(f"{base_url}/users/sign_in")
        page.get_by_label("Username or email").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        return page

    return do
