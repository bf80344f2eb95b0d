"""The dashboard in a real browser against its own local server (its own data directory and ports: the tests
here create budgets and acknowledge anomalies, which the e2e suite's server must not see)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, ViewportSize

from tests.browser.browser import DESKTOP, Screen, chromium, open_screen
from tests.e2e.conftest import local_server
from tests.e2e.local_server import LocalServer

# The e2e suite's server fixture under another name: the browser tests get a server of their own, started, stopped
# and checked for leftovers the same way.
dashboard_server = pytest.fixture(local_server.__wrapped__, scope="session", name="dashboard_server")  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def open_as(browser: Browser, dashboard_server: LocalServer) -> Iterator[Callable[..., Screen]]:
    """open_as("admin") -> a tab signed in as the demo tenant's admin; no console error may go unexplained."""
    screens: list[Screen] = []

    def signed_in(role: str = "admin", tenant: str = "demo", viewport: ViewportSize = DESKTOP) -> Screen:
        token = dashboard_server.token(tenant, role)
        screen = open_screen(browser, dashboard_server.base_url, token, viewport=viewport)
        screens.append(screen)
        return screen

    yield signed_in
    for screen in screens:
        errors, url = screen.unexpected_errors(), screen.page.url
        screen.page.context.close()
        assert not errors, f"console errors on {url}: {errors}"
