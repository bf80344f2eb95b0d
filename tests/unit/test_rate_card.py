from datetime import date
from decimal import Decimal

from finops.costs.meters import METERS_BY_NAME
from finops.costs.models import RateCardEntry
from finops.costs.rate_card import RateCard, rate_card_response


def entry(meter, key, price, effective, version=1):
    return RateCardEntry(
        version=version,
        effective_from=effective,
        meter=meter,
        price_key=key,
        unit_price=Decimal(price),
        pricing_unit=METERS_BY_NAME[meter].pricing_unit,
    )


CARD = RateCard.from_rows(
    [
        entry("input_tokens", "gpt-4o", "2.50", date(2024, 1, 1)),
        entry("input_tokens", "gpt-4o", "2.00", date(2026, 6, 1), version=2),
        entry("input_tokens", "gpt-4o-mini", "0.15", date(2024, 1, 1)),
        entry("input_tokens", "*", "3.00", date(2024, 1, 1)),
        entry("egress_gb", "*", "0.09", date(2024, 1, 1)),
        entry("egress_gb", "ap-southeast-1", "0.12", date(2024, 1, 1)),
    ]
)


def test_price_applies_from_its_effective_date():
    meter = METERS_BY_NAME["input_tokens"]
    assert CARD.price(meter, "gpt-4o", date(2026, 5, 31)).unit_price == Decimal("2.50")
    assert CARD.price(meter, "gpt-4o", date(2026, 6, 1)).unit_price == Decimal("2.00")
    assert CARD.price(meter, "gpt-4o", date(2026, 6, 1)).version == 2


def test_dated_model_snapshots_resolve_to_the_longest_matching_card_model():
    assert CARD.resolve_model("gpt-4o-2024-08-06") == "gpt-4o"
    assert CARD.resolve_model("gpt-4o-mini-2024-07-18") == "gpt-4o-mini"
    assert CARD.resolve_model("gpt-4obscure") is None


def test_model_missing_from_card_is_priced_by_the_fallback_and_flagged():
    price = CARD.price(METERS_BY_NAME["input_tokens"], "some-new-model", date(2026, 1, 1))
    assert price.unit_price == Decimal("3.00")
    assert price.is_fallback


def test_region_price_falls_back_to_the_meter_default_without_a_flag():
    meter = METERS_BY_NAME["egress_gb"]
    assert CARD.price(meter, "ap-southeast-1", date(2026, 1, 1)).unit_price == Decimal("0.12")
    default = CARD.price(meter, "eu-north-1", date(2026, 1, 1))
    assert default.unit_price == Decimal("0.09")
    assert not default.is_fallback


def test_no_price_before_the_first_version():
    assert CARD.price(METERS_BY_NAME["input_tokens"], "gpt-4o", date(2023, 12, 31)) is None


def test_rate_card_response_lists_the_prices_in_effect_on_a_day():
    reply = rate_card_response(CARD, date(2026, 7, 1))
    gpt4o = [p for p in reply.prices if p.meter == "input_tokens" and p.price_key == "gpt-4o"]
    assert [p.unit_price for p in gpt4o] == [Decimal("2.00")]
