"""Exchange rates: effective-dated rates of each currency in USD, published in versions like the rate card.

Costs are stored in their billing currency (FOCUS `BillingCurrency`; rated telemetry is in USD, the rate card's
currency) and converted when a report asks for another one: the cost queries convert in SQL with the rates in effect
on each day (finops.costs.queries); this module publishes and reads the table, and converts single figures in Python
(an import checks that each row's currency has a rate for its day; a budget's enforcement estimate is converted into
the budget's currency). A currency without a rate for a day is never converted at 1:1: the import reports the row,
a report answers 422 naming `currency`.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Annotated

from clickhouse_connect.driver.client import Client
from pydantic import Field, field_validator

from finops.cache import Expiring
from finops.models.common import CURRENCY, WIDE, ApiDate, CurrencyCode, Label, Reply, RequestBody, quantize

CACHE_SECONDS = 60.0
RATE_QUANTUM = Decimal("0.000000000001")  # 12 decimals, as stored
MAX_USD_PER_UNIT = Decimal(10**6)


class NoExchangeRate(LookupError):
    """No rate of a currency is in effect on a day."""

    def __init__(self, currency: str, day: date) -> None:
        super().__init__(f"no exchange rate for {currency} on {day.isoformat()}")
        self.currency = currency
        self.day = day


@dataclass
class ExchangeRates:
    """Every published rate, by currency: effective dates (sorted) and the rate from each."""

    _dates: dict[str, list[date]] = field(default_factory=lambda: defaultdict(list))
    _rates: dict[str, list[Decimal]] = field(default_factory=lambda: defaultdict(list))
    rows: list[ExchangeRate] = field(default_factory=list)

    @classmethod
    def from_rows(cls, rows: list[ExchangeRate]) -> ExchangeRates:
        rates = cls(rows=sorted(rows, key=lambda r: (r.currency, r.effective_from)))
        for row in rates.rows:
            rates._dates[row.currency].append(row.effective_from)
            rates._rates[row.currency].append(row.usd_per_unit)
        return rates

    def usd_per_unit(self, currency: str, day: date) -> Decimal:
        """US dollars per unit of `currency` on `day`; raises NoExchangeRate when none is in effect."""
        if currency == CURRENCY:
            return Decimal(1)
        dates = self._dates.get(currency, [])
        index = bisect.bisect_right(dates, day) - 1
        if index < 0:
            raise NoExchangeRate(currency, day)
        return self._rates[currency][index]

    def has_rate(self, currency: str, day: date) -> bool:
        try:
            self.usd_per_unit(currency, day)
        except NoExchangeRate:
            return False
        return True

    def convert(self, amount: Decimal, source: str, target: str, day: date) -> Decimal:
        """`amount` of `source` in `target` on `day`, truncated to 12 decimals, as the cost queries convert."""
        if source == target:
            return amount
        in_usd = WIDE.multiply(amount, self.usd_per_unit(source, day))
        return quantize(WIDE.divide(in_usd, self.usd_per_unit(target, day)), RATE_QUANTUM, ROUND_DOWN)


# --- loading, caching and publishing -------------------------------------------------------------------

_cached = Expiring[ExchangeRates](CACHE_SECONDS)


def current_exchange_rates(client: Client, *, max_age_seconds: float = CACHE_SECONDS) -> ExchangeRates:
    """The rates, reused for a minute per container: a published change reaches every function within a minute."""
    return _cached.get(lambda: load_exchange_rates(client), max_age_seconds=max_age_seconds)


def forget_cached_exchange_rates() -> None:
    _cached.forget()


def load_exchange_rates(client: Client) -> ExchangeRates:
    result = client.query(
        "SELECT version, effective_from, toString(currency), usd_per_unit, source "
        "FROM exchange_rates FINAL ORDER BY currency, effective_from"
    )
    return ExchangeRates.from_rows(
        [
            ExchangeRate(version=r[0], effective_from=r[1], currency=r[2], usd_per_unit=r[3], source=r[4])
            for r in result.result_rows
        ]
    )


_RATE_COLUMNS = ["version", "effective_from", "currency", "usd_per_unit", "source", "published_at"]


def publish_exchange_rates(client: Client, request: PublishExchangeRatesRequest) -> ExchangeRatesResponse:
    """Add a version: each rate applies to its currency from its `effectiveFrom` until a later one takes over."""
    version = int(str(client.command("SELECT max(version) FROM exchange_rates") or 0)) + 1
    published_at = datetime.now(UTC)
    client.insert(
        "exchange_rates",
        [[version, r.effective_from, r.currency, r.usd_per_unit, request.source, published_at] for r in request.rates],
        column_names=_RATE_COLUMNS,
    )
    forget_cached_exchange_rates()
    return exchange_rates_response(load_exchange_rates(client), as_of=max(r.effective_from for r in request.rates))


def exchange_rates_response(rates: ExchangeRates, as_of: date) -> ExchangeRatesResponse:
    """The rates in effect on `as_of`: for each currency the latest rate effective by then."""
    latest: dict[str, ExchangeRate] = {}
    for row in rates.rows:
        if row.effective_from <= as_of:
            latest[row.currency] = row
    return ExchangeRatesResponse(as_of=as_of, base=CURRENCY, rates=[latest[c] for c in sorted(latest)])


# --- API models ----------------------------------------------------------------------------------------

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
    effective_from: date = Field(alias="effectiveFrom")
    usd_per_unit: Decimal = Field(alias="usdPerUnit", description="US dollars per unit of the currency (exact)")
    source: str = ""


class NewExchangeRate(RequestBody):
    currency: CurrencyCode
    effective_from: ApiDate = Field(alias="effectiveFrom", description="First day (UTC) the rate applies to")
    usd_per_unit: UsdPerUnit = Field(alias="usdPerUnit")

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
    as_of: date = Field(alias="asOf")
    base: str = Field(description="Every rate is in this currency per unit of the other")
    rates: list[ExchangeRate]
