"""Screenshots of every screen for the README (docs/screenshots/), at 1280 and 390 px: `make screenshots`.

Starts its own local server with the demo data, adds three budgets (one per state) and a spike yesterday, runs the
daily budget check (for the budgets' forecasts), then photographs each screen as the demo tenant's admin.

Usage: python -m tests.browser.screenshots [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.browser.browser import DESKTOP, PHONE, chromium, open_screen
from tests.e2e.local_server import LocalServer

ROOT = Path(__file__).resolve().parents[2]
BUDGETS = [
    (
        "Whole platform, monthly",
        10_500,
        [],
        {
            "notifyThreshold": 80,
            "enforceThreshold": 120,
            "actions": ["notify", "alert_admins", "rate_limit"],
            "rateLimitFactor": 0.5,
            "notifyEmails": ["finance@demo.example"],
            "adminEmails": ["oncall@demo.example"],
        },
    ),
    (
        "AI assistants",
        9_000,
        ["AI"],
        {
            "notifyThreshold": 80,
            "enforceThreshold": 100,
            "actions": ["notify", "block_ai"],
            "notifyEmails": ["ai-team@demo.example"],
        },
    ),
    (
        "Report exports",
        200,
        ["EXPORT"],
        {
            "notifyThreshold": 75,
            "enforceThreshold": 100,
            "actions": ["notify", "block_export"],
            "notifyEmails": ["reports@demo.example"],
        },
    ),
]


def seed(server: LocalServer) -> str:
    """Budgets in each state and an anomaly to acknowledge; returns the first budget's id."""
    admin = server.token("demo", "admin")
    today = datetime.now(UTC).date()
    ids = []
    for name, amount, categories, policy in BUDGETS:
        body: dict[str, Any] = {
            "tenantId": "demo",
            "name": name,
            "amount": amount,
            "period": "monthly",
            "categories": categories,
            "policy": policy,
            "startDate": today.replace(day=1).isoformat(),
        }
        reply = server.post("/api/ai-budget/finops/budgets", body, token=admin)
        assert reply.status == 201, reply.text
        ids.append(reply.json["id"])
    spike = {
        "eventId": f"screenshot-{uuid.uuid4()}",
        "tenantId": "demo",
        "timestamp": f"{today - timedelta(days=1)}T15:00:00Z",
        "category": "EGRESS",
        "service": "cdn",
        "region": "eu-west-1",
        "bytes": 10**12,
        "costUsd": 240,
    }
    assert (
        server.post("/v1/analytics/finops/telemetry", {"events": [spike]}, token=server.token(None, "system")).status
        == 200
    )
    assert server.post("/local/invoke/run_daily_budget_check", None).status == 200
    return ids[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="finops-screenshots-") as workdir:
        server = LocalServer(data_dir=Path(workdir) / "data")
        server.start()
        try:
            budget = seed(server)
            screens = {
                "overview": "/tenants/demo/overview",
                "cost-explorer": "/tenants/demo/costs?range=30d&groupBy=model&granularity=daily&categories=AI",
                "budgets": "/tenants/demo/budgets",
                "budget-form": f"/tenants/demo/budgets/{budget}/edit",
                "budget-details": f"/tenants/demo/budgets/{budget}",
                "anomalies": "/tenants/demo/anomalies?range=90d&status=all",
            }
            with chromium() as browser:
                for viewport in (DESKTOP, PHONE):
                    screen = open_screen(browser, server.base_url, server.token("demo", "admin"), viewport=viewport)
                    for name, path in screens.items():
                        page = screen.open(path)
                        page.wait_for_timeout(400)  # the preview and charts settle after their last request
                        target = args.out / f"{name}-{viewport['width']}.png"
                        page.screenshot(path=str(target), full_page=True)
                        print(f"wrote {target.relative_to(ROOT)}")
                    assert not screen.unexpected_errors(), screen.errors
                    screen.page.context.close()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
