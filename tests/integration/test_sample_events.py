"""Every file in events/ invoked in-process against the real engine, with the reply it must produce.

The expectation of each file is in EXPECTED below: a file without one fails the suite, so a new sample event
cannot go untested, and an expectation without its file fails too.

Dates: query events use fixed past ranges (valid forever). Ingestion rejects events older than 400 days or
in the future, so a static file cannot stay valid: before invoking, `recent` shifts every parseable timestamp of
an ingest batch by one offset that puts the batch's newest event on yesterday (same time of day). The events
keep their spacing, so one that is deliberately years too old stays too old.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from local.lambda_runtime import ROOT, LambdaContext, decode_body, function_names, load_function
from local.openapi import router_routes

EVENTS_DIR = ROOT / "events"
EVENT_FILES = sorted(EVENTS_DIR.glob("*.json"))

COSTS_KEYS = {"tenantId", "from", "to", "currency", "groupBy", "granularity", "total", "rows"}
BREAKDOWN_KEYS = {"tenantId", "from", "to", "currency", "dimension", "total", "rows"}
SUMMARY_KEYS = {
    "tenantId",
    "from",
    "to",
    "currency",
    "total",
    "previousPeriod",
    "changePercent",
    "byCategory",
    "topDrivers",
    "monthToDate",
}
TOP_DRIVERS_KEYS = {"tenantId", "from", "to", "currency", "total", "drivers"}
RATE_CARD_KEYS = {"asOf", "currency", "prices"}
INGEST_KEYS = {"accepted", "duplicates", "rejected", "flagged"}
AGGREGATE_KEYS = {"tenantId", "repriced", "days"}


@dataclass(frozen=True)
class Expect:
    status: int | None  # None: not an HTTP event (the handler's return value is the reply)
    keys: frozenset[str] = frozenset()  # top-level keys a JSON reply must have exactly
    equal: dict[str, Any] = field(default_factory=dict)  # top-level values the reply must have
    loc: tuple[str, ...] | None = None  # for 422: the location one error must name
    check: Callable[[Any], None] | None = None


def ok(keys: set[str], check: Callable[[Any], None] | None = None, **equal: Any) -> Expect:
    return Expect(200, frozenset(keys), equal, check=check)


def error(status: int, *loc: str) -> Expect:
    return Expect(status, frozenset({"statusCode", "detail"}), {"statusCode": status}, loc=loc or None)


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


EXPECTED: dict[str, Expect] = {
    "get_costs.happy": ok(COSTS_KEYS, tenantId="acme", currency="USD", groupBy="category", granularity="daily"),
    "get_costs.monthly_csv": Expect(200, check=_csv),
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
}


def _function(path: Path) -> str:
    return path.name.split(".", 1)[0]


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
    succeeding = {name.split(".")[0] for name, expect in EXPECTED.items() if expect.status in (200, None)}
    assert set(function_names()) <= succeeding, f"no happy event for {sorted(set(function_names()) - succeeding)}"


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: p.name.removesuffix(".json"))
def test_http_sample_events_target_their_function_route(path: Path) -> None:
    event = json.loads(path.read_text())
    router = getattr(load_function(_function(path)), "router", None)
    if event.get("version") != "2.0":
        assert router is None, f"{path.name}: an API function needs an HTTP API v2 event"
        assert event["detail-type"] == "Scheduled Event"
        return
    method, route = event["routeKey"].split(" ", 1)
    assert router is not None and (method, route) in router_routes(router), f"{path.name}: no such route"
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == route
    assert event["requestContext"]["http"]["method"] == method
    claims = (event["requestContext"].get("authorizer") or {}).get("jwt", {}).get("claims")
    if claims is not None:
        assert event["headers"]["authorization"].startswith("Bearer ")
        assert isinstance(claims["roles"], str) and claims["roles"].startswith("["), "HTTP APIs flatten arrays"
        assert claims.get("tenant_id", "acme") in ("acme",), "sample events act as tenant acme"
    if method == "POST":
        json.loads(event["body"])


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: p.name.removesuffix(".json"))
def test_sample_event_gets_its_expected_reply(path: Path, clickhouse: Any) -> None:
    expect = EXPECTED.get(path.name.removesuffix(".json"))
    assert expect is not None, f"{path.name} has no expectation in EXPECTED"
    function = _function(path)
    event = json.loads(path.read_text())
    if function == "ingest_telemetry":
        event = recent(event, today=datetime.now(UTC).date())

    response = load_function(function).lambda_handler(event, LambdaContext(function_name=function))

    if expect.status is None:
        body = response
    else:
        assert response["statusCode"] == expect.status, decode_body(response)
        body = decode_body(response)
    if expect.keys:
        assert set(body) == expect.keys, f"reply keys differ: {sorted(body)}"
    for key, value in expect.equal.items():
        assert body[key] == value, f"{key}: {body[key]!r} != {value!r}"
    if expect.loc is not None:
        assert any(tuple(d["loc"][: len(expect.loc)]) == expect.loc for d in body["detail"]), body["detail"]
    if expect.status is not None and expect.status >= 400:
        assert all(d.get("msg") for d in body["detail"]), "every error says why"
    if expect.check is not None:
        expect.check(body)
