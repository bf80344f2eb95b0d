"""Forecasts and anomalies over real HTTP against the local stack: the seed's scenarios 2 and 3.

Spend is ingested through the telemetry endpoint with `costUsd`, so the figures are exact; every test uses its
own tenant.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.e2e.local_server import LocalServer

pytestmark = pytest.mark.e2e

TELEMETRY = "/v1/analytics/finops/telemetry"
FORECAST = "/v1/analytics/finops/forecast"
ANOMALIES = "/v1/analytics/finops/anomalies"


def days_ago(n: int) -> date:
    return datetime.now(UTC).date() - timedelta(days=n)


def ingest(server: LocalServer, tenant: str, costs: dict[date, list[tuple[str, str, float]]]) -> None:
    """costs: day -> [(category, model, usd)]; model '' for non-AI."""
    events = []
    for day, items in costs.items():
        for category, model, usd in items:
            extra = (
                {"model": model, "inputTokens": 1, "outputTokens": 1}
                if category == "AI"
                else {"vcpuSeconds": 1, "memoryGbSeconds": 1}
            )
            events.append(
                {
                    "eventId": f"{tenant}-{uuid.uuid4().hex}",
                    "tenantId": tenant,
                    "timestamp": f"{day.isoformat()}T12:00:00Z",
                    "category": category,
                    "service": "assistant" if category == "AI" else "api",
                    "region": "us-east-1",
                    "costUsd": round(usd, 2),
                    **extra,
                }
            )
    for start in range(0, len(events), 5000):
        reply = server.post(TELEMETRY, {"events": events[start : start + 5000]}, token=server.token(None, "system"))
        assert reply.status == 200 and reply.json["accepted"] == len(events[start : start + 5000]), reply.text


def test_seed_scenario_2_normal_costs_and_one_high_day_reported_with_its_root_cause(local_server: LocalServer) -> None:
    tenant = f"e2e-anomaly-{uuid.uuid4().hex[:8]}"
    rng = random.Random(11)
    costs = {}
    for n in range(100, 0, -1):
        weekday = 1.0 if days_ago(n).weekday() < 5 else 0.7
        costs[days_ago(n)] = [
            ("AI", "gpt-4o", 80 * weekday * rng.uniform(0.95, 1.05)),
            ("COMPUTE", "", 20 * rng.uniform(0.97, 1.03)),
        ]
    costs[days_ago(4)].append(("AI", "claude-opus-4-1", 300.0))  # the injected high day: a new, expensive model
    ingest(local_server, tenant, costs)

    reply = local_server.get(
        ANOMALIES,
        token=local_server.token(tenant, "user"),
        query={"tenantId": tenant, "from": days_ago(30).isoformat(), "to": days_ago(1).isoformat()},
    )
    assert reply.status == 200, reply.text
    anomalies = reply.json["anomalies"]
    assert [(a["date"], a["category"], a["severity"], a["direction"]) for a in anomalies] == [
        (days_ago(4).isoformat(), "AI", "high", "up")
    ]
    causes = {(c["dimension"], c["key"]): c for c in anomalies[0]["rootCause"]}
    assert causes[("model", "claude-opus-4-1")]["firstSeen"] is True
    assert causes[("model", "claude-opus-4-1")]["share"] > 0.8

    acknowledged = local_server.post(
        f"{ANOMALIES}/{anomalies[0]['id']}/acknowledge",
        {"note": "model trial"},
        token=local_server.token(tenant, "admin"),
    )
    assert acknowledged.status == 200 and acknowledged.json["acknowledged"]["note"] == "model trial"


def test_seed_scenario_3_sixty_days_of_history_forecast_thirty_within_20_percent_mape(
    local_server: LocalServer,
) -> None:
    tenant = f"e2e-forecast-{uuid.uuid4().hex[:8]}"
    rng = random.Random(5)
    weekly = [1.0, 1.04, 1.08, 1.05, 0.96, 0.6, 0.55]
    actual = {days_ago(n): 150 * weekly[days_ago(n).weekday()] * rng.uniform(0.93, 1.07) for n in range(90, 0, -1)}
    ingest(local_server, tenant, {day: [("AI", "gpt-4o-mini", usd)] for day, usd in actual.items()})

    # What the forecast would have said 30 days ago, from the 60 days before
    reply = local_server.get(
        FORECAST,
        token=local_server.token(tenant, "user"),
        query={"tenantId": tenant, "asOf": days_ago(30).isoformat(), "historyDays": "60", "horizonDays": "30"},
    )
    assert reply.status == 200, reply.text
    points = reply.json["points"]
    assert len(points) == 30
    errors = [
        abs(p["value"] - round(actual[date.fromisoformat(p["date"])], 2))
        / round(actual[date.fromisoformat(p["date"])], 2)
        for p in points
    ]
    mape = 100 * sum(errors) / len(errors)
    assert mape < 20, mape
    assert reply.json["accuracy"]["smape"] >= 0 and reply.json["method"]
