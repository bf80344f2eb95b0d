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

Rating is finops.costs.rating; the SQL, finops.costs.store. The steps stay module-level functions here (parse_batch,
rate_batch, insert_rated_batch, settle_copies), which the ingestion benchmark times one by one.

Why the shape: the whole batch is validated in one pydantic-core call into typed dictionaries, rated in one lean
loop into columns, and inserted as one Arrow table: per-event model objects and a row-by-row insert cost most of
the time before. Nothing the path does grows with the history stored (bench/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from clickhouse_connect.driver.client import Client

from finops.auth import Permission, Principal
from finops.costs.models import FlaggedEvent, IngestResult, RejectedEvent
from finops.costs.rate_card import RateCard
from finops.costs.rating import BatchPrices, RatedBatch, rate_batch
from finops.costs.store import (
    StoredCopies,
    StoredCopy,
    SurplusCopy,
    insert_usage_events,
    record_surplus_copies,
    stored_copies,
)
from finops.costs.telemetry import EventIdentity, UsageEvent, event_identity, parse_batch
from finops.settings import get_settings


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


def insert_rated_batch(client: Client, batch: RatedBatch, *, ingested_at: datetime) -> set[EventIdentity]:
    """Store a rated batch in one insert, then settle re-sent events; returns the events that had been stored
    before (their copies here are surplus: FINAL drops them from the raw events and `cost_live_duplicates` from
    the live spend)."""
    insert_usage_events(client, batch, ingested_at=ingested_at)
    return settle_copies(client, batch, ingested_at=ingested_at)


def settle_copies(client: Client, batch: RatedBatch, *, ingested_at: datetime) -> set[EventIdentity]:
    """Record every copy of these events that is not the earliest (this batch's, or another batch's found on the
    way); returns the events of this batch whose copy is surplus. This batch's copy is recorded from the batch
    itself, so it is settled even if a merge has already dropped it from the raw table."""
    mine = {batch.identity(i): i for i in range(len(batch))}
    mine_us = _micros(ingested_at)
    found = stored_copies(client, batch.tenant_id, batch.usage_date, batch.event_id, ingested_us=mine_us)
    surplus: list[SurplusCopy] = []
    stored_before: set[EventIdentity] = set()
    for row in found:
        identity = (row.tenant_id, row.event_id, row.usage_date)
        if identity not in mine:
            continue  # another event whose key collides
        for copy in row.copies[1:]:
            if copy.ingested_us != mine_us:  # another batch's surplus copy (this batch's is recorded below)
                surplus += _surplus_rows(row, datetime.fromtimestamp(copy.ingested_us / 1_000_000, UTC), copy)
        if row.copies[0].ingested_us < mine_us:
            stored_before.add(identity)
            i = mine[identity]
            own = StoredCopy(
                mine_us,
                batch.service_category[i],
                batch.model[i],
                batch.region_id[i],
                batch.service_name[i],
                batch.meters[i],
                batch.costs[i],
            )
            surplus += _surplus_rows(row, ingested_at, own)
    if surplus:
        record_surplus_copies(client, surplus)
    return stored_before


def _surplus_rows(event: StoredCopies, ingested_at: datetime, copy: StoredCopy) -> list[SurplusCopy]:
    """The `cost_live_duplicates` rows of a surplus copy of an event: one per meter."""
    return [
        SurplusCopy(
            tenant_id=event.tenant_id,
            usage_date=event.usage_date,
            event_id=event.event_id,
            ingested_at=ingested_at,
            service_category=copy.service_category,
            model=copy.model,
            region_id=copy.region_id,
            service_name=copy.service_name,
            service_subcategory=meter,
            billed_cost=cost,
        )
        for meter, cost in zip(copy.meters, copy.costs, strict=True)
    ]


def _micros(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (as toUnixTimestamp64Micro reads a DateTime64(6))."""
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
