"""Headless Chromium from Debian's `chromium` package, driven by Playwright for Python (Playwright's own browser
download is not used), and the dashboard's pages as a signed-in person sees them."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# --no-sandbox: the tests run as root on CI; the rest keep a shared 2-core machine quiet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        raise RuntimeError(
            f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium (apt-get install chromium)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Screen:
    """One signed-in tab; `errors` collects console errors and uncaught exceptions."""

    page: Page
    base_url: str
    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def open(self, path: str) -> Page:
        self.page.goto(self.base_url + path)
        self.settle()
        return self.page

    def settle(self) -> None:
        """Every request answered and every panel drawn (no skeleton left)."""
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_function("() => !document.querySelector('[aria-busy=true]')")

    def allow(self, pattern: str) -> None:
        """A console error this test expects (a refused request logs one), matched by regular expression."""
        self.allowed.append(re.compile(pattern))

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]


def open_screen(browser: Browser, base_url: str, token: str | None, *, viewport: ViewportSize = DESKTOP) -> Screen:
    context = browser.new_context(viewport=viewport, locale="en-US", timezone_id="UTC", accept_downloads=True)
    page = context.new_page()
    screen = Screen(page, base_url)
    page.on("console", lambda m: screen.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: screen.errors.append(f"page error: {e}"))
    if token is not None:
        page.goto(f"{base_url}/#token={token}")  # the sign-in link `make run` prints
        screen.settle()
    return screen


def usd(value: float | Decimal) -> str:
    """An amount as the page shows it in en-US: the float's exact value to the cent, half away from zero
    (what Intl.NumberFormat does), thousands separators, a minus for credits."""
    cents = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"-${-cents:,.2f}" if cents < 0 else f"${abs(cents):,.2f}"
