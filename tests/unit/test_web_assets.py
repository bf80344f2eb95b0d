"""The local server's dashboard files (local/web.py): what it serves, with which headers, and what it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.web import WEB_DIR, web_asset


@pytest.mark.parametrize("path", ["/", "/tenants/demo/overview", "/tenants/demo/budgets/abc/edit", "/signin/callback"])
def test_page_routes_get_the_page_with_its_content_security_policy(path: str) -> None:
    asset = web_asset(path)
    assert asset is not None
    body, headers = asset
    assert body == (WEB_DIR / "index.html").read_bytes()
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_files_are_served_with_their_type_and_never_sniffed() -> None:
    asset = web_asset("/js/app.js")
    assert asset is not None
    body, headers = asset
    assert body == (WEB_DIR / "js" / "app.js").read_bytes()
    assert headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in headers


def test_config_names_local_sign_in_and_the_claims_the_functions_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from finops.settings import reload_settings

    monkeypatch.setenv("TENANT_CLAIM", "custom:tenant")
    reload_settings()
    try:
        asset = web_asset("/config.json")
        assert asset is not None
        assert json.loads(asset[0]) == {"signIn": "local", "tenantClaim": "custom:tenant", "rolesClaim": "roles"}
    finally:
        monkeypatch.delenv("TENANT_CLAIM")
        reload_settings()


@pytest.mark.parametrize(
    "path",
    [
        "/../local/token.py",  # outside web/
        "/js/../../Makefile",
        "/../.finops/jwt-secret",
        "/.hidden.js",  # dotfiles
        "/js",  # a directory
        "/missing.js",
        "/v1/analytics/finops/costs",  # the API's, untouched
        "/health",
        "/index.php",  # a type the dashboard has none of
    ],
)
def test_anything_else_is_not_the_dashboards(path: str) -> None:
    assert web_asset(path) is None


def test_a_symlink_out_of_web_is_refused(tmp_path: Path) -> None:
    web = tmp_path / "web"
    web.mkdir()
    (tmp_path / "secret.js").write_text("secret")
    (web / "link.js").symlink_to(tmp_path / "secret.js")
    (web / "index.html").write_text("<!doctype html>")
    assert web_asset("/link.js", web) is None
    page = web_asset("/", web)
    assert page is not None and page[0] == b"<!doctype html>"
