"""Ingestion: validate a batch, rate it column by column and store it in one insert, then settle re-sent ids.

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

Why the shape: the whole batch is validated in one pydantic-core call into typed dictionaries, rated in one lean
loop into columns, and inserted as one Arrow table: per-event model objects and a row-by-row insert cost most of
the time before. Nothing the path does grows with the history stored (bench/RESULTS.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, NamedTuple, Protocol, cast

from clickhouse_connect.driver.client import Client

from finops.auth import Permission, Principal
from finops.costs.meters import METERS_BY_CATEGORY, Meter
from finops.costs.rate_card import COST_QUANTUM, Price, RateCard, line_cost
from finops.costs.telemetry import FlaggedEvent, IngestResult, RejectedEvent, UsageEvent, parse_batch
from finops.settings import get_settings

EventIdentity = tuple[str, str, date]  # tenant, event id, UTC day: what makes an event one event


def event_identity(event: UsageEvent) -> EventIdentity:
    return (event["tenantId"], event["eventId"], event["timestamp"].date())


def authorize_events(principal: Principal, events: Sequence[tuple[int, UsageEvent]]) -> None:
    """403 for the whole batch (nothing is stored) if a parsed event belongs to a tenant the caller may not ingest
    for. The decision is made on the validated tenant that would be written, never on the raw request."""
    for tenant in sorted({event["tenantId"] for _, event in events}):
        principal.require(Permission.INGEST, tenant)
    if not events and not principal.is_system:  # a user still learns nothing by sending only invalid events
        principal.require(Permission.INGEST, principal.tenant_id)


def ingest(
    client: Client,
    card: RateCard,
    raw_events: Sequence[Any],
    *,
    principal: Principal,
    now: datetime | None = None,
) -> IngestResult:
    """Validate, authorize (on the parsed events), rate and store a batch in one insert; settle re-sent events."""
    now = now or datetime.now(UTC)
    valid, rejected = _validate(raw_events, now=now)
    authorize_events(principal, valid)
    unique = _first_of_each_event(valid)
    batch, unpriced = rate_batch(unique, BatchPrices(card))
    rejected += unpriced
    stored_before = insert_rated_batch(client, batch, ingested_at=now) if len(batch) else set()
    accepted = [i for i in range(len(batch)) if batch.identity(i) not in stored_before]
    rejected.sort(key=lambda r: r.index)
    return IngestResult(
        accepted=len(accepted),
        duplicates=(len(valid) - len(unique)) + (len(batch) - len(accepted)),  # repeats in the batch, and re-sends
        rejected=rejected,
        flagged=[
            FlaggedEvent(
                index=batch.index[i],
                warning=f"model {batch.model[i]!r} is not on the rate card; priced with the fallback AI rate",
            )
            for i in accepted
            if batch.priced_by[i] == "fallback"
        ],
        tenants=sorted({batch.tenant_id[i] for i in accepted}),
    )


def _validate(raw_events: Sequence[Any], *, now: datetime) -> tuple[list[tuple[int, UsageEvent]], list[RejectedEvent]]:
    """The valid events with their index, and the rejected ones with their index and reason (a time outside the
    accepted window included)."""
    settings = get_settings()
    earliest = now - timedelta(days=settings.max_event_age_days)
    latest = now + timedelta(seconds=settings.max_clock_skew_seconds)
    parsed, problems = parse_batch(raw_events)
    rejected = [RejectedEvent(index=index, error=error) for index, error in problems.items()]
    valid = []
    for index, event in parsed:
        if earliest <= event["timestamp"] <= latest:
            valid.append((index, event))
        else:
            rejected.append(
                RejectedEvent(
                    index=index,
                    error=(
                        f"timestamp: must be within the last {settings.max_event_age_days} days and not in the future "
                        f"(more than {settings.max_clock_skew_seconds} s ahead of the server clock)"
                    ),
                )
            )
    return valid, rejected


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


# --- rating -------------------------------------------------------------------------------------------------


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


# --- storing ------------------------------------------------------------------------------------------------


def insert_rated_batch(client: Client, batch: RatedBatch, *, ingested_at: datetime) -> set[EventIdentity]:
    """Store a rated batch in one insert, then settle re-sent events; returns the events that had been stored
    before (their copies here are surplus: FINAL drops them from the raw events and `cost_live_duplicates` from
    the live spend)."""
    import pyarrow as pa  # the insert's only user; clickhouse-connect's Arrow path needs it anyway

    table = pa.table(
        {
            "event_id": pa.array(batch.event_id, pa.string()),
            "tenant_id": pa.array(batch.tenant_id, pa.string()),
            "event_time": pa.array(batch.event_time, pa.timestamp("us", tz="UTC")),
            "usage_date": pa.array(batch.usage_date, pa.date32()),
            "service_category": pa.array(batch.service_category, pa.string()),
            "service_name": pa.array(batch.service_name, pa.string()),
            "region_id": pa.array(batch.region_id, pa.string()),
            "model": pa.array(batch.model, pa.string()),
            "export_type": pa.array(batch.export_type, pa.string()),
            "meters": pa.array(batch.meters, pa.list_(pa.string())),
            "quantities": pa.array(batch.quantities, pa.list_(pa.decimal128(38, 9))),
            "pricing_units": pa.array(batch.pricing_units, pa.list_(pa.string())),
            "costs": pa.array(batch.costs, pa.list_(pa.decimal128(38, 12))),
            "priced_by": pa.array(batch.priced_by, pa.string()),
            "rate_card_version": pa.array(batch.rate_card_version, pa.uint32()),
            "ingested_at": pa.array([ingested_at] * len(batch), pa.timestamp("us", tz="UTC")),
        }
    )
    client.insert_arrow("usage_events", table)
    return settle_copies(client, batch, ingested_at=ingested_at)


# Every stored copy of some events, by the event key (the ids' MD5) on their tenants and days; only events with
# a copy older than this batch's, or more than one copy, can need settling.
_COPIES = """
SELECT tenant_id, usage_date, event_id,
       arraySort(x -> x.1, groupArray((toUnixTimestamp64Micro(ingested_at), toString(service_category),
                                       toString(model), toString(region_id), toString(service_name), meters, costs)))
           AS copies
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
    "service_subcategory",
    "billed_cost",
]


def settle_copies(client: Client, batch: RatedBatch, *, ingested_at: datetime) -> set[EventIdentity]:
    """Record every copy of these events that is not the earliest (this batch's, or another batch's found on the
    way); returns the events of this batch whose copy is surplus. This batch's copy is recorded from the batch
    itself, so it is settled even if a merge has already dropped it from the raw table."""
    mine = {batch.identity(i): i for i in range(len(batch))}
    mine_us = _micros(ingested_at)
    rows = client.query(
        _COPIES,
        parameters={
            "tenants": sorted(set(batch.tenant_id)),
            "days": sorted(set(batch.usage_date)),
            "keys": sorted({event_key(i) for i in batch.event_id}),
            "ingested_us": mine_us,
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
                head = [tenant, day, event_id, when, category, model, region, service]
                surplus += [[*head, meter, cost] for meter, cost in zip(meters, costs, strict=True)]
        if copies[0][0] < mine_us:
            stored_before.add(identity)
            i = mine[identity]
            head = [tenant, day, event_id, ingested_at, batch.service_category[i], batch.model[i]]
            head += [batch.region_id[i], batch.service_name[i]]
            surplus += [[*head, meter, cost] for meter, cost in zip(batch.meters[i], batch.costs[i], strict=True)]
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
