"""The versioned rate card: effective-dated unit prices, and the pricing of one event's usage.

Prices live in ClickHouse (`rate_card`, defaults in `sql/clickhouse/004_rate_card_defaults.sql`). A new
version applies to usage from its `effective_from` on; usage already ingested keeps its price unless an
aggregation is asked to re-price (`reprice: true`). Each container caches the card for a minute, so a
published change reaches every function within about a minute.

Lookup rules, in order: the meter's price for its key (model, region or export type) effective on the usage
day; for AI models, the longest card model that prefixes the model name at a '-' boundary (so
`gpt-4o-2024-08-06` is priced as `gpt-4o`, `claude-sonnet-4-5-20250929` as `claude-sonnet-4-5`); then the
meter's '*' default. For AI meters the '*' price is the documented fallback and the event is flagged.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from clickhouse_connect.driver.client import Client

from finops.cache import Expiring
from finops.costs.meters import METERS_BY_NAME, Meter
from finops.costs.models import DEFAULT_KEY, PublishRateCardRequest, RateCardEntry, RateCardResponse
from finops.costs.store import insert_rate_card_version, rate_card_entries
from finops.errors import InvalidRequest
from finops.models.common import CURRENCY, WIDE, quantize

COST_QUANTUM = Decimal("0.000000000001")  # 12 decimals, as stored
CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class Price:
    unit_price: Decimal
    version: int
    is_fallback: bool


@dataclass
class RateCard:
    # (meter, key) -> effective dates (sorted) and the matching (unit price, version)
    _dates: dict[tuple[str, str], list[date]] = field(default_factory=lambda: defaultdict(list))
    _values: dict[tuple[str, str], list[tuple[Decimal, int]]] = field(default_factory=lambda: defaultdict(list))
    _model_keys: list[str] = field(default_factory=list)  # AI model keys, longest first
    rows: list[RateCardEntry] = field(default_factory=list)

    @classmethod
    def from_rows(cls, rows: list[RateCardEntry]) -> RateCard:
        card = cls(rows=sorted(rows, key=lambda r: (r.meter, r.price_key, r.effective_from)))
        for row in card.rows:
            key = (row.meter, row.price_key)
            card._dates[key].append(row.effective_from)
            card._values[key].append((row.unit_price, row.version))
        card._model_keys = sorted(
            {r.price_key for r in rows if METERS_BY_NAME[r.meter].price_key == "model" and r.price_key != DEFAULT_KEY},
            key=len,
            reverse=True,
        )
        return card

    @property
    def latest_version(self) -> int:
        return max((r.version for r in self.rows), default=0)

    def price(self, meter: Meter, key: str, day: date) -> Price | None:
        """The unit price of `meter` for `key` on `day`, or None when nothing on the card applies."""
        if meter.price_key == "model":
            model_key = self.resolve_model(key)
            if model_key is not None and (found := self._effective(meter.name, model_key, day)):
                return Price(found[0], found[1], is_fallback=False)
            fallback = self._effective(meter.name, DEFAULT_KEY, day)
            return Price(fallback[0], fallback[1], is_fallback=True) if fallback else None
        if meter.price_key != "none" and (found := self._effective(meter.name, key, day)):
            return Price(found[0], found[1], is_fallback=False)
        default = self._effective(meter.name, DEFAULT_KEY, day)
        return Price(default[0], default[1], is_fallback=False) if default else None

    def resolve_model(self, model: str) -> str | None:
        for key in self._model_keys:
            if model == key or model.startswith(key + "-"):
                return key
        return None

    def _effective(self, meter: str, key: str, day: date) -> tuple[Decimal, int] | None:
        dates = self._dates.get((meter, key))
        if not dates:
            return None
        index = bisect.bisect_right(dates, day) - 1
        return self._values[(meter, key)][index] if index >= 0 else None


def line_cost(quantity: Decimal, unit_price: Decimal) -> Decimal:
    return quantize(WIDE.multiply(quantity, unit_price), COST_QUANTUM)


# --- loading, caching and publishing -------------------------------------------------------------------

_cached = Expiring[RateCard](CACHE_SECONDS)


def current_rate_card(client: Client, *, max_age_seconds: float = CACHE_SECONDS) -> RateCard:
    """The card, reused for a minute per container: a published change reaches every function within a minute."""
    return _cached.get(lambda: load_rate_card(client), max_age_seconds=max_age_seconds)


def forget_cached_rate_card() -> None:
    _cached.forget()


def load_rate_card(client: Client) -> RateCard:
    return RateCard.from_rows(rate_card_entries(client))


def publish_rate_card(client: Client, request: PublishRateCardRequest) -> RateCardResponse:
    """Add a new version: its prices apply to usage from `effectiveFrom` on."""
    for index, entry in enumerate(request.prices):
        if entry.meter not in METERS_BY_NAME:
            raise InvalidRequest(
                f"unknown meter {entry.meter!r}; expected one of {sorted(METERS_BY_NAME)}",
                field=f"prices.{index}.meter",
                location="body",
            )
    insert_rate_card_version(client, request)
    forget_cached_rate_card()
    return rate_card_response(load_rate_card(client), as_of=request.effective_from)


def rate_card_response(card: RateCard, as_of: date) -> RateCardResponse:
    """The prices in effect on `as_of`: for each (meter, key) the latest version effective by then."""
    latest: dict[tuple[str, str], RateCardEntry] = {}
    for row in card.rows:
        if row.effective_from <= as_of:
            latest[(row.meter, row.price_key)] = row
    return RateCardResponse(
        as_of=as_of, currency=CURRENCY, prices=sorted(latest.values(), key=lambda r: (r.meter, r.price_key))
    )
