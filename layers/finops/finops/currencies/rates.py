"""Exchange rates: effective-dated rates of each currency in USD, published in versions like the rate card.

Costs are stored in their billing currency (FOCUS `BillingCurrency`; rated telemetry is in USD, the rate card's
currency) and converted when a report asks for another one: the cost queries convert in SQL with the rates in effect
on each day (finops.costs.queries); this module publishes and reads the table (its SQL: finops.currencies.store; its
API models: finops.currencies.models), and converts single figures in Python
(an import checks that each row's currency has a rate for its day; a budget's enforcement estimate is converted into
the budget's currency). A currency without a rate for a day is never converted at 1:1: the import reports the row,
a report answers 422 naming `currency`.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, Decimal

from clickhouse_connect.driver.client import Client

from finops.cache import Expiring
from finops.currencies.models import ExchangeRate, ExchangeRatesResponse, PublishExchangeRatesRequest
from finops.currencies.store import exchange_rate_rows, insert_exchange_rates_version
from finops.models.common import CURRENCY, WIDE, quantize

CACHE_SECONDS = 60.0
RATE_QUANTUM = Decimal("0.000000000001")  # 12 decimals, as stored


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
    return ExchangeRates.from_rows(exchange_rate_rows(client))


def publish_exchange_rates(client: Client, request: PublishExchangeRatesRequest) -> ExchangeRatesResponse:
    """Add a version: each rate applies to its currency from its `effectiveFrom` until a later one takes over."""
    insert_exchange_rates_version(client, request)
    forget_cached_exchange_rates()
    return exchange_rates_response(load_exchange_rates(client), as_of=max(r.effective_from for r in request.rates))


def exchange_rates_response(rates: ExchangeRates, as_of: date) -> ExchangeRatesResponse:
    """The rates in effect on `as_of`: for each currency the latest rate effective by then."""
    latest: dict[str, ExchangeRate] = {}
    for row in rates.rows:
        if row.effective_from <= as_of:
            latest[row.currency] = row
    return ExchangeRatesResponse(as_of=as_of, base=CURRENCY, rates=[latest[c] for c in sorted(latest)])
