from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from finops.costs.meters import METERS_BY_NAME
from finops.costs.models import RateCardEntry
from finops.costs.rate_card import RateCard
from finops.costs.rating import rate_event, split_cost
from finops.costs.telemetry import parse_event


def entry(meter, key, price):
    return RateCardEntry(
        version=1,
        effective_from=date(2024, 1, 1),
        meter=meter,
        price_key=key,
        unit_price=Decimal(price),
        pricing_unit=METERS_BY_NAME[meter].pricing_unit,
    )


CARD = RateCard.from_rows(
    [
        entry("input_tokens", "gpt-4o", "2.50"),
        entry("cached_input_tokens", "gpt-4o", "1.25"),
        entry("output_tokens", "gpt-4o", "10.00"),
        entry("input_tokens", "*", "3.00"),
        entry("output_tokens", "*", "15.00"),
        entry("cached_input_tokens", "*", "0.30"),
        entry("vcpu_seconds", "*", "0.00001"),
        entry("memory_gb_seconds", "*", "0.000001"),
        entry("gb_hours", "*", "0.00003"),
        entry("exports", "*", "0.001"),
        entry("exports", "pdf", "0.002"),
        entry("export_gb", "*", "0.09"),
        entry("egress_gb", "*", "0.09"),
    ]
)

BASE = {"tenantId": "acme", "timestamp": "2026-01-05T10:00:00Z", "service": "svc", "region": "us-east-1"}


def rated(**fields):
    return rate_event(parse_event({"eventId": "e", **BASE, **fields}), CARD)


def test_ai_tokens_are_priced_per_million_by_model_and_meter():
    r = rated(category="AI", model="gpt-4o", inputTokens=1_000_000, outputTokens=500_000, cachedInputTokens=200_000)
    assert dict(zip(r.meters, r.costs, strict=True)) == {
        "input_tokens": Decimal("2.5"),
        "cached_input_tokens": Decimal("0.25"),
        "output_tokens": Decimal("5"),
    }
    assert r.priced_by == "rate_card"


def test_unknown_model_is_priced_by_fallback_and_flagged():
    r = rated(category="AI", model="frontier-x", inputTokens=1_000_000, outputTokens=0)
    assert r.costs == [Decimal("3")]
    assert r.priced_by == "fallback"


def test_compute_storage_export_and_egress_are_priced_by_their_meters():
    compute = rated(category="COMPUTE", vcpuSeconds=3600, memoryGbSeconds=7200)
    assert sum(compute.costs) == Decimal("0.036") + Decimal("0.0072")
    storage = rated(category="STORAGE", gbHours="1000.5")
    assert storage.costs == [Decimal("0.030015")]
    export = rated(category="EXPORT", exportType="pdf", exports=10, bytes=2_000_000_000)
    assert dict(zip(export.meters, export.costs, strict=True)) == {
        "exports": Decimal("0.02"),
        "export_gb": Decimal("0.18"),
    }
    egress = rated(category="EGRESS", bytes=500_000_000)
    assert egress.costs == [Decimal("0.045")]
    assert egress.quantities == [Decimal("0.5")]


def test_caller_cost_is_kept_exactly_and_split_by_card_weights():
    r = rated(category="AI", model="gpt-4o", inputTokens=1_000_000, outputTokens=1_000_000, costUsd="0.1")
    assert r.priced_by == "caller"
    assert sum(r.costs) == Decimal("0.1")
    assert r.costs[0] < r.costs[1]  # output tokens cost 4x input on the card


def test_event_with_no_usage_is_recorded_at_zero_cost():
    r = rated(category="EGRESS", bytes=0)
    assert r.costs == [Decimal(0)]


@given(
    total=st.decimals(min_value=0, max_value=10**6, places=9, allow_nan=False, allow_infinity=False),
    weights=st.lists(st.decimals(min_value=0, max_value=1000, places=6, allow_nan=False), min_size=1, max_size=3),
)
def test_split_cost_parts_add_up_exactly_and_are_never_negative(total, weights):
    parts = split_cost(total, weights)
    assert sum(parts) == total
    assert all(p >= 0 for p in parts)
    assert len(parts) == len(weights)
