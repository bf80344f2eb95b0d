"""Benchmark 3: each cost endpoint's in-process handler time, over a year of cost facts for 1,000 tenants.

The facts (one row per tenant, day, category, meter, model, region and service: tens of millions of rows)
are written by ClickHouse with their aggregation watermarks and ingest-log rows, so the live path finds
nothing to add. Each endpoint is then called through its Lambda handler (API Gateway HTTP API event, JWT
claims of a `user` of a random tenant, a range of 30, 90 or 365 days ending today), the endpoints
interleaved so that machine noise hits them alike. A second pass adds raw events for today (the common
case: today's spend is read live from `usage_events`) and measures again.

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

TARGET_P95_MS = 25.0
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


@dataclass
class EndpointTimes(Latencies):
    endpoint: Endpoint
    ms: list[float] = field(default_factory=list)
    by_range: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    engine_ms: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.p95 < TARGET_P95_MS


@dataclass
class QueryVariant:
    label: str
    times: list[EndpointTimes]

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
    live_generate_seconds: float
    calls_per_endpoint: int
    variants: list[QueryVariant]

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


def measure(
    endpoints: tuple[Endpoint, ...], *, tenants: int, calls: int, today: date, label: str, seed: int
) -> QueryVariant:
    from finops.db.clickhouse import get_client
    from local.lambda_runtime import LambdaContext, http_api_event, load_function

    rng = random.Random(seed)
    modules = {e.function: load_function(e.function) for e in endpoints}
    times = [EndpointTimes(e) for e in endpoints]

    def call(endpoint: Endpoint, tenant: str, days: int) -> tuple[float, int]:
        query = {"tenantId": tenant, "from": (today - timedelta(days=days - 1)).isoformat(), "to": today.isoformat()}
        query.update(dict(endpoint.query))
        event = http_api_event("GET", endpoint.path, query=query, claims={"tenant_id": tenant, "roles": "[user]"})
        context = LambdaContext(function_name=endpoint.function)
        started = time.perf_counter()
        response = modules[endpoint.function].lambda_handler(event, context)
        elapsed = time.perf_counter() - started
        return elapsed, response["statusCode"]

    with _quiet():
        for endpoint in endpoints:  # warm-up: first call of each handler, connection, caches
            for days in RANGES:
                call(endpoint, dataset.tenant_id(0), days)
        with _EngineTimer(get_client()) as engine:
            for _ in range(calls):
                for timing in times:
                    tenant = dataset.tenant_id(rng.randrange(tenants))
                    days = rng.choice(RANGES)
                    engine.reset()
                    elapsed, status = call(timing.endpoint, tenant, days)
                    if status != 200:
                        raise RuntimeError(f"{timing.endpoint.label} answered {status}")
                    timing.ms.append(elapsed * 1000)
                    timing.by_range[days].append(elapsed * 1000)
                    timing.engine_ms.append(engine.seconds * 1000)
                    timing.queries.append(engine.calls)
    return QueryVariant(label, times)


def run(
    client: Any, *, tenants: int, days: int, calls: int, live_events: int, merged: bool = True, log: Any = print
) -> QueryResult:
    today = datetime.now(UTC).date()
    log(f"queries: writing cost facts for {tenants:,} tenants x {days} days")
    generated = dataset.insert_cost_facts(client, last=today - timedelta(days=1), days=days)
    dataset.wait_for_merges(client)
    rows, parts = dataset.table_stats(client, "cost_facts")
    log(f"queries: {rows:,} fact rows in {parts} parts, written in {generated:.1f} s")

    variants = [
        measure(ENDPOINTS, tenants=tenants, calls=calls, today=today, label=f"facts as loaded ({parts} parts)", seed=3)
    ]
    _log_variant(variants[-1], log)

    merge_seconds = 0.0
    if merged:
        # What background merges converge to on a server (one part per monthly partition). chDB leaves the
        # loaded parts as they are, so the merge is forced here; both states are reported.
        started = time.perf_counter()
        client.command("OPTIMIZE TABLE cost_facts FINAL")
        merge_seconds = time.perf_counter() - started
        merged_parts = dataset.table_stats(client, "cost_facts")[1]
        log(f"queries: merged to {merged_parts} parts in {merge_seconds:.1f} s")
        variants.append(
            measure(
                ENDPOINTS,
                tenants=tenants,
                calls=calls,
                today=today,
                label=f"facts merged ({merged_parts} parts)",
                seed=4,
            )
        )
        _log_variant(variants[-1], log)

    log(f"queries: writing {live_events:,} raw events for today (read live)")
    now = datetime.now(UTC)
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
    span_ms = max(3_600_000, int((now - midnight).total_seconds() * 1000))
    live_seconds = dataset.insert_raw_events(
        client,
        n=live_events,
        tenants=tenants,
        start_ms=int(midnight.timestamp() * 1000),
        span_ms=span_ms,
        offset=10**10,
    )
    dataset.wait_for_merges(client)
    live_label = "facts merged + today live" if merged else "facts + today live"
    variants.append(measure(ENDPOINTS, tenants=tenants, calls=calls, today=today, label=live_label, seed=5))
    _log_variant(variants[-1], log)
    return QueryResult(
        tenants=tenants,
        days=days,
        fact_rows=rows,
        fact_parts=parts,
        generate_seconds=generated,
        merge_seconds=merge_seconds,
        live_events=live_events,
        live_generate_seconds=live_seconds,
        calls_per_endpoint=calls,
        variants=variants,
    )


def _log_variant(variant: QueryVariant, log: Any) -> None:
    for t in variant.times:
        log(f"queries [{variant.label}] {t.endpoint.label}: p50 {t.p50:.1f} ms, p95 {t.p95:.1f} ms")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Powertools prints one EMF metrics line per invocation to stdout; keep it out of the bench output."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield
