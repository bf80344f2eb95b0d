"""Benchmark 3: each cost endpoint's in-process handler time, over a year of cost facts for 1,000 tenants.

The facts (one row per tenant, day, category, meter, model, region and service: tens of millions of rows)
are written by ClickHouse with their cut-offs (`events_through`). Each endpoint is then called through its
Lambda handler (API Gateway HTTP API event, JWT claims of a `user` of a random tenant, a range of 30, 90 or 365
days ending today), the endpoints interleaved so that machine noise hits them alike, in four states: the facts as
loaded; the same plus today's raw events (the common case: today's spend is read live, from the `cost_live` rows
the ingestion's materialized view makes of them); the facts merged, with today live; and merged with nothing live
(every day aggregated). In the second state, the summary and the daily costs are also timed for a 1x and a 10x
tenant (by daily volume) over each range: how a call's cost grows with the tenant's size and its range.

Time in ClickHouse is measured separately by wrapping the cached client's `query` method, to show how much of
a call is the engine and how much is Python (validation, models, serialisation, Powertools).
"""

from __future__ import annotations

import contextlib
import io
import random
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench import dataset
from bench.stats import Latencies

TARGET_P95_MS = 25.0  # with today's live spend, facts as loaded (the hardest variant)
TARGET_MERGED_P95_MS = 10.0  # facts merged, nothing live
RANGES = (30, 90, 365)


@dataclass(frozen=True)
class Endpoint:
    label: str
    function: str
    path: str
    query: tuple[tuple[str, str], ...] = ()


ENDPOINTS = (
    Endpoint("costs (daily)", "get_costs", "/v1/analytics/finops/costs"),
    Endpoint("costs groupBy=model daily", "get_costs", "/v1/analytics/finops/costs", (("groupBy", "model"),)),
    Endpoint(
        "costs groupBy=category weekly",
        "get_costs",
        "/v1/analytics/finops/costs",
        (("groupBy", "category"), ("granularity", "weekly")),
    ),
    Endpoint(
        "costs groupBy=service monthly",
        "get_costs",
        "/v1/analytics/finops/costs",
        (("groupBy", "service"), ("granularity", "monthly")),
    ),
    Endpoint(
        "costs groupBy=region total",
        "get_costs",
        "/v1/analytics/finops/costs",
        (("groupBy", "region"), ("granularity", "total")),
    ),
    Endpoint("summary", "get_cost_summary", "/v1/analytics/finops/costs/summary"),
    Endpoint("top-drivers", "get_top_drivers", "/v1/analytics/finops/costs/top-drivers", (("limit", "10"),)),
    Endpoint("by-model", "get_costs_by_model", "/v1/analytics/finops/costs/by-model"),
    Endpoint("by-region", "get_costs_by_region", "/v1/analytics/finops/costs/by-region"),
    Endpoint("by-service", "get_costs_by_service", "/v1/analytics/finops/costs/by-service"),
)


# How a call's cost grows with the tenant's daily volume and the range: two representative endpoints.
GROWTH_ENDPOINTS = (ENDPOINTS[5], ENDPOINTS[0])  # summary, costs (daily)


@dataclass
class EndpointTimes(Latencies):
    endpoint: Endpoint
    ms: list[float] = field(default_factory=list)
    by_range: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    engine_ms: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    target_ms: float = TARGET_P95_MS

    @property
    def passed(self) -> bool:
        return self.p95 < self.target_ms


@dataclass
class GrowthCell(Latencies):
    endpoint: Endpoint
    tenant: str
    events_today: int  # the tenant's raw events of today
    live_rows: int  # and the cost_live rows they made
    days: int
    ms: list[float] = field(default_factory=list)


@dataclass
class QueryVariant:
    label: str
    times: list[EndpointTimes]
    target_ms: float = TARGET_P95_MS

    @property
    def passed(self) -> bool:
        return all(t.passed for t in self.times)


@dataclass
class QueryResult:
    tenants: int
    days: int
    fact_rows: int
    fact_parts: int
    generate_seconds: float
    merge_seconds: float
    live_events: int
    live_rows: int
    live_generate_seconds: float
    calls_per_endpoint: int
    variants: list[QueryVariant]
    growth: list[GrowthCell]
    # Where the engine's time goes for one call (label: median ms), measured last (facts merged, nothing live).
    planning: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.variants)


class _EngineTimer:
    """Wraps a client's `query` to count the calls and the time spent in them."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._original = client.query
        self.calls = 0
        self.seconds = 0.0

    def __enter__(self) -> _EngineTimer:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return self._original(*args, **kwargs)
            finally:
                self.calls += 1
                self.seconds += time.perf_counter() - started

        self._client.query = timed
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.query = self._original

    def reset(self) -> None:
        self.calls, self.seconds = 0, 0.0


class _Caller:
    """Calls the endpoints' Lambda handlers in-process as a tenant's `user`, over a range ending `today`."""

    def __init__(self, endpoints: tuple[Endpoint, ...], today: date) -> None:
        from local.lambda_runtime import load_function

        self.today = today
        self.modules = {e.function: load_function(e.function) for e in endpoints}

    def __call__(self, endpoint: Endpoint, tenant: str, days: int) -> float:
        """Milliseconds for one call (a reply other than 200 is an error)."""
        from local.lambda_runtime import LambdaContext, http_api_event

        start = (self.today - timedelta(days=days - 1)).isoformat()
        query = {"tenantId": tenant, "from": start, "to": self.today.isoformat(), **dict(endpoint.query)}
        event = http_api_event("GET", endpoint.path, query=query, claims={"tenant_id": tenant, "roles": "[user]"})
        context = LambdaContext(function_name=endpoint.function)
        started = time.perf_counter()
        response = self.modules[endpoint.function].lambda_handler(event, context)
        elapsed = (time.perf_counter() - started) * 1000
        if response["statusCode"] != 200:
            raise RuntimeError(f"{endpoint.label} answered {response['statusCode']}: {response.get('body', '')[:300]}")
        return elapsed

    def warm_up(self, endpoints: tuple[Endpoint, ...], tenant: str) -> None:
        """First call of each handler and range: imports, connection, caches."""
        for endpoint in endpoints:
            for days in RANGES:
                self(endpoint, tenant, days)


def measure(
    endpoints: tuple[Endpoint, ...],
    *,
    tenants: int,
    calls: int,
    today: date,
    label: str,
    seed: int,
    target_ms: float = TARGET_P95_MS,
) -> QueryVariant:
    from finops.db.clickhouse import get_client

    rng = random.Random(seed)
    caller = _Caller(endpoints, today)
    times = [EndpointTimes(e, target_ms=target_ms) for e in endpoints]
    with _quiet():
        caller.warm_up(endpoints, dataset.tenant_id(0))
        with _EngineTimer(get_client()) as engine:
            for _ in range(calls):
                for timing in times:
                    tenant = dataset.tenant_id(rng.randrange(tenants))
                    days = rng.choice(RANGES)
                    engine.reset()
                    elapsed = caller(timing.endpoint, tenant, days)
                    timing.ms.append(elapsed)
                    timing.by_range[days].append(elapsed)
                    timing.engine_ms.append(engine.seconds * 1000)
                    timing.queries.append(engine.calls)
    return QueryVariant(label, times, target_ms)


def tenant_pair(tenants: int) -> tuple[int, int]:
    """(small, large): a tenant in the top 1% by volume, and the one whose daily volume is closest to a tenth of it."""
    large = max(1, tenants // 200)
    goal = dataset.tenant_share(large, tenants) / 10
    small = min(range(tenants), key=lambda i: abs(dataset.tenant_share(i, tenants) - goal))
    return small, large


def measure_growth(client: Any, *, tenants: int, calls: int, today: date, seed: int) -> list[GrowthCell]:
    """The growth endpoints' handler times for a 1x and a 10x tenant over each range, cells interleaved."""
    rng = random.Random(seed)
    caller = _Caller(GROWTH_ENDPOINTS, today)
    cells = []
    for index in tenant_pair(tenants):
        tenant = dataset.tenant_id(index)
        events, live_rows = (
            int(
                client.command(
                    f"SELECT count() FROM {table} WHERE tenant_id = {{t:String}} AND usage_date = {{d:Date}}",
                    parameters={"t": tenant, "d": today},
                )
                or 0
            )
            for table in ("usage_events", "cost_live")
        )
        for endpoint in GROWTH_ENDPOINTS:
            for days in RANGES:
                cells.append(GrowthCell(endpoint, tenant, events, live_rows, days))
    with _quiet():
        caller.warm_up(GROWTH_ENDPOINTS, cells[0].tenant)
        for _ in range(calls):
            for cell in rng.sample(cells, len(cells)):
                cell.ms.append(caller(cell.endpoint, cell.tenant, cell.days))
    return cells


def run(
    client: Any, *, tenants: int, days: int, calls: int, growth_calls: int, live_events: int, log: Any = print
) -> QueryResult:
    today = datetime.now(UTC).date()
    log(f"queries: writing cost facts for {tenants:,} tenants x {days} days")
    generated = dataset.insert_cost_facts(client, last=today - timedelta(days=1), days=days)
    dataset.wait_for_merges(client)
    rows, parts = dataset.table_stats(client, "cost_facts")
    log(f"queries: {rows:,} fact rows in {parts} parts, written in {generated:.1f} s")

    variants: list[QueryVariant] = []

    def measure_variant(label: str, seed: int, target_ms: float = TARGET_P95_MS) -> None:
        variant = measure(
            ENDPOINTS, tenants=tenants, calls=calls, today=today, label=label, seed=seed, target_ms=target_ms
        )
        variants.append(variant)
        for t in variant.times:
            log(f"queries [{variant.label}] {t.endpoint.label}: p50 {t.p50:.1f} ms, p95 {t.p95:.1f} ms")

    measure_variant(f"facts as loaded ({parts} parts)", seed=3)

    log(f"queries: writing {live_events:,} raw events for today (read live)")
    now = datetime.now(UTC)
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
    live_seconds = dataset.insert_raw_events(
        client,
        n=live_events,
        tenants=tenants,
        start_ms=int(midnight.timestamp() * 1000),
        span_ms=max(3_600_000, int((now - midnight).total_seconds() * 1000) - 60_000),
        offset=10**10,
    )
    dataset.wait_for_merges(client)
    live_rows = int(client.command("SELECT count() FROM cost_live") or 0)
    log(f"queries: {live_rows:,} live rows from them, written in {live_seconds:.1f} s")
    measure_variant(f"facts as loaded ({parts} parts) + today live", seed=5)
    growth = measure_growth(client, tenants=tenants, calls=growth_calls, today=today, seed=6)
    for cell in growth:
        log(
            f"queries [growth] {cell.endpoint.label}, {cell.tenant} ({cell.events_today:,} events today), "
            f"{cell.days} days: p95 {cell.p95:.1f} ms"
        )

    # What background merges converge to on a server (one part per monthly partition). chDB leaves the loaded
    # parts as they are, so the merge is forced here; both states are reported.
    started = time.perf_counter()
    client.command("OPTIMIZE TABLE cost_facts FINAL")
    merge_seconds = time.perf_counter() - started
    merged_parts = dataset.table_stats(client, "cost_facts")[1]
    log(f"queries: merged to {merged_parts} parts in {merge_seconds:.1f} s")
    merged = f"facts merged ({merged_parts} parts)"
    measure_variant(f"{merged} + today live", seed=4)

    # Every day aggregated: nothing live left to add.
    for table in ("usage_events", "cost_live", "cost_live_duplicates"):
        client.command(f"TRUNCATE TABLE {table}")
    measure_variant(f"{merged}, nothing live", seed=7, target_ms=TARGET_MERGED_P95_MS)
    planning = measure_planning(client, dataset.tenant_id(tenant_pair(tenants)[1]), today)
    for label, ms in planning.items():
        log(f"queries [planning] {label}: {ms:.1f} ms")
    return QueryResult(
        tenants=tenants,
        days=days,
        fact_rows=rows,
        fact_parts=parts,
        generate_seconds=generated,
        merge_seconds=merge_seconds,
        live_events=live_events,
        live_rows=live_rows,
        live_generate_seconds=live_seconds,
        calls_per_endpoint=calls,
        variants=variants,
        growth=growth,
        planning=planning,
    )


def measure_planning(client: Any, tenant: str, today: date, *, samples: int = 40) -> dict[str, float]:
    """Median ms of the daily-costs query of one tenant over 90 days, planned only (`EXPLAIN PLAN`) and run, next
    to a plain read of the same facts and to the query with its imported part and exchange rates (what a tenant
    with imported cost in another currency pays): how much of a call is the engine's planning, not its reading."""
    from finops.costs.queries import ImportedCurrencies, effective_rows, imported_currencies

    start = today - timedelta(days=89)
    index = imported_currencies(client)
    plain_sql, params = effective_rows([tenant], start, today, imported=index)
    full_sql, _ = effective_rows([tenant], start, today, imported=ImportedCurrencies({tenant: frozenset({"EUR"})}))
    daily = "SELECT day, sum(reported_cost) FROM ({rows}) GROUP BY day ORDER BY day"
    plain = (
        "SELECT charge_period_start, sum(billed_cost) FROM cost_facts FINAL WHERE tenant_id IN {tenants:Array(String)} "
        "AND charge_period_start BETWEEN {d0:Date} AND {d1:Date} GROUP BY 1 ORDER BY 1"
    )
    queries = {
        "plain read of the facts (cost_facts FINAL, no live part), planned only": "EXPLAIN PLAN " + plain,
        "plain read of the facts (cost_facts FINAL, no live part)": plain,
        "the call's one query (telemetry: facts + live + surplus copies), planned only": (
            "EXPLAIN PLAN " + daily.format(rows=plain_sql)
        ),
        "the call's one query, run": daily.format(rows=plain_sql),
        "with imported cost and exchange rates, planned only": "EXPLAIN PLAN " + daily.format(rows=full_sql),
        "with imported cost and exchange rates, run": daily.format(rows=full_sql),
    }
    samples_ms: dict[str, list[float]] = defaultdict(list)
    for _ in range(samples):  # interleaved: noise hits them alike
        for label, sql in queries.items():
            started = time.perf_counter()
            client.query(sql, parameters=params)
            samples_ms[label].append((time.perf_counter() - started) * 1000)
    return {label: sorted(ms)[len(ms) // 2] for label, ms in samples_ms.items()}


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Powertools prints one EMF metrics line per invocation to stdout; keep it out of the bench output."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield
