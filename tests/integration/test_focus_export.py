"""Exporting FOCUS: the file obeys the FOCUS 1.0 rules (tests/focus/spec_rules.py is the judge) and round-trips:
exported, imported into a fresh tenant, the same totals to the last decimal."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from finops.focus import export as focus_export
from tests.conftest import claims
from tests.factories import COSTS, TELEMETRY, days_ago, event
from tests.focus.spec_rules import violations
from tests.integration.helpers_focus import (
    SAMPLE_BILLED,
    SAMPLE_EFFECTIVE,
    SYSTEM,
    exact_totals,
    import_focus,
    sample_text,
)

SEPTEMBER = {"from": "2024-09-01", "to": "2024-09-30"}
USER = claims("acme", "user")


def export(api: Any, tenant: str = "acme", **query: str) -> tuple[int, Any, dict[str, str]]:
    status, body, headers = api(
        "get_costs", "GET", COSTS, auth=SYSTEM, query={"tenantId": tenant, "format": "focus", **query}
    )
    return status, body, headers


def ingest_telemetry(api: Any, tenant: str = "acme") -> None:
    events = [
        event(tenant, days_ago(3), "AI", model="gpt-4o", inputTokens=120_000, outputTokens=30_000),
        event(tenant, days_ago(3), "AI", model="claude-sonnet-4-5", costUsd="0.123456789012"),
        event(tenant, days_ago(2), "COMPUTE", vcpuSeconds=3600, memoryGbSeconds=7200),
        event(tenant, days_ago(2), "STORAGE", gbHours=240),
        event(tenant, days_ago(1), "EXPORT", exportType="pdf", exports=3, bytes=5_000_000),
        event(tenant, days_ago(1), "EGRESS", region="ap-southeast-1", bytes=2_000_000_000),
    ]
    status, body, _ = api("ingest_telemetry", "POST", TELEMETRY, auth=SYSTEM, body={"events": events})
    assert status == 200 and body["accepted"] == len(events), body


def test_the_export_of_imported_cost_obeys_the_focus_rules(clickhouse: Any, api: Any) -> None:
    import_focus(sample_text(), tenantId="acme")

    status, text, headers = export(api, **SEPTEMBER)

    assert status == 200, text
    assert headers["Content-Type"] == "text/csv; charset=utf-8; header=present"
    assert headers["Content-Disposition"] == 'attachment; filename="focus-acme-2024-09-01-2024-09-30.csv"'
    assert violations(text) == []
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["ProviderName"] for r in rows} == {"AWS", "Microsoft", "Oracle"}
    assert {r["SubAccountId"] for r in rows} == {"acme"}
    assert (
        rows[0]["ChargePeriodStart"] == "2024-09-01T00:00:00Z" and rows[0]["ChargePeriodEnd"] == "2024-09-02T00:00:00Z"
    )
    assert sum(Decimal(r["BilledCost"]) for r in rows) == SAMPLE_BILLED
    assert sum(Decimal(r["EffectiveCost"]) for r in rows) == SAMPLE_EFFECTIVE


def test_the_export_of_telemetry_obeys_the_focus_rules(clickhouse: Any, api: Any) -> None:
    ingest_telemetry(api)

    status, text, _ = export(api, **{"from": str(days_ago(5)), "to": str(days_ago(1))})

    assert status == 200 and violations(text) == [], text[:2000]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["x_Source"] for r in rows} == {"telemetry"}
    assert {r["ProviderName"] for r in rows} == {"FinOps Cost Explorer"}
    assert {r["PricingUnit"] for r in rows} >= {"1000000 Tokens", "vCPU-Seconds", "GB-Hours", "Exports", "GB"}
    assert {r["ServiceCategory"] for r in rows} == {
        "AI and Machine Learning",
        "Compute",
        "Storage",
        "Analytics",
        "Networking",
    }
    assert all(r["BilledCost"] == r["EffectiveCost"] == r["ListCost"] for r in rows)


@pytest.mark.parametrize("source", ["imported", "telemetry"])
def test_an_export_imported_into_a_fresh_tenant_has_the_same_totals(clickhouse: Any, api: Any, source: str) -> None:
    if source == "imported":
        import_focus(sample_text(), tenantId="acme")
        first, last = date(2024, 9, 1), date(2024, 9, 30)
    else:
        ingest_telemetry(api)
        first, last = days_ago(5), days_ago(1)
    status, text, _ = export(api, **{"from": str(first), "to": str(last)})
    assert status == 200

    status, reply = import_focus(text, tenantId="acme-copy")

    assert status == 200 and reply["rowsSkipped"] == 0, reply
    original = exact_totals(clickhouse, ["acme"], first, last)
    copy = exact_totals(clickhouse, ["acme-copy"], first, last)
    assert (copy["billed"], copy["effective"]) == (original["billed"], original["effective"])
    # Our own columns come back too: categories, subcategories and models are those of the original.
    for column in ("service_category", "service_subcategory", "model", "region_id", "service_name", "charge_category"):
        assert exact_totals(clickhouse, ["acme-copy"], first, last, group_by=column) == exact_totals(
            clickhouse, ["acme"], first, last, group_by=column
        ), column


def test_an_export_of_an_empty_range_is_a_header(clickhouse: Any, api: Any) -> None:
    status, text, _ = export(api, **SEPTEMBER)

    assert status == 200 and text.splitlines() == [",".join(focus_export.COLUMNS)]


@pytest.mark.parametrize(
    ("query", "field"),
    [({"groupBy": "model"}, "groupBy"), ({"granularity": "monthly"}, "granularity"), ({"currency": "EUR"}, "currency")],
)
def test_an_export_takes_no_grouping_period_or_conversion(
    clickhouse: Any, api: Any, query: dict[str, str], field: str
) -> None:
    status, body, _ = export(api, **SEPTEMBER, **query)

    assert status == 422 and body["errors"][0]["loc"] == ["query", field], body


def test_an_export_too_large_for_one_reply_asks_for_fewer_days(
    clickhouse: Any, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_focus(sample_text(), tenantId="acme")
    monkeypatch.setattr(focus_export, "MAX_EXPORT_ROWS", 10)

    status, body, _ = export(api, **SEPTEMBER)

    assert status == 422 and "fewer days" in body["detail"]


def test_only_readers_of_the_tenant_export_it(clickhouse: Any, api: Any) -> None:
    status, _, _ = api(
        "get_costs",
        "GET",
        COSTS,
        auth=claims("globex", "user"),
        query={"tenantId": "acme", "format": "focus", **SEPTEMBER},
    )
    assert status == 403
    status, _, _ = api("get_costs", "GET", COSTS, auth=USER, query={"tenantId": "acme", "format": "focus", **SEPTEMBER})
    assert status == 200


def test_the_judge_finds_what_the_official_sample_does_not_follow() -> None:
    """The checker is strict enough to catch the sample's known quirks (tests/data/README.md), so a clean export
    means something."""
    found = violations(sample_text(), limit=10_000)

    assert any("not in the Date/Time Format" in v for v in found)  # `2024-09-18 23:00:00`
    assert any("ChargeFrequency: 'Usage-based' is not one of the allowed values" in v for v in found)
    assert any("an empty string" in v for v in found)
    assert any("column Id: neither a FOCUS 1.0 column nor x_-prefixed" in v for v in found)
