"""Browser end-to-end fixtures: the app over real HTTP on a loopback port (the address its
M-Pesa callbacks name, so the built-in sandbox calls back for real), and Debian's Chromium
driven by Playwright. Without Chromium or Playwright the tests skip, saying why; in CI
(CI=true) they fail instead."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from quart import Quart

from gamehub.settings import Settings
from tests.backends import IN_CI
from tests.live import free_port, serve_at

if TYPE_CHECKING:
    from playwright.async_api import Browser

CHROMIUM = Path(os.environ.get("GAMEHUB_E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI runs the browser tests: {reason} (run .ci/browser)", pytrace=False)
    pytest.skip(f"browser tests not run: {reason}")


@pytest.fixture
def own_port() -> int:
    return free_port()


@pytest.fixture
def settings(settings: Settings, own_port: int) -> Settings:
    return settings.with_overrides(
        mpesa_callback_base_url=f"http://127.0.0.1:{own_port}",
        # The background reconciler stays out of the way of prompts answered by hand.
        reconcile_interval_s=3600.0,
        reconcile_after_s=3600.0,
    )


@pytest.fixture
async def base_url(app: Quart, own_port: int) -> AsyncIterator[str]:
    async with serve_at(app, own_port) as base:
        yield base


@pytest.fixture
async def browser(base_url: str) -> AsyncIterator[Browser]:
    """Chromium, closed before the server stops (so no stream is cut by the shutdown)."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install playwright)")
        raise AssertionError("unreachable") from None
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
