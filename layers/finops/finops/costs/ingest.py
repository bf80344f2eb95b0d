"""Ingestion: validate a batch event by event, drop re-sent ids, rate the rest and store them in one insert.

Exactly-once, as seen by the cost figures:
- a re-sent `eventId` (same tenant) is answered as a duplicate, whether it repeats within the batch or an
  id accepted in any earlier batch, for any day (looked up in `usage_event_ids` by primary key);
- two retries racing past that lookup collapse in `usage_events` (ReplacingMergeTree on the event's key,
  read with FINAL), so even then the event is counted once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, Protocol

from clickhouse_connect.driver.client import Client

from finops.auth import Permission, Principal
from finops.costs.meters import METERS_BY_CATEGORY, Meter
from finops.costs.rate_card import COST_QUANTUM, Price, RateCard, line_cost
from finops.costs.telemetry import (
    AiEvent,
    ExportEvent,
    FlaggedEvent,
    IngestResult,
    RejectedEvent,
    UsageEvent,
    parse_event,
)
from finops.settings import get_settings

USAGE_EVENT_COLUMNS = [
    "event_id",
    "tenant_id",
    "event_time",
    "usage_date",
    "service_category",
    "service_name",
    "region_id",
    "model",
    "export_type",
    "meters",
    "quantities",
    "pricing_units",
    "costs",
    "priced_by",
    "rate_card_version",
    "ingested_at",
]


@dataclass(frozen=True)
class RatedEvent:
    event: UsageEvent
    meters: list[str]
    quantities: list[Decimal]
    pricing_units: list[str]
    costs: list[Decimal]
    priced_by: str  # rate_card | fallback | caller
    rate_card_version: int


def authorize_events(principal: Principal, events: Sequence[tuple[int, UsageEvent]]) -> None:
    """403 for the whole batch (nothing is stored) if a parsed event belongs to a tenant the caller may not ingest
    for. The decision is made on the validated tenant that would be written, never on the raw request."""
    for tenant in sorted({event.tenant_id for _, event in events}):
        principal.require(Permission.INGEST, tenant)
    if not events and not principal.is_system:  # a user still learns nothing by sending only invalid events
        principal.require(Permission.INGEST, principal.tenant_id)


def validate_events(
    raw_events: Sequence[Any], *, now: datetime
) -> tuple[list[tuple[int, UsageEvent]], list[RejectedEvent]]:
    """Each event on its own: the valid ones with their index, and the rejected ones with their index and reason."""
    settings = get_settings()
    earliest = now - timedelta(days=settings.max_event_age_days)
    latest = now + timedelta(seconds=settings.max_clock_skew_seconds)
    rejected: list[RejectedEvent] = []
    valid: list[tuple[int, UsageEvent]] = []
    for index, raw in enumerate(raw_events):
        try:
            event = parse_event(raw)
        except ValueError as error:
            rejected.append(RejectedEvent(index=index, error=str(error)))
            continue
        if not earliest <= event.timestamp <= latest:
            rejected.append(
                RejectedEvent(
                    index=index,
                    error=(
                        f"timestamp: must be within the last {settings.max_event_age_days} days and not in the future "
                        f"(more than {settings.max_clock_skew_seconds} s ahead of the server clock)"
                    ),
                )
            )
            continue
        valid.append((index, event))
    return valid, rejected


def ingest(
    client: Client,
    card: RateCard,
    raw_events: Sequence[Any],
    *,
    principal: Principal,
    now: datetime | None = None,
) -> IngestResult:
    """Validate, authorize (on the parsed events), drop duplicates, rate and store a batch in one insert."""
    now = now or datetime.now(UTC)
    valid, rejected = validate_events(raw_events, now=now)
    authorize_events(principal, valid)
    fresh, duplicates = _drop_duplicates(client, valid)

    flagged: list[FlaggedEvent] = []
    rated: list[RatedEvent] = []
    prices = BatchPrices(card)
    for index, event in fresh:
        try:
            rated_event = rate_event(event, prices)
        except LookupError as error:
            rejected.append(RejectedEvent(index=index, error=str(error)))
            continue
        if rated_event.priced_by == "fallback":
            flagged.append(
                FlaggedEvent(
                    index=index,
                    warning=f"model {event.model!r} is not on the rate card; priced with the fallback AI rate",  # type: ignore[union-attr]
                )
            )
        rated.append(rated_event)

    if rated:
        insert_rated_events(client, rated, ingested_at=now)
    rejected.sort(key=lambda r: r.index)
    return IngestResult(
        accepted=len(rated),
        duplicates=duplicates,
        rejected=rejected,
        flagged=flagged,
        tenants=sorted({r.event.tenant_id for r in rated}),
    )


def _drop_duplicates(client: Client, valid: list[tuple[int, UsageEvent]]) -> tuple[list[tuple[int, UsageEvent]], int]:
    seen: set[tuple[str, str]] = set()
    unique: list[tuple[int, UsageEvent]] = []
    for index, event in valid:
        key = (event.tenant_id, event.event_id)
        if key not in seen:
            seen.add(key)
            unique.append((index, event))
    if not unique:
        return [], len(valid)
    known = known_event_ids(client, seen)
    fresh = [(i, e) for i, e in unique if (e.tenant_id, e.event_id) not in known]
    return fresh, len(valid) - len(fresh)


def known_event_ids(client: Client, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
    tenants = sorted({t for t, _ in keys})
    ids = sorted({i for _, i in keys})
    result = client.query(
        "SELECT DISTINCT tenant_id, event_id FROM usage_event_ids "
        "WHERE tenant_id IN {tenants:Array(String)} AND event_id IN {ids:Array(String)}",
        parameters={"tenants": tenants, "ids": ids},
    )
    return {(row[0], row[1]) for row in result.result_rows} & keys


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


def rate_event(event: UsageEvent, card: PriceLookup) -> RatedEvent:
    """Price each meter of the event with the card in effect on its day (or split the caller's cost)."""
    day = event.timestamp.date()
    meters, quantities, units, card_costs = [], [], [], []
    fallback = False
    version = 0
    for meter in METERS_BY_CATEGORY[event.category]:
        # Exact: usage has at most 9 decimals and the divisors are powers of ten up to 10^9.
        quantity = Decimal(getattr(event, meter.usage_field)) / meter.natural_units_per_pricing_unit
        if quantity == 0:
            continue
        key = _price_key(event, meter.price_key)
        price = card.price(meter, key, day)
        if price is None:
            raise LookupError(f"no price on the rate card for meter {meter.name!r} on {day.isoformat()}")
        fallback = fallback or price.is_fallback
        version = max(version, price.version)
        meters.append(meter.name)
        quantities.append(quantity)
        units.append(meter.pricing_unit)
        card_costs.append(line_cost(quantity, price.unit_price))
    if not meters:  # an event with no usage still records that it happened, at zero cost
        first = METERS_BY_CATEGORY[event.category][0]
        meters, quantities, units, card_costs = [first.name], [Decimal(0)], [first.pricing_unit], [Decimal(0)]
    if event.cost_usd is not None:
        return RatedEvent(event, meters, quantities, units, split_cost(event.cost_usd, card_costs), "caller", version)
    return RatedEvent(event, meters, quantities, units, card_costs, "fallback" if fallback else "rate_card", version)


def split_cost(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Share a caller-given cost across the event's meters in proportion to their card prices, exactly."""
    total = total.quantize(COST_QUANTUM)
    weight_sum = sum(weights, Decimal(0))
    if weight_sum == 0:
        return [total] + [Decimal(0)] * (len(weights) - 1)
    shares = [(total * w / weight_sum).quantize(COST_QUANTUM, rounding=ROUND_DOWN) for w in weights]
    shares[-1] += total - sum(shares, Decimal(0))  # the rounding remainder, so the parts add up exactly
    return shares


def _price_key(event: UsageEvent, field: str) -> str:
    if field == "model" and isinstance(event, AiEvent):
        return event.model
    if field == "region":
        return event.region
    if field == "export_type" and isinstance(event, ExportEvent):
        return event.export_type
    return "*"


def insert_rated_events(client: Client, rated: list[RatedEvent], *, ingested_at: datetime) -> None:
    columns: list[list[Any]] = [[] for _ in USAGE_EVENT_COLUMNS]
    for r in rated:
        e = r.event
        values = (
            e.event_id,
            e.tenant_id,
            e.timestamp,
            e.timestamp.date(),
            e.category.value,
            e.service,
            e.region,
            e.model if isinstance(e, AiEvent) else "",
            e.export_type if isinstance(e, ExportEvent) else "",
            r.meters,
            r.quantities,
            r.pricing_units,
            r.costs,
            r.priced_by,
            r.rate_card_version,
            ingested_at,
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    client.insert("usage_events", columns, column_names=USAGE_EVENT_COLUMNS, column_oriented=True)
