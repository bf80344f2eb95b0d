"""Rating: each meter of each event priced with the rate card in effect on its day, the batch column by column (a
caller's own cost is split across the event's meters). The rate card itself: finops.costs.rate_card."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any, NamedTuple, Protocol, cast

from finops.costs.meters import METERS_BY_CATEGORY, Meter
from finops.costs.models import RejectedEvent
from finops.costs.rate_card import COST_QUANTUM, Price, RateCard, line_cost
from finops.costs.telemetry import EventIdentity, UsageEvent


class PriceLookup(Protocol):
    def price(self, meter: Meter, key: str, day: date) -> Price | None: ...


class BatchPrices:
    """The card's prices, each (meter, key, day) looked up once per batch: the events of a batch share a few
    days, models and regions, and a card lookup (model prefix matching, effective dates) costs far more than a
    dict hit."""

    def __init__(self, card: RateCard) -> None:
        self._card = card
        self._prices: dict[tuple[str, str, date], Price | None] = {}

    def price(self, meter: Meter, key: str, day: date) -> Price | None:
        lookup = (meter.name, key, day)
        if lookup not in self._prices:
            self._prices[lookup] = self._card.price(meter, key, day)
        return self._prices[lookup]


@dataclass
class RatedBatch:
    """Rated events column by column, one entry per event, as `usage_events` stores them."""

    index: list[int] = field(default_factory=list)  # the event's position in the request
    event_id: list[str] = field(default_factory=list)
    tenant_id: list[str] = field(default_factory=list)
    event_time: list[datetime] = field(default_factory=list)
    usage_date: list[date] = field(default_factory=list)
    service_category: list[str] = field(default_factory=list)
    service_name: list[str] = field(default_factory=list)
    region_id: list[str] = field(default_factory=list)
    model: list[str] = field(default_factory=list)
    export_type: list[str] = field(default_factory=list)
    meters: list[list[str]] = field(default_factory=list)
    quantities: list[list[Decimal]] = field(default_factory=list)
    pricing_units: list[list[str]] = field(default_factory=list)
    costs: list[list[Decimal]] = field(default_factory=list)
    priced_by: list[str] = field(default_factory=list)  # rate_card | fallback | caller
    rate_card_version: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.index)

    def identity(self, i: int) -> EventIdentity:
        return (self.tenant_id[i], self.event_id[i], self.usage_date[i])


class RatedEvent(NamedTuple):
    """One event's rating (for callers that rate a single event)."""

    meters: list[str]
    quantities: list[Decimal]
    costs: list[Decimal]
    priced_by: str
    rate_card_version: int


_KEY_FIELDS = {"model": "model", "region": "region", "export_type": "exportType"}


def rate_batch(events: Sequence[tuple[int, UsageEvent]], prices: PriceLookup) -> tuple[RatedBatch, list[RejectedEvent]]:
    """Price each meter of each event with the card in effect on its day (or split the caller's cost); events
    the card cannot price are rejected."""
    batch, rejected = RatedBatch(), []
    for index, event in events:
        values = cast("dict[str, Any]", event)  # read the usage fields by name
        category, day = event["category"], event["timestamp"].date()
        meters, quantities, units, costs = [], [], [], []
        fallback, version, missing = False, 0, None
        for meter in METERS_BY_CATEGORY[category]:
            usage = values.get(meter.field)
            if not usage:
                continue
            # Exact: usage has at most 9 decimals, and a pricing unit is 10^scale natural units.
            quantity = Decimal(usage).scaleb(-meter.scale)
            key = values.get(_KEY_FIELDS.get(meter.price_key, ""), "*")
            price = prices.price(meter, key, day)
            if price is None:
                missing = f"no price on the rate card for meter {meter.name!r} on {day.isoformat()}"
                break
            fallback = fallback or price.is_fallback
            version = max(version, price.version)
            meters.append(meter.name)
            quantities.append(quantity)
            units.append(meter.pricing_unit)
            costs.append(line_cost(quantity, price.unit_price))
        if missing is not None:
            rejected.append(RejectedEvent(index=index, error=missing))
            continue
        if not meters:  # an event with no usage still records that it happened, at zero cost
            first = METERS_BY_CATEGORY[category][0]
            meters, quantities, units, costs = [first.name], [Decimal(0)], [first.pricing_unit], [Decimal(0)]
        caller_cost = values.get("costUsd")
        if caller_cost is not None:
            costs, priced_by = split_cost(caller_cost, costs), "caller"
        else:
            priced_by = "fallback" if fallback else "rate_card"
        batch.index.append(index)
        batch.event_id.append(event["eventId"])
        batch.tenant_id.append(event["tenantId"])
        batch.event_time.append(event["timestamp"])
        batch.usage_date.append(day)
        batch.service_category.append(category)
        batch.service_name.append(event["service"])
        batch.region_id.append(event["region"])
        batch.model.append(values.get("model", ""))
        batch.export_type.append(values.get("exportType", ""))
        batch.meters.append(meters)
        batch.quantities.append(quantities)
        batch.pricing_units.append(units)
        batch.costs.append(costs)
        batch.priced_by.append(priced_by)
        batch.rate_card_version.append(version)
    return batch, rejected


def rate_event(event: UsageEvent, prices: PriceLookup) -> RatedEvent:
    """One event's rating; LookupError when the card cannot price it."""
    batch, rejected = rate_batch([(0, event)], prices)
    if rejected:
        raise LookupError(rejected[0].error)
    return RatedEvent(
        batch.meters[0], batch.quantities[0], batch.costs[0], batch.priced_by[0], batch.rate_card_version[0]
    )


def split_cost(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Share a caller-given cost across the event's meters in proportion to their card prices, exactly."""
    total = total.quantize(COST_QUANTUM)
    weight_sum = sum(weights, Decimal(0))
    if weight_sum == 0:
        return [total] + [Decimal(0)] * (len(weights) - 1)
    shares = [(total * w / weight_sum).quantize(COST_QUANTUM, rounding=ROUND_DOWN) for w in weights]
    shares[-1] += total - sum(shares, Decimal(0))  # the rounding remainder, so the parts add up exactly
    return shares
