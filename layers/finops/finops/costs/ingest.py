"""Ingestion: validate a batch event by event, rate it and store it in one insert, then settle re-sent ids.

Exactly-once, as seen by the cost figures. An event is its tenant, `eventId` and UTC day (the day of its
timestamp: a re-send carries the same timestamp, however much later it is sent):
- an id repeated within the batch is stored once;
- an id already stored (by an earlier batch, or by a retry racing this one) is stored again, and collapses in
  `usage_events` (ReplacingMergeTree on the event's key, read with FINAL: the earliest copy wins), so the facts
  count it once. Its copy also reached the live rows (`cost_live`) through the materialized view: right after the
  insert, one query finds every stored copy of the batch's ids (by `event_key`, an MD5 of the id) and records each
  copy that is not the earliest in `cost_live_duplicates`, which the cost queries subtract. Of two racing
  inserts, the one that finishes last always sees both copies, so one of them records the surplus (a second
  record of the same copy is the same row). The reply counts an event as a duplicate when an earlier copy exists.
"""

from __future__ import annotations

import hashlib
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
    unique = _first_of_each_event(valid)

    rated: list[tuple[int, RatedEvent]] = []
    prices = BatchPrices(card)
    for index, event in unique:
        try:
            rated.append((index, rate_event(event, prices)))
        except LookupError as error:
            rejected.append(RejectedEvent(index=index, error=str(error)))

    stored_before = insert_rated_events(client, [r for _, r in rated], ingested_at=now) if rated else set()
    accepted = [(i, r) for i, r in rated if event_identity(r.event) not in stored_before]
    rejected.sort(key=lambda r: r.index)
    return IngestResult(
        accepted=len(accepted),
        duplicates=(len(valid) - len(unique)) + (len(rated) - len(accepted)),  # repeats in the batch, and re-sends
        rejected=rejected,
        flagged=[
            FlaggedEvent(
                index=index,
                warning=f"model {r.event.model!r} is not on the rate card; priced with the fallback AI rate",  # type: ignore[union-attr]
            )
            for index, r in accepted
            if r.priced_by == "fallback"
        ],
        tenants=sorted({r.event.tenant_id for _, r in accepted}),
    )


EventIdentity = tuple[str, str, date]  # tenant, event id, UTC day: what makes an event one event


def event_identity(event: UsageEvent) -> EventIdentity:
    return (event.tenant_id, event.event_id, event.timestamp.date())


def _first_of_each_event(valid: list[tuple[int, UsageEvent]]) -> list[tuple[int, UsageEvent]]:
    """The first occurrence of each event in the batch (a repeat within one batch is stored once)."""
    seen: set[EventIdentity] = set()
    unique = []
    for index, event in valid:
        identity = event_identity(event)
        if identity not in seen:
            seen.add(identity)
            unique.append((index, event))
    return unique


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


def insert_rated_events(client: Client, rated: list[RatedEvent], *, ingested_at: datetime) -> set[EventIdentity]:
    """Store rated events in one insert, then settle re-sent ones; returns the events that had been stored before
    (their copies here are surplus: FINAL drops them from the raw events and `cost_live_duplicates` from the
    live spend)."""
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
    return settle_copies(client, rated, ingested_at=ingested_at)


# Every stored copy of some events, by the event key (the ids' MD5) on their tenants and days; only events with
# a copy older than this batch's, or more than one copy, can need settling.
_COPIES = """
SELECT tenant_id, usage_date, event_id,
       arraySort(x -> x.1, groupArray((toUnixTimestamp64Micro(ingested_at), toString(service_category), toString(model), toString(region_id),
                                       toString(service_name), meters, costs))) AS copies
FROM usage_events
WHERE tenant_id IN {tenants:Array(String)} AND usage_date IN {days:Array(Date)} AND event_key IN {keys:Array(UInt64)}
GROUP BY tenant_id, usage_date, event_id
HAVING min(toUnixTimestamp64Micro(ingested_at)) < {ingested_us:Int64} OR count() > 1
"""
_DUPLICATE_COLUMNS = [
    "tenant_id",
    "usage_date",
    "event_id",
    "ingested_at",
    "service_category",
    "model",
    "region_id",
    "service_name",
    "meters",
    "costs",
]


def settle_copies(client: Client, rated: list[RatedEvent], *, ingested_at: datetime) -> set[EventIdentity]:
    """Record every copy of these events that is not the earliest (this batch's, or another batch's found on the
    way); returns the events of this batch whose copy is surplus. This batch's copy is recorded from the batch
    itself, so it is settled even if a merge has already dropped it from the raw table."""
    mine = {event_identity(r.event): r for r in rated}
    mine_us = _micros(ingested_at)
    rows = client.query(
        _COPIES,
        parameters={
            "tenants": sorted({t for t, _, _ in mine}),
            "days": sorted({d for _, _, d in mine}),
            "keys": sorted({event_key(i) for _, i, _ in mine}),
            "ingested_us": _micros(ingested_at),
        },
    ).named_results()
    surplus: list[list[Any]] = []
    stored_before: set[EventIdentity] = set()
    for row in rows:
        tenant, event_id, day = identity = (row["tenant_id"], row["event_id"], row["usage_date"])
        if identity not in mine:
            continue  # another event whose key collides
        copies = row["copies"]  # (ingested µs, category, model, region, service, meters, costs), earliest first
        for at, category, model, region, service, meters, costs in copies[1:]:
            if at != mine_us:  # another batch's surplus copy (this batch's is recorded below)
                when = datetime.fromtimestamp(at / 1_000_000, UTC)
                surplus.append([tenant, day, event_id, when, category, model, region, service, meters, costs])
        if copies[0][0] < mine_us:
            stored_before.add(identity)
            r = mine[identity]
            model = r.event.model if isinstance(r.event, AiEvent) else ""
            category = r.event.category.value
            surplus.append(
                [
                    tenant,
                    day,
                    event_id,
                    ingested_at,
                    category,
                    model,
                    r.event.region,
                    r.event.service,
                    r.meters,
                    r.costs,
                ]
            )
    if surplus:
        client.insert("cost_live_duplicates", surplus, column_names=_DUPLICATE_COLUMNS)
    return stored_before


def _micros(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (as toUnixTimestamp64Micro reads a DateTime64(6))."""
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def event_key(event_id: str) -> int:
    """The `event_key` column's value: the first 8 bytes of the id's MD5, little-endian, as ClickHouse's
    reinterpretAsUInt64(MD5(event_id)) reads them."""
    return int.from_bytes(hashlib.md5(event_id.encode(), usedforsecurity=False).digest()[:8], "little")
