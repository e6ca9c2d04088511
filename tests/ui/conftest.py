"""A real headless Chromium for the page's tests, driven by Playwright (the system browser).

Tests here are marked ``browser`` and skip, saying why, where no Chromium is installed.
``BEACON_TEST_CHROMIUM`` names another Chromium binary than ``/usr/bin/chromium``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.ui.servers import CHROMIUM_ARGS


def chromium_path() -> str | None:
    explicit = os.environ.get("BEACON_TEST_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    """One Chromium for the whole session; each test opens its own context."""
    executable = chromium_path()
    if executable is None:
        pytest.skip(
            "no Chromium found (install Debian's chromium package or set BEACON_TEST_CHROMIUM)"
        )
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[dev]')")
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    """A fresh page (own cookies, storage and history) at desktop size."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    pg = await context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield pg
    finally:
        await context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
