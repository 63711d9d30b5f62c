"""Headless Chromium for the end-to-end tests, driven by Playwright.

Debian's `chromium` is used (Playwright's own browser download is not needed and does not work
on machines without Internet access): OMBUD_CHROMIUM names another binary. `make test` and
`.ci/run` install it when it is missing; a missing browser fails these tests, it never skips them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

# Playwright's sync API runs an event loop in this thread, and Django refuses ORM calls from a
# thread with a running loop unless told it is safe: here it is, as each call is synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"

_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def chromium_path() -> str:
    found = os.environ.get("OMBUD_CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.fail(
            "Chromium is needed for the end-to-end tests: `apt-get install chromium` "
            "(make test does this when run as root), or set OMBUD_CHROMIUM to its path."
        )
    return found


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=_FLAGS)
        yield browser
        browser.close()


class Screens:
    """Writes each page's screenshot, named by step and language, into one folder per test."""

    def __init__(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.folder = folder
        self.numbers: dict[str, int] = {}

    def shot(self, page: Any, name: str, language: str) -> Path:
        # The same step has the same number in each language's folder.
        number = self.numbers.setdefault(name, len(self.numbers) + 1)
        path = self.folder / language / f"{number:02d}-{name}.png"
        path.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def screens(request: pytest.FixtureRequest) -> Screens:
    """Screenshots of this test, in var/screenshots/<test name>/<language>/."""
    return Screens(SCREENSHOTS / request.node.name)
