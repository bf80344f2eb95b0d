"""The pieces of the FOCUS import and of currency conversion that need no database."""

from __future__ import annotations

import gzip
import io
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from finops.currencies.models import ExchangeRate
from finops.currencies.rates import ExchangeRates, NoExchangeRate
from finops.errors import PayloadTooLarge
from finops.focus.reading import csv_text
from finops.focus.rows import RowError, _amount, tenant_from_account


@pytest.mark.parametrize(
    ("value", "tenant"),
    [
        ("acme", "acme"),
        ("123456789012", "123456789012"),
        ("/subscriptions/64e355d7-997c-491d-b0c1-8414dccfcf42", "subscriptions:64e355d7-997c-491d-b0c1-8414dccfcf42"),
        ("ocid1.tenancy.oc1..aaaa", "ocid1.tenancy.oc1..aaaa"),
        ("Des Moines", None),
        ("/", None),
        ("x" * 129, None),
    ],
)
def test_a_provider_account_id_names_a_tenant(value: str, tenant: str | None) -> None:
    assert tenant_from_account(value) == tenant


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("0.00000080000", Decimal("0.00000080000")),
        ("-2.61370000000", Decimal("-2.6137")),
        ("35.2E-7", Decimal("0.00000352")),
        ("1.0000000000005", Decimal("1.000000000000")),  # 13 decimals: half to even
        ("1.0000000000015", Decimal("1.000000000002")),
    ],
)
def test_amounts_keep_twelve_decimals(text: str, amount: Decimal) -> None:
    assert _amount(text, "BilledCost") == amount


@pytest.mark.parametrize("text", ["12,5", "$3", "NaN", "-Infinity", "1E16", "1 1/2"])
def test_amounts_outside_the_numeric_format_are_row_errors(text: str) -> None:
    with pytest.raises(RowError) as raised:
        _amount(text, "BilledCost")
    assert raised.value.column == "BilledCost"


def test_a_gzip_stream_is_read_as_its_text_and_a_bom_is_dropped() -> None:
    raw = "\ufeffBilledCost\r\n1\r\n".encode()

    assert csv_text(io.BytesIO(gzip.compress(raw))).read() == "BilledCost\r\n1\r\n"
    assert csv_text(io.BytesIO(raw)).read() == "BilledCost\r\n1\r\n"


def test_a_stream_longer_than_its_limit_is_too_large_once_decompressed() -> None:
    compressed = gzip.compress(b"0" * 1_000_000)  # a kilobyte of gzip, a megabyte of text
    assert len(compressed) < 10_000

    with pytest.raises(PayloadTooLarge):
        csv_text(io.BytesIO(compressed), max_bytes=500_000).read()


RATES = ExchangeRates.from_rows(
    [
        ExchangeRate(currency="EUR", effective_from=date(2024, 9, 1), usd_per_unit=Decimal("1.10")),
        ExchangeRate(currency="EUR", effective_from=date(2024, 9, 15), usd_per_unit=Decimal("1.20")),
        ExchangeRate(currency="JPY", effective_from=date(2024, 1, 1), usd_per_unit=Decimal("0.0067")),
    ]
)


def test_a_rate_applies_from_its_day_until_the_next_one() -> None:
    assert RATES.usd_per_unit("EUR", date(2024, 9, 14)) == Decimal("1.10")
    assert RATES.usd_per_unit("EUR", date(2024, 9, 15)) == Decimal("1.20")
    assert RATES.usd_per_unit("USD", date(1999, 1, 1)) == 1
    with pytest.raises(NoExchangeRate, match="EUR on 2024-08-31"):
        RATES.usd_per_unit("EUR", date(2024, 8, 31))
    assert not RATES.has_rate("GBP", date(2024, 9, 15))


def test_conversions_go_through_usd_and_truncate_to_twelve_decimals() -> None:
    day = date(2024, 9, 20)
    assert RATES.convert(Decimal(100), "EUR", "USD", day) == Decimal("120")
    assert RATES.convert(Decimal("6.7"), "USD", "JPY", day) == Decimal("1000.000000000000")
    assert RATES.convert(Decimal(1), "USD", "EUR", day) == Decimal("0.833333333333")
    assert RATES.convert(Decimal(1), "EUR", "JPY", day) == Decimal("179.104477611940")


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=12, allow_nan=False, allow_infinity=False))
def test_converting_there_and_back_loses_at_most_the_truncation(amount: Decimal) -> None:
    day = date(2024, 9, 20)
    back = RATES.convert(RATES.convert(amount, "EUR", "JPY", day), "JPY", "EUR", day)
    assert abs(back - amount) <= Decimal("1e-11")
