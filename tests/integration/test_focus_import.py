"""Importing FOCUS cost data: the official sample to the last decimal, its quirks, whose cost each row is,
re-imports and re-stated bills, bad files and bad rows, bounded memory, and imported cost in every reader."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from finops.currencies.rates import ExchangeRates
from finops.focus import service as focus_service
from finops.focus.importer import import_focus
from finops.focus.rows import ImportTarget
from tests.conftest import claims
from tests.factories import COSTS, days_ago, today
from tests.focus.bills import BILL_COLUMNS, GeneratedBill, bill_row, focus_rows
from tests.integration.helpers_focus import (
    SAMPLE_BILLED,
    SAMPLE_EFFECTIVE,
    budget_status,
    exact_totals,
    sample_text,
)
from tests.integration.helpers_focus import (
    import_focus as post_import,
)

SEPTEMBER = (date(2024, 9, 1), date(2024, 9, 30))
ACME_ADMIN = claims("acme", "admin")


def per_source(body: dict[str, Any]) -> dict[str, tuple[int, str, str]]:
    return {s["source"]: (s["rows"], s["billedCost"], s["effectiveCost"]) for s in body["bySource"]}


# --- the sample, exactly -----------------------------------------------------------------------------------------


def test_the_sample_imports_whole_with_its_exact_totals(clickhouse: Any) -> None:
    status, body = post_import(sample_text(), auth=ACME_ADMIN, tenantId="acme")

    assert status == 200, body
    assert (body["rowsRead"], body["rowsImported"], body["rowsSkipped"], body["skipped"]) == (1000, 1000, 0, [])
    assert body["totals"] == [
        {"currency": "USD", "rows": 1000, "billedCost": "20.52022672899", "effectiveCost": "14.97651418586"}
    ]
    # Stored and read back by the cost queries to the last decimal.
    totals = exact_totals(clickhouse, ["acme"], *SEPTEMBER)
    assert (totals["billed"], totals["effective"]) == (SAMPLE_BILLED, SAMPLE_EFFECTIVE)


def test_the_sample_totals_per_provider(clickhouse: Any) -> None:
    status, body = post_import(sample_text(), tenantId="acme")

    assert status == 200
    assert per_source(body) == {
        "focus:AWS": (942, "18.00663861840", "13.00000000000"),
        "focus:Microsoft": (51, "1.97651418586", "1.97651418586"),
        # The 7 Oracle rows are the ones spelt `Usage-based`: imported like the others.
        "focus:Oracle": (7, "0.53707392473", "0.00000000000"),
    }
    stored = exact_totals(clickhouse, ["acme"], *SEPTEMBER, group_by="source")
    assert stored["focus:AWS:billed"] == Decimal("18.00663861840")
    assert stored["focus:Microsoft:effective"] == Decimal("1.97651418586")
    assert stored["focus:Oracle:billed"] == Decimal("0.53707392473")


def test_negative_rows_count_negative_and_charge_categories_are_kept(clickhouse: Any, api: Any) -> None:
    """The sample's 13 negative rows: an AWS credit of -2.6137 (EffectiveCost -3) and 12 negative Azure usage rows;
    two Oracle adjustments are positive."""
    post_import(sample_text(), tenantId="acme")
    rows = list(csv.DictReader(io.StringIO(sample_text())))
    negative = [r for r in rows if Decimal(r["BilledCost"]) < 0]
    assert len(negative) == 13

    def total(charges: str) -> float:
        status, reply, _ = api(
            "get_costs",
            "GET",
            COSTS,
            auth=claims("acme", "user"),
            query={
                "tenantId": "acme",
                "from": "2024-09-01",
                "to": "2024-09-30",
                "metric": "billed",
                "granularity": "total",
                "chargeCategories": charges,
            },
        )
        assert status == 200, reply
        return float(reply["total"])

    assert total("Credit") == pytest.approx(-2.6137)
    assert total("Adjustment") == pytest.approx(0.272)
    assert total("Usage") + total("Credit") + total("Adjustment") == pytest.approx(float(SAMPLE_BILLED))
    by_charge = exact_totals(clickhouse, ["acme"], *SEPTEMBER, group_by="charge_category")
    assert by_charge["Credit:effective"] == Decimal("-3")
    assert sum(Decimal(r["BilledCost"]) for r in negative if r["ChargeCategory"] == "Usage") < 0


def test_null_tokens_are_nulls_and_a_row_without_a_region_has_none(clickhouse: Any) -> None:
    post_import(sample_text(), tenantId="acme")

    regions = exact_totals(clickhouse, ["acme"], *SEPTEMBER, group_by="region_id")
    # The 7 Oracle rows have RegionId NULL: no region, not a region called "NULL".
    assert "NULL:billed" not in regions
    assert regions[":billed"] == Decimal("0.53707392473")


def test_hourly_rows_are_summed_per_day_on_the_day_their_charge_starts(clickhouse: Any, api: Any) -> None:
    post_import(sample_text(), tenantId="acme")
    rows = list(csv.DictReader(io.StringIO(sample_text())))
    expected: dict[str, Decimal] = {}
    for row in rows:
        day = row["ChargePeriodStart"][:10]
        expected[day] = expected.get(day, Decimal(0)) + Decimal(row["EffectiveCost"])

    status, reply, _ = api(
        "get_costs",
        "GET",
        COSTS,
        auth=ACME_ADMIN,
        query={"tenantId": "acme", "from": "2024-09-01", "to": "2024-09-30"},
    )

    assert status == 200 and reply["metric"] == "effective"
    # Replies are rounded to micro-units: each day within half of one.
    assert {r["period"]: r["cost"] for r in reply["rows"]} == pytest.approx(
        {d: float(c) for d, c in expected.items()}, abs=5e-7
    )


def test_categories_map_and_the_focus_category_is_the_subcategory(clickhouse: Any) -> None:
    post_import(sample_text(), tenantId="acme")

    categories = exact_totals(clickhouse, ["acme"], *SEPTEMBER, group_by="service_category")
    subcategories = exact_totals(clickhouse, ["acme"], *SEPTEMBER, group_by="service_subcategory")
    assert {k.split(":")[0] for k in categories} == {"AI", "COMPUTE", "STORAGE", "EGRESS", "OTHER"}
    assert "Networking:billed" in subcategories and "Databases:billed" in subcategories
    assert categories["OTHER:billed"] == sum(
        v for k, v in subcategories.items()
        if k.endswith(":billed") and k.split(":")[0] not in ("AI and Machine Learning", "Compute", "Storage", "Networking")
    )  # fmt: skip


# --- whose cost ----------------------------------------------------------------------------------------------------


def test_without_a_tenant_sub_accounts_name_the_tenants_azure_paths_included(clickhouse: Any) -> None:
    status, body = post_import(sample_text())  # system, tenant from SubAccountId

    assert status == 200 and body["rowsImported"] == 1000, body
    rows = list(csv.DictReader(io.StringIO(sample_text())))
    azure = "/subscriptions/64e355d7-997c-491d-b0c1-8414dccfcf42"
    tenant = "subscriptions:64e355d7-997c-491d-b0c1-8414dccfcf42"
    assert tenant in body["tenants"] and "11353890204" in body["tenants"]
    assert len(body["tenants"]) == len({r["SubAccountId"] for r in rows})
    expected = sum(Decimal(r["BilledCost"]) for r in rows if r["SubAccountId"] == azure)
    assert exact_totals(clickhouse, [tenant], *SEPTEMBER)["billed"] == expected
    everyone = exact_totals(clickhouse, body["tenants"], *SEPTEMBER)
    assert (everyone["billed"], everyone["effective"]) == (SAMPLE_BILLED, SAMPLE_EFFECTIVE)


def test_a_tag_can_name_the_tenant_and_rows_without_a_usable_one_are_skipped(clickhouse: Any) -> None:
    status, body = post_import(sample_text(), tenantTag="business_unit")

    assert status == 200
    rows = list(csv.DictReader(io.StringIO(sample_text())))
    units = [json.loads(r["Tags"]).get("business_unit") if r["Tags"] not in ("NULL", "") else None for r in rows]
    # The sample's units include `Des MoinesIT`: a space cannot be in a tenant id, so those rows are skipped too.
    usable = [u for u in units if u is not None and " " not in u]
    assert body["rowsImported"] == len(usable) and body["rowsSkipped"] == 1000 - len(usable)
    assert sorted(body["tenants"]) == sorted(set(usable))
    reasons = {s["reason"] for s in body["skipped"]}
    assert "has no tag 'business_unit': no tenant" in reasons
    assert any("'Des Moines" in r and "cannot be a tenant id" in r for r in reasons), reasons
    assert {s["column"] for s in body["skipped"]} == {"Tags"}


def test_another_column_can_name_the_tenant(clickhouse: Any) -> None:
    status, body = post_import(sample_text(), tenantColumn="BillingAccountId")

    assert status == 200
    assert sorted(body["tenants"]) == sorted(
        ["1234567890123", "providers:Microsoft.Billing:billingAccounts:8611537", "20209880"]
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"tenantId": "acme", "tenantColumn": "SubAccountId"}, "tenantId"),
        ({"tenantColumn": "SubAccountId", "tenantTag": "team"}, "tenantTag"),
        ({"tenantid": "acme"}, "tenantid"),
        ({"tenantId": "a/b"}, "tenantId"),
    ],
)
def test_whose_cost_is_given_one_way_only(clickhouse: Any, query: dict[str, str], field: str) -> None:
    status, body = post_import(sample_text(), **query)

    assert status == 422 and body["errors"][0]["loc"][-1] == field, body


# --- idempotency and re-stated bills ------------------------------------------------------------------------------


def test_importing_the_same_file_again_replaces_it(clickhouse: Any) -> None:
    for _ in range(3):
        status, _body = post_import(sample_text(), tenantId="acme")
        assert status == 200

    totals = exact_totals(clickhouse, ["acme"], *SEPTEMBER)
    assert (totals["billed"], totals["effective"]) == (SAMPLE_BILLED, SAMPLE_EFFECTIVE)


def test_a_restated_bill_replaces_the_periods_and_accounts_it_covers(clickhouse: Any) -> None:
    """September's bill, then the provider's re-statement of it: one row changed, one gone. Another account's bill
    and October stay as they were."""
    first = [bill_row(date(2024, 9, d), "10") for d in (1, 2, 3)] + [
        bill_row(date(2024, 9, 1), "5", BillingAccountId="999988887777", SubAccountId="999988887777"),
        bill_row(date(2024, 10, 1), "7"),
    ]
    restated = [bill_row(date(2024, 9, 1), "10"), bill_row(date(2024, 9, 2), "12.5")]

    post_import(focus_rows(BILL_COLUMNS, first), tenantId="acme")
    status, body = post_import(focus_rows(BILL_COLUMNS, restated), tenantId="acme")

    assert status == 200 and body["slices"] == 1
    september = exact_totals(clickhouse, ["acme"], *SEPTEMBER)
    assert september["billed"] == Decimal("10") + Decimal("12.5") + Decimal("5")
    october = exact_totals(clickhouse, ["acme"], date(2024, 10, 1), date(2024, 10, 31))
    assert october["billed"] == Decimal("7")


def test_two_imports_of_a_bill_racing_each_other_count_it_once(
    clickhouse: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Import A is halfway through its file (rows written, slices not yet recorded) when import B of the same bill
    starts and finishes; then A finishes. Whichever records last holds the slices: the bill counts once."""
    from finops.focus import importer

    monkeypatch.setattr(importer, "FLUSH_KEYS", 50)  # A has written rows by the time B runs
    text = sample_text().encode()
    target, rates = ImportTarget(tenant_id="acme"), ExchangeRates.from_rows([])

    class Interleaved(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell() > len(text) // 2 and not getattr(self, "raced", False):
                self.raced = True
                import_focus(clickhouse, io.BytesIO(text), target, rates=rates, retention_days=3653)  # B
            return super().read(size)

    import_focus(clickhouse, Interleaved(text), target, rates=rates, retention_days=3653)  # A

    imports = clickhouse.query("SELECT uniqExact(import_id) FROM imported_costs").result_rows[0][0]
    assert imports == 2  # both wrote their rows
    totals = exact_totals(clickhouse, ["acme"], *SEPTEMBER)
    assert (totals["billed"], totals["effective"]) == (SAMPLE_BILLED, SAMPLE_EFFECTIVE)


def test_an_import_that_fails_halfway_counts_nothing(clickhouse: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows are written in chunks; until the import records its slices none of them counts."""
    from finops.focus import importer

    monkeypatch.setattr(importer, "FLUSH_KEYS", 2)
    rows = [bill_row(date(2024, 9, d), "1") for d in range(1, 11)]
    calls = 0
    real_insert = clickhouse.insert

    def fail_on_the_slices(table: str, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if table == "imported_cost_slices":
            raise ConnectionError("ClickHouse went away")
        return real_insert(table, *args, **kwargs)

    monkeypatch.setattr(clickhouse, "insert", fail_on_the_slices)
    status, body = post_import(focus_rows(BILL_COLUMNS, rows), tenantId="acme")

    assert status == 503 and calls > 2, body
    monkeypatch.setattr(clickhouse, "insert", real_insert)
    assert exact_totals(clickhouse, ["acme"], *SEPTEMBER) == {}


# --- bad files and bad rows ---------------------------------------------------------------------------------------


def test_a_gzip_body_imports_like_the_plain_one(clickhouse: Any) -> None:
    status, body = post_import(sample_text(), gzip=True, tenantId="acme")

    assert status == 200 and body["totals"][0]["billedCost"] == "20.52022672899"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("date,cost\r\n2024-09-01,1\r\n", "missing columns"),
        ("", "empty"),
        (b"\x1f\x8b\x08\x00garbage", "gzip"),
        ("BilledCost,BilledCost\r\n1,2\r\n", "twice"),
        (",".join(BILL_COLUMNS) + '\r\n"1,2\r\n', "not valid CSV"),  # a quote never closed
        (b"BilledCost,\xff\xfe\r\n", "UTF-8"),
    ],
)
def test_a_file_the_import_cannot_read_is_refused_whole(clickhouse: Any, body: str | bytes, words: str) -> None:
    status, reply = post_import(body, tenantId="acme")

    assert status == 422, reply
    assert words in reply["detail"] and reply["errors"][0]["loc"][0] == "body"


def test_a_body_that_is_not_csv_is_a_415(clickhouse: Any) -> None:
    status, reply = post_import(sample_text(), content_type="application/json", tenantId="acme")

    assert status == 415 and reply["errors"][0]["loc"] == ["header", "content-type"]


def test_a_body_that_decompresses_past_the_limit_is_a_413(clickhouse: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(focus_service, "MAX_HTTP_IMPORT_BYTES", 100_000)

    status, reply = post_import(sample_text(), gzip=True, tenantId="acme")

    assert status == 413 and "S3" in reply["detail"]
    assert exact_totals(clickhouse, ["acme"], *SEPTEMBER) == {}


@pytest.mark.parametrize(
    ("change", "column", "words"),
    [
        ({"BilledCost": "NULL"}, "BilledCost", "must not be null"),
        ({"BilledCost": "12,5"}, "BilledCost", "not a number"),
        ({"EffectiveCost": "Infinity"}, "EffectiveCost", "finite"),
        ({"BilledCost": "1E+20"}, "BilledCost", "out of range"),
        ({"ChargeCategory": "Refund"}, "ChargeCategory", "must be one of"),
        ({"ChargePeriodStart": "18/09/2024"}, "ChargePeriodStart", "ISO 8601"),
        ({"ChargePeriodStart": "1999-12-31T00:00:00Z"}, "ChargePeriodStart", "older than"),
        ({"BillingCurrency": "EURO"}, "BillingCurrency", "ISO 4217"),
        ({"BillingCurrency": "CHF"}, "BillingCurrency", "no exchange rate for CHF on 2024-09-05"),
        ({"ServiceName": ""}, "ServiceName", "must not be null"),
        ({"RegionId": "r" * 300}, "RegionId", "longer than 256"),
    ],
)
def test_a_row_that_cannot_be_imported_is_skipped_with_its_line_column_and_reason(
    clickhouse: Any, change: dict[str, str], column: str, words: str
) -> None:
    rows = [bill_row(date(2024, 9, 4), "1"), bill_row(date(2024, 9, 5), "2", **change), bill_row(date(2024, 9, 6), "4")]

    status, body = post_import(focus_rows(BILL_COLUMNS, rows), tenantId="acme")

    assert status == 200, body
    assert (body["rowsRead"], body["rowsImported"], body["rowsSkipped"]) == (3, 2, 1)
    (skipped,) = body["skipped"]
    assert (skipped["line"], skipped["column"]) == (3, column)
    assert words in skipped["reason"], skipped
    assert exact_totals(clickhouse, ["acme"], *SEPTEMBER)["billed"] == Decimal(5)


def test_a_row_with_too_few_fields_is_skipped(clickhouse: Any) -> None:
    text = focus_rows(BILL_COLUMNS, [bill_row(date(2024, 9, 4), "1")]) + "1,2,3\r\n"

    status, body = post_import(text, tenantId="acme")

    assert (status, body["rowsImported"], body["skipped"][0]["line"]) == (200, 1, 3)
    assert "fields where the header has" in body["skipped"][0]["reason"]


def test_only_the_first_hundred_skipped_rows_are_listed(clickhouse: Any) -> None:
    rows = [bill_row(date(2024, 9, 4), "NULL") for _ in range(150)]

    status, body = post_import(focus_rows(BILL_COLUMNS, rows), tenantId="acme")

    assert status == 200 and body["rowsSkipped"] == 150 and len(body["skipped"]) == 100
    assert exact_totals(clickhouse, ["acme"], *SEPTEMBER) == {}


def test_bills_older_than_live_telemetry_are_kept_but_not_past_the_retention(
    clickhouse: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = today() - timedelta(days=700)  # far past the 400 days of telemetry
    rows = [bill_row(old, "3"), bill_row(today() - timedelta(days=40), "5")]
    monkeypatch.setenv("IMPORTED_COST_RETENTION_DAYS", "365")
    from finops.settings import reload_settings

    reload_settings()
    status, body = post_import(focus_rows(BILL_COLUMNS, rows), tenantId="acme")

    assert status == 200 and body["rowsImported"] == 1
    assert "retention of imported cost (365 days)" in body["skipped"][0]["reason"]
    monkeypatch.delenv("IMPORTED_COST_RETENTION_DAYS")
    reload_settings()
    status, body = post_import(focus_rows(BILL_COLUMNS, rows), tenantId="acme")
    assert body["rowsImported"] == 2
    assert exact_totals(clickhouse, ["acme"], old, old)["billed"] == Decimal(3)


# --- bounded memory -----------------------------------------------------------------------------------------------


def test_a_large_file_is_imported_in_bounded_memory(clickhouse: Any) -> None:
    bill = GeneratedBill(rows=100_000)
    tracemalloc.start()
    try:
        result = import_focus(
            clickhouse, bill, ImportTarget(tenant_id="acme"), rates=ExchangeRates.from_rows([]), retention_days=3653
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result.rows_imported == 100_000
    assert bill.size > 20_000_000
    # The file is over 20 MB; what the import holds at any time is a few MB (the day x key sums, the reply).
    assert peak < 12_000_000, f"peak {peak / 1e6:.1f} MB for a {bill.size / 1e6:.0f} MB file"
    assert exact_totals(clickhouse, ["acme"], *SEPTEMBER)["billed"] == sum(
        Decimal(f"0.{i % 997:06d}01") for i in range(100_000)
    )


# --- imported cost in every reader -------------------------------------------------------------------------------


def test_imported_cost_shows_in_the_cost_endpoints_with_its_source(clickhouse: Any, api: Any) -> None:
    post_import(sample_text(), tenantId="acme")
    query = {"tenantId": "acme", "from": "2024-09-01", "to": "2024-09-30"}
    user = claims("acme", "user")

    status, by_source, _ = api(
        "get_costs", "GET", COSTS, auth=user, query={**query, "groupBy": "source", "granularity": "total"}
    )
    assert status == 200
    assert {r["key"]: r["cost"] for r in by_source["rows"]} == pytest.approx(
        {"focus:AWS": 13.0, "focus:Microsoft": 1.976514, "focus:Oracle": 0.0}
    )
    status, billed, _ = api(
        "get_costs", "GET", COSTS, auth=user, query={**query, "metric": "billed", "granularity": "total"}
    )
    assert (status, billed["metric"], billed["total"]) == (200, "billed", pytest.approx(20.520227))
    for function, path in [
        ("get_cost_summary", "/summary"),
        ("get_top_drivers", "/top-drivers"),
        ("get_costs_by_service", "/by-service"),
        ("get_costs_by_region", "/by-region"),
    ]:
        status, reply, _ = api(function, "GET", COSTS + path, auth=user, query={**query, "metric": "billed"})
        assert status == 200 and reply["total"] == pytest.approx(20.520227), (function, reply)


def test_imported_cost_feeds_forecasts_and_anomalies(clickhouse: Any, api: Any) -> None:
    post_import(sample_text(), tenantId="acme")
    user = claims("acme", "user")

    replies = {}
    for function, path, query in [
        ("get_forecast", "/forecast", {"asOf": "2024-10-01", "historyDays": "30", "horizonDays": "7"}),
        ("get_anomalies", "/anomalies", {"from": "2024-09-01", "to": "2024-09-30", "method": "statistical"}),
    ]:
        status, replies[function], _ = api(
            function, "GET", f"/v1/analytics/finops{path}", auth=user, query={"tenantId": "acme", **query}
        )
        assert status == 200, replies[function]
    forecast = replies["get_forecast"]
    assert forecast["historyDays"] == 30 and forecast["total"]["value"] > 0


def test_a_bill_of_this_month_counts_in_budget_spend(clickhouse: Any, postgres: Any, api: Any) -> None:
    day = days_ago(1) if days_ago(1).month == today().month else today()
    budget = {
        "tenantId": "acme",
        "name": "cloud bill",
        "amount": 100,
        "period": "monthly",
        "categories": ["COMPUTE"],
        "policy": {"notifyThreshold": 50},
        "startDate": str(today().replace(day=1)),
    }
    status, created, _ = api("create_budget", "POST", "/api/ai-budget/finops/budgets", auth=ACME_ADMIN, body=budget)
    assert status == 201, created

    post_import(focus_rows(BILL_COLUMNS, [bill_row(day, "60", effective="42.5")]), auth=ACME_ADMIN, tenantId="acme")
    reply = budget_status(api, created["id"], ACME_ADMIN)

    assert reply["spent"] == 42.5 and reply["state"] == "ok", reply  # effective cost, 42.5%
