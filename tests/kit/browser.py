"""Debian's headless Chromium, driven by Playwright, for the pages' tests."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from playwright.async_api import Page, async_playwright

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--mute-audio",
]


@asynccontextmanager
async def chromium_page(
    extra: list[str], width: int = 1920, height: int = 1080
) -> AsyncIterator[Page]:
    """One page in a fresh browser started with ``FLAGS`` and ``extra``."""
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed (scripts/setup.sh test installs it)"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=[*FLAGS, *extra])
        page = await browser.new_page(viewport={"width": width, "height": height})
        yield page
        await browser.close()
