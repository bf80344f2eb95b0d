"""The SQL of the costs domain's writes: the raw usage events and their surplus copies (ingestion), the daily cost
facts (aggregation, re-pricing) and the rate card. Rows come back as named tuples, by column name.

The other store of the domain is finops.costs.queries: the cost reads, the effective rows every report is made of
(apart because together they pass 400 lines, and every cost endpoint imports the reads, few the writes).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

from clickhouse_connect.driver.client import Client

from finops.costs.models import PublishRateCardRequest, RateCardEntry
from finops.db.clickhouse import insert_version, typed_rows

if TYPE_CHECKING:
    from finops.costs.rating import RatedBatch

# --- usage events (ingestion) ----------------------------------------------------------------------------------


def insert_usage_events(client: Client, batch: RatedBatch, *, ingested_at: datetime) -> None:
    """A rated batch, in one insert."""
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


class StoredCopy(NamedTuple):
    """One stored copy of an event: the elements of a `copies` tuple, in the order _COPIES groups them."""

    ingested_us: int
    service_category: str
    model: str
    region_id: str
    service_name: str
    meters: list[str]
    costs: list[Decimal]


class StoredCopies(NamedTuple):
    tenant_id: str
    usage_date: date
    event_id: str
    copies: list[StoredCopy]  # earliest first


def stored_copies(
    client: Client, tenants: Sequence[str], days: Sequence[date], event_ids: Sequence[str], *, ingested_us: int
) -> list[StoredCopies]:
    """Every stored copy of these events (by their key, on their tenants and days) that has a copy older than
    `ingested_us`, or more than one copy."""
    parameters = {
        "tenants": sorted(set(tenants)),
        "days": sorted(set(days)),
        "keys": sorted({event_key(i) for i in event_ids}),
        "ingested_us": ingested_us,
    }
    return [
        row._replace(copies=[StoredCopy(*copy) for copy in row.copies])
        for row in typed_rows(client, StoredCopies, _COPIES, parameters)
    ]


class SurplusCopy(NamedTuple):
    """A row of `cost_live_duplicates`: one meter of a copy that is not its event's earliest."""

    tenant_id: str
    usage_date: date
    event_id: str
    ingested_at: datetime
    service_category: str
    model: str
    region_id: str
    service_name: str
    service_subcategory: str  # the meter
    billed_cost: Decimal


def record_surplus_copies(client: Client, rows: Sequence[SurplusCopy]) -> None:
    client.insert("cost_live_duplicates", [list(row) for row in rows], column_names=list(SurplusCopy._fields))


def event_key(event_id: str) -> int:
    """The `event_key` column's value: the first 8 bytes of the id's MD5, little-endian, as ClickHouse's
    reinterpretAsUInt64(MD5(event_id)) reads them."""
    return int.from_bytes(hashlib.md5(event_id.encode(), usedforsecurity=False).digest()[:8], "little")


# --- cost facts (aggregation) ----------------------------------------------------------------------------------

_CUTOFFS = """
SELECT tenant_id, greatest({through_us:Int64}, max(toUnixTimestamp64Micro(events_through))) AS cut
FROM cost_facts FINAL
WHERE charge_period_start = {day:Date} AND ({tenant:String} = '' OR tenant_id = {tenant:String})
GROUP BY tenant_id
"""

_FACTS_FROM_EVENTS = f"""
INSERT INTO cost_facts (tenant_id, charge_period_start, service_category, service_subcategory, model, region_id,
                        service_name, billed_cost, consumed_quantity, pricing_unit, event_count,
                        fallback_priced_events, events_through, aggregated_at)
SELECT tenant_id, usage_date, service_category, meter, model, region_id, service_name,
       sum(cost), sum(quantity), any(unit), count(), countIf(priced_by = 'fallback'),
       fromUnixTimestamp64Micro(any(cut), 'UTC'), {{aggregated_at:DateTime64(6, 'UTC')}}
FROM (
    SELECT e.*, if(c.cut = 0, {{through_us:Int64}}, c.cut) AS cut
    FROM (SELECT * FROM usage_events FINAL
          WHERE usage_date = {{day:Date}} AND ({{tenant:String}} = '' OR tenant_id = {{tenant:String}})) AS e
    LEFT JOIN ({_CUTOFFS}) AS c ON e.tenant_id = c.tenant_id
)
ARRAY JOIN meters AS meter, quantities AS quantity, pricing_units AS unit, costs AS cost
WHERE toUnixTimestamp64Micro(ingested_at) <= cut
GROUP BY tenant_id, usage_date, service_category, meter, model, region_id, service_name
"""

# chDB reports no written-row count for INSERT ... SELECT, so count what the run wrote.
_FACT_ROWS_WRITTEN = """
SELECT count() FROM cost_facts
WHERE charge_period_start = {day:Date} AND aggregated_at = {aggregated_at:DateTime64(6, 'UTC')}
  AND ({tenant:String} = '' OR tenant_id = {tenant:String})
"""

# Days (up to `until`) whose events ingested since `since` are not all in their facts: never aggregated, late
# telemetry arrived after the last aggregation, or a run stopped halfway. Found by when telemetry arrived, not by
# the day it is for, so late events for a day of any age are folded into the facts (before the live rows that
# carry them meanwhile expire). Only the few (tenant, day) pairs that received telemetry lately reach the facts.
_DAYS_NEEDING_AGGREGATION = """
SELECT DISTINCT i.usage_date AS usage_date
FROM (SELECT tenant_id, usage_date, max(last_ingested_at) AS last FROM usage_ingest_log
      WHERE usage_date <= {until:Date} GROUP BY tenant_id, usage_date
      HAVING last >= {since:DateTime64(6, 'UTC')}) AS i
LEFT JOIN (SELECT tenant_id, charge_period_start AS usage_date, min(events_through) AS through FROM cost_facts FINAL
           WHERE (tenant_id, charge_period_start) IN (
               SELECT tenant_id, usage_date FROM usage_ingest_log WHERE usage_date <= {until:Date}
               GROUP BY tenant_id, usage_date HAVING max(last_ingested_at) >= {since:DateTime64(6, 'UTC')})
           GROUP BY tenant_id, usage_date) AS f
  ON i.tenant_id = f.tenant_id AND i.usage_date = f.usage_date
WHERE i.last > f.through
ORDER BY i.usage_date
"""

# The rate-card key of a meter on an event row (`m` is the meter): the model, region or export type.
_PRICE_KEY_SQL = """multiIf(
    {m} IN ('input_tokens', 'cached_input_tokens', 'output_tokens'), toString(model),
    {m} = 'egress_gb', toString(region_id),
    {m} = 'exports', toString(export_type),
    '*')"""

_REPRICE = f"""
ALTER TABLE usage_events
UPDATE
    -- i: where the meter's price is in the parameter arrays (0: not on the card that day, keep the cost)
    costs = arrayMap((q, c, i) -> if(i > 0, toDecimal128(q * {{prices:Array(Decimal(38, 12))}}[i], 12), c),
        quantities, costs,
        arrayMap(m -> indexOf({{keys:Array(String)}}, concat(m, '|', {_PRICE_KEY_SQL.format(m="m")})), meters)),
    priced_by = if(service_category = 'AI' AND has({{fallback_models:Array(String)}}, toString(model)), 'fallback', 'rate_card'),
    rate_card_version = {{version:UInt32}}
WHERE usage_date = {{day:Date}} AND priced_by != 'caller' AND ({{tenant:String}} = '' OR tenant_id = {{tenant:String}})
SETTINGS mutations_sync = 2
"""

_PRICE_KEYS_OF_DAY = f"""
SELECT DISTINCT meter, {_PRICE_KEY_SQL.format(m="meter")} AS key
FROM usage_events ARRAY JOIN meters AS meter
WHERE usage_date = {{day:Date}} AND priced_by != 'caller' AND ({{tenant:String}} = '' OR tenant_id = {{tenant:String}})
"""


def write_facts(client: Client, day: date, tenant_id: str | None, *, through_us: int, aggregated_at: datetime) -> int:
    """Write, in one statement, the facts of `day` (of one tenant, or all) from its events ingested up to each
    tenant's cut-off (`through_us`, unless an earlier run's is later); returns how many fact rows it wrote."""
    params = {"day": day, "tenant": tenant_id or "", "through_us": through_us, "aggregated_at": aggregated_at}
    client.command(_FACTS_FROM_EVENTS, parameters=params)
    return int(str(client.command(_FACT_ROWS_WRITTEN, parameters=params) or 0))


def days_needing_aggregation(client: Client, *, since: date, until: date) -> list[date]:
    """Days up to `until` that received telemetry on or after `since` which their facts do not hold yet."""
    started = datetime(since.year, since.month, since.day, tzinfo=UTC)
    rows = client.query(_DAYS_NEEDING_AGGREGATION, parameters={"since": started, "until": until}).named_results()
    return [row["usage_date"] for row in rows]


class PriceKey(NamedTuple):
    meter: str
    key: str  # the model, region or export type the meter is priced by ('*' for none)


def price_keys_of_day(client: Client, day: date, tenant_id: str | None) -> list[PriceKey]:
    """The (meter, price key) pairs of the day's events that the rate card priced (not the caller)."""
    return typed_rows(client, PriceKey, _PRICE_KEYS_OF_DAY, {"day": day, "tenant": tenant_id or ""})


def reprice_events(
    client: Client,
    day: date,
    tenant_id: str | None,
    *,
    keys: Sequence[str],
    prices: Sequence[Decimal],
    fallback_models: Sequence[str],
    version: int,
) -> None:
    """Re-rate the day's events priced by the card: each meter whose `meter|key` is in `keys` at its price."""
    client.command(
        _REPRICE,
        parameters={
            "keys": list(keys),
            "prices": list(prices),
            "fallback_models": list(fallback_models),
            "version": version,
            "day": day,
            "tenant": tenant_id or "",
        },
    )


# --- the rate card ----------------------------------------------------------------------------------------------


def rate_card_entries(client: Client) -> list[RateCardEntry]:
    return typed_rows(
        client,
        RateCardEntry,
        "SELECT version, effective_from, meter, price_key, unit_price, pricing_unit, source "
        "FROM rate_card FINAL ORDER BY meter, price_key, effective_from",
    )


def insert_rate_card_version(client: Client, request: PublishRateCardRequest) -> int:
    """Store the request's prices as the card's next version; returns that version."""
    columns = ("meter", "price_key", "unit_price", "pricing_unit")
    return insert_version(
        client, "rate_card", request.prices, columns, effective_from=request.effective_from, source=request.source
    )
