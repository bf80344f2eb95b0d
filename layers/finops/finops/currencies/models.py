"""Request and response models of the exchange-rate endpoints."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import Field, field_validator

from finops.models.common import CURRENCY, ApiDate, CurrencyCode, Label, Reply, RequestBody

MAX_USD_PER_UNIT = Decimal(10**6)

UsdPerUnit = Annotated[
    Decimal,
    Field(
        gt=0,
        le=MAX_USD_PER_UNIT,
        decimal_places=12,
        allow_inf_nan=False,
        description="US dollars one unit of the currency is worth: over 0, at most 10^6, 12 decimal places",
    ),
]


class ExchangeRate(Reply):
    version: int = 0
    currency: str
    effective_from: date
    usd_per_unit: Decimal = Field(description="US dollars per unit of the currency (exact)")
    source: str = ""


class NewExchangeRate(RequestBody):
    currency: CurrencyCode
    effective_from: ApiDate = Field(description="First day (UTC) the rate applies to")
    usd_per_unit: UsdPerUnit

    @field_validator("currency")
    @classmethod
    def _not_the_base(cls, value: str) -> str:
        if value == CURRENCY:
            raise ValueError(f"{CURRENCY} is the base currency: one {CURRENCY} is always 1 {CURRENCY}")
        return value


class PublishExchangeRatesRequest(RequestBody):
    source: Annotated[Label, Field(max_length=500)] = Field(
        description="Where these rates come from (e.g. ECB euro reference rates), 1 to 500 characters"
    )
    rates: list[NewExchangeRate] = Field(min_length=1, max_length=5000)


class ExchangeRatesResponse(Reply):
    as_of: date
    base: str = Field(description="Every rate is in this currency per unit of the other")
    rates: list[ExchangeRate]
