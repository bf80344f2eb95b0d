"""Budgets over real HTTP against the local stack (embedded PostgreSQL, alerts through moto's SNS into the SQS
queue `finops-notifications-local`), as a tenant and the platform's services call them: the seed's scenario 1,
tenant isolation, authentication and the daily budget check.

Spend comes in through the telemetry endpoint: gpt-4o input tokens at $2.50 per 1M on the default rate card.
Every test uses its own tenant, so tests do not see each other's budgets or alerts.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from local.aws_resources import ensure_local_notification_resources, read_local_notifications
from tests.e2e.local_server import HttpReply, LocalServer

pytestmark = pytest.mark.e2e

BUDGETS = "/api/ai-budget/finops/budgets"
TENANTS = "/api/ai-budget/finops/tenants"
TELEMETRY = "/v1/analytics/finops/telemetry"
USD_PER_MILLION_GPT_4O_INPUT_TOKENS = 2.5
ALERT_TIMEOUT = 30.0  # seconds to wait for an alert that must come
QUIET_PERIOD = 3.0  # seconds of silence that show an alert is not coming
ENFORCEMENT_TIMEOUT = 30.0  # spend is reflected within 60 s by contract; within seconds in practice
SOME_BUDGET_ID = "5cebd614-aecc-4dbc-a20c-c72f0a44c882"  # fixed: xdist workers must collect the same test ids


def new_tenant() -> str:
    return f"e2e-acme-{uuid.uuid4().hex[:8]}"


def budget_body(tenant: str, *, actions: list[str] | None = None) -> dict[str, Any]:
    """$100 a month on every category: notify at 80 %, enforce at 100 %."""
    return {
        "tenantId": tenant,
        "name": "Monthly AI",
        "amount": 100,
        "period": "monthly",
        "categories": [],
        "policy": policy(actions or ["notify", "block_ai"]),
        "startDate": datetime.now(UTC).date().replace(day=1).isoformat(),
    }


def policy(actions: list[str]) -> dict[str, Any]:
    return {
        "notifyThreshold": 80,
        "enforceThreshold": 100,
        "actions": actions,
        "notifyEmails": ["finops-owner@acme.example"],
    }


def create_budget(server: LocalServer, tenant: str) -> dict[str, Any]:
    created = server.post(BUDGETS, budget_body(tenant), token=server.token(tenant, "admin"))
    assert created.status == 201, created.text
    return dict(created.json)


def spend(server: LocalServer, tenant: str, usd: float) -> None:
    """Ingest `usd` of AI usage for `tenant`, now, as the platform's services report it."""
    event = {
        "eventId": f"e2e-{uuid.uuid4()}",
        "tenantId": tenant,
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "category": "AI",
        "service": "chat-assistant",
        "region": "us-east-1",
        "model": "gpt-4o",
        "inputTokens": round(usd / USD_PER_MILLION_GPT_4O_INPUT_TOKENS * 1_000_000),
        "outputTokens": 0,
    }
    sent = server.post(TELEMETRY, {"events": [event]}, token=server.token(None, "system"))
    assert sent.status == 200, sent.text
    assert sent.json["accepted"] == 1, sent.text


def check(server: LocalServer, budget_id: str, operation: str, *, token: str | None = None) -> HttpReply:
    return server.post(
        f"{BUDGETS}/{budget_id}/check-enforcement",
        {"operationType": operation, "estimatedCostUsd": 0.05},
        token=token or server.token(None, "system"),
    )


def decision_once_settled(server: LocalServer, budget_id: str, operation: str, *, allowed: bool) -> dict[str, Any]:
    """The check's decision, asked again until it says `allowed` (spend may be cached for a few seconds) or
    the timeout passes; the last decision either way."""
    deadline = time.monotonic() + ENFORCEMENT_TIMEOUT
    while True:
        reply = check(server, budget_id, operation)
        assert reply.status == 200, reply.text
        if reply.json["allowed"] is allowed or time.monotonic() > deadline:
            return dict(reply.json)
        time.sleep(0.5)


class AlertQueue:
    """The local SQS queue every budget alert lands in (raw delivery from both SNS topics), read as a
    subscriber would: messages are removed once read."""

    def __init__(self, server: LocalServer) -> None:
        self.endpoint = server.aws_endpoint
        self.queue_url = ensure_local_notification_resources(self.endpoint)["queue_url"]

    def read(self, budget_id: str, *, until: int | None, timeout: float) -> list[dict[str, Any]]:
        """The alerts about `budget_id` arriving within `timeout` seconds, or as soon as `until` of them have."""
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (until is None or len(found) < until):
            batch = read_local_notifications(self.endpoint, self.queue_url, wait_seconds=1)
            found += [m for m in batch if m["attributes"].get("budgetId") == budget_id]
            if not batch:
                time.sleep(0.2)
        return found


def test_seed_scenario_1_notify_once_at_80_percent_block_ai_at_100_and_exports_once_the_policy_says_so(
    local_server: LocalServer,
) -> None:
    tenant = new_tenant()
    admin = local_server.token(tenant, "admin")
    alerts = AlertQueue(local_server)

    # Given a $100 monthly budget: notify at 80 %, enforce at 100 % by blocking AI
    budget = create_budget(local_server, tenant)
    assert budget["version"] == 1 and budget["policy"]["actions"] == ["notify", "block_ai"]

    # When spend reaches 85 %
    spend(local_server, tenant, 85)

    # Then exactly one notification is published, for the notify threshold
    [alert] = alerts.read(budget["id"], until=1, timeout=ALERT_TIMEOUT)
    assert alert["attributes"] == {
        "tenantId": tenant,
        "budgetId": budget["id"],
        "eventType": "threshold_notify",
        "severity": "warning",
        "eventId": alert["body"]["eventId"],
    }
    assert alert["body"]["subject"] == f"[FinOps] Budget 'Monthly AI' at 85% of $100 ({tenant})"
    assert alert["body"]["eventType"] == "threshold_notify"
    assert (alert["body"]["spent"], alert["body"]["amount"]) == ("85.00", "100.00")
    assert (alert["body"]["percentUsed"], alert["body"]["thresholdPercent"]) == ("85.00", "80.00")
    status = local_server.get(f"{BUDGETS}/{budget['id']}/status", token=admin).json
    assert status["state"] == "notified" and status["percentUsed"] == pytest.approx(85)

    # When more spend stays within the same band and services keep checking before they spend
    spend(local_server, tenant, 5)
    for operation in ("ai_generation", "export", "ai_generation"):
        reply = check(local_server, budget["id"], operation)
        assert reply.status == 200 and reply.json["allowed"] is True, reply.text

    # Then no second notification
    assert alerts.read(budget["id"], until=None, timeout=QUIET_PERIOD) == []

    # When spend passes 100 %
    spend(local_server, tenant, 15)

    # Then AI generation is blocked while exports are still allowed, and the enforcement is announced
    ai = decision_once_settled(local_server, budget["id"], "ai_generation", allowed=False)
    assert (ai["allowed"], ai["action"], ai["budgetId"]) == (False, "block", budget["id"])
    assert ai["percentUsed"] >= 100
    export = check(local_server, budget["id"], "export").json
    assert (export["allowed"], export["action"]) == (True, "allow")
    [enforced] = alerts.read(budget["id"], until=1, timeout=ALERT_TIMEOUT)
    assert enforced["attributes"]["eventType"] == "threshold_enforce"
    assert enforced["attributes"]["severity"] == "critical"

    # When an admin adds block_export to the policy, naming the version they read
    patched = local_server.request(
        "PATCH",
        f"{BUDGETS}/{budget['id']}",
        token=admin,
        body={"policy": policy(["notify", "block_ai", "block_export"])},
        headers={"If-Match": f'"{budget["version"]}"'},
    )
    assert patched.status == 200, patched.text
    assert patched.json["version"] == budget["version"] + 1

    # Then exports are blocked too, and a second update from the stale version is refused
    export = decision_once_settled(local_server, budget["id"], "export", allowed=False)
    assert (export["allowed"], export["action"]) == (False, "block")
    stale = local_server.request(
        "PATCH",
        f"{BUDGETS}/{budget['id']}",
        token=admin,
        body={"name": "Renamed"},
        headers={"If-Match": f'"{budget["version"]}"'},
    )
    assert stale.status == 412, stale.text
    assert local_server.get(f"{BUDGETS}/{budget['id']}", token=admin).json["name"] == "Monthly AI"


@pytest.fixture(scope="module")
def owned_budget(local_server: LocalServer) -> dict[str, Any]:
    """A budget of one tenant, for another tenant's admin to reach for."""
    return create_budget(local_server, new_tenant())


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("GET", "{budgets}/{id}", None, 404),
        ("GET", "{budgets}/{id}/status", None, 404),
        ("GET", "{budgets}/{id}/events", None, 404),
        ("PATCH", "{budgets}/{id}", {"name": "Taken over", "version": 1}, 404),
        ("DELETE", "{budgets}/{id}", None, 404),
        ("POST", "{budgets}/{id}/check-enforcement", {"operationType": "ai_generation"}, 404),
        ("GET", "{budgets}/tenant/{tenant}", None, 403),
        ("GET", "{budgets}/tenant/{tenant}/status", None, 403),
        ("POST", "{tenants}/{tenant}/check-enforcement", {"operationType": "ai_generation"}, 403),
    ],
    ids=["get", "status", "events", "update", "delete", "check", "list", "tenant-status", "tenant-check"],
)
def test_another_tenants_admin_gets_404_for_a_budget_and_403_for_its_tenant(
    local_server: LocalServer, owned_budget: dict[str, Any], method: str, path: str, body: Any, expected: int
) -> None:
    intruder = local_server.token(new_tenant(), "admin")
    url = path.format(budgets=BUDGETS, tenants=TENANTS, id=owned_budget["id"], tenant=owned_budget["tenantId"])

    reply = local_server.request(method, url, token=intruder, body=body)

    assert reply.status == expected, reply.text
    assert owned_budget["tenantId"] not in reply.text and "Monthly AI" not in reply.text


def test_another_tenants_attempts_change_nothing(local_server: LocalServer, owned_budget: dict[str, Any]) -> None:
    owner = local_server.token(owned_budget["tenantId"], "admin")

    reply = local_server.get(f"{BUDGETS}/{owned_budget['id']}", token=owner)

    assert reply.status == 200, reply.text
    assert reply.json["deletedAt"] is None
    assert (reply.json["name"], reply.json["version"]) == ("Monthly AI", owned_budget["version"])


def test_creating_a_budget_for_another_tenant_is_refused_with_403(local_server: LocalServer) -> None:
    owner, intruder = new_tenant(), local_server.token(new_tenant(), "admin")

    reply = local_server.post(BUDGETS, budget_body(owner), token=intruder)

    assert reply.status == 403, reply.text
    assert local_server.get(f"{BUDGETS}/tenant/{owner}", token=local_server.token(owner, "admin")).json == {
        "budgets": []
    }


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", BUDGETS, {}),
        ("GET", f"{BUDGETS}/{SOME_BUDGET_ID}", None),
        ("GET", f"{BUDGETS}/tenant/demo/status", None),
        ("POST", f"{BUDGETS}/{SOME_BUDGET_ID}/check-enforcement", {"operationType": "ai_generation"}),
    ],
    ids=["create", "get", "tenant-status", "check-enforcement"],
)
def test_budget_endpoints_without_a_token_answer_401(
    local_server: LocalServer, method: str, path: str, body: Any
) -> None:
    reply = local_server.request(method, path, body=body)

    assert reply.status == 401, reply.text
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_daily_budget_check_runs_through_the_local_server_and_is_safe_to_run_twice(
    local_server: LocalServer,
) -> None:
    # Given a live budget with some spend
    tenant = new_tenant()
    budget = create_budget(local_server, tenant)
    spend(local_server, tenant, 40)

    # When the scheduled job is run by hand, twice
    job = local_server.token(None, "system")  # the invoke endpoint needs the local secret's system token
    first = local_server.post("/local/invoke/run_daily_budget_check", None, token=job)
    second = local_server.post("/local/invoke/run_daily_budget_check", None, token=job)

    # Then it reports every live budget checked, none failed, and the second run fires nothing new
    assert first.status == 200, first.text
    assert first.json["budgets"] >= 1 and first.json["failed"] == []
    assert second.status == 200, second.text
    assert second.json == {"budgets": first.json["budgets"], "events": 0, "failed": []}
    status = local_server.get(f"{BUDGETS}/{budget['id']}/status", token=local_server.token(tenant, "user")).json
    assert (status["state"], status["percentUsed"]) == ("ok", pytest.approx(40))
