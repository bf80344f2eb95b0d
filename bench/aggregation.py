"""Benchmark 2: aggregate one day of raw telemetry (1 and 10 million events, 1,000 tenants) into cost facts.

For each size, in a database of its own, the raw rows are written straight into `usage_events` by ClickHouse (see
`bench.dataset`), then `finops.costs.aggregation.aggregate_days` runs for that day with `settle_seconds=0`, once
and then again: a re-run must leave exactly the same facts (row count, cost and event sums), and those must
match the raw events' own totals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench import dataset, env
from bench.stats import median

TARGET_SECONDS = 10.0
DATABASE = "bench_aggregation"

_FACT_TOTALS = """
SELECT count(), sum(billed_cost), sum(event_count), uniqExact(tenant_id)
FROM cost_facts FINAL WHERE charge_period_start = {day:Date}
"""
_RAW_TOTALS = """
SELECT sum(arraySum(costs)), sum(length(meters)), count(), uniqExact(tenant_id)
FROM usage_events FINAL WHERE usage_date = {day:Date}
"""


@dataclass
class AggregationResult:
    day: date
    events: int
    tenants: int
    generate_seconds: float
    merge_wait_seconds: float
    raw_parts: int
    runs: list[float] = field(default_factory=list)
    fact_rows: list[int] = field(default_factory=list)
    totals: list[tuple[Any, ...]] = field(default_factory=list)
    raw_totals: tuple[Any, ...] = ()
    identical: bool = False
    matches_raw: bool = False

    @property
    def worst(self) -> float:
        return max(self.runs)

    @property
    def passed(self) -> bool:
        return self.worst < TARGET_SECONDS and self.identical and self.matches_raw


def generate_day(client: Any, *, events: int, tenants: int, day: date) -> tuple[float, float, int]:
    """Write `events` raw events for `day`; returns (seconds writing, seconds waiting for merges, parts)."""
    start_ms = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    with dataset.views_detached(client, "usage_events"):  # the aggregation reads the raw events only
        seconds = dataset.insert_raw_events(client, n=events, tenants=tenants, start_ms=start_ms, span_ms=86_400_000)
    waited = dataset.wait_for_merges(client)
    return seconds, waited, dataset.table_stats(client, "usage_events")[1]


def run(*, sizes: tuple[int, ...], tenants: int, runs: int, log: Any = print) -> list[AggregationResult]:
    """One day of each size of raw events, each aggregated `runs` times in a fresh database (dropped after)."""
    from finops.costs.rate_card import current_rate_card

    results = []
    for events in sizes:
        client = env.create_database(DATABASE)
        try:
            dataset.create_kinds_table(
                client, current_rate_card(client), tenants=tenants, events_per_day=events, day=datetime.now(UTC).date()
            )
            results.append(run_day(client, events=events, tenants=tenants, runs=runs, log=log))
        finally:
            client.command(f"DROP DATABASE IF EXISTS {DATABASE} SYNC")
    return results


def run_day(client: Any, *, events: int, tenants: int, runs: int, log: Any = print) -> AggregationResult:
    from finops.costs.aggregation import aggregate_days

    # Two days ago: the whole day's events are ingested well before the aggregation's cut-off.
    day = datetime.now(UTC).date() - timedelta(days=2)
    log(f"aggregation: writing {events:,} raw events for {day} ({tenants:,} tenants)")
    generated, waited, parts = generate_day(client, events=events, tenants=tenants, day=day)
    log(
        f"aggregation: written in {generated:.1f} s ({events / generated:,.0f} rows/s), merges settled in {waited:.1f} s"
    )
    result = AggregationResult(
        day=day, events=events, tenants=tenants, generate_seconds=generated, merge_wait_seconds=waited, raw_parts=parts
    )
    result.raw_totals = client.query(_RAW_TOTALS, parameters={"day": day}).result_rows[0]
    for attempt in range(runs):
        dataset.wait_for_merges(client)  # the previous run's parts merge in the background: not this run's cost
        done = aggregate_days(client, [day], settle_seconds=0)
        result.runs.append(done[0].seconds)
        result.fact_rows.append(done[0].fact_rows)
        result.totals.append(tuple(client.query(_FACT_TOTALS, parameters={"day": day}).result_rows[0]))
        log(f"aggregation: run {attempt + 1}: {done[0].seconds:.2f} s, {done[0].fact_rows:,} fact rows")
    result.identical = len(set(result.totals)) == 1 and len(set(result.fact_rows)) == 1
    rows, cost, meter_rows, tenants_seen = result.totals[0]
    raw_cost, raw_meter_rows, _, raw_tenants = result.raw_totals
    result.matches_raw = (
        cost == raw_cost
        and meter_rows == raw_meter_rows
        and tenants_seen == raw_tenants
        and rows == result.fact_rows[0]
    )
    log(f"aggregation: median {median(result.runs):.2f} s, identical re-runs: {result.identical}")
    return result
