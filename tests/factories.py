"""Builders of realistic test input, with dates relative to today (the ingest path refuses events older
than 400 days or in the future)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

_ids = itertools.count(1)

TELEMETRY = "/v1/analytics/finops/telemetry"
COSTS = "/v1/analytics/finops/costs"
AGGREGATE = "/v1/analytics/finops/aggregate"


def today() -> date:
    return datetime.now(UTC).date()


def days_ago(n: int) -> date:
    return today() - timedelta(days=n)


def at(day: date, hour: int = 12) -> str:
    """Noon of `day`; for today, a minute ago (the ingest path refuses timestamps in the future)."""
    moment = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    if day == today():
        moment = min(moment, datetime.now(UTC) - timedelta(minutes=1))
    return moment.isoformat().replace("+00:00", "Z")


def event(tenant: str = "acme", day: date | None = None, category: str = "AI", **fields: Any) -> dict[str, Any]:
    """One usage event of `category`; `costUsd` makes its cost exact and independent of the rate card."""
    usage: dict[str, dict[str, Any]] = {
        "AI": {"model": "gpt-4o-mini", "inputTokens": 1000, "outputTokens": 100},
        "COMPUTE": {"vcpuSeconds": 60, "memoryGbSeconds": 120},
        "STORAGE": {"gbHours": 24},
        "EXPORT": {"exportType": "csv", "exports": 1, "bytes": 1_000_000},
        "EGRESS": {"bytes": 10_000_000},
    }
    base = {
        "eventId": f"evt-{next(_ids)}",
        "tenantId": tenant,
        "timestamp": at(day or days_ago(1)),
        "category": category,
        "service": "reports",
        "region": "us-east-1",
        **usage[category],
    }
    base.update(fields)
    return base


def run_scheduled(function: str, hour: int, day: date | None = None) -> Any:
    """Invoke a scheduled function with the EventBridge event its rule sends at `hour`:00 UTC of `day`."""
    from local.lambda_runtime import LambdaContext, load_function
    from local.scheduler import Schedule

    moment = datetime.combine(day or today(), datetime.min.time(), tzinfo=UTC) + timedelta(hours=hour)
    event = Schedule(function=function, name=function, expression=f"cron(0 {hour} * * ? *)").event(moment)
    return load_function(function).lambda_handler(event, LambdaContext(function_name=function))
