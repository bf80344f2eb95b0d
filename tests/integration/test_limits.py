"""Bounded input: every date, amount and count the API takes has a range the storage holds, checked at the edge
with a 422 naming the field and the rule; and the largest spend the service can reach is stored and reported,
never a 500 (handlers in-process against chDB and the embedded PostgreSQL)."""

from decimal import Decimal

import pytest

from tests.conftest import claims
from tests.factories import TELEMETRY, event, run_scheduled, today

API = "/v1/analytics/finops"
B = "/api/ai-budget/finops"
SYSTEM = claims(None, "system")
ADMIN = claims("acme", "admin")


@pytest.fixture
def stack(clickhouse, postgres):
    return clickhouse, postgres


def budget(**overrides):
    return {
        "tenantId": "acme",
        "name": "Monthly AI",
        "amount": 100,
        "period": "monthly",
        "categories": ["AI"],
        "policy": {"notifyThreshold": 80, "enforceThreshold": 100, "actions": ["notify", "block_ai"]},
        "startDate": str(today().replace(day=1)),
        **overrides,
    }


def assert_422(status, body, field, rule):
    assert status == 422, body
    assert any(field in [str(p) for p in d["loc"]] and rule in d["msg"] for d in body["errors"]), body


@pytest.mark.parametrize(
    ("function", "path", "query", "field"),
    [
        ("get_cost_summary", f"{API}/costs/summary", {"from": "0001-01-01", "to": "0001-01-05"}, "from"),
        ("get_top_drivers", f"{API}/costs/top-drivers", {"from": "0001-01-01", "to": "0001-01-05"}, "from"),
        ("get_anomalies", f"{API}/anomalies", {"from": "0001-01-01", "to": "0001-01-05"}, "from"),
        ("get_forecast", f"{API}/forecast", {"asOf": "0001-01-05"}, "asOf"),
        ("get_costs", f"{API}/costs", {"from": "1969-12-31", "to": "2000-01-02"}, "from"),
        ("get_costs_by_model", f"{API}/costs/by-model", {"from": "2099-12-01", "to": "9999-12-31"}, "to"),
        ("get_rate_card", f"{API}/rate-card", {"asOf": "2150-01-01"}, "asOf"),
    ],
)
def test_a_date_outside_the_window_is_a_422_naming_it(stack, api, function, path, query, field):
    # year 1 used to end in OverflowError (a previous period or history before it) and so a 500
    tenant = {} if function == "get_rate_card" else {"tenantId": "acme"}

    status, body, _ = api(function, "GET", path, auth=SYSTEM, query={**tenant, **query})

    assert_422(status, body, field, "2000-01-01" if query[field] < "2000" else "2099-12-31")


def test_the_window_edges_answer_200(stack, api):
    edges = {"tenantId": "acme", "from": "2000-01-01", "to": "2000-01-31"}
    assert api("get_cost_summary", "GET", f"{API}/costs/summary", auth=SYSTEM, query=edges)[0] == 200
    last = {"tenantId": "acme", "from": "2099-12-01", "to": "2099-12-31"}
    assert api("get_top_drivers", "GET", f"{API}/costs/top-drivers", auth=SYSTEM, query=last)[0] == 200
    assert api("get_rate_card", "GET", f"{API}/rate-card", auth=SYSTEM, query={"asOf": "2099-12-31"})[0] == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"date": "0001-01-01", "tenantId": "acme"}, "date"),
        ({"from": "1999-12-31", "to": "2000-01-01", "tenantId": "acme"}, "from"),
    ],
)
def test_aggregation_dates_are_bounded(stack, api, body, field):
    status, reply, _ = api("run_aggregation", "POST", f"{API}/aggregate", auth=ADMIN, body=body)
    assert_422(status, reply, field, "greater than or equal to 2000-01-01")


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"amount": "0.000001"}, "amount", "greater than or equal to 0.01"),
        ({"amount": "1000000000000.01"}, "amount", "less than or equal to 1000000000000"),
        ({"amount": "10.0000001"}, "amount", "6 decimal places"),
        ({"startDate": "0001-01-01"}, "startDate", "greater than or equal to 2000-01-01"),
        ({"name": "bad\x00name"}, "name", "should match pattern"),
    ],
)
def test_budget_fields_out_of_range_are_a_422(stack, api, change, field, rule):
    # a 0.000001 budget used to be created (201), and then every check of it and its tenant answered 500
    status, body, _ = api("create_budget", "POST", f"{B}/budgets", auth=ADMIN, body=budget(**change))
    assert_422(status, body, field, rule)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"inputTokens": 10**15}, "inputTokens"),
        ({"outputTokens": 10**9 + 1}, "outputTokens"),
        ({"costUsd": "1000000000.5"}, "costUsd"),
        ({"service": "x" * 129}, "service"),
    ],
)
def test_event_quantities_beyond_their_maximum_are_rejected_with_the_field(stack, api, fields, field):
    status, body, _ = api(
        "ingest_telemetry", "POST", TELEMETRY, auth=SYSTEM, body={"events": [event("acme", today(), **fields)]}
    )
    assert status == 200, body
    assert body["accepted"] == 0 and body["rejected"][0]["index"] == 0
    assert field in body["rejected"][0]["error"], body


def test_enforcement_estimates_are_bounded(stack, api):
    _, created, _ = api("create_budget", "POST", f"{B}/budgets", auth=ADMIN, body=budget())
    status, body, _ = api(
        "check_budget_enforcement",
        "POST",
        f"{B}/budgets/{created['id']}/check-enforcement",
        auth=SYSTEM,
        body={"operationType": "ai_generation", "estimatedCostUsd": 10**9 + 1},
    )
    assert_422(status, body, "estimatedCostUsd", "less than or equal to 1000000000")


def test_spend_past_a_trillion_on_a_one_cent_budget_is_stored_and_reported(stack, api, postgres):
    # Given the smallest budget there may be, and spend summing past 10^12 (numeric(18, 6) overflowed there, and
    # the percentage, 2 * 10^16 %, overflowed numeric(12, 4) long before)
    status, created, _ = api(
        "create_budget",
        "POST",
        f"{B}/budgets",
        auth=ADMIN,
        body=budget(amount="0.01", policy={"notifyThreshold": 80, "enforceThreshold": 100, "actions": ["block_ai"]}),
    )
    assert status == 201, created
    batch = [event("acme", today(), costUsd="1000000000") for _ in range(2000)]

    # When it is ingested (thresholds fire in the same request) and the budget is checked every way
    ingested = api("ingest_telemetry", "POST", TELEMETRY, auth=SYSTEM, body={"events": batch})
    status_reply = api("get_budget_status", "GET", f"{B}/budgets/{created['id']}/status", auth=ADMIN)
    budget_check, tenant_check = (
        api(function, "POST", path, auth=SYSTEM, body={"operationType": "ai_generation", "estimatedCostUsd": 1})
        for function, path in [
            ("check_budget_enforcement", f"{B}/budgets/{created['id']}/check-enforcement"),
            ("check_tenant_enforcement", f"{B}/tenants/acme/check-enforcement"),
        ]
    )
    statuses = api("list_tenant_budget_statuses", "GET", f"{B}/budgets/tenant/acme/status", auth=ADMIN)
    trail = api("list_budget_events", "GET", f"{B}/budgets/{created['id']}/events", auth=ADMIN)
    daily = run_scheduled("run_daily_budget_check", 2)

    # Then every answer is a real one: spent exact, the budget enforced, the events and the snapshot stored
    assert ingested[0] == 200 and ingested[1]["accepted"] == 2000, ingested[1]
    assert status_reply[0] == 200, status_reply[1]
    assert status_reply[1]["spent"] == 2 * 10**12 and status_reply[1]["state"] == "enforced"
    assert status_reply[1]["percentUsed"] == pytest.approx(2e16)
    assert (budget_check[0], budget_check[1]["action"]) == (200, "block"), budget_check[1]
    assert (tenant_check[0], tenant_check[1]["action"]) == (200, "block"), tenant_check[1]
    assert statuses[0] == 200 and statuses[1]["statuses"][0]["spent"] == 2 * 10**12
    assert trail[0] == 200 and "threshold_enforce" in [e["eventType"] for e in trail[1]["events"]]
    assert daily["failed"] == [], daily
    stored = postgres.run(
        "SELECT spent, percent_used FROM finops_budget_spend_history WHERE budget_id = CAST(:id AS uuid)",
        id=created["id"],
    )
    assert stored == [[Decimal("2000000000000.000000"), Decimal("20000000000000000.0000")]]


@pytest.mark.parametrize(
    ("function", "method", "path", "body"),
    [
        ("list_tenant_budgets", "GET", f"{B}/budgets/tenant/{{tenant_id}}", None),
        ("list_tenant_budget_statuses", "GET", f"{B}/budgets/tenant/{{tenant_id}}/status", None),
        (
            "check_tenant_enforcement",
            "POST",
            f"{B}/tenants/{{tenant_id}}/check-enforcement",
            {"operationType": "export"},
        ),
    ],
)
def test_a_tenant_id_in_the_path_has_the_same_rule_as_everywhere_else(stack, api, function, method, path, body):
    tenant = "a" * 129
    status, reply, _ = api(
        function,
        method,
        path.format(tenant_id=tenant),
        auth=SYSTEM,
        body=body,
        path_parameters={"tenant_id": tenant},
    )
    assert_422(status, reply, "tenant_id", "at most 128 characters")
