"""Currencies: costs stored in their billing currency, effective-dated exchange rates published in versions, reports in
a requested currency, budgets in their own; a cost without a rate for its day is never converted at 1:1."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from finops.costs.queries import ImportedCurrencies, effective_rows, imported_currencies
from finops.currencies.rates import forget_cached_exchange_rates
from tests.conftest import claims
from tests.factories import COSTS, TELEMETRY, days_ago, event, today
from tests.focus.bills import BILL_COLUMNS, bill_row, focus_rows
from tests.integration.helpers_focus import (
    EXCHANGE_RATES,
    SYSTEM,
    budget_status,
    exact_totals,
    import_focus,
    publish_rates,
    sample_text,
)

SEPTEMBER = (date(2024, 9, 1), date(2024, 9, 30))
ADMIN = claims("acme", "admin")
BUDGETS = "/api/ai-budget/finops/budgets"


def euro_bill() -> str:
    return focus_rows(
        BILL_COLUMNS,
        [
            bill_row(date(2024, 9, 10), "100", effective="90", currency="EUR"),
            bill_row(date(2024, 9, 20), "-50", currency="EUR", ChargeCategory="Credit"),
            bill_row(date(2024, 9, 20), "50", currency="EUR"),
        ],
    )


@pytest.fixture
def euro_rates(clickhouse: Any, api: Any) -> None:
    publish_rates(api, ("EUR", "2024-09-01", "1.10"), ("EUR", "2024-09-15", "1.20"))


def test_published_rates_apply_from_their_day_until_the_next(clickhouse: Any, api: Any, euro_rates: None) -> None:
    def on(day: str) -> list[tuple[str, str]]:
        status, reply, _ = api(
            "get_exchange_rates", "GET", EXCHANGE_RATES, auth=claims("acme", "user"), query={"asOf": day}
        )
        assert status == 200 and reply["base"] == "USD"
        return [(r["currency"], r["usdPerUnit"]) for r in reply["rates"]]

    assert on("2024-08-31") == []
    assert on("2024-09-14") == [("EUR", "1.100000000000")]
    assert on("2024-09-15") == [("EUR", "1.200000000000")]
    publish_rates(api, ("EUR", "2024-09-15", "1.19"))  # a correction of that day's rate replaces it
    assert on("2030-01-01") == [("EUR", "1.190000000000")]


@pytest.mark.parametrize(
    ("rate", "loc"),
    [
        ({"currency": "USD", "effectiveFrom": "2024-09-01", "usdPerUnit": "1"}, ["body", "rates", 0, "currency"]),
        ({"currency": "eur", "effectiveFrom": "2024-09-01", "usdPerUnit": "1.1"}, ["body", "rates", 0, "currency"]),
        ({"currency": "EUR", "effectiveFrom": "2024-09-01", "usdPerUnit": "0"}, ["body", "rates", 0, "usdPerUnit"]),
        ({"currency": "EUR", "effectiveFrom": "1999-12-31", "usdPerUnit": "1"}, ["body", "rates", 0, "effectiveFrom"]),
        ({"currency": "EUR", "effectiveFrom": "2024-09-01", "usdPerUnit": "1e7"}, ["body", "rates", 0, "usdPerUnit"]),
        (
            {"currency": "EUR", "effective_from": "2024-09-01", "usdPerUnit": "1"},
            ["body", "rates", 0, "effective_from"],
        ),
    ],
)
def test_a_rate_outside_the_rules_is_refused_naming_it(
    clickhouse: Any, api: Any, rate: dict[str, str], loc: list
) -> None:
    status, reply, _ = api(
        "publish_exchange_rates", "POST", EXCHANGE_RATES, auth=SYSTEM, body={"source": "x", "rates": [rate]}
    )

    assert status == 422 and any(e["loc"] == loc for e in reply["errors"]), reply


def test_a_bill_in_euros_is_stored_in_euros_and_reported_in_any_currency(
    clickhouse: Any, api: Any, euro_rates: None
) -> None:
    status, body = import_focus(euro_bill(), tenantId="acme")
    assert status == 200 and body["totals"] == [
        {"currency": "EUR", "rows": 3, "billedCost": "100", "effectiveCost": "90"}
    ], body

    in_euros = exact_totals(clickhouse, ["acme"], *SEPTEMBER, currency="EUR", metric="billed")
    in_dollars = exact_totals(clickhouse, ["acme"], *SEPTEMBER, metric="billed")
    # Stored as billed: 100 EUR; reported in USD at each day's rate: 100 x 1.10 on the 10th, -50 + 50 at 1.20.
    assert in_euros["billed"] == in_euros["reported"] == Decimal(100)
    assert in_dollars["reported"] == Decimal("110")
    assert exact_totals(clickhouse, ["acme"], *SEPTEMBER)["reported"] == Decimal(90) * Decimal("1.1")


def test_cost_endpoints_answer_in_the_requested_currency(clickhouse: Any, api: Any, euro_rates: None) -> None:
    import_focus(euro_bill(), tenantId="acme")
    import_focus(sample_text(), tenantId="acme")
    query = {"tenantId": "acme", "from": "2024-09-01", "to": "2024-09-30", "metric": "billed", "granularity": "total"}

    status, euros, _ = api("get_costs", "GET", COSTS, auth=ADMIN, query={**query, "currency": "EUR"})
    status_usd, dollars, _ = api("get_costs", "GET", COSTS, auth=ADMIN, query=query)

    assert (status, status_usd) == (200, 200)
    assert (euros["currency"], dollars["currency"]) == ("EUR", "USD")
    assert dollars["total"] == pytest.approx(110 + 20.520227, abs=1e-6)
    # The sample's USD rows, each day's at that day's rate (before the 15th 1.10, then 1.20), plus the 100 EUR.
    sample_in_eur = exact_totals(clickhouse, ["acme"], *SEPTEMBER, currency="EUR", metric="billed")["reported"]
    assert euros["total"] == pytest.approx(float(sample_in_eur), abs=1e-6)
    assert 100 + 20.52 / 1.2 < euros["total"] < 100 + 20.53 / 1.1
    status, summary, _ = api(
        "get_cost_summary",
        "GET",
        COSTS + "/summary",
        auth=ADMIN,
        query={**{k: query[k] for k in ("tenantId", "from", "to")}, "currency": "EUR", "metric": "billed"},
    )
    assert (
        status == 200 and summary["currency"] == "EUR" and summary["total"] == pytest.approx(euros["total"], abs=1e-6)
    )


def test_a_row_without_a_rate_for_its_day_is_reported_not_converted(
    clickhouse: Any, api: Any, euro_rates: None
) -> None:
    bill = focus_rows(
        BILL_COLUMNS,
        [bill_row(date(2024, 8, 31), "10", currency="EUR"), bill_row(date(2024, 9, 1), "10", currency="EUR")],
    )

    status, body = import_focus(bill, tenantId="acme")

    assert status == 200 and body["rowsImported"] == 1
    (skipped,) = body["skipped"]
    assert skipped["column"] == "BillingCurrency" and "no exchange rate for EUR on 2024-08-31" in skipped["reason"]


def test_a_report_in_a_currency_without_rates_is_a_422_naming_currency(clickhouse: Any, api: Any) -> None:
    import_focus(sample_text(), tenantId="acme")
    query = {"tenantId": "acme", "from": "2024-09-01", "to": "2024-09-30", "currency": "GBP"}

    status, reply, _ = api("get_costs", "GET", COSTS, auth=ADMIN, query=query)

    assert status == 422 and reply["errors"][0]["loc"] == ["query", "currency"], reply
    assert "exchange rate" in reply["detail"]
    # A range with nothing to convert is no problem.
    status, reply, _ = api(
        "get_costs", "GET", COSTS, auth=ADMIN, query={**query, "from": "2024-01-01", "to": "2024-01-31"}
    )
    assert status == 200 and reply["total"] == 0


def test_telemetry_in_usd_is_reported_in_euros(clickhouse: Any, api: Any) -> None:
    publish_rates(api, ("EUR", str(days_ago(30)), "1.25"))
    # One meter (egress), so one cost row: each row is converted on its own, truncated to 12 decimals.
    events = [event("acme", days_ago(1), "EGRESS", costUsd="12.5")]
    api("ingest_telemetry", "POST", TELEMETRY, auth=SYSTEM, body={"events": events})

    totals = exact_totals(clickhouse, ["acme"], days_ago(1), days_ago(1), currency="EUR")

    assert totals["reported"] == Decimal(10)


def test_a_second_currency_round_trips_through_export_and_import(clickhouse: Any, api: Any, euro_rates: None) -> None:
    import_focus(euro_bill(), tenantId="acme")
    status, text, _ = api(
        "get_costs",
        "GET",
        COSTS,
        auth=SYSTEM,
        query={"tenantId": "acme", "from": "2024-09-01", "to": "2024-09-30", "format": "focus"},
    )
    assert status == 200 and ",EUR," in text

    status, body = import_focus(text, tenantId="acme-copy")

    assert status == 200 and body["totals"][0]["currency"] == "EUR"
    for currency in ("EUR", "USD"):
        assert exact_totals(clickhouse, ["acme-copy"], *SEPTEMBER, currency=currency) == exact_totals(
            clickhouse, ["acme"], *SEPTEMBER, currency=currency
        )


# --- budgets keep their currency ---------------------------------------------------------------------------------


def budget(currency: str, start: str, **extra: Any) -> dict[str, Any]:
    return {
        "tenantId": "acme",
        "name": f"budget in {currency}",
        "amount": 10000,
        "currency": currency,
        "period": "monthly",
        "policy": {"notifyThreshold": 80, "enforceThreshold": 100, "actions": ["notify", "block_ai"]},
        "startDate": start,
        **extra,
    }


def test_a_budget_keeps_its_currency_and_reads_spend_in_it(clickhouse: Any, postgres: Any, api: Any) -> None:
    publish_rates(api, ("JPY", str(days_ago(60)), "0.0067"))
    month = str(today().replace(day=1))
    status, created, headers = api("create_budget", "POST", BUDGETS, auth=ADMIN, body=budget("JPY", month))
    assert status == 201 and created["currency"] == "JPY", created
    api(
        "ingest_telemetry",
        "POST",
        TELEMETRY,
        auth=SYSTEM,
        body={"events": [event("acme", today(), "AI", costUsd="6.7")]},
    )

    reply = budget_status(api, created["id"], ADMIN)

    assert reply["currency"] == "JPY"
    assert reply["spent"] == 1000.0 and reply["percentUsed"] == 10.0  # 6.70 USD is 1,000 JPY
    # The daily check's read: spend in yen, the forecasts' history in dollars, though some of it is older than the
    # yen's first rate (converted, it would fail the whole check)
    api(
        "ingest_telemetry",
        "POST",
        TELEMETRY,
        auth=SYSTEM,
        body={"events": [event("acme", days_ago(70), "AI", costUsd="1")]},
    )
    from finops.budgets import store
    from finops.budgets.spend import SpendReader

    record = store.get_budget(postgres, created["id"])
    spend, daily = SpendReader(clickhouse).spend_and_daily([record], today(), daily_since=days_ago(90))
    assert round(spend[record.id].amount, 6) == 1000
    assert daily == {("acme", "AI"): {days_ago(70): Decimal(1), today(): Decimal("6.7")}}


def test_an_enforcement_estimate_in_usd_is_weighed_in_the_budgets_currency(
    clickhouse: Any, postgres: Any, api: Any
) -> None:
    publish_rates(api, ("JPY", str(days_ago(60)), "0.0067"))
    forget_cached_exchange_rates()
    status, created, _ = api(
        "create_budget", "POST", BUDGETS, auth=ADMIN, body=budget("JPY", str(today().replace(day=1)))
    )
    assert status == 201

    def check(usd: str) -> dict[str, Any]:
        status, decision, _ = api(
            "check_budget_enforcement",
            "POST",
            f"{BUDGETS}/{created['id']}/check-enforcement",
            auth=SYSTEM,
            body={"operationType": "ai_generation", "estimatedCostUsd": usd},
            path_parameters={"budget_id": created["id"]},
        )
        assert status == 200, decision
        return decision

    # 50 USD is 7,462.69 JPY (75% of 10,000): allowed, and reserved in yen; 30 USD more (4,477.61 JPY) would reach 120%.
    assert check("50")["allowed"] is True
    blocked = check("30")
    assert blocked["allowed"] is False and blocked["percentUsed"] == pytest.approx(119.4, abs=0.1)


@pytest.mark.parametrize(("currency", "start"), [("GBP", "2024-09-01"), ("EUR", "2024-08-01"), ("eur", "2024-09-01")])
def test_a_budget_in_a_currency_without_rates_from_its_start_is_refused(
    clickhouse: Any, postgres: Any, api: Any, euro_rates: None, currency: str, start: str
) -> None:
    status, reply, _ = api("create_budget", "POST", BUDGETS, auth=ADMIN, body=budget(currency, start))

    assert status == 422 and reply["errors"][0]["loc"] == ["body", "currency"], reply


def test_a_budgets_currency_is_set_at_creation(clickhouse: Any, postgres: Any, api: Any, euro_rates: None) -> None:
    status, created, _ = api("create_budget", "POST", BUDGETS, auth=ADMIN, body=budget("EUR", "2024-09-01"))
    assert status == 201

    status, reply, _ = api(
        "update_budget",
        "PATCH",
        f"{BUDGETS}/{created['id']}",
        auth=ADMIN,
        body={"currency": "USD", "version": 1},
        path_parameters={"budget_id": created["id"]},
    )

    assert status == 422 and reply["errors"][0]["loc"] == ["body", "currency"]


# --- what the reader leaves out (finops.costs.queries.imported_currencies) ---------------------------------------


def _reported(client: Any, tenant: str, start: date, end: date, **options: Any) -> Decimal:
    rows_sql, params = effective_rows([tenant], start, end, **options)
    return client.query(f"SELECT sum(reported_cost) FROM ({rows_sql})", parameters=params).result_rows[0][0]


def test_the_reader_leaves_out_what_a_tenant_does_not_have_and_every_total_stays_exact(
    clickhouse: Any, api: Any, euro_rates: None
) -> None:
    api(
        "ingest_telemetry",
        "POST",
        TELEMETRY,
        auth=SYSTEM,
        body={"events": [event(t, days_ago(1), costUsd="2.5") for t in ("acme", "globex")]},
    )
    import_focus(euro_bill(), tenantId="globex")
    import_focus(sample_text(), tenantId="globex")  # USD rows too
    index = imported_currencies(clickhouse)
    assert index.of(["acme"]) == frozenset() and index.of(["globex"]) == {"EUR", "USD"}

    plain_sql, _ = effective_rows(["acme"], SEPTEMBER[0], today(), imported=index)
    assert "imported_costs" not in plain_sql and "exchange_rates" not in plain_sql  # telemetry, nothing to convert
    converting_sql, _ = effective_rows(["globex"], SEPTEMBER[0], today(), imported=index)
    assert "imported_costs" in converting_sql and "exchange_rates" in converting_sql
    for tenant in ("acme", "globex"):
        for currency in ("USD", "EUR"):
            for metric in ("effective", "billed"):
                options = {"currency": currency, "metric": metric}
                everything = _reported(clickhouse, tenant, SEPTEMBER[0], today(), **options)
                assert _reported(clickhouse, tenant, SEPTEMBER[0], today(), imported=index, **options) == everything
    assert _reported(clickhouse, "acme", SEPTEMBER[0], today()) == Decimal("2.5")


def test_a_currency_imported_since_the_index_was_loaded_is_left_out_never_summed_as_the_reports(
    clickhouse: Any, api: Any, euro_rates: None
) -> None:
    import_focus(euro_bill(), tenantId="acme")
    # Indexes another container may still hold for up to a minute: from before the import, or before its euros.
    for stale in (ImportedCurrencies({}), ImportedCurrencies({"acme": frozenset({"USD"})})):
        assert _reported(clickhouse, "acme", *SEPTEMBER, imported=stale, metric="billed") == 0
    fresh = imported_currencies(clickhouse)
    assert _reported(clickhouse, "acme", *SEPTEMBER, imported=fresh, metric="billed") == Decimal(110)


def test_an_import_shows_at_once_in_the_container_that_made_it(clickhouse: Any, api: Any, euro_rates: None) -> None:
    query = {"tenantId": "acme", "from": "2024-09-01", "to": "2024-09-30", "metric": "billed", "granularity": "total"}
    status, before, _ = api("get_costs", "GET", COSTS, auth=ADMIN, query=query)  # loads the index: no imports
    assert status == 200 and before["total"] == 0
    import_focus(euro_bill(), tenantId="acme")
    status, after, _ = api("get_costs", "GET", COSTS, auth=ADMIN, query=query)
    assert status == 200 and after["total"] == pytest.approx(110)
