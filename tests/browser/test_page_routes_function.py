"""The CloudFront function of template.yaml that sends the dashboard's screens to index.html, run in Chromium's
JavaScript engine: it must route exactly what the local server routes (local/web.py), and nothing of the API's."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from local.web import web_asset
from tests.template.sam_template import load_template

PATHS = [
    "/",
    "/tenants/demo/overview",
    "/tenants/demo/budgets/7f3a/edit",
    "/signin/callback",
    "/index.html",
    "/app.css",
    "/js/views/overview.js",
    "/config.json",
    "/v1/analytics/finops/costs",
    "/api/ai-budget/finops/budgets/tenant/demo",
    "/tenantsx",
]


@pytest.mark.parametrize("path", PATHS)
def test_cloudfront_routes_a_path_as_the_local_server_does(browser: Browser, path: str) -> None:
    code = load_template()["Resources"]["DashboardPageRoutesFunction"]["Properties"]["FunctionCode"]
    page = browser.new_page()
    try:
        routed = page.evaluate(
            f"(uri) => {{ {code}; return handler({{ request: {{ uri, headers: {{}} }} }}).uri; }}", path
        )
    finally:
        page.close()
    serves_page = routed == "/index.html" and path != "/index.html"
    local = web_asset(path)
    local_serves_page = path != "/index.html" and local is not None and local[0].startswith(b"<!doctype html>")
    assert serves_page == local_serves_page
    if not serves_page:
        assert routed == path  # files and the API pass through untouched
