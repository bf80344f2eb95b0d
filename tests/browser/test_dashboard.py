"""The dashboard in headless Chromium against the local server with demo data: every screen loads without console
errors and shows the API's numbers; the budget form, the CSV export and acknowledging work end to end; roles and
refusals are shown as the API has them."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import Browser, expect

from local.web import CONTENT_SECURITY_POLICY
from tests.browser.browser import PHONE, Screen, open_screen, usd
from tests.e2e.local_server import LocalServer

pytestmark = pytest.mark.e2e

COSTS = "/v1/analytics/finops"
BUDGETS = "/api/ai-budget/finops"
OpenAs = Callable[..., Screen]
USAGE: dict[str, dict[str, Any]] = {
    "AI": {"model": "gpt-4o", "inputTokens": 1000, "outputTokens": 100},
    "COMPUTE": {"vcpuSeconds": 60, "memoryGbSeconds": 120},
    "EGRESS": {"bytes": 1_000_000},
}


def today() -> date:
    return datetime.now(UTC).date()


def get(server: LocalServer, path: str, **query: Any) -> Any:
    reply = server.get(path, token=server.token("demo", "admin"), query={k: str(v) for k, v in query.items()})
    assert reply.status == 200, reply.text
    return reply.json


def ingest(server: LocalServer, day: date, category: str, cost: float) -> None:
    event: dict[str, Any] = {
        "eventId": f"browser-{uuid.uuid4()}",
        "tenantId": "demo",
        "timestamp": f"{day.isoformat()}T{'00:00:05' if day == today() else '12:00:00'}Z",
        "category": category,
        "service": "browser-tests",
        "region": "us-east-1",
        "costUsd": cost,
    }
    event.update(USAGE[category])
    reply = server.post(f"{COSTS}/telemetry", {"events": [event]}, token=server.token(None, "system"))
    assert reply.status == 200 and reply.json["accepted"] == 1, reply.text


def spike_yesterday(server: LocalServer, category: str, cost: float) -> dict[str, Any]:
    """An unmistakable spike yesterday, and the anomaly the API reports for it."""
    yesterday = today() - timedelta(days=1)
    ingest(server, yesterday, category, cost)
    found = get(
        server, f"{COSTS}/anomalies", tenantId="demo", **{"from": yesterday - timedelta(days=29), "to": yesterday}
    )
    return next(a for a in found["anomalies"] if a["date"] == yesterday.isoformat() and a["category"] == category)


def create_budget(server: LocalServer, name: str, amount: float = 3000) -> dict[str, Any]:
    body = {
        "tenantId": "demo",
        "name": name,
        "amount": amount,
        "period": "monthly",
        "categories": ["AI"],
        "policy": {"notifyThreshold": 80, "enforceThreshold": 100, "actions": ["notify", "block_ai"]},
        "startDate": today().replace(day=1).isoformat(),
    }
    reply = server.post(f"{BUDGETS}/budgets", body, token=server.token("demo", "admin"))
    assert reply.status == 201, reply.text
    return dict(reply.json)


# --- every screen shows the API's numbers -------------------------------------------------------------------


def test_overview_shows_the_apis_month_to_date_run_rate_forecast_and_drivers(
    open_as: OpenAs, dashboard_server: LocalServer
) -> None:
    # Given spend today, which the trend chart must show as a partial day
    ingest(dashboard_server, today(), "COMPUTE", 12.34)
    page = open_as("admin").open("/tenants/demo/overview")

    now = today()
    summary = get(
        dashboard_server, f"{COSTS}/costs/summary", tenantId="demo", **{"from": now - timedelta(days=29), "to": now}
    )
    expect(page.locator('[data-kpi="mtd"] .kpi-value')).to_have_text(usd(summary["monthToDate"]["total"]))
    expect(page.locator('[data-kpi="run-rate"] .kpi-value')).to_have_text(usd(summary["monthToDate"]["runRate"]))
    expect(page.locator('[data-kpi="last30"] .kpi-value')).to_have_text(usd(summary["total"]))
    for driver in summary["topDrivers"]:
        row = page.locator(f'#drivers-table tr[data-key="{driver["dimension"]}:{driver["key"]}"]')
        expect(row.locator("td").first).to_have_text(usd(driver["cost"]))

    # The month's forecast: complete days of the month (facts) plus the forecast from today to the month's end.
    month_start = now.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    forecast = get(dashboard_server, f"{COSTS}/forecast", tenantId="demo", horizonDays=(next_month - now).days)
    chart_from = min(month_start, now - timedelta(days=29))
    daily = get(
        dashboard_server, f"{COSTS}/costs", tenantId="demo", groupBy="category", **{"from": chart_from, "to": now}
    )
    complete = sum(r["cost"] for r in daily["rows"] if month_start.isoformat() <= r["period"] < now.isoformat())
    expect(page.locator('[data-kpi="forecast"] .kpi-value')).to_have_text(usd(complete + forecast["total"]["value"]))

    # Every bar of the trend is the API's cost of that day and category; today's are hatched as partial.
    bars = page.locator("#trend rect.bar").evaluate_all(
        "bars => bars.map(b => [b.dataset.period, b.dataset.key, Number(b.dataset.value)])"
    )
    assert sorted((p, k, round(v, 6)) for p, k, v in bars) == sorted(
        (r["period"], r["key"], round(r["cost"], 6)) for r in daily["rows"] if r["cost"]
    )
    assert page.locator(f'#trend rect.bar[data-period="{now}"]').count() >= 1
    assert page.locator("#trend rect.hatch").count() == page.locator(f'#trend rect.bar[data-period="{now}"]').count()


def test_cost_explorer_table_agrees_with_the_api_to_the_cent_and_filters_live_in_the_url(
    open_as: OpenAs, dashboard_server: LocalServer
) -> None:
    page = open_as("admin").open("/tenants/demo/costs?range=90d&groupBy=model&granularity=weekly&categories=AI")
    now = today()
    reply = get(
        dashboard_server,
        f"{COSTS}/costs",
        tenantId="demo",
        groupBy="model",
        granularity="weekly",
        categories="AI",
        **{"from": now - timedelta(days=89), "to": now},
    )
    assert reply["rows"], "the demo tenant has AI spend"
    for row in reply["rows"]:
        cell = page.locator(f'#costs-table tbody tr[data-key="{row["key"]}"] td[data-period="{row["period"]}"]')
        expect(cell).to_have_text(usd(row["cost"]))
    expect(page.locator("#grand-total")).to_have_text(usd(reply["total"]))
    assert page.locator("#costs-table tbody tr").count() == len({r["key"] for r in reply["rows"]})

    # Changing a filter redraws from the API and puts the choice in the address, so the view can be shared.
    page.select_option("#groupBy", "region")
    expect(page).to_have_url(re.compile(r"groupBy=region"))
    by_region = get(
        dashboard_server,
        f"{COSTS}/costs",
        tenantId="demo",
        groupBy="region",
        granularity="weekly",
        categories="AI",
        **{"from": now - timedelta(days=89), "to": now},
    )
    expect(page.locator("#costs-table tbody tr")).to_have_count(len({r["key"] for r in by_region["rows"]}))
    expect(page.locator("#grand-total")).to_have_text(usd(by_region["total"]))


def test_csv_button_downloads_exactly_the_apis_csv(open_as: OpenAs, dashboard_server: LocalServer) -> None:
    page = open_as("admin").open(
        "/tenants/demo/costs?range=lastmonth&groupBy=service&granularity=daily&categories=AI,EGRESS"
    )
    with page.expect_download() as download:
        page.click("#download-csv")
    # As bytes: read_text would turn the CSV's CRLF line ends (RFC 4180) into LF and hide a difference.
    downloaded = Path(download.value.path()).read_bytes().decode("utf-8")

    last_month_end = today().replace(day=1) - timedelta(days=1)
    reply = dashboard_server.get(
        f"{COSTS}/costs",
        token=dashboard_server.token("demo", "admin"),
        query={
            "tenantId": "demo",
            "from": last_month_end.replace(day=1).isoformat(),
            "to": last_month_end.isoformat(),
            "groupBy": "service",
            "granularity": "daily",
            "categories": "AI,EGRESS",
            "format": "csv",
        },
    )
    assert reply.status == 200
    assert downloaded == reply.text
    assert downloaded.startswith("period,service,cost,currency\r\n") and downloaded.count("\r\n") > 10


# --- budgets ------------------------------------------------------------------------------------------------


def test_budget_created_through_the_form_appears_in_the_list_and_through_the_api(
    open_as: OpenAs, dashboard_server: LocalServer
) -> None:
    name = f"Browser budget {uuid.uuid4().hex[:8]}"
    screen = open_as("admin")
    page = screen.open("/tenants/demo/budgets/new")
    page.fill("#name", name)
    page.fill("#amount", "2500")
    page.check('input[name="categories"][value="AI"]')
    page.fill("#notifyThreshold", "75")
    page.fill("#enforceThreshold", "110")
    page.check('input[name="actions"][value="block_ai"]')
    page.fill("#notifyEmails", "owner@demo.example")
    # The preview says what the policy would decide at this period's spend (the API's) before anything is saved.
    now = today()
    spent = get(
        dashboard_server,
        f"{COSTS}/costs",
        tenantId="demo",
        categories="AI",
        granularity="total",
        **{"from": now.replace(day=1), "to": now},
    )["total"]
    expect(page.locator("#preview-now")).to_contain_text(f"{usd(spent)} is spent")
    expect(page.locator("#preview-now")).to_contain_text(f"{spent / 2500 * 100:.1f}% of $2,500.00")
    page.click("#save-budget")
    expect(page).to_have_url(re.compile(r"/budgets/[^/]+\?saved=1$"))
    screen.settle()

    budgets = get(dashboard_server, f"{BUDGETS}/budgets/tenant/demo")["budgets"]
    budget = next(b for b in budgets if b["name"] == name)
    assert budget["amount"] == 2500 and budget["categories"] == ["AI"] and budget["period"] == "monthly"
    assert float(budget["policy"]["notifyThreshold"]) == 75 and float(budget["policy"]["enforceThreshold"]) == 110
    assert budget["policy"]["actions"] == ["notify", "block_ai"] and budget["policy"]["notifyEmails"] == [
        "owner@demo.example"
    ]
    status = get(dashboard_server, f"{BUDGETS}/budgets/{budget['id']}/status")
    expect(page.locator('[data-kpi="spent"] .kpi-value')).to_have_text(usd(status["spent"]))

    page = screen.open("/tenants/demo/budgets")
    card = page.locator(f'[data-budget="{budget["id"]}"]')
    expect(card).to_contain_text(name)
    expect(card.locator(".spent")).to_have_text(usd(status["spent"]))
    expect(card).to_contain_text("At 75% ($1,875.00)")


def test_the_apis_422s_are_shown_next_to_the_field_they_name(open_as: OpenAs, dashboard_server: LocalServer) -> None:
    name = f"Invalid budget {uuid.uuid4().hex[:8]}"
    screen = open_as("admin")
    screen.allow(r"status of 422")
    page = screen.open("/tenants/demo/budgets/new")
    page.fill("#name", name)
    page.fill("#amount", "100")
    page.fill("#notifyEmails", "not-an-email")
    page.click("#save-budget")
    expect(page.locator("#notifyEmails-error")).to_contain_text("email")
    expect(page.locator("#notifyEmails")).to_have_attribute("aria-invalid", "true")

    # A rule over several fields names one in its message: it goes next to that field.
    page.fill("#notifyEmails", "")
    page.check('input[name="actions"][value="rate_limit"]')
    page.click("#save-budget")
    expect(page.locator("#rateLimitFactor-error")).to_contain_text("rateLimitFactor is required")
    expect(page.locator("#notifyEmails-error")).to_have_text("")
    assert page.url.endswith("/budgets/new")
    assert all(b["name"] != name for b in get(dashboard_server, f"{BUDGETS}/budgets/tenant/demo")["budgets"])


def test_a_stale_edit_shows_the_412_and_keeps_the_other_change(open_as: OpenAs, dashboard_server: LocalServer) -> None:
    budget = create_budget(dashboard_server, f"Contested {uuid.uuid4().hex[:8]}")
    screen = open_as("admin")
    screen.allow(r"status of 412")
    page = screen.open(f"/tenants/demo/budgets/{budget['id']}/edit")
    # Someone else saves first.
    theirs = dashboard_server.request(
        "PATCH",
        f"{BUDGETS}/budgets/{budget['id']}",
        token=dashboard_server.token("demo", "admin"),
        body={"amount": 999},
        headers={"If-Match": '"1"'},
    )
    assert theirs.status == 200
    page.fill("#amount", "1234")
    page.click("#save-budget")
    expect(page.locator("#form-errors")).to_contain_text("Someone else changed this budget")
    expect(page.locator("#form-errors")).to_contain_text("version 1")
    assert get(dashboard_server, f"{BUDGETS}/budgets/{budget['id']}")["amount"] == 999

    # Reloading takes the new version; the same change then saves.
    page.get_by_role("button", name="Reload the budget").click()
    expect(page.locator(".subtitle")).to_contain_text("Version 2")
    expect(page.locator("#amount")).to_have_value("999")
    page.fill("#amount", "1234")
    page.click("#save-budget")
    expect(page).to_have_url(re.compile(r"\?saved=3$"))
    assert get(dashboard_server, f"{BUDGETS}/budgets/{budget['id']}")["amount"] == 1234


def test_the_event_timeline_pages_through_the_audit_trail(open_as: OpenAs, dashboard_server: LocalServer) -> None:
    budget = create_budget(dashboard_server, f"Busy {uuid.uuid4().hex[:8]}", amount=100_000)
    admin = dashboard_server.token("demo", "admin")
    for version in range(1, 23):  # 22 changes: 23 events with the creation, more than a page of 20
        reply = dashboard_server.request(
            "PATCH",
            f"{BUDGETS}/budgets/{budget['id']}",
            token=admin,
            body={"amount": 100_000 + version},
            headers={"If-Match": f'"{version}"'},
        )
        assert reply.status == 200, reply.text
    events = get(dashboard_server, f"{BUDGETS}/budgets/{budget['id']}/events", limit=100)["events"]
    screen = open_as("admin")
    page = screen.open(f"/tenants/demo/budgets/{budget['id']}")
    expect(page.locator("#event-list li")).to_have_count(20)
    expect(page.locator("#event-list li").first).to_have_attribute("data-event", events[0]["id"])
    page.click("#more-events")
    expect(page.locator("#event-list li")).to_have_count(len(events))
    expect(page.locator("#event-list li").last).to_contain_text("Created")
    expect(page.locator("#more-events")).to_be_hidden()


# --- anomalies ----------------------------------------------------------------------------------------------


def test_acknowledging_an_anomaly_sticks_after_a_reload(open_as: OpenAs, dashboard_server: LocalServer) -> None:
    anomaly = spike_yesterday(dashboard_server, "AI", 3000)
    screen = open_as("admin")
    page = screen.open("/tenants/demo/anomalies?range=30d")
    row = page.locator(f'tr[data-anomaly="{anomaly["id"]}"]')
    expect(row).to_contain_text(usd(anomaly["actual"]))
    expect(row).to_contain_text(usd(anomaly["expected"]))
    row.get_by_role("button", name=re.compile("^Acknowledge")).click()
    row.locator("input").fill("planned load test")
    row.get_by_role("button", name="Confirm").click()
    expect(page.locator(f'tr[data-anomaly="{anomaly["id"]}"]')).to_contain_text("Acknowledged")

    page = screen.open("/tenants/demo/anomalies?range=30d&status=all")
    expect(page.locator(f'tr[data-anomaly="{anomaly["id"]}"]')).to_contain_text("planned load test")
    page = screen.open("/tenants/demo/anomalies?range=30d")
    expect(page.locator(f'tr[data-anomaly="{anomaly["id"]}"]')).to_have_count(0)
    stored = get(
        dashboard_server, f"{COSTS}/anomalies", tenantId="demo", **{"from": anomaly["date"], "to": anomaly["date"]}
    )
    assert (
        next(a for a in stored["anomalies"] if a["id"] == anomaly["id"])["acknowledged"]["note"] == "planned load test"
    )


# --- roles, refusals and empty states -----------------------------------------------------------------------


def test_a_user_token_shows_no_edit_or_acknowledge_controls(open_as: OpenAs, dashboard_server: LocalServer) -> None:
    budget = create_budget(dashboard_server, f"Read only {uuid.uuid4().hex[:8]}")
    anomaly = spike_yesterday(dashboard_server, "EGRESS", 400)
    screen = open_as("user")

    page = screen.open("/tenants/demo/budgets")
    expect(page.locator(f'[data-budget="{budget["id"]}"]')).to_be_visible()
    expect(page.locator("#new-budget")).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("^Edit"))).to_have_count(0)
    page = screen.open(f"/tenants/demo/budgets/{budget['id']}")
    expect(page.locator("#edit-budget")).to_have_count(0)
    page = screen.open(f"/tenants/demo/budgets/{budget['id']}/edit")
    expect(page.locator("main")).to_contain_text("Only an admin of this tenant")
    expect(page.locator("#budget-form")).to_have_count(0)

    page = screen.open("/tenants/demo/anomalies?range=30d&status=all")
    expect(page.locator(f'tr[data-anomaly="{anomaly["id"]}"]')).to_contain_text("Open")
    expect(page.get_by_role("button", name=re.compile("^Acknowledge"))).to_have_count(0)


def test_refusals_are_plain_messages(browser: Browser, open_as: OpenAs, dashboard_server: LocalServer) -> None:
    # Another tenant's address: the API's 403, in words.
    screen = open_as("admin")
    screen.allow(r"status of 403")
    page = screen.open("/tenants/someone-else/overview")
    expect(page.get_by_role("alert")).to_contain_text("does not allow this")

    # A token the API does not accept (signed with another secret): the 401, with the way back in.
    genuine = dashboard_server.token("demo", "admin")
    stranger = open_screen(
        browser, dashboard_server.base_url, genuine[:-6] + ("AAAAAA" if not genuine.endswith("AAAAAA") else "BBBBBB")
    )
    try:
        page = stranger.open("/tenants/demo/budgets")
        expect(page.get_by_role("alert")).to_contain_text("Sign in again")
        expect(page.get_by_role("alert")).to_contain_text("not valid")
        assert all("status of 401" in e for e in stranger.errors)
    finally:
        stranger.page.context.close()


def test_a_new_tenant_sees_what_to_do_next(open_as: OpenAs) -> None:
    tenant = f"newco-{uuid.uuid4().hex[:6]}"
    screen = open_as("admin", tenant=tenant)
    screen.allow(r"status of 422")  # the forecast needs 14 days of history: said on the page
    page = screen.open("/")
    expect(page.locator("main")).to_contain_text("No cost data for tenant newco")
    expect(page.locator("main")).to_contain_text("telemetry")
    expect(page.locator('[data-kpi="forecast"]')).to_contain_text("history")
    page = screen.open(f"/tenants/{tenant}/budgets")
    expect(page.get_by_role("link", name="Create the first budget")).to_be_visible()


@pytest.mark.parametrize(
    "path",
    [
        "/tenants/demo/overview",
        "/tenants/demo/costs",
        "/tenants/demo/budgets",
        "/tenants/demo/budgets/new",
        "/tenants/demo/anomalies",
    ],
)
def test_screens_fit_a_390_px_phone_and_every_control_has_a_name(open_as: OpenAs, path: str) -> None:
    page = open_as("admin", viewport=PHONE).open(path)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('input, select, button, a[href], [tabindex="0"]')]
            .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.textContent.trim()))
            .map((el) => el.outerHTML.slice(0, 120))"""
    )
    assert not unnamed


def test_a_database_outage_is_a_plain_message_with_when_to_retry(open_as: OpenAs) -> None:
    screen = open_as("admin")
    screen.allow(r"status of 503")
    # The service's answer while a database is down (simulated on the wire: the page's handling is under test).
    screen.page.route(
        "**/v1/analytics/finops/costs/summary*",
        lambda route: route.fulfill(
            status=503,
            headers={"Retry-After": "7"},
            json={
                "type": "about:blank",
                "title": "Service Unavailable",
                "status": 503,
                "detail": "ClickHouse is unavailable",
                "errors": [],
            },
            content_type="application/problem+json",
        ),
    )
    page = screen.open("/tenants/demo/overview")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("temporarily unavailable")
    expect(alert).to_contain_text("in 7 s")
    page.unroute("**/v1/analytics/finops/costs/summary*")
    alert.get_by_role("button", name="Retry").click()
    expect(page.locator('[data-kpi="mtd"] .kpi-value')).to_have_text(re.compile(r"^\$[\d,]+\.\d\d$"))


def test_the_legend_toggles_a_series_from_the_keyboard(open_as: OpenAs) -> None:
    page = open_as("admin").open("/tenants/demo/costs?range=30d&groupBy=category")
    ai_bars = page.locator('#cost-chart rect.bar[data-key="AI"]')
    assert ai_bars.count() > 0
    toggle = page.locator("#cost-chart .legend-item", has_text="AI")
    toggle.focus()
    page.keyboard.press("Space")
    expect(page.locator("#cost-chart .legend-item", has_text="AI")).to_have_attribute("aria-pressed", "false")
    expect(ai_bars).to_have_count(0)
    page.keyboard.press("Enter")
    expect(ai_bars).not_to_have_count(0)


def test_signing_in_through_the_oidc_issuer_with_pkce(browser: Browser, dashboard_server: LocalServer) -> None:
    """The AWS sign-in path: config.json names an issuer; its hosted login and token endpoint are simulated on the
    wire (they live outside this machine), the API is the real local one."""
    screen = open_screen(browser, dashboard_server.base_url, None)
    page = screen.page
    issued = dashboard_server.token("demo", "user")
    seen: dict[str, str] = {}
    config = {
        "signIn": "oidc",
        "authorizeUrl": "https://login.example.com/oauth2/authorize",
        "tokenUrl": "https://login.example.com/oauth2/token",
        "clientId": "dashboard-client",
        "scope": "openid",
        "tokenKind": "id_token",
        "tenantClaim": "tenant_id",
        "rolesClaim": "roles",
    }

    def authorize(route: Any) -> None:
        query = dict(parse_qsl(urlsplit(route.request.url).query))
        seen.update(query)
        # The hosted login sends the browser back with a code (a page that navigates, not a 302: Playwright does not
        # route the request a redirect makes, and the callback's headers must be the deployed ones).
        back = f"{query['redirect_uri']}?code=the-code&state={query['state']}"
        route.fulfill(
            status=200, content_type="text/html", body=f"<script>location.replace({json.dumps(back)})</script>"
        )

    def token(route: Any) -> None:
        seen.update({f"token_{k}": v for k, v in parse_qsl(route.request.post_data or "")})
        route.fulfill(
            status=200,
            json={"id_token": issued, "access_token": "not-for-the-api", "token_type": "Bearer"},
            headers={"Access-Control-Allow-Origin": "*"},
        )

    page.route("**/config.json", lambda route: route.fulfill(status=200, json=config))
    # The page's headers as CloudFront sends them (template.yaml): the token endpoint is allowed to connect to.
    deployed_policy = CONTENT_SECURITY_POLICY.replace(
        "connect-src 'self'", "connect-src 'self' https://login.example.com"
    )

    def with_deployed_headers(route: Any) -> None:
        original = route.fetch()
        route.fulfill(response=original, headers={**original.headers, "content-security-policy": deployed_policy})

    page.route(lambda url: urlsplit(url).path.startswith(("/tenants/", "/signin/")), with_deployed_headers)
    page.route("https://login.example.com/oauth2/authorize*", authorize)
    page.route("https://login.example.com/oauth2/token", token)
    try:
        page.goto(f"{dashboard_server.base_url}/tenants/demo/budgets")
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{dashboard_server.base_url}/tenants/demo/budgets")
        screen.settle()
        expect(page.locator("#who")).to_contain_text("demo · user")
        expect(page.get_by_role("heading", name="Budgets", level=1)).to_be_visible()
        # Authorization code with PKCE: a S256 challenge, and its verifier (never the challenge) at the token endpoint.
        assert (
            seen["response_type"] == "code"
            and seen["client_id"] == "dashboard-client"
            and seen["code_challenge_method"] == "S256"
        )
        assert seen["token_code"] == "the-code" and seen["token_grant_type"] == "authorization_code"
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(seen["token_code_verifier"].encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        assert challenge == seen["code_challenge"]
        assert not screen.errors
    finally:
        page.context.close()


def test_the_ready_line_signs_the_browser_in_as_the_demo_admin(browser: Browser, dashboard_server: LocalServer) -> None:
    expect_line = "dashboard, signed in as demo's admin:"
    for _ in range(100):  # /health answers just before the ready lines are printed
        lines = [line for line in dashboard_server.log().splitlines() if expect_line in line]
        if lines:
            break
        time.sleep(0.1)
    url = lines[0].split(": ", 1)[1].strip()
    assert url.startswith(f"{dashboard_server.base_url}/#token=")
    screen = open_screen(browser, dashboard_server.base_url, None)
    try:
        screen.page.goto(url)
        screen.settle()
        expect(screen.page).to_have_url(
            f"{dashboard_server.base_url}/tenants/demo/overview"
        )  # the token left the address
        expect(screen.page.locator("#who")).to_contain_text("demo · admin")
        expect(screen.page.locator('[data-kpi="mtd"] .kpi-value')).to_have_text(re.compile(r"^\$[\d,]+\.\d\d$"))
        assert not screen.errors
    finally:
        screen.page.context.close()
