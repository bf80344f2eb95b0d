"""Every file in events/ invoked in-process against the real engine, with the reply it must produce.

The expectation of each file is in EXPECTED below: a file without one fails the suite, so a new sample event
cannot go untested, and an expectation without its file fails too.

Dates: query events use fixed past ranges (valid forever). Ingestion rejects events older than 400 days or
in the future, so a static file cannot stay valid: before invoking, `recent` shifts every parseable timestamp of
an ingest batch by one offset that puts the batch's newest event on yesterday (same time of day). The events
keep their spacing, so one that is deliberately years too old stays too old.

Budgets: functions that reach PostgreSQL (the budget endpoints, the daily check, ingestion, which re-evaluates
budgets, and the daily anomaly job, which queues its alerts in the outbox; tests/template/handler_imports.py
follows the imports to decide) run against the embedded PostgreSQL too, with a fresh schema per event, and with the two
alert topics on moto's SNS, as deployed (subscriptions are made, alerts published). An event about an
existing budget names it by SAMPLE_BUDGET_ID. Its expectation says which budget must exist (`given=Given(...)`):
the test creates it through the create_budget handler with the body of `create_budget.happy.json` (for the given
tenant), applies `updates` PATCHes, ingests `spent_usd` of AI spend for today, and then replaces SAMPLE_BUDGET_ID
with the new budget's id everywhere in the event and in the expected values. So each file stays a real-shaped
event that can also be sent by hand after swapping in a real id.

Forecasts and anomalies need spend history, and history must be recent to be ingested. An expectation says which
(`spend=Spend(...)`): the test ingests that many days of a steady tenant's spend ending yesterday (with one runaway
day if asked), and, because the files are written as seen on SAMPLE_TODAY, moves every date in the event by as
many days as today is from SAMPLE_TODAY (a range ending SAMPLE_TODAY - 1 then ends yesterday). An event about an
existing anomaly names it by SAMPLE_ANOMALY_ID: the test finds the runaway day's anomaly through the get_anomalies
handler and puts its id in place of SAMPLE_ANOMALY_ID, as for budgets.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from finops.budgets import wiring
from finops.settings import reload_settings
from local.lambda_runtime import ROOT, LambdaContext, decode_body, function_names, load_function
from local.openapi import router_routes
from tests.conftest import Api, claims
from tests.factories import TELEMETRY, days_ago, today
from tests.factories import event as usage_event
from tests.template.handler_imports import reaches_postgres

EVENTS_DIR = ROOT / "events"
EVENT_FILES = sorted(EVENTS_DIR.glob("*.json"))
BUDGETS = "/api/ai-budget/finops/budgets"
ANOMALIES = "/v1/analytics/finops/anomalies"
# Stands for the id of the budget a test creates first (see the module docstring).
SAMPLE_BUDGET_ID = "3b9f2c1e-6a4d-4e8b-9c7f-1d2e3f4a5b6c"
# Stands for the id of the anomaly a test's spend history produces.
SAMPLE_ANOMALY_ID = "7c4e2a9b-5d1f-4b3a-8e6c-0f9a1b2c3d4e"
# "Today" as the files see it (the scheduled events' day): events given spend history move by (today - this).
SAMPLE_TODAY = date(2026, 11, 27)
_ISO_DATE = re.compile(r"(?<![\w-])\d{4}-\d{2}-\d{2}(?!\d)")

COSTS_KEYS = {"tenantId", "from", "to", "currency", "metric", "groupBy", "granularity", "total", "rows"}
BREAKDOWN_KEYS = {"tenantId", "from", "to", "currency", "metric", "dimension", "total", "rows"}
SUMMARY_KEYS = {
    "tenantId",
    "from",
    "to",
    "currency",
    "metric",
    "total",
    "previousPeriod",
    "changePercent",
    "byCategory",
    "topDrivers",
    "monthToDate",
}
TOP_DRIVERS_KEYS = {"tenantId", "from", "to", "currency", "metric", "total", "drivers"}
IMPORT_KEYS = {
    "importId",
    "rowsRead",
    "rowsImported",
    "rowsSkipped",
    "skipped",
    "totals",
    "bySource",
    "tenants",
    "slices",
}
EXCHANGE_RATES_KEYS = {"asOf", "base", "rates"}
RATE_CARD_KEYS = {"asOf", "currency", "prices"}
INGEST_KEYS = {"accepted", "duplicates", "rejected", "flagged"}
AGGREGATE_KEYS = {"tenantId", "repriced", "days"}
BUDGET_KEYS = {
    "id",
    "tenantId",
    "name",
    "amount",
    "currency",
    "period",
    "categories",
    "models",
    "regions",
    "services",
    "policy",
    "startDate",
    "version",
    "createdAt",
    "updatedAt",
    "deletedAt",
}
STATUS_KEYS = {
    "budgetId",
    "tenantId",
    "name",
    "currency",
    "amount",
    "spent",
    "remaining",
    "percentUsed",
    "state",
    "activeActions",
    "periodStart",
    "periodEnd",
    "spendAsOf",
    # Set by the daily check's forecast (null until it has run for the budget).
    "forecastedSpend",
    "forecastExceedProbability",
    "forecastBreachDate",
    "forecastAsOf",
}
DECISION_KEYS = {"allowed", "action", "rateLimitFactor", "reason", "budgetId", "percentUsed", "degraded"}
DAILY_CHECK_KEYS = {"budgets", "events", "failed"}
FORECAST_KEYS = {
    "tenantId",
    "category",
    "asOf",
    "currency",
    "method",
    "historyDays",
    "points",
    "total",
    "accuracy",
    "weights",
}
ANOMALIES_KEYS = {"tenantId", "from", "to", "method", "currency", "anomalies"}
ANOMALY_KEYS = {
    "id",
    "tenantId",
    "date",
    "category",
    "method",
    "direction",
    "severity",
    "expected",
    "actual",
    "impact",
    "deviationPercent",
    "score",
    "rootCause",
    "acknowledged",
    "detectedAt",
}
DAILY_ANOMALY_KEYS = {"day", "tenants", "anomalies", "high", "alertsQueued"}
DRAIN_KEYS = {"published", "subscriptionsDone", "failed", "pending", "oldestPendingSeconds", "deadMessages"}


@dataclass(frozen=True)
class Given:
    """A budget that must exist before the event runs (the body of create_budget.happy.json, for `tenant`)."""

    tenant: str = "acme"
    updates: int = 0  # PATCHes applied after creating it: the budget is then at version 1 + updates
    spent_usd: Decimal = Decimal(0)  # AI spend ingested for today against it


@dataclass(frozen=True)
class Spend:
    """Daily spend ingested before the event runs, ending yesterday: a weekday/weekend pattern of AI spend on two
    models plus steady compute, and optionally one runaway day of a model never seen before (a high anomaly)."""

    tenant: str = "acme"
    days: int = 120  # anomaly detection learns from 90 days before the first day it scores
    spike_days_ago: int | None = None


@dataclass(frozen=True)
class Expect:
    status: int | None  # None: not an HTTP event (the handler's return value is the reply)
    keys: frozenset[str] = frozenset()  # top-level keys a JSON reply must have exactly
    equal: dict[str, Any] = field(default_factory=dict)  # top-level values the reply must have
    loc: tuple[str, ...] | None = None  # for 422: the location one error must name
    check: Callable[[Any], None] | None = None
    given: Given | None = None  # a budget to create first; SAMPLE_BUDGET_ID then means its id
    spend: Spend | None = None  # history to ingest first; the event's dates then move to today's


def ok(keys: set[str], check: Callable[[Any], None] | None = None, **equal: Any) -> Expect:
    return Expect(200, frozenset(keys), equal, check=check)


def on_budget(expect: Expect, given: Given | None = None) -> Expect:
    """`expect`, for an event that needs a budget (acme's, unless `given` says otherwise)."""
    return Expect(expect.status, expect.keys, expect.equal, expect.loc, expect.check, given or Given())


def with_spend(expect: Expect, spend: Spend) -> Expect:
    """`expect`, for an event that needs spend history (and whose dates move with today)."""
    return replace(expect, spend=spend)


# An RFC 9457 problem: every error's body.
PROBLEM_KEYS = frozenset({"type", "title", "status", "detail", "errors"})


def error(status: int, *loc: str) -> Expect:
    return Expect(status, PROBLEM_KEYS, {"status": status, "type": "about:blank"}, loc=loc or None)


def _csv(body: Any) -> None:
    assert isinstance(body, str)
    assert body.splitlines()[0] == "period,model,cost,currency"


def _invalid_events(body: dict[str, Any]) -> None:
    # Event 0 is kept and its copy at index 6 is a duplicate; the five in between are each rejected with a reason.
    assert (body["accepted"], body["duplicates"]) == (1, 1)
    assert [r["index"] for r in body["rejected"]] == [1, 2, 3, 4, 5]
    reasons = {r["index"]: r["error"] for r in body["rejected"]}
    assert "vcpuSeconds" in reasons[1]
    assert "GPU" in reasons[2]
    assert "400 days" in reasons[3]
    assert "model" in reasons[4]
    assert "timestamp" in reasons[5]


def _prices(body: dict[str, Any]) -> None:
    assert body["prices"], "the default rate card is empty"
    assert {"meter", "priceKey", "unitPrice", "pricingUnit", "effectiveFrom"} <= set(body["prices"][0])


def _published(body: dict[str, Any]) -> None:
    _prices(body)
    gpt4o_input = [p for p in body["prices"] if (p["meter"], p["priceKey"]) == ("input_tokens", "gpt-4o")]
    assert [p["unitPrice"] for p in gpt4o_input] == [2.25]


def _one_day(day: str) -> Callable[[Any], None]:
    def check(body: dict[str, Any]) -> None:
        assert [d["date"] for d in body["days"]] == [day]

    return check


def _week(body: dict[str, Any]) -> None:
    assert [d["date"] for d in body["days"]] == [f"2026-11-0{i}" for i in range(1, 8)]


def _count(key: str, n: int) -> Callable[[Any], None]:
    def check(body: dict[str, Any]) -> None:
        assert len(body[key]) == n, body[key]

    return check


def _no_body(body: Any) -> None:
    assert body == ""


def _only_created(body: dict[str, Any]) -> None:
    assert [e["eventType"] for e in body["events"]] == ["created"]
    assert body["nextCursor"] is None


def _forecast(horizon_days: int) -> Callable[[Any], None]:
    def check(body: dict[str, Any]) -> None:
        assert body["asOf"] == str(today())
        assert [p["date"] for p in body["points"]] == [str(today() + timedelta(days=i)) for i in range(horizon_days)]
        for point in [*body["points"], body["total"]]:
            assert 0 <= point["lower95"] <= point["lower80"] <= point["value"] <= point["upper80"] <= point["upper95"]
        assert body["accuracy"]["origins"] >= 1

    return check


def _the_sample_bill(body: dict[str, Any]) -> None:
    # Three rows: a compute hour, an hour of storage (spelt `Usage-based`) and a credit, all for acme on 2024-09-02.
    assert (body["rowsRead"], body["rowsImported"], body["skipped"]) == (3, 3, [])
    assert body["totals"] == [
        {"currency": "USD", "rows": 3, "billedCost": "11.25000000000", "effectiveCost": "8.75000000000"}
    ]
    assert body["tenants"] == ["acme"]


def _imported_from_s3(body: dict[str, Any]) -> None:
    (outcome,) = body["imports"]
    assert outcome["key"] == "focus/acme/2024-09/bill.csv.gz" and outcome["rowsImported"] == 3, outcome
    assert outcome["totals"][0]["billedCost"] == "11.25000000000"


def _focus_header(body: Any) -> None:
    assert isinstance(body, str)
    assert body.splitlines()[0].startswith("BilledCost,BillingAccountId,BillingAccountName,BillingCurrency")


def _rates(body: dict[str, Any]) -> None:
    assert [(r["currency"], r["effectiveFrom"], r["usdPerUnit"]) for r in body["rates"]] == [
        ("EUR", "2024-09-02", "1.106000000000"),
        ("GBP", "2024-09-02", "1.313000000000"),
    ]


def _needs_14_days(body: dict[str, Any]) -> None:
    assert "14 days" in body["detail"], body["detail"]


def _the_runaway_day(days: int) -> Callable[[Any], None]:
    def check(body: dict[str, Any]) -> None:
        assert (body["from"], body["to"]) == (str(days_ago(30)), str(days_ago(1)))
        (anomaly,) = body["anomalies"]
        assert set(anomaly) == ANOMALY_KEYS
        assert (anomaly["date"], anomaly["category"], anomaly["severity"], anomaly["direction"]) == (
            str(days_ago(days)),
            "AI",
            "high",
            "up",
        )
        assert anomaly["acknowledged"] is None
        assert {(c["dimension"], c["key"], c["firstSeen"]) for c in anomaly["rootCause"]} >= {("model", "o3", True)}

    return check


def _acknowledged_by(subject: str) -> Callable[[Any], None]:
    def check(body: dict[str, Any]) -> None:
        assert body["acknowledged"]["acknowledgedBy"] == subject
        assert body["acknowledged"]["note"] == "o3 batch evaluation, planned: approved by finance"

    return check


def _yesterday(body: dict[str, Any]) -> None:
    assert body["day"] == str(days_ago(1))


EXPECTED: dict[str, Expect] = {
    "get_costs.happy": ok(COSTS_KEYS, tenantId="acme", currency="USD", groupBy="category", granularity="daily"),
    "get_costs.monthly_csv": Expect(200, check=_csv),
    "get_costs.focus": Expect(200, check=_focus_header),
    "get_costs.cross_tenant": error(403),
    "get_costs.no_token": error(401),
    "get_costs.invalid_group_by": error(422, "query", "groupBy"),
    "get_costs.unknown_parameter": error(422, "query", "groupby"),
    "get_cost_summary.happy": ok(SUMMARY_KEYS, tenantId="acme", currency="USD"),
    "get_cost_summary.from_after_to": error(422, "query", "from"),
    "get_top_drivers.happy": ok(TOP_DRIVERS_KEYS, tenantId="acme", currency="USD"),
    "get_top_drivers.limit_too_high": error(422, "query", "limit"),
    "get_costs_by_model.happy": ok(BREAKDOWN_KEYS, dimension="model", currency="USD"),
    "get_costs_by_region.happy": ok(BREAKDOWN_KEYS, dimension="region", currency="USD"),
    "get_costs_by_region.range_too_long": error(422, "query", "to"),
    "get_costs_by_service.happy": ok(BREAKDOWN_KEYS, dimension="service", currency="USD"),
    "get_costs_by_service.system_any_tenant": ok(BREAKDOWN_KEYS, tenantId="globex"),
    "get_rate_card.happy": ok(RATE_CARD_KEYS, _prices, currency="USD"),
    "get_rate_card.as_of": ok(RATE_CARD_KEYS, _prices, asOf="2026-01-01"),
    "publish_rate_card.happy": ok(RATE_CARD_KEYS, _published, asOf="2026-12-01"),
    "publish_rate_card.admin_forbidden": error(403),
    "publish_rate_card.unknown_meter": error(422, "body", "prices.0.meter"),
    "ingest_telemetry.happy": ok(INGEST_KEYS, accepted=7, duplicates=0, rejected=[], flagged=[]),
    "ingest_telemetry.system": ok(INGEST_KEYS, accepted=7, duplicates=0, rejected=[]),
    "ingest_telemetry.invalid_events": ok(INGEST_KEYS, _invalid_events),
    "ingest_telemetry.cross_tenant": error(403),
    "ingest_telemetry.user_forbidden": error(403),
    "ingest_telemetry.empty_batch": error(422, "body", "events"),
    "run_aggregation.happy": ok(AGGREGATE_KEYS, _one_day("2026-11-25"), tenantId="acme", repriced=False),
    "run_aggregation.system_range": ok(AGGREGATE_KEYS, _week, tenantId=None),
    "run_aggregation.all_tenants_forbidden": error(403),
    "run_aggregation.date_and_range": error(422, "body"),
    # The job aggregates the day before the schedule's own time, whatever the clock says.
    "run_daily_aggregation.scheduled": Expect(None, frozenset(AGGREGATE_KEYS), check=_one_day("2026-11-26")),
    # FOCUS imports (a tenant's admin, or system) and the exchange rates (published by system, read by anyone).
    "import_focus.happy": ok(IMPORT_KEYS, _the_sample_bill, rowsSkipped=0),
    "import_focus.gzip": ok(IMPORT_KEYS, _the_sample_bill),
    "import_focus.tenants_from_column_forbidden": error(403),
    "import_focus.not_focus": error(422, "body"),
    # An S3 upload with x-amz-meta-tenant-id: acme (the test puts the object in moto's S3 first).
    "import_focus_object.uploaded": Expect(None, frozenset({"imports"}), check=_imported_from_s3),
    "publish_exchange_rates.happy": ok(EXCHANGE_RATES_KEYS, _rates, asOf="2024-09-02", base="USD"),
    "publish_exchange_rates.admin_forbidden": error(403),
    "publish_exchange_rates.usd_is_the_base": error(422, "body", "rates", 0, "currency"),
    "get_exchange_rates.happy": ok(EXCHANGE_RATES_KEYS, asOf="2024-09-30", base="USD", rates=[]),
    # Budgets. Reads need `user` of the tenant, changes `admin`, enforcement checks `system` (or `admin`).
    "create_budget.happy": Expect(201, frozenset(BUDGET_KEYS), {"tenantId": "acme", "version": 1, "deletedAt": None}),
    "create_budget.invalid_amount": error(422, "body", "amount"),
    "create_budget.user_forbidden": error(403),
    "get_budget.happy": on_budget(ok(BUDGET_KEYS, id=SAMPLE_BUDGET_ID, tenantId="acme", version=1)),
    # Another tenant's budget is "not found", exactly like a budget that does not exist.
    "get_budget.other_tenant": on_budget(error(404), Given(tenant="globex")),
    "list_tenant_budgets.happy": on_budget(ok({"budgets"}, _count("budgets", 1))),
    "list_tenant_budgets.cross_tenant": error(403),
    "update_budget.happy": on_budget(ok(BUDGET_KEYS, id=SAMPLE_BUDGET_ID, amount=750.0, version=2)),
    # The event sends If-Match "1" to a budget someone else already moved to version 2.
    "update_budget.stale_version": on_budget(error(412), Given(updates=1)),
    "delete_budget.happy": on_budget(Expect(204, check=_no_body)),
    "delete_budget.user_forbidden": on_budget(error(403)),
    "get_budget_status.happy": on_budget(
        ok(STATUS_KEYS, budgetId=SAMPLE_BUDGET_ID, spent=0.0, state="ok", forecastedSpend=None)
    ),
    "get_budget_status.unknown_budget": error(404),
    "list_tenant_budget_statuses.happy": on_budget(ok({"statuses"}, _count("statuses", 1))),
    "list_tenant_budget_statuses.cross_tenant": error(403),
    "list_budget_events.happy": on_budget(ok({"events", "nextCursor"}, _only_created)),
    "list_budget_events.limit_too_high": on_budget(error(422, "query", "limit")),
    "check_budget_enforcement.happy": on_budget(ok(DECISION_KEYS, allowed=True, action="allow")),
    "check_budget_enforcement.unknown_operation": on_budget(error(422, "body", "operationType")),
    "check_tenant_enforcement.happy": on_budget(ok(DECISION_KEYS, allowed=True, action="allow")),
    # 600 USD spent of 500 (120%) is past the 100% enforce threshold, and the policy blocks AI.
    "check_tenant_enforcement.over_budget": on_budget(
        ok(DECISION_KEYS, allowed=False, action="block", budgetId=SAMPLE_BUDGET_ID), Given(spent_usd=Decimal(600))
    ),
    "check_tenant_enforcement.other_tenant": error(403),
    "run_daily_budget_check.scheduled": on_budget(
        Expect(None, frozenset(DAILY_CHECK_KEYS), {"budgets": 1, "failed": []})
    ),
    # Forecasts. 28 days of history as of today, 14 days ahead (dates move with today: see the docstring).
    "get_forecast.happy": with_spend(
        ok(FORECAST_KEYS, _forecast(14), tenantId="acme", category=None, currency="USD", historyDays=28),
        Spend(days=28),
    ),
    # Five days of spend: a 422 that says a forecast needs 14 (not a field's fault, so the location is the query).
    "get_forecast.too_little_history": with_spend(replace(error(422, "query"), check=_needs_14_days), Spend(days=5)),
    "get_forecast.invalid_horizon": error(422, "query", "horizonDays"),
    # Anomalies. 120 steady days with one runaway day of a new model (o3) five days ago, asked for the high ones
    # of the last 30 days: that day, explained by the new model.
    "get_anomalies.happy": with_spend(
        ok(ANOMALIES_KEYS, _the_runaway_day(5), tenantId="acme", method="auto", currency="USD"),
        Spend(spike_days_ago=5),
    ),
    "get_anomalies.invalid_severity": error(422, "query", "severity"),
    "get_anomalies.other_tenant": error(403),
    "acknowledge_anomaly.happy": with_spend(
        ok(ANOMALY_KEYS, _acknowledged_by("acme-admin"), id=SAMPLE_ANOMALY_ID, tenantId="acme"),
        Spend(spike_days_ago=5),
    ),
    # Unknown, or another tenant's: the same 404, so an id tells nothing about other tenants.
    "acknowledge_anomaly.unknown_id": error(404),
    # The 03:00 job scans yesterday, where the runaway day is: one high anomaly, its alert queued (and published).
    "run_daily_anomaly_detection.scheduled": with_spend(
        Expect(
            None,
            frozenset(DAILY_ANOMALY_KEYS),
            {"tenants": 1, "anomalies": 1, "high": 1, "alertsQueued": 1},
            check=_yesterday,
        ),
        Spend(spike_days_ago=1),
    ),
    # Nothing is waiting in a fresh outbox: an empty run that still reports the backlog the alarms read.
    "drain_notification_outbox.scheduled": Expect(
        None, frozenset(DRAIN_KEYS), {"published": 0, "pending": 0, "oldestPendingSeconds": 0, "deadMessages": 0}
    ),
}


def _function(path: Path) -> str:
    return path.name.split(".", 1)[0]


def _route_pattern(route: str) -> re.Pattern[str]:
    """`/budgets/{budget_id}` -> a regex whose named groups are the path parameters, as API Gateway matches."""
    parts = re.split(r"\{(\w+)\}", route)
    return re.compile("".join(f"(?P<{p}>[^/]+)" if i % 2 else re.escape(p) for i, p in enumerate(parts)))


def create_given_budget(api: Api, given: Given) -> str:
    """Create the budget `given` describes, through the handlers; returns its id."""
    sample = json.loads((EVENTS_DIR / "create_budget.happy.json").read_text())
    admin = claims(given.tenant, "admin")
    body = {**json.loads(sample["body"]), "tenantId": given.tenant}
    status, budget, _ = api("create_budget", "POST", BUDGETS, auth=admin, body=body)
    assert status == 201, budget
    for version in range(1, given.updates + 1):
        change = {"name": f"{body['name']} (v{version + 1})", "version": version}
        status, budget, _ = api("update_budget", "PATCH", f"{BUDGETS}/{budget['id']}", auth=admin, body=change)
        assert status == 200, budget
    if given.spent_usd:
        batch = {"events": [usage_event(given.tenant, today(), "AI", costUsd=str(given.spent_usd))]}
        status, result, _ = api("ingest_telemetry", "POST", TELEMETRY, auth=claims(None, "system"), body=batch)
        assert status == 200 and result["accepted"] == 1, result
    return str(budget["id"])


def spend_events(spend: Spend) -> list[dict[str, Any]]:
    rng = random.Random(3)  # the same history every run
    events = []
    for n in range(spend.days, 0, -1):
        day = days_ago(n)
        weekday = 1.0 if day.weekday() < 5 else 0.6
        for model, usd in (("gpt-4o", 100), ("claude-sonnet-4-5", 50)):
            cost = f"{usd * weekday * rng.uniform(0.95, 1.05):.2f}"
            events.append(usage_event(spend.tenant, day, "AI", model=model, costUsd=cost))
        events.append(
            usage_event(spend.tenant, day, "COMPUTE", service="api", costUsd=f"{30 * rng.uniform(0.97, 1.03):.2f}")
        )
        if n == spend.spike_days_ago:
            events.append(usage_event(spend.tenant, day, "AI", model="o3", service="batch", costUsd="400.00"))
    return events


def ingest_spend(api: Api, spend: Spend) -> None:
    """Ingest the history `spend` describes, through the ingestion handler (as the platform, role system)."""
    events = spend_events(spend)
    status, result, _ = api("ingest_telemetry", "POST", TELEMETRY, auth=claims(None, "system"), body={"events": events})
    assert status == 200 and result["accepted"] == len(events), result


def runaway_anomaly_id(api: Api, spend: Spend) -> str:
    """The id of the anomaly of `spend`'s runaway day, as the get_anomalies handler reports it."""
    assert spend.spike_days_ago is not None, "an event about an anomaly needs a runaway day in its spend"
    query = {"tenantId": spend.tenant, "from": str(days_ago(30)), "to": str(days_ago(1)), "severity": "high"}
    status, body, _ = api("get_anomalies", "GET", ANOMALIES, auth=claims(spend.tenant, "user"), query=query)
    assert status == 200, body
    (anomaly,) = body["anomalies"]
    assert anomaly["date"] == str(days_ago(spend.spike_days_ago)), anomaly
    return str(anomaly["id"])


def put_uploaded_object(event: dict[str, Any]) -> None:
    """The object an S3 notification announces, in moto's S3: the sample bill, gzipped, for tenant acme."""
    import gzip

    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    for record in event["Records"]:
        bucket, key = record["s3"]["bucket"]["name"], record["s3"]["object"]["key"]
        s3.create_bucket(Bucket=bucket)
        body = gzip.compress((ROOT / "tests" / "data" / "focus_bill.csv").read_bytes())
        s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata={"tenant-id": "acme"})


def moved(text: str, *, today: date) -> str:
    """The event's text with every ISO date moved by as many days as `today` is from SAMPLE_TODAY."""
    offset = today - SAMPLE_TODAY
    return _ISO_DATE.sub(lambda m: (date.fromisoformat(m.group(0)) + offset).isoformat(), text)


def recent(event: dict[str, Any], *, today: date) -> dict[str, Any]:
    """The ingest event with its batch moved in time so that its newest event happened yesterday."""
    body = json.loads(event["body"])
    stamps: dict[int, datetime] = {}
    for index, item in enumerate(body.get("events", [])):
        try:
            stamps[index] = datetime.fromisoformat(item["timestamp"])
        except (KeyError, TypeError, ValueError):
            continue  # a deliberately malformed timestamp stays as it is
    if stamps:
        newest = max(stamps.values())
        offset = datetime.combine(today - timedelta(days=1), newest.timetz()) - newest
        for index, stamp in stamps.items():
            body["events"][index]["timestamp"] = (stamp + offset).isoformat().replace("+00:00", "Z")
    return {**event, "body": json.dumps(body)}


def test_every_events_file_has_an_expectation_and_every_expectation_a_file() -> None:
    files = {path.name.removesuffix(".json") for path in EVENT_FILES}
    assert files - EXPECTED.keys() == set(), "events without an expectation: add them to EXPECTED"
    assert EXPECTED.keys() - files == set(), "expectations without an events file"


def test_every_function_has_a_successful_sample_event() -> None:
    succeeding = {
        name.split(".")[0] for name, expect in EXPECTED.items() if expect.status is None or 200 <= expect.status < 300
    }
    assert set(function_names()) <= succeeding, f"no happy event for {sorted(set(function_names()) - succeeding)}"


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: p.name.removesuffix(".json"))
def test_http_sample_events_target_their_function_route(path: Path) -> None:
    event = json.loads(path.read_text())
    router = getattr(load_function(_function(path)), "router", None)
    if event.get("version") != "2.0":
        assert router is None, f"{path.name}: an API function needs an HTTP API v2 event"
        if "Records" in event:  # an S3 notification
            assert {r["eventSource"] for r in event["Records"]} == {"aws:s3"}
        else:
            assert event["detail-type"] == "Scheduled Event"
        return
    method, route = event["routeKey"].split(" ", 1)
    assert router is not None and (method, route) in router_routes(router), f"{path.name}: no such route"
    assert event["requestContext"]["routeKey"] == event["routeKey"]
    assert event["rawPath"] == event["requestContext"]["http"]["path"]
    matched = _route_pattern(route).fullmatch(event["rawPath"])
    assert matched, f"{path.name}: rawPath {event['rawPath']} does not match {route}"
    # API Gateway sends pathParameters only for a route that has some.
    assert event.get("pathParameters", {}) == matched.groupdict(), f"{path.name}: pathParameters differ from rawPath"
    assert event["requestContext"]["http"]["method"] == method
    claims = (event["requestContext"].get("authorizer") or {}).get("jwt", {}).get("claims")
    if claims is not None:
        assert event["headers"]["authorization"].startswith("Bearer ")
        assert isinstance(claims["roles"], str) and claims["roles"].startswith("["), "HTTP APIs flatten arrays"
        assert claims.get("tenant_id", "acme") in ("acme",), "sample events act as tenant acme"
    if method in ("POST", "PUT", "PATCH") and event["headers"]["content-type"] == "application/json":
        json.loads(event["body"])


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: p.name.removesuffix(".json"))
def test_sample_event_gets_its_expected_reply(
    path: Path, clickhouse: Any, api: Api, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    expect = EXPECTED.get(path.name.removesuffix(".json"))
    assert expect is not None, f"{path.name} has no expectation in EXPECTED"
    function = _function(path)
    text = path.read_text()
    assert expect.given is not None or SAMPLE_BUDGET_ID not in text, f"{path.name} names a budget: give it one"
    assert expect.spend is not None or SAMPLE_ANOMALY_ID not in text, f"{path.name} names an anomaly: give it spend"
    # Ingesting the given spend re-evaluates budgets, so it runs against PostgreSQL too.
    postgres = None
    if reaches_postgres(function) or expect.spend is not None:
        postgres = request.getfixturevalue("postgres")
        topics = request.getfixturevalue("topics")  # moto's SNS (tests/integration/conftest.py)
        monkeypatch.setenv("ALERTS_TOPIC_ARN", topics["alerts"])
        monkeypatch.setenv("ADMIN_TOPIC_ARN", topics["admin"])
        reload_settings()
        wiring.forget()
    ids: dict[str, str] = {}  # sample id -> the id of what the test created
    if expect.given is not None:
        ids[SAMPLE_BUDGET_ID] = create_given_budget(api, expect.given)
    if expect.spend is not None:
        ingest_spend(api, expect.spend)
        text = moved(text, today=datetime.now(UTC).date())
        if SAMPLE_ANOMALY_ID in text:
            ids[SAMPLE_ANOMALY_ID] = runaway_anomaly_id(api, expect.spend)
    for sample, real in ids.items():
        text = text.replace(sample, real)
    equal = {key: ids.get(value, value) if isinstance(value, str) else value for key, value in expect.equal.items()}
    event = json.loads(text)
    if function == "ingest_telemetry":
        event = recent(event, today=datetime.now(UTC).date())
    if function == "import_focus_object":
        request.getfixturevalue("aws")
        put_uploaded_object(event)

    response = load_function(function).lambda_handler(event, LambdaContext(function_name=function))

    if expect.status is None:
        body = response
    else:
        assert response["statusCode"] == expect.status, decode_body(response)
        body = decode_body(response)
    if expect.keys:
        assert set(body) == expect.keys, f"reply keys differ: {sorted(body)}"
    for key, value in equal.items():
        assert body[key] == value, f"{key}: {body[key]!r} != {value!r}"
    if expect.loc is not None:
        assert any(tuple(d["loc"][: len(expect.loc)]) == expect.loc for d in body["errors"]), body["detail"]
    if expect.status is not None and expect.status >= 400:
        assert body["detail"] and all(d.get("msg") for d in body["errors"]), "every error says why"
    if expect.check is not None:
        expect.check(body)
    if postgres is not None:
        # Every alert the event fired (budget alerts, the anomaly job's) was published to SNS, none left behind.
        pending = postgres.run(
            "SELECT event_type, last_error FROM finops_notification_outbox WHERE published_at IS NULL"
        )
        assert pending == [], pending
