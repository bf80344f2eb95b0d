"""The dashboard in a real browser against its own local server (its own data directory and ports: the tests
here create budgets and acknowledge anomalies, which the e2e suite's server must not see)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, ViewportSize

from tests.browser.browser import DESKTOP, Screen, chromium, open_screen
from tests.e2e.local_server import LocalServer


@pytest.fixture(scope="session")
def dashboard_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    server = LocalServer(data_dir=tmp_path_factory.mktemp("dashboard-server") / "data")
    server.start()
    yield server
    server.stop()


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
