"""The cost-explorer endpoints over real data: exact sums, grouping, periods, summary, drivers, isolation."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest

from tests.conftest import claims
from tests.factories import COSTS, TELEMETRY, days_ago, event, today

SYSTEM = claims(None, "system")
USER = claims("acme", "user")


def ingest(api, events):
    for start in range(0, len(events), 5000):
        status, body, _ = api(
            "ingest_telemetry", "POST", TELEMETRY, auth=SYSTEM, body={"events": events[start : start + 5000]}
        )
        assert status == 200 and not body["rejected"], body


def get(api, function, path, auth=USER, **query):
    return api(function, "GET", path, auth=auth, query={k: str(v) for k, v in query.items()})


@pytest.fixture
def spend(clickhouse, api):
    """acme: AI on two models, compute and egress over 14 days; globex: a little AI."""
    events = []
    for n in range(14):
        day = days_ago(n + 1)
        events += [event("acme", day, "AI", model="gpt-4o", costUsd="1.01", region="us-east-1", service="chat")]
        events += [
            event("acme", day, "AI", model="claude-sonnet-4-5", costUsd="0.5", region="eu-west-1", service="chat")
        ]
        events += [event("acme", day, "COMPUTE", costUsd="0.25", region="us-east-1", service="api")]
        events += [event("acme", day, "EGRESS", costUsd="0.04", region="eu-west-1", service="cdn")]
        events += [event("globex", day, "AI", model="gpt-4o", costUsd="100")]
    ingest(api, events)
    return events


def test_sums_are_exact_to_the_cent_for_many_small_costs(clickhouse, api):
    ingest(api, [event(day=days_ago(1), costUsd="0.01") for _ in range(1000)])
    status, body, _ = get(api, "get_costs", COSTS, tenantId="acme", **{"from": days_ago(1), "to": days_ago(1)})
    assert status == 200
    assert body["total"] == 10.0
    assert body["currency"] == "USD"


def test_daily_costs_grouped_by_category(spend, api):
    status, body, _ = get(
        api, "get_costs", COSTS, tenantId="acme", groupBy="category", **{"from": days_ago(14), "to": days_ago(1)}
    )
    assert status == 200
    assert Decimal(str(body["total"])) == Decimal("1.80") * 14
    day_rows = [r for r in body["rows"] if r["period"] == str(days_ago(1))]
    assert {r["key"]: r["cost"] for r in day_rows} == {"AI": 1.51, "COMPUTE": 0.25, "EGRESS": 0.04}


@pytest.mark.parametrize("dimension", ["category", "subcategory", "model", "region", "service"])
def test_every_group_by_dimension_adds_up_to_the_total(spend, api, dimension):
    status, body, _ = get(
        api,
        "get_costs",
        COSTS,
        tenantId="acme",
        groupBy=dimension,
        granularity="total",
        **{"from": days_ago(14), "to": days_ago(1)},
    )
    assert status == 200
    assert round(sum(r["cost"] for r in body["rows"]), 6) == body["total"] == 25.2
    assert all(r["period"] == str(days_ago(14)) for r in body["rows"])


def test_weekly_and_monthly_periods_start_on_monday_and_the_first(spend, api):
    start, end = days_ago(14), days_ago(1)
    _, weekly, _ = get(api, "get_costs", COSTS, tenantId="acme", granularity="weekly", **{"from": start, "to": end})
    assert {r["period"] for r in weekly["rows"]} == {
        str(d - timedelta(days=d.weekday())) for d in (start + timedelta(n) for n in range(14))
    }
    _, monthly, _ = get(api, "get_costs", COSTS, tenantId="acme", granularity="monthly", **{"from": start, "to": end})
    assert all(r["period"].endswith("-01") for r in monthly["rows"])
    assert round(sum(r["cost"] for r in monthly["rows"]), 6) == 25.2
    assert "key" not in monthly["rows"][0]


def test_categories_filter(spend, api):
    _, body, _ = get(
        api,
        "get_costs",
        COSTS,
        tenantId="acme",
        categories="compute,egress",
        granularity="total",
        **{"from": days_ago(14), "to": days_ago(1)},
    )
    assert body["total"] == round(0.29 * 14, 6)


def test_csv_export_has_the_same_rows(spend, api):
    query = {"tenantId": "acme", "groupBy": "model", "from": days_ago(3), "to": days_ago(1)}
    _, body, _ = get(api, "get_costs", COSTS, **query)
    status, text, headers = get(api, "get_costs", COSTS, format="csv", **query)
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["period"], r["model"], float(r["cost"])) for r in rows] == [
        (r["period"], r["key"], r["cost"]) for r in body["rows"]
    ]


def test_empty_range_is_a_valid_answer_with_zeros(clickhouse, api):
    status, body, _ = get(api, "get_costs", COSTS, tenantId="acme", **{"from": days_ago(30), "to": days_ago(20)})
    assert status == 200 and body["total"] == 0 and body["rows"] == []
    status, body, _ = get(
        api, "get_cost_summary", COSTS + "/summary", tenantId="acme", **{"from": days_ago(30), "to": days_ago(20)}
    )
    assert status == 200 and body["total"] == 0 and body["changePercent"] is None


def test_summary_compares_with_the_previous_period_and_projects_the_month(spend, api):
    status, body, _ = get(
        api, "get_cost_summary", COSTS + "/summary", tenantId="acme", **{"from": days_ago(7), "to": days_ago(1)}
    )
    assert status == 200, body
    assert body["total"] == round(1.8 * 7, 6)
    assert body["previousPeriod"] == {"from": str(days_ago(14)), "to": str(days_ago(8)), "total": round(1.8 * 7, 6)}
    assert body["changePercent"] == 0.0
    assert [c["key"] for c in body["byCategory"]] == ["AI", "COMPUTE", "EGRESS"]
    assert len(body["topDrivers"]) == 5
    mtd = body["monthToDate"]
    assert mtd["to"] == str(days_ago(1)) and mtd["from"] == str(days_ago(1).replace(day=1))
    assert mtd["runRate"] == pytest.approx(
        mtd["total"] / ((days_ago(1) - days_ago(1).replace(day=1)).days + 1) * mtd["daysInMonth"], rel=1e-6
    )


def test_top_drivers_rank_values_with_share_and_change(spend, api):
    ingest(api, [event("acme", days_ago(2), "AI", model="gpt-4o", costUsd="7")])  # gpt-4o grows this week
    status, body, _ = get(
        api,
        "get_top_drivers",
        COSTS + "/top-drivers",
        tenantId="acme",
        limit=3,
        **{"from": days_ago(7), "to": days_ago(1)},
    )
    assert status == 200
    assert len(body["drivers"]) == 3
    costs = [d["cost"] for d in body["drivers"]]
    assert costs == sorted(costs, reverse=True)
    _, all_drivers, _ = get(
        api,
        "get_top_drivers",
        COSTS + "/top-drivers",
        tenantId="acme",
        limit=50,
        **{"from": days_ago(7), "to": days_ago(1)},
    )
    gpt = next(d for d in all_drivers["drivers"] if d["dimension"] == "model" and d["key"] == "gpt-4o")
    assert gpt["cost"] == round(1.01 * 7 + 7, 6)
    assert gpt["previousCost"] == round(1.01 * 7, 6)
    assert gpt["changePercent"] == round((7 / (1.01 * 7)) * 100, 2)
    assert gpt["share"] == pytest.approx(gpt["cost"] / all_drivers["total"], abs=1e-6)


@pytest.mark.parametrize(
    ("function", "path", "expected"),
    [
        ("get_costs_by_model", "/by-model", {"gpt-4o": 14.14, "claude-sonnet-4-5": 7.0}),
        ("get_costs_by_region", "/by-region", {"us-east-1": 17.64, "eu-west-1": 7.56}),
        ("get_costs_by_service", "/by-service", {"chat": 21.14, "api": 3.5, "cdn": 0.56}),
    ],
)
def test_breakdowns_give_cost_and_share(spend, api, function, path, expected):
    status, body, _ = get(api, function, COSTS + path, tenantId="acme", **{"from": days_ago(14), "to": days_ago(1)})
    assert status == 200, body
    assert {r["key"]: r["cost"] for r in body["rows"]} == expected
    assert sum(r["share"] for r in body["rows"]) == pytest.approx(sum(expected.values()) / body["total"], abs=1e-5)


@pytest.mark.parametrize(
    ("function", "path"),
    [
        ("get_costs", ""),
        ("get_cost_summary", "/summary"),
        ("get_top_drivers", "/top-drivers"),
        ("get_costs_by_model", "/by-model"),
        ("get_costs_by_region", "/by-region"),
        ("get_costs_by_service", "/by-service"),
    ],
)
def test_no_endpoint_leaks_another_tenant(spend, api, function, path):
    window = {"from": days_ago(14), "to": days_ago(1)}
    status, body, _ = get(api, function, COSTS + path, tenantId="acme", **window)
    assert status == 200 and "100" not in str(body.get("total"))
    assert (
        get(api, function, COSTS + path, tenantId="globex", **window)[:2]
        == get(api, function, COSTS + path, tenantId="nobody", **window)[:2]
    )
    assert get(api, function, COSTS + path, tenantId="globex", **window)[0] == 403
    assert get(api, function, COSTS + path, auth=None, tenantId="acme", **window)[0] == 401
    assert get(api, function, COSTS + path, auth=SYSTEM, tenantId="globex", **window)[0] == 200


@pytest.mark.parametrize(
    ("query", "field", "rule"),
    [
        ({"from": "2026-13-01"}, "from", "date"),
        ({"from": str(days_ago(1)), "to": str(days_ago(2))}, "from", "on or before"),
        ({"from": str(days_ago(500))}, "to", "400 days"),
        ({"groupBy": "colour"}, "groupBy", "Input should be"),
        ({"granularity": "hourly"}, "granularity", "Input should be"),
        ({"categories": "AI,GPU"}, "categories", "GPU"),
        ({"format": "xml"}, "format", "Input should be"),
        ({"tenant": "acme"}, "tenant", "unknown query parameter"),
        ({"tenantId": ""}, "tenantId", "at least 1"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_the_rule(clickhouse, api, query, field, rule):
    params = {"tenantId": "acme", "from": str(days_ago(7)), "to": str(days_ago(1)), **query}
    status, body, _ = api("get_costs", "GET", COSTS, auth=USER if params.get("tenantId") else SYSTEM, query=params)
    assert status == 422, body
    assert any(d["loc"][-1] == field and rule in d["msg"] for d in body["errors"]), body


def test_missing_tenant_is_a_422(clickhouse, api):
    status, body, _ = api("get_costs", "GET", COSTS, auth=SYSTEM, query={"from": str(days_ago(7)), "to": str(today())})
    assert status == 422
    assert body["errors"][0]["loc"] == ["query", "tenantId"]


def test_top_drivers_limit_is_bounded(clickhouse, api):
    status, body, _ = get(
        api,
        "get_top_drivers",
        COSTS + "/top-drivers",
        tenantId="acme",
        limit=51,
        **{"from": days_ago(7), "to": days_ago(1)},
    )
    assert status == 422 and body["errors"][0]["loc"] == ["query", "limit"]
