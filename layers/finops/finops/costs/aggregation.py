"""Aggregation: build the daily cost facts of some days from the raw events, idempotently and atomically.

A run for a day reads the day's events ingested up to a cut-off (its start minus a settle time, so an insert
still in flight is never half-read) and writes, in ONE statement, one fact row per tenant, category, meter,
model, region and service, each carrying that cut-off (`events_through`) and a newer `aggregated_at`
(ReplacingMergeTree keeps the newest). Readers add, live, only the events of a row's key ingested after the
row's own cut-off (finops.costs.queries), so whichever version of a row a reader sees, the total is the same:
mid-run, after a run that crashed halfway, and while two runs of the same day race. Nothing else is written.

A day's cut-off never moves back: a run with a shorter settle time (or an older clock) than the previous one
keeps the previous cut-off, so the set of days a reader must scan for live events only ever shrinks.

Re-pricing (`reprice=True`) first re-rates the day's raw events with the rate card in effect on that day
(caller-priced events keep their cost), then aggregates as usual: a later plain re-run keeps the new prices.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from clickhouse_connect.driver.client import Client

from finops.costs.meters import METERS_BY_NAME
from finops.costs.rate_card import RateCard

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
SELECT DISTINCT i.usage_date
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
SELECT DISTINCT meter, {_PRICE_KEY_SQL.format(m="meter")}
FROM usage_events ARRAY JOIN meters AS meter
WHERE usage_date = {{day:Date}} AND priced_by != 'caller' AND ({{tenant:String}} = '' OR tenant_id = {{tenant:String}})
"""


@dataclass(frozen=True)
class DayAggregated:
    day: date
    fact_rows: int
    seconds: float


def aggregate_days(
    client: Client,
    days: list[date],
    *,
    tenant_id: str | None = None,
    reprice: bool = False,
    card: RateCard | None = None,
    settle_seconds: int = 60,
    now: datetime | None = None,
) -> list[DayAggregated]:
    results = []
    for day in sorted(set(days)):
        started = time.perf_counter()
        at = now or datetime.now(UTC)
        if reprice:
            if card is None:
                raise ValueError("re-pricing needs the rate card")
            reprice_day(client, card, day, tenant_id)
        through_us = int((at - timedelta(seconds=settle_seconds)).timestamp() * 1_000_000)
        params = {"day": day, "tenant": tenant_id or "", "through_us": through_us, "aggregated_at": at}
        client.command(_FACTS_FROM_EVENTS, parameters=params)
        written = client.command(_FACT_ROWS_WRITTEN, parameters=params)
        results.append(DayAggregated(day=day, fact_rows=int(str(written or 0)), seconds=time.perf_counter() - started))
    return results


def days_needing_aggregation(client: Client, *, since: date, until: date) -> list[date]:
    """Days up to `until` that received telemetry on or after `since` which their facts do not hold yet."""
    started = datetime(since.year, since.month, since.day, tzinfo=UTC)
    rows = client.query(_DAYS_NEEDING_AGGREGATION, parameters={"since": started, "until": until}).result_rows
    return [row[0] for row in rows]


def reprice_day(client: Client, card: RateCard, day: date, tenant_id: str | None) -> None:
    tenant = tenant_id or ""
    keys, prices, fallback_models = [], [], []
    for meter_name, key in client.query(_PRICE_KEYS_OF_DAY, parameters={"day": day, "tenant": tenant}).result_rows:
        price = card.price(METERS_BY_NAME[meter_name], key, day)
        if price is None:
            continue  # nothing on the card for that day: the events keep the cost they were ingested with
        keys.append(f"{meter_name}|{key}")
        prices.append(price.unit_price)
        if price.is_fallback:
            fallback_models.append(key)
    client.command(
        _REPRICE,
        parameters={
            "keys": keys,
            "prices": prices,
            "fallback_models": sorted(set(fallback_models)),
            "version": card.latest_version,
            "day": day,
            "tenant": tenant,
        },
    )
